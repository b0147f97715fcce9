import RayCore
import Testing
@testable import RayLua

/// The scheduler on its own, driven from one thread: every `next` below
/// finds work (or may leave), so none of them sleeps.
@Suite("Scheduler: CPU accounting, order, worker slots")
struct SchedulerTests {
    func task(cpus: Double) -> TaskSpec {
        TaskSpec(id: TaskID.next(), name: "t", kind: .function(UniqueID.next()), arguments: [], argumentRefs: [],
                 topLevelRefs: [], returnIDs: [], cpus: cpus)
    }

    func started(_ item: WorkItem?) -> TaskSpec? {
        if case .start(let task)? = item { return task }
        return nil
    }

    @Test func tasksRunNewestFirstWithinTheFreeCPUs() {
        let scheduler = Scheduler(cpus: 2)
        let worker = scheduler.addSlot(role: .pool)
        let wide = task(cpus: 2), first = task(cpus: 1), second = task(cpus: 1)
        scheduler.enqueue(wide)
        scheduler.enqueue(first)
        scheduler.enqueue(second)
        #expect(started(scheduler.next(for: worker))?.id == second.id, "newest first (depth-first nesting)")
        #expect(started(scheduler.next(for: worker))?.id == first.id)
        #expect(scheduler.availableCPUs == 0)
        // The 2-CPU task does not fit until both CPUs come back.
        scheduler.release(cpus: 1)
        #expect(scheduler.remove(wide.id)?.id == wide.id, "still queued: it did not fit one free CPU")
        scheduler.enqueue(wide)
        scheduler.release(cpus: 1)
        #expect(started(scheduler.next(for: worker))?.id == wide.id)
        #expect(scheduler.availableCPUs == 0)
    }

    @Test func pinnedWorkComesBeforeNewTasks() {
        let scheduler = Scheduler(cpus: 1)
        let worker = scheduler.addSlot(role: .pool)
        scheduler.enqueue(task(cpus: 1))
        scheduler.resume(worker: worker, key: 7, token: 1)
        guard case .resume(let key, let token)? = scheduler.next(for: worker) else {
            Issue.record("a resume was expected first")
            return
        }
        #expect(key == 7 && token == 1)
        #expect(started(scheduler.next(for: worker)) != nil)
    }

    @Test func anActorsWorkerTakesOnlyWhatIsPostedToIt() {
        let scheduler = Scheduler(cpus: 1)
        let actor = scheduler.addSlot(role: .actor)
        let call = task(cpus: 0)
        scheduler.enqueue(task(cpus: 1))
        #expect(scheduler.post(.start(call), to: actor))
        #expect(started(scheduler.next(for: actor, leaveWhenIdle: true))?.id == call.id)
        // Only a runnable task is left, which is not for it: it leaves.
        #expect(scheduler.next(for: actor, leaveWhenIdle: true) == nil)
        #expect(!scheduler.post(.start(call), to: actor), "nothing can be posted to a worker that left")
        #expect(scheduler.addSlot(role: .pool) == actor, "its slot is reused")
    }

    @Test func oneExtraWorkerStandsInForEachBlockedOne() {
        let scheduler = Scheduler(cpus: 2)
        _ = scheduler.addSlot(role: .pool)
        #expect(scheduler.beginBlocking(), "the first blocked worker needs a stand-in")
        #expect(scheduler.beginBlocking(), "and so does the second")
        let extra = scheduler.addSlot(role: .extra)
        _ = scheduler.addSlot(role: .extra)
        scheduler.endBlocking()
        // One worker is still blocked and there are two extras: one may leave.
        #expect(scheduler.next(for: extra, leaveWhenIdle: true) == nil)
        scheduler.endBlocking()
        #expect(!scheduler.beginBlocking(), "the extra that has not left yet stands in for the next one")
    }

    @Test func stopEndsEveryWorkersLoop() {
        let scheduler = Scheduler(cpus: 1)
        let worker = scheduler.addSlot(role: .pool)
        scheduler.enqueue(task(cpus: 1))
        scheduler.stop()
        #expect(scheduler.next(for: worker) == nil)
    }
}
