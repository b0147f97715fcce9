import CProcess
import Foundation
import Testing

/// Nodes started by `ray start` as real processes on loopback, in a session
/// directory of their own; every node is stopped when the test ends, also
/// when it fails.
final class TestCluster {
    let session = FileManager.default.temporaryDirectory.appendingPathComponent("ray-cluster-test-\(UUID().uuidString)")
    /// Set for every command of the cluster (e.g. its TLS settings).
    var settings: [String: String] = [:]
    var environment: [String: String] {
        ["RAY_SESSION_DIR": session.path, "RAY_ADDRESS": "", "RAY_TOKEN": ""].merging(settings) { $1 }
    }
    private(set) var pids: [pid_t] = []

    func ray(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> (status: Int32, stdout: String, stderr: String) {
        let result = try runRay(arguments, timeout: 60, environment: environment, sourceLocation: sourceLocation)
        if arguments.first == "start", let pid = Self.match(#"\(pid (\d+)\)"#, in: result.stdout).flatMap({ pid_t($0) }) {
            pids.append(pid)
        }
        return result
    }

    static func match(_ pattern: String, in text: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let found = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
              let range = Range(found.range(at: 1), in: text) else { return nil }
        return String(text[range])
    }

    /// Starts `count` worker nodes that join `address`, with `extra` options.
    func startWorkers(_ count: Int, joining address: String, _ extra: [String] = [],
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        for _ in 0..<count {
            let worker = try ray(["start", "--address", address] + extra, sourceLocation: sourceLocation)
            try #require(worker.status == 0, "\(worker.stderr)", sourceLocation: sourceLocation)
        }
    }

    /// `ray status` once it contains `text` (the head sees closed connections
    /// a moment after they close), or its last output after 100 tries.
    func status(eventually text: String) throws -> String {
        var status = ""
        for _ in 0..<100 {
            status = try ray(["status"]).stdout
            if status.contains(text) { break }
        }
        return status
    }

    var logs: String {
        let dir = session.appendingPathComponent("logs")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.compactMap { try? String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8) }.joined()
    }

    deinit {
        _ = try? runRay(["stop", "--force"], timeout: 30, environment: environment)
        for pid in pids { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(at: session)
    }
}

/// Whether `pid` still runs (a zombie does not count).
func isRunning(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    guard let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
}

@Suite("ray start, status and stop run a cluster of node processes", .serialized)
struct ClusterTests {
    @Test func aHeadAndAWorkerFormAClusterThatStatusShowsAndStopEnds() throws {
        let cluster = TestCluster()
        let head = try cluster.ray(["start", "--head", "--port", "0", "--num-cpus", "1", "--resources", #"{"GPU": 1}"#])
        #expect(head.status == 0, "\(head.stderr)")
        let address = try #require(TestCluster.match(#"head node at (\S+) "#, in: head.stdout), "no address in: \(head.stdout)")
        #expect(address.hasPrefix("127.0.0.1:"), "the head binds loopback unless told otherwise")
        #expect(head.stdout.contains("ray start --address \(address) --token "))

        let worker = try cluster.ray(["start", "--address", address, "--num-cpus", "2"])
        #expect(worker.status == 0, "\(worker.stderr)")
        #expect(worker.stdout.contains("joined the head at \(address)"))

        let status = try cluster.ray(["status"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("Nodes: 2 alive, 0 dead"), "\(status.stdout)")
        #expect(status.stdout.contains(" 0/3 CPU"), "\(status.stdout)")
        #expect(status.stdout.contains(" 0/1 GPU"), "\(status.stdout)")
        #expect(status.stdout.contains("Pending tasks: 0"))

        // A wrong token is refused on both sides, and the cluster goes on.
        let intruder = try cluster.ray(["start", "--address", address, "--token", "not-the-token"])
        #expect(intruder.status != 0)
        #expect(intruder.stderr.contains("refused the connection: wrong cluster token"), "\(intruder.stderr)")
        let peek = try cluster.ray(["status", "--token", "not-the-token"])
        #expect(peek.status != 0 && peek.stderr.contains("wrong cluster token"), "\(peek.stderr)")
        #expect(cluster.logs.contains("refused a connection from 127.0.0.1"), "the head logs the refusal")
        #expect(try cluster.ray(["status"]).stdout.contains("Nodes: 2 alive, 0 dead"))

        let stop = try cluster.ray(["stop"])
        #expect(stop.stdout.contains("Stopped 2 node processes."), "\(stop.stdout)")
        for pid in cluster.pids { #expect(!isRunning(pid), "node process \(pid) still runs after ray stop") }
        let after = try cluster.ray(["status"])
        #expect(after.status != 0 && after.stderr.contains("no cluster found"), "\(after.stderr)")
        #expect(try cluster.ray(["stop"]).stdout.contains("No nodes were running"))
    }

    @Test func aKilledWorkerIsReportedDeadAndTheRestGoesOn() throws {
        let cluster = TestCluster()
        let head = try cluster.ray(["start", "--head", "--port", "0", "--num-cpus", "1"])
        let address = try #require(TestCluster.match(#"head node at (\S+) "#, in: head.stdout), "\(head.stderr)")
        _ = try cluster.ray(["start", "--address", address, "--num-cpus", "2"])
        let victim = try #require(cluster.pids.last)
        #expect(try cluster.ray(["status"]).stdout.contains("Nodes: 2 alive, 0 dead"))
        kill(victim, SIGKILL)
        // The kernel closes the dead node's socket; the head sees it on its
        // event loop. Ask until it shows, a bounded number of times.
        var status = ""
        for _ in 0..<100 {
            status = try cluster.ray(["status"]).stdout
            if status.contains("Nodes: 1 alive, 1 dead") { break }
        }
        #expect(status.contains("Nodes: 1 alive, 1 dead"), "\(status)")
        #expect(status.contains(" 0/1 CPU"), "a dead node's CPUs no longer count: \(status)")
        let stop = try cluster.ray(["stop"])
        #expect(stop.stdout.contains("Stopped 1 node process."), "the dead node's entry is cleared: \(stop.stdout)")
    }

    @Test func aWorkerStopsWhenItsHeadGoesAway() throws {
        let cluster = TestCluster()
        let head = try cluster.ray(["start", "--head", "--port", "0", "--num-cpus", "1"])
        let address = try #require(TestCluster.match(#"head node at (\S+) "#, in: head.stdout), "\(head.stderr)")
        let headPID = try #require(cluster.pids.first)
        _ = try cluster.ray(["start", "--address", address, "--num-cpus", "1"])
        let worker = try #require(cluster.pids.last)
        kill(headPID, SIGKILL)
        #expect(cprocess_wait_exit(worker, 10_000) == 1, "the worker still runs 10 s after its head died")
        #expect(cluster.logs.contains("the head at \(address) went away; this worker node stops"), "\(cluster.logs)")
    }

    @Test func badStartsGiveClearErrors() throws {
        let cluster = TestCluster()
        let both = try cluster.ray(["start", "--head", "--address", "127.0.0.1:1"])
        #expect(both.status != 0 && both.stderr.contains("either --head"))
        let json = try cluster.ray(["start", "--head", "--resources", "{GPU: 1}"])
        #expect(json.status != 0 && json.stderr.contains("--resources must be a JSON object"))
        let cpu = try cluster.ray(["start", "--head", "--resources", #"{"CPU": 4}"#])
        #expect(cpu.status != 0 && cpu.stderr.contains("--num-cpus"))
        let port = try cluster.ray(["start", "--head", "--port", "70000"])
        #expect(port.status != 0 && port.stderr.contains("--port must be between 0 and 65535"), "\(port.stderr)")
        let address = try cluster.ray(["start", "--address", "nowhere"])
        #expect(address.status != 0 && address.stderr.contains("expected HOST:PORT"), "\(address.stderr)")
        // Nothing listens on port 1.
        let absent = try cluster.ray(["start", "--address", "127.0.0.1:1", "--token", "x"])
        #expect(absent.status != 0 && absent.stderr.contains("cannot connect to the head at 127.0.0.1:1"), "\(absent.stderr)")
        let status = try cluster.ray(["status"])
        #expect(status.status != 0 && status.stderr.contains("no cluster found"))
    }
}
