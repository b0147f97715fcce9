import Foundation
import Testing

/// Whether the openssl command is on PATH (the test certificates are made with it).
let opensslAvailable = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    .contains { FileManager.default.isExecutableFile(atPath: "\($0)/openssl") }

/// Certificates made by scripts/tls-certs.sh in a directory of their own,
/// removed when this goes away.
final class TestCertificates {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ray-tls-test-\(UUID().uuidString)")

    init() throws {
        let script = scripts.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/tls-certs.sh")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path, directory.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "scripts/tls-certs.sh failed: \(output)")
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The TLS settings of a process presenting `cert` (and its key) and trusting `ca`.
    func settings(cert: String = "server", ca: String = "ca") -> [String: String] {
        ["RAY_USE_TLS": "1", "RAY_TLS_SERVER_CERT": path("\(cert).crt"), "RAY_TLS_SERVER_KEY": path("\(cert).key"),
         "RAY_TLS_CA_CERT": path("\(ca).crt")]
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

@Suite("A cluster over mutual TLS (RAY_USE_TLS)", .serialized)
struct TLSClusterTests {
    @Test(.enabled(if: opensslAvailable, "openssl is not installed: no test certificates"))
    func threeNodesRunAContractScriptOverTLS() throws {
        let certificates = try TestCertificates()
        let cluster = TestCluster()
        cluster.settings = certificates.settings()
        let head = try cluster.ray(["start", "--head", "--port", "0", "--num-cpus", "2"])
        let address = try #require(TestCluster.match(#"head node at (\S+) "#, in: head.stdout), "\(head.stderr)")
        for _ in 0..<2 {
            let worker = try cluster.ray(["start", "--address", address, "--num-cpus", "2"])
            try #require(worker.status == 0, "\(worker.stderr)")
        }
        let run = try cluster.ray(["run", "--address", "auto", scripts.appendingPathComponent("tasks.lua").path])
        #expect(run.status == 0 && run.stderr == "", "\(run.stderr)")
        #expect(run.stdout == "tasks ok\n")
        let status = try cluster.ray(["status"])
        #expect(status.stdout.contains("Nodes: 3 alive, 0 dead"), "\(status.stdout)\(status.stderr)")

        // A process without TLS is refused, and told why.
        var plain = cluster.environment
        plain["RAY_USE_TLS"] = "0"
        let outsider = try runRay(["status"], environment: plain)
        #expect(outsider.status != 0 && outsider.stderr.contains("speaks TLS"), "\(outsider.stderr)")
        #expect(cluster.logs.contains("the other side does not speak TLS"), "the head logs the plain connection")

        let stop = try cluster.ray(["stop"])
        #expect(stop.stdout.contains("Stopped 3 node processes."), "\(stop.stdout)")
        for pid in cluster.pids { #expect(!isRunning(pid), "node process \(pid) still runs after ray stop") }
    }

    @Test(.enabled(if: opensslAvailable, "openssl is not installed: no test certificates"))
    func aWorkerWithACertificateFromAnotherCAIsRefusedOnBothSides() throws {
        let certificates = try TestCertificates()
        let cluster = TestCluster()
        cluster.settings = certificates.settings()
        let head = try cluster.ray(["start", "--head", "--port", "0", "--num-cpus", "1"])
        let address = try #require(TestCluster.match(#"head node at (\S+) "#, in: head.stdout), "\(head.stderr)")

        // It trusts the cluster's CA, but its own certificate is not the cluster's: the head refuses it.
        cluster.settings = certificates.settings(cert: "other", ca: "ca")
        let stranger = try cluster.ray(["start", "--address", address, "--num-cpus", "1"])
        #expect(stranger.status != 0, "a worker with another CA's certificate joined")
        #expect(stranger.stderr.contains("TLS handshake failed: the other side refused this process's certificate (RAY_TLS_SERVER_CERT)"),
                "\(stranger.stderr)")
        #expect(cluster.logs.contains("TLS handshake failed: the other side's certificate is not signed by the cluster's CA"),
                "the head logs the refusal: \(cluster.logs)")

        // It trusts only the other CA: it refuses the head's certificate itself.
        cluster.settings = certificates.settings(cert: "other", ca: "other-ca")
        let suspicious = try cluster.ray(["start", "--address", address, "--num-cpus", "1"])
        #expect(suspicious.status != 0)
        #expect(suspicious.stderr.contains("TLS handshake failed: the other side's certificate is not signed by the cluster's CA (RAY_TLS_CA_CERT)"),
                "\(suspicious.stderr)")

        cluster.settings = certificates.settings()
        let status = try cluster.ray(["status"])
        #expect(status.stdout.contains("Nodes: 1 alive, 0 dead"), "\(status.stdout)\(status.stderr)")
        _ = try cluster.ray(["stop"])
    }

    /// Needs no certificates: the files named do not exist.
    @Test func aMissingCertificateFileIsAClearErrorAtStartup() throws {
        let cluster = TestCluster()
        let missing = cluster.session.appendingPathComponent("absent.pem").path
        cluster.settings = ["RAY_USE_TLS": "1", "RAY_TLS_SERVER_CERT": missing, "RAY_TLS_SERVER_KEY": missing, "RAY_TLS_CA_CERT": missing]
        let head = try cluster.ray(["start", "--head", "--port", "0", "--num-cpus", "1"])
        #expect(head.status != 0 && head.stderr.contains("RAY_TLS_SERVER_CERT=\(missing): no such file"), "\(head.stderr)")
        cluster.settings = ["RAY_USE_TLS": "1"]
        let run = try cluster.ray(["run", "--address", "127.0.0.1:1", "-e", "print(1)"])
        #expect(run.status != 0 && run.stderr.contains("RAY_USE_TLS=1 needs RAY_TLS_SERVER_CERT (a PEM file); it is not set"),
                "\(run.stderr)")
        cluster.settings = ["RAY_USE_TLS": "maybe"]
        let unclear = try cluster.ray(["start", "--head", "--port", "0", "--num-cpus", "1"])
        #expect(unclear.status != 0 && unclear.stderr.contains("RAY_USE_TLS must be 1 or 0, got 'maybe'"), "\(unclear.stderr)")
    }
}
