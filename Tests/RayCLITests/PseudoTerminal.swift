import CPty
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `ray` on a pseudo-terminal, as a user at a terminal would:
/// the child is a session leader whose controlling terminal is the pty, so
/// Ctrl-C typed here reaches it as SIGINT through the line discipline. The
/// child is killed when this object goes away.
final class PseudoTerminal {
    private let master: Int32
    private(set) var pid: pid_t = 0
    /// Everything read from the terminal so far.
    private(set) var transcript = ""
    /// Where `expect` resumes looking.
    private var consumed: String.Index
    private var exitStatus: Int32?

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        var name = [CChar](repeating: 0, count: 128)
        master = cpty_open(&name, name.count)
        guard master >= 0 else { throw POSIXError(.ENOTTY) }
        consumed = transcript.startIndex
        let slave = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addclose(&actions, master)
        posix_spawn_file_actions_addopen(&actions, 0, slave, O_RDWR, 0)  // after setsid: the controlling tty
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        // POSIX_SPAWN_SETSID (0x80, glibc): a new session, so the pty becomes its terminal.
        posix_spawnattr_setflags(&attributes, Int16(0x80 | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ray").path
        var env = ProcessInfo.processInfo.environment
        env["TERM"] = "xterm"
        for (key, value) in environment { env[key] = value }
        let argv = ([binary] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let status = posix_spawn(&pid, binary, &actions, &attributes, argv, envp)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EINVAL) }
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        close(master)
    }

    /// Types `text` (use "\u{3}" for Ctrl-C, "\u{4}" for Ctrl-D, "\t" for Tab).
    func type(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    }

    /// Reads until `text` appears after what earlier calls matched; false if
    /// it has not after `timeout` seconds (or the terminal closed).
    @discardableResult
    func expect(_ text: String, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let range = transcript[consumed...].range(of: text) {
                consumed = range.upperBound
                return true
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 || !readSome(waitingUpTo: left) { return false }
        }
    }

    /// Types Ctrl-D and waits for the session to end: its exit status, or
    /// nil if it has not ended after three presses, 10 s apart. A key typed
    /// while libedit switches the terminal between cooked and raw mode
    /// (around each prompt) can be lost when the machine is loaded, so it
    /// presses again, as a user would.
    func endWithCtrlD() -> Int32? {
        for _ in 0..<3 {
            type("\u{4}")
            if let status = waitForExit(timeout: 10) { return status }
        }
        if ProcessInfo.processInfo.environment["RAY_TEST_DEBUG"] != nil {
            let gdb = Process()
            gdb.executableURL = URL(fileURLWithPath: "/usr/bin/gdb")
            gdb.arguments = ["-p", "\(pid)", "-batch", "-ex", "thread apply all bt 15"]
            let pipe = Pipe()
            gdb.standardOutput = pipe
            try? gdb.run()
            transcript += String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
        return nil
    }

    /// Waits for the child to exit; its exit status, or nil after `timeout`.
    func waitForExit(timeout: Double = 30) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            _ = readSome(waitingUpTo: 0.05)  // drain, so the child never blocks writing
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                return exitStatus
            }
        }
        return nil
    }

    private func readSome(waitingUpTo seconds: Double) -> Bool {
        var poller = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(max(1, seconds * 1000))) > 0 else { return seconds > 0 && poller.revents == 0 }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(master, &buffer, buffer.count)
        guard count > 0 else { return false }
        transcript += String(decoding: buffer[..<count], as: UTF8.self)
        return true
    }
}
