import Foundation
import SwiftRay
import Testing

/// Scripts run as drivers attached to a cluster of three node processes
/// on loopback (a head and two workers of 2 CPUs each): the contract
/// scripts unchanged, and placement and objects across nodes.
@Suite("Scripts run attached to a 3-node cluster", .serialized)
struct ClusterScriptTests {
    /// A head and two workers; the cluster stops them when the test ends.
    static func threeNodes(sourceLocation: SourceLocation = #_sourceLocation) throws -> TestCluster {
        let cluster = TestCluster()
        let head = try cluster.ray(["start", "--head", "--port", "0", "--num-cpus", "2"], sourceLocation: sourceLocation)
        let address = try #require(TestCluster.match(#"head node at (\S+) "#, in: head.stdout), "\(head.stderr)")
        for _ in 0..<2 {
            let worker = try cluster.ray(["start", "--address", address, "--num-cpus", "2"], sourceLocation: sourceLocation)
            try #require(worker.status == 0, "\(worker.stderr)")
        }
        return cluster
    }

    @Test func theContractScriptsRunUnchangedOnThreeNodes() throws {
        let cluster = try Self.threeNodes()
        let runs: [(script: String, arguments: [String], output: String)] = [
            ("tasks.lua", [], "tasks ok\n"), ("actors.lua", [], "actors ok\n"),
            ("actor_lifecycle.lua", [], "actor lifecycle ok\n"), ("blocking.lua", [], "blocking ok\n"),
            ("cancel.lua", [], "cancel ok\n"), ("nested.lua", ["15"], ""), ("prints.lua", [], ""),
            ("counts.lua", [], "counts ok\n"), ("lua_fidelity.lua", [FileManager.default.temporaryDirectory.path], "still fine\nlua fidelity ok\n"),
        ]
        for run in runs {
            let result = try cluster.ray(["run", "--address", "auto", scripts.appendingPathComponent(run.script).path] + run.arguments)
            #expect(result.status == 0, "\(run.script): \(result.stderr)")
            #expect(result.stderr == "", "\(run.script)")
            if !run.output.isEmpty { #expect(result.stdout == run.output, "\(run.script)") }
            if run.script == "nested.lua" { #expect(result.stdout.contains("610"), "fib(15) across nodes: \(result.stdout)") }
            if run.script == "prints.lua" {
                // What tasks print on the nodes reaches the driver's stdout, each line whole.
                let lines = result.stdout.split(separator: "\n")
                #expect(lines.count == 8 * 200 + 1 && lines.last == "driver\tdone", "\(lines.count) lines")
                #expect(lines.dropLast().allSatisfy { $0.wholeMatch(of: /task\t[1-8]\tsays\tx{40}/) != nil })
            }
        }
    }

    /// runtime_env's working directory travels to every node by content hash.
    @Test func runtimeEnvironmentsTravelToEveryNode() throws {
        let cluster = try Self.threeNodes()
        let dirs = try RuntimeEnvFixture()
        defer { dirs.remove() }
        let result = try cluster.ray(["run", "--address", "auto", scripts.appendingPathComponent("runtime_env.lua").path] + dirs.arguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "runtime_env ok\n")
        let unpacked = (try? FileManager.default.contentsOfDirectory(atPath: cluster.session.appendingPathComponent("working_dirs").path)) ?? []
        #expect(unpacked.contains { $0.hasPrefix("wd-") }, "the nodes unpacked it in their session directory: \(unpacked)")
    }

    @Test func placementObjectsAndActorsSpanTheNodes() throws {
        let cluster = try Self.threeNodes()
        let result = try cluster.ray(["run", "--address", "auto", scripts.appendingPathComponent("cluster/placement.lua").path])
        #expect(result.status == 0, "\(result.stderr)")
        for line in ["spread\t3", "affinity\t3", "infeasible refused", "object across nodes", "driver objects", "nested driver objects", "large and returnless tasks", "recursive cancel across nodes",
                     "namespace across nodes", "actors across nodes", "placement ok"] {
            #expect(result.stdout.contains(line + "\n"), "missing '\(line)' in: \(result.stdout)")
        }
        #expect(result.stdout.contains("100MB moved in"), "\(result.stdout)")
    }

    @Test func workOnANodeThatDiesIsRetriedElsewhereOrFailsClearly() throws {
        let cluster = try Self.threeNodes()
        let marker = cluster.session.appendingPathComponent("marker").path
        let result = try cluster.ray(["run", "--address", "auto", scripts.appendingPathComponent("cluster/node_failure.lua").path, marker])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "retried elsewhere\nactor died with its node\nactor restarted elsewhere\nnode died error\n",
                "\(result.stdout)")
        var status = ""
        for _ in 0..<100 {  // the head sees the dead nodes' connections close
            status = try cluster.ray(["status"]).stdout
            if status.contains("Nodes: 1 alive, 2 dead") { break }
        }
        #expect(status.contains("Nodes: 1 alive, 2 dead"), "\(status)")
    }

    /// Issue 12: a task that kills every node it runs on stops after two.
    @Test func aTaskThatCrashesNodesIsNotRetriedPastTwo() throws {
        let cluster = TestCluster()
        let head = try cluster.ray(["start", "--head", "--port", "0", "--num-cpus", "1"])
        let address = try #require(TestCluster.match(#"head node at (\S+) "#, in: head.stdout), "\(head.stderr)")
        let crashy = ["--num-cpus", "1", "--resources", #"{"crashy": 1}"#]
        try cluster.startWorkers(3, joining: address, crashy)
        let result = try cluster.ray(["run", "--address", "auto", scripts.appendingPathComponent("cluster/crash_containment.lua").path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "crasher stopped after two nodes\nthe cluster lives on\n", "\(result.stdout)")
        var status = try cluster.status(eventually: "Nodes: 2 alive, 2 dead")
        #expect(status.contains("Nodes: 2 alive, 2 dead"), "\(status)")

        // An actor whose init kills its node, with unlimited restarts, stops after two more.
        try cluster.startWorkers(2, joining: address, crashy)
        let actor = try cluster.ray(["run", "--address", "auto", scripts.appendingPathComponent("cluster/crash_actor.lua").path])
        #expect(actor.status == 0, "\(actor.stderr)")
        #expect(actor.stdout == "crashing actor stopped\nthe cluster lives on\n", "\(actor.stdout)")
        status = try cluster.status(eventually: "Nodes: 2 alive, 4 dead")
        #expect(status.contains("Nodes: 2 alive, 4 dead"), "\(status)")
        // The last crashy node was not given the actor: it still runs work.
        // (Whether the driver logs "is not created again" depends on whether
        // it saw the second death before it left, so that is not asserted.)
        let after = try cluster.ray(["run", "--address", "auto", "-e",
                                     "print(ray.get(ray.remote({ resources = { crashy = 1 } }, function() return 'alive' end).remote(), { timeout = 60 }))"])
        #expect(after.stdout == "alive\n", "\(after.stderr)")
        #expect(try cluster.ray(["status"]).stdout.contains("Nodes: 2 alive, 4 dead"))
    }

    /// Distinct addresses: each node in a network namespace of its own, when
    /// this machine allows it (root and iproute2; the script exits 77 when not).
    @Test func theContractScriptsRunWithEachNodeInItsOwnNetworkNamespace() throws {
        let script = scripts.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/cluster-netns.sh")
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ray")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path, binary.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 77 { return }  // no namespaces here: nothing to test
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("namespaced cluster test passed"), "\(output)")
    }

    /// A Swift program embeds a driver attached to the cluster.
    @Test func anEmbeddedEngineJoinsTheCluster() throws {
        let cluster = try Self.threeNodes()
        let head = try String(contentsOf: cluster.session.appendingPathComponent("head_address"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let token = try String(contentsOf: cluster.session.appendingPathComponent("token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let engine = try RayEngine(clusterAddress: head, token: token)
        let results = try engine.run("""
            local where = ray.remote(function(x) return x * 2, ray.get_runtime_context().node_id end)
            local seen, count = {}, 0
            for i = 1, 9 do
              local v, node = table.unpack(ray.get({ where.options({ num_returns = 2, scheduling_strategy = "SPREAD" }).remote(i) }))
              assert(v == 2 * i)
              if not seen[node] then seen[node], count = true, count + 1 end
            end
            return count, #ray.nodes()
            """)
        #expect(results == [.integer(3), .integer(3)])
        engine.shutdown()  // leaves the cluster: the head sees the job end
        var status = ""
        for _ in 0..<100 {
            status = try cluster.ray(["status"]).stdout
            if status.contains("Jobs: 0 running, 1 finished") { break }
        }
        #expect(status.contains("Jobs: 0 running, 1 finished"), "\(status)")
        #expect(throws: (any Error).self) { try RayEngine(clusterAddress: head, token: "not-the-token") }
    }

    @Test func aDriverNeedsTheTokenAndACluster() throws {
        let cluster = try Self.threeNodes()
        var wrong = cluster.environment
        wrong["RAY_TOKEN"] = "not-the-token"
        let intruder = try runRay(["run", "--address", "auto", "-e", "print(1)"], environment: wrong)
        #expect(intruder.status != 0 && intruder.stderr.contains("wrong cluster token"), "\(intruder.stderr)")
        #expect(intruder.stdout == "")
        let both = try cluster.ray(["run", "--address", "auto", "--num-cpus", "2", "-e", "print(1)"])
        #expect(both.status != 0 && both.stderr.contains("--num-cpus cannot be given with --address"), "\(both.stderr)")
        let attached = try cluster.ray(["run", "-e", "ray.init({ address = 'auto' }) print(#ray.nodes(), ray.cluster_resources().CPU)"])
        #expect(attached.stdout == "3\t6.0\n", "ray.init{address} attaches: \(attached.stderr)")
        // The head lists each attached driver as a job (its end shows once the head sees it leave).
        var status = ""
        for _ in 0..<100 {
            status = try cluster.ray(["status"]).stdout
            if status.contains("Jobs: 0 running, 1 finished") { break }
        }
        #expect(status.contains("Jobs: 0 running, 1 finished"), "\(status)")
        _ = try cluster.ray(["stop"])
        let alone = try cluster.ray(["run", "--address", "auto", "-e", "print(1)"])
        #expect(alone.status != 0 && alone.stderr.contains("no head runs on this machine"), "\(alone.stderr)")
    }
}
