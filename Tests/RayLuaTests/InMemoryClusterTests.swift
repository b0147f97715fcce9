import Dispatch
import LuaKit
import Testing
@testable import RayCore
@testable import RayLua

/// Multi-node behaviour in one process, over the in-memory transport: three
/// Lua runtimes joined by an `InMemoryCluster`, with the test deciding when
/// a node's messages arrive and when it dies, and one manual clock.
@Suite("In-memory cluster: placement, node death, retries, actor restarts")
struct InMemoryClusterTests {
    /// Three one-CPU nodes (1, 2, 3) and a driver on node 1.
    final class Nodes {
        let cluster = InMemoryCluster()
        let clock = ManualClock(at: 100)
        let runtimes: [Runtime]
        let driver: RayLuaState

        init() throws {
            var settings = RuntimeSettings()
            settings.numCPUs = 1
            let clock = self.clock
            runtimes = try (0..<3).map { _ in try Runtime(settings: settings, executors: LuaWorkers(), clock: clock) }
            for runtime in runtimes { cluster.join(runtime) }
            driver = try RayLuaState(driverOf: runtimes[0])
        }

        /// Places every task and actor on the lowest alive node other than the one asking.
        func placeOnOthers() {
            cluster.setPolicy { _, from, alive in alive.first { $0 != from } }
        }

        /// Runs a chunk on the driver; its first result as a string, if any.
        @discardableResult
        func run(_ code: String) throws -> String? {
            let state = driver.state
            let base = state.top
            try state.run(code, chunkName: "@driver.lua")
            defer { state.top = base }
            return state.top > base ? state.toString(at: base + 1) : nil
        }

        func node(_ number: Int) -> String { runtimes[number - 1].nodeID.hex }

        func close() {
            for runtime in runtimes { runtime.shutdown() }
        }
    }

    static let whereAmI = """
        where_am_i = ray.remote({ name = "where" }, function() return ray.get_runtime_context().node_id end)
        """

    @Test func spreadPlacesTasksOnEveryNode() throws {
        let nodes = try Nodes()
        defer { nodes.close() }
        try nodes.run(Self.whereAmI)
        let seen = try nodes.run("""
            local refs = {}
            for i = 1, 6 do refs[i] = where_am_i.options({ scheduling_strategy = "SPREAD" }).remote() end
            local seen = {}
            for _, node in ipairs(ray.get(refs)) do seen[#seen + 1] = node end
            table.sort(seen)
            return table.concat(seen, " ")
            """)
        let expected = (1...3).flatMap { [nodes.node($0), nodes.node($0)] }.sorted().joined(separator: " ")
        #expect(seen == expected)
        // A hard affinity goes where it says.
        #expect(try nodes.run("""
            return ray.get(where_am_i.options({ scheduling_strategy = { node_id = "\(nodes.node(3))", soft = false } }).remote())
            """) == nodes.node(3))
    }

    @Test func aTaskOnANodeThatDiesRunsAgainOnAnother() throws {
        let nodes = try Nodes()
        defer { nodes.close() }
        nodes.placeOnOthers()
        let events = Locked<[(Double, TaskPhase, UInt64?)]>([])
        let finished = DispatchSemaphore(value: 0)
        nodes.runtimes[0].events.subscribe { event in
            guard case .task(_, "where", let phase, _, _, let node) = event.subject else { return }
            events.withLock { $0.append((event.time, phase, node)) }
            if phase == .finished { finished.signal() }
        }
        try nodes.run(Self.whereAmI)
        nodes.cluster.hold(2)  // node 2 runs it, but its result waits
        try nodes.run("pending = where_am_i.options({ max_retries = 1 }).remote()")
        nodes.clock.advance(by: 5)
        nodes.cluster.kill(2)  // the result is lost with the node: node 1 retries it on node 3
        #expect(try nodes.run("return ray.get(pending)") == nodes.node(3))
        // The result is stored before the task's end is recorded: wait (bounded) for that too.
        #expect(finished.wait(timeout: .now() + 30) == .success, "no finished event within 30 s")
        let seen = events.withLock { $0 }
        #expect(seen.map(\.1) == [.submitted, .placed, .retrying, .placed, .finished], "\(seen)")
        #expect(seen.filter { $0.1 == .placed }.compactMap(\.2) == [2, 3])
        #expect(seen.map(\.0) == [100, 100, 105, 105, 105], "events carry the manual clock's time")
    }

    @Test func aTaskWithoutRetriesFailsWithNodeDied() throws {
        let nodes = try Nodes()
        defer { nodes.close() }
        nodes.placeOnOthers()
        try nodes.run(Self.whereAmI)
        nodes.cluster.hold(2)
        try nodes.run("pending = where_am_i.options({ max_retries = 0 }).remote()")
        nodes.cluster.kill(2)
        #expect(try nodes.run("""
            local ok, err = pcall(ray.get, pending)
            return not ok and err.type .. ": " .. err.message
            """)?.hasPrefix("NodeDiedError: where: the node that ran it went away") == true)
    }

    @Test func aTaskThatTwoNodesDiedUnderIsNotRetriedAgain() throws {
        let nodes = try Nodes()
        defer { nodes.close() }
        nodes.placeOnOthers()
        try nodes.run(Self.whereAmI)
        nodes.cluster.hold(2)
        nodes.cluster.hold(3)
        try nodes.run("pending = where_am_i.options({ max_retries = 5 }).remote()")
        nodes.cluster.kill(2)  // retried on node 3, held there too
        nodes.cluster.kill(3)
        let failure = try nodes.run("""
            local ok, err = pcall(ray.get, pending)
            return not ok and err.type .. ": " .. err.message
            """) ?? ""
        #expect(failure.hasPrefix("WorkerCrashedError: where: not retried"), "\(failure)")
        #expect(failure.contains("node 2") && failure.contains("node 3"), "\(failure)")
    }

    @Test func anActorWhoseNodeDiesIsCreatedAgainElsewhereWithinMaxRestarts() throws {
        let nodes = try Nodes()
        defer { nodes.close() }
        nodes.placeOnOthers()
        try nodes.run("""
            Counter = ray.remote({ max_restarts = 1 }, {
              init = function(self) self.n = 0 end,
              incr = function(self) self.n = self.n + 1; return self.n end,
              where = function(self) return ray.get_runtime_context().node_id end,
            })
            c = Counter.remote()
            """)
        #expect(try nodes.run("return tostring(ray.get(c.incr.remote()))") == "1")
        #expect(try nodes.run("return tostring(ray.get(c.incr.remote()))") == "2")
        #expect(try nodes.run("return ray.get(c.where.remote())") == nodes.node(2))
        nodes.cluster.kill(2)  // its node dies: node 1, which created it, restarts it on node 3
        #expect(try nodes.run("return tostring(ray.get(c.incr.remote()))") == "1", "a new incarnation starts afresh")
        #expect(try nodes.run("return ray.get(c.where.remote())") == nodes.node(3))
        nodes.cluster.kill(3)  // max_restarts = 1 is spent
        #expect(nodes.cluster.notes.contains { $0.contains("is not created again") && $0.contains("max_restarts = 1") },
                "\(nodes.cluster.notes)")
        #expect(try nodes.run("""
            local ok, err = pcall(ray.get, c.incr.remote())
            return not ok and err.type
            """) == "ActorDiedError")
    }

    /// `ray.kill(h, {no_restart = false})` restarts it on its host, which
    /// tells the creator: when the host dies, max_restarts = 1 is spent.
    @Test func aRestartByKillOnTheHostCountsForTheCreator() throws {
        let nodes = try Nodes()
        defer { nodes.close() }
        nodes.placeOnOthers()
        try nodes.run("""
            Counter = ray.remote({ max_restarts = 1 }, { init = function(self) self.n = 0 end,
                                                         incr = function(self) self.n = self.n + 1; return self.n end })
            c = Counter.remote()
            assert(ray.get(c.incr.remote()) == 1)
            ray.kill(c, { no_restart = false })
            assert(ray.get(c.incr.remote()) == 1)
            """)
        nodes.cluster.kill(2)
        #expect(nodes.cluster.notes.contains { $0.contains("is not created again") && $0.contains("max_restarts = 1") },
                "\(nodes.cluster.notes)")
    }

    /// When the cluster puts a restarted actor on its creator's own node, it lives there.
    @Test func anActorCanBeRestartedOnItsCreatorsNode() throws {
        let nodes = try Nodes()
        defer { nodes.close() }
        // The first placement goes to node 2; after that, the creator keeps it.
        nodes.cluster.setPolicy { _, from, alive in alive.contains(2) ? 2 : from }
        try nodes.run("""
            Where = ray.remote({ max_restarts = 1 }, { where = function(self) return ray.get_runtime_context().node_id end })
            w = Where.remote()
            """)
        #expect(try nodes.run("return ray.get(w.where.remote())") == nodes.node(2))
        nodes.cluster.kill(2)
        #expect(try nodes.run("return ray.get(w.where.remote())") == nodes.node(1))
    }
}
