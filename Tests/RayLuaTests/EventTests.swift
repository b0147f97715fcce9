import Dispatch
import Synchronization
import Testing
@testable import RayCore
@testable import RayLua

/// What `Runtime.events` reports while Lua code runs tasks and actors.
@Suite("Event sink: transitions of tasks, actors and objects")
struct EventTests {
    /// Records every event; `waitFor` waits (bounded) for one that matches.
    final class Recorder: Sendable {
        let events = Locked<[RuntimeEvent]>([])
        let arrived = DispatchSemaphore(value: 0)

        func listen(to sink: EventSink) -> UInt64 {
            sink.subscribe { [self] event in
                events.withLock { $0.append(event) }
                arrived.signal()
            }
        }

        /// The phases of the task named `name`, in the order they came.
        func taskPhases(_ name: String) -> [TaskPhase] {
            events.withLock { $0 }.compactMap {
                if case .task(_, name, let phase, _, _, _) = $0.subject { phase } else { nil }
            }
        }

        func actorPhases() -> [ActorPhase] {
            events.withLock { $0 }.compactMap {
                if case .actor(_, _, let phase, _, _) = $0.subject { phase } else { nil }
            }
        }

        /// Waits up to 30 s for an event that satisfies `match`.
        func waitFor(_ what: String, _ match: (RuntimeEvent) -> Bool) -> Bool {
            let deadline = DispatchTime.now() + 30
            while !events.withLock({ $0.contains(where: match) }) {
                guard arrived.wait(timeout: deadline) == .success else {
                    Issue.record("no event for \(what) within 30 s")
                    return false
                }
            }
            return true
        }

        func awaitTask(_ name: String, _ phase: TaskPhase) -> Bool {
            waitFor("task \(name) \(phase)") {
                if case .task(_, name, phase, _, _, _) = $0.subject { true } else { false }
            }
        }
    }

    @Test func aTaskGoesFromSubmittedToFinishedAndSuspendsInGet() throws {
        let driver = try Driver(cpus: 2)
        defer { driver.runtime.shutdown() }
        let recorder = Recorder()
        _ = recorder.listen(to: driver.runtime.events)
        #expect(try driver.run("""
            local inner = ray.remote({ name = "inner" }, function() return 20 end)
            local outer = ray.remote({ name = "outer" }, function() return ray.get(inner.remote()) + 1 end)
            return ray.get(outer.remote())
            """) == 21)
        #expect(recorder.awaitTask("outer", .finished))
        let outer = recorder.taskPhases("outer")
        #expect(Array(outer.prefix(3)) == [.submitted, .queued, .running], "\(outer)")
        #expect(outer.last == .finished)
        // Its ray.get gave its CPU back until inner's result came (unless inner was already done).
        if outer.contains(.suspended) { #expect(outer.contains(.resumed), "\(outer)") }
        #expect(recorder.awaitTask("inner", .finished))
        let node = driver.runtime.nodeID.hex
        #expect(recorder.events.withLock { $0 }.allSatisfy { $0.node == node })
        let times = recorder.events.withLock { $0 }.map(\.time)
        #expect(times.allSatisfy { $0 >= 0 })
    }

    @Test func aRetriedTaskShowsEachAttemptThenFails() throws {
        let driver = try Driver(cpus: 1)
        defer { driver.runtime.shutdown() }
        let recorder = Recorder()
        _ = recorder.listen(to: driver.runtime.events)
        try driver.run("""
            local f = ray.remote({ name = "flaky", max_retries = 2, retry_exceptions = true }, function() error("no") end)
            assert(not pcall(ray.get, f.remote()))
            """)
        #expect(recorder.awaitTask("flaky", .failed))
        let phases = recorder.taskPhases("flaky")
        #expect(phases.filter { $0 == .retrying }.count == 2, "\(phases)")
        #expect(phases.last == .failed)
        let attempts = recorder.events.withLock { $0 }.compactMap {
            if case .task(_, "flaky", .running, let attempt, _, _) = $0.subject { attempt } else { nil }
        }
        #expect(attempts == [0, 1, 2])
    }

    @Test func aCancelledTaskEndsCancelled() throws {
        let driver = try Driver(cpus: 1)
        defer { driver.runtime.shutdown() }
        let recorder = Recorder()
        _ = recorder.listen(to: driver.runtime.events)
        try driver.run("""
            local spin = ray.remote({ name = "spin" }, function() while true do end end)
            local ref = spin.remote()
            ray.cancel(ref)
            local ok, err = pcall(ray.get, ref)
            assert(not ok and err.type == "TaskCancelledError", tostring(err))
            """)
        #expect(recorder.awaitTask("spin", .cancelled))
        #expect(recorder.taskPhases("spin").last == .cancelled)
    }

    @Test func anActorIsCreatedReadyRestartedAndDies() throws {
        let driver = try Driver(cpus: 2)
        defer { driver.runtime.shutdown() }
        let recorder = Recorder()
        _ = recorder.listen(to: driver.runtime.events)
        try driver.run("""
            local Counter = ray.remote({ max_restarts = 1 }, { init = function(self) self.n = 0 end,
                                                              incr = function(self) self.n = self.n + 1; return self.n end })
            local c = Counter.remote()
            assert(ray.get(c.incr.remote()) == 1)
            ray.kill(c, { no_restart = false })
            assert(ray.get(c.incr.remote()) == 1)
            ray.kill(c)
            """)
        #expect(recorder.waitFor("the actor's death") {
            if case .actor(_, _, .died, _, _) = $0.subject { true } else { false }
        })
        #expect(recorder.actorPhases() == [.created, .ready, .restarting, .ready, .died], "\(recorder.actorPhases())")
    }

    @Test func objectsAreExpectedMadeReadyAndFreedAndListenersCanLeave() throws {
        let driver = try Driver(cpus: 1)
        defer { driver.runtime.shutdown() }
        let recorder = Recorder()
        let token = recorder.listen(to: driver.runtime.events)
        try driver.run("""
            local ref = ray.put("value")
            assert(ray.get(ref) == "value")
            ref = nil
            collectgarbage()
            """)
        let objects = recorder.events.withLock { $0 }.compactMap {
            if case .object(let id, let phase) = $0.subject { (id, phase) } else { nil }
        }
        let put = try #require(objects.first)
        #expect(put.1 == .ready)
        #expect(objects.contains { $0.0 == put.0 && $0.1 == .freed }, "\(objects)")
        driver.runtime.events.unsubscribe(token)
        #expect(!driver.runtime.events.isListening)
        let before = recorder.events.withLock { $0.count }
        try driver.run("ray.get(ray.put(1))")
        #expect(recorder.events.withLock { $0.count } == before, "no events after unsubscribing")
    }

    @Test func aManualClockStampsTheEvents() {
        let clock = ManualClock(at: 5)
        let sink = EventSink(node: "n", clock: clock)
        let times = Locked<[Double]>([])
        sink.subscribe { event in times.withLock { $0.append(event.time) } }
        sink.emit(.object(id: .next(), phase: .ready))
        clock.advance(by: 2.5)
        sink.emit(.object(id: .next(), phase: .freed))
        #expect(times.withLock { $0 } == [5, 7.5])
    }
}
