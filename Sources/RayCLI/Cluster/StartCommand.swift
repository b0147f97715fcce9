import ArgumentParser
import CProcess
import Foundation
import RayCluster
import RayCore
import RayLua
#if canImport(Glibc)
import Glibc
#endif

/// `ray start --head` / `ray start --address HOST:PORT`: a node process, in
/// the background unless `--block`.
struct StartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a head node, or a worker node that joins one.",
        discussion: """
            ray start --head [--host 127.0.0.1] [--port 6379] [--num-cpus N] [--resources '{"GPU": 1}']
            ray start --address HOST:PORT [--token TOKEN] [--num-cpus N] [--resources JSON]
            The node runs in the background (its log is in the session directory)
            unless --block keeps it in the foreground. `ray stop` stops the nodes
            of this machine.
            """)

    @Flag(help: "Start the head node: the cluster's directory, which worker nodes join.")
    var head = false

    @Option(help: "The head to join (HOST:PORT), for a worker node.")
    var address: String?

    @Option(help: "The address this node listens on (the head: for the cluster and its peers; a worker: for its peers). Others must be able to reach it.")
    var host = "127.0.0.1"

    @Option(help: "The head's port (0: any free port).")
    var port = 6379

    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Custom resources as JSON, e.g. '{\"GPU\": 1}'.")
    var resources: String?

    @Option(help: "The cluster token (default: made by the head; a worker reads RAY_TOKEN or this machine's session files).")
    var token: String?

    @Flag(help: "Stay in the foreground until stopped (Ctrl-C or `ray stop`).")
    var block = false

    @Option(name: .customLong("heartbeat-interval"), help: ArgumentHelp("Seconds between a node's heartbeats.", visibility: .hidden))
    var heartbeatInterval = 1.0

    func validate() throws {
        guard head != (address != nil) else {
            throw ValidationError("give either --head (start a head node) or --address HOST:PORT (join one)")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, got \(port)") }
        guard heartbeatInterval > 0 && heartbeatInterval <= 60 else {
            throw ValidationError("--heartbeat-interval must be between 0 and 60 seconds")
        }
        _ = try parsedResources()
    }

    /// `--resources` and `--num-cpus` as one table.
    func parsedResources() throws -> [String: Double] {
        var table: [String: Double] = [:]
        if let resources {
            guard let object = try? JSONDecoder().decode([String: Double].self, from: Data(resources.utf8)) else {
                throw ValidationError("--resources must be a JSON object of names to amounts, e.g. '{\"GPU\": 1}', got \(resources)")
            }
            for (name, amount) in object {
                guard amount >= 0, amount.isFinite else {
                    throw ValidationError("--resources: '\(name)' must be a number of at least 0")
                }
                guard name != "CPU" else { throw ValidationError("--resources: give CPUs with --num-cpus, not as \"CPU\"") }
                table[name] = amount
            }
        }
        table["CPU"] = runtime.numCPUs ?? Double(ProcessInfo.processInfo.activeProcessorCount)
        return table
    }

    func run() throws {
        var options = NodeOptions(isHead: head, resources: try parsedResources())
        options.host = host
        options.port = port
        options.headAddress = address
        options.token = token
        options.heartbeatInterval = heartbeatInterval
        let session = SessionFiles()
        if block {
            try runInForeground(options, session: session)
        } else {
            try startInBackground(session: session)
        }
    }

    private func runInForeground(_ options: NodeOptions, session: SessionFiles) throws {
        let readyFD = ProcessInfo.processInfo.environment["RAY_READY_FD"].flatMap { Int32($0) }
        do {
            try NodeProcess.run(options, session: session, makeRuntime: { try Runtime(settings: $0) }, ready: { address in
                if let readyFD {
                    Self.report("ready \(address)\n", to: readyFD)
                } else {
                    print(Self.startedMessage(head: head, address: address, session: session, pid: getpid()))
                    fflush(nil)
                }
            }, log: { line in
                FileHandle.standardError.write(Data("[\(Self.timestamp())] \(line)\n".utf8))
            })
        } catch {
            if let readyFD { Self.report("error \(error)\n", to: readyFD) }
            throw error
        }
    }

    /// Starts `ray start ... --block` in a new session, its output in a log
    /// file, and waits (at most 30 s) until it says it is ready or failed.
    private func startInBackground(session: SessionFiles) throws {
        try session.prepare()
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw ClusterError("cannot create a pipe") }
        let log = session.logsDirectory.appendingPathComponent("\(head ? "head" : "worker")-\(UInt64(Date().timeIntervalSince1970 * 1000)).log")
        let arguments = Array(CommandLine.arguments.dropFirst()) + ["--block"]
        let pid = try spawnDetached(arguments: arguments, readyFD: pipeFDs[1], readEnd: pipeFDs[0], log: log.path)
        close(pipeFDs[1])
        defer { close(pipeFDs[0]) }
        let answer = Self.readLine(from: pipeFDs[0], timeout: 30)
        if let answer, answer.hasPrefix("ready ") {
            print(Self.startedMessage(head: head, address: String(answer.dropFirst(6)), session: session, pid: pid))
            return
        }
        if answer == nil { kill(pid, SIGKILL) }
        let reason = answer.map { $0.hasPrefix("error ") ? String($0.dropFirst(6)) : $0 }
            ?? "the node did not report ready within 30 s (log: \(log.path))"
        throw ClusterError(reason)
    }

    private func spawnDetached(arguments: [String], readyFD: Int32, readEnd: Int32, log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addclose(&actions, readEnd)  // before the dup2: the read end may be fd 3
        posix_spawn_file_actions_adddup2(&actions, readyFD, 3)
        // Nothing else of ours: a node that kept a copy of, say, the pipe a
        // caller reads our output from would keep that caller waiting for EOF.
        cprocess_addclosefrom(&actions, 4)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(0x80))  // POSIX_SPAWN_SETSID (glibc): not killed with this terminal
        var environment = ProcessInfo.processInfo.environment
        environment["RAY_READY_FD"] = "3"
        let argv = ([Self.executablePath()] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, argv[0]!, &actions, &attributes, argv, envp)
        guard status == 0 else { throw ClusterError("cannot start the node process: \(String(cString: strerror(status)))") }
        return pid
    }

    static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }

    /// One line from `fd`, or nil when none came within `timeout` seconds.
    static func readLine(from fd: Int32, timeout: Double) -> String? {
        var data: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return nil }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(left, 1) * 1000))
            if ready < 0 && errno != EINTR { return nil }
            guard ready > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 512)
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return data.isEmpty ? "error the node process exited before it was ready" : String(decoding: data, as: UTF8.self) }
            data += chunk[..<n]
            if let newline = data.firstIndex(of: UInt8(ascii: "\n")) {
                return String(decoding: data[..<newline], as: UTF8.self)
            }
        }
    }

    static func report(_ text: String, to fd: Int32) {
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    static func startedMessage(head: Bool, address: String, session: SessionFiles, pid: pid_t) -> String {
        guard head else {
            return "Started a worker node (pid \(pid)) that joined the head at \(address).\nStop the nodes of this machine with: ray stop"
        }
        let token = session.token ?? "?"
        return """
            Started the head node at \(address) (pid \(pid)).
            Add a worker node on this machine:  ray start --address \(address)
            Add one from another machine:       ray start --address \(address) --token \(token)
            See the cluster:                    ray status
            Stop the nodes of this machine:     ray stop
            """
    }

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date())
    }
}
