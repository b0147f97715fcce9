import CRaySupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What a worker thread does next.
package enum WorkItem: Sendable {
    /// Start a task whose dependencies are ready.
    case start(TaskSpec)
    /// Resume a suspended coroutine of this worker (its key), if it is still
    /// waiting for suspension `token` (stale resumes are ignored).
    case resume(key: Int32, token: UInt64)
    /// A task of this worker was cancelled: resume it if it is suspended
    /// (its `ray.get` then raises); if running, its hook raises.
    case cancel(TaskID)
    /// Drop the instance of an actor's incarnation (its creation task's id)
    /// living here: the actor was killed or restarted.
    case dropActor(ActorID, creation: TaskID)
    /// Run a full garbage collection of the worker's state, then signal.
    case collectGarbage(DispatchSemaphore)
}

/// The node's queue of runnable tasks, CPU accounting, and the per-worker
/// queues of pinned work: coroutines to resume and actor calls (both belong
/// to the worker whose interpreter state holds them).
///
/// A task holds its CPUs while it runs and gives them back while it is
/// suspended in `ray.get`; a resumed task takes them again even if that
/// briefly oversubscribes the node (as Ray does), so resuming never waits.
/// Resumes come before new tasks.
///
/// Workers come and go: the pool (one per CPU) takes runnable tasks; an
/// actor's dedicated worker and a pool worker added while another is
/// blocked take only what is posted to them and leave when idle. Each has a
/// slot here; a slot index is reused once its worker has left, so pinned
/// work carries ids (task ids, unique suspension tokens) that a later
/// tenant of the slot ignores.
///
/// Waking a sleeping thread costs 4–40 µs on this VM (architecture.md;
/// `scripts/bench/wakeup.c`), so a worker that runs out of work first spins
/// for a moment (`spin`), watching `changes`, before it parks; and each
/// worker parks on its own condition variable and is signalled only when
/// there is something it can do: a resume for it, or a runnable task that
/// fits while it is idle. A worker that queues work for itself wakes nobody.
package final class Scheduler: @unchecked Sendable {
    /// One worker's place. Guarded by the scheduler's mutex.
    private final class Slot {
        let wakeup = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        let role: WorkerRole
        var takesTasks: Bool { role != .actor }
        var idle = false
        var pinned: [WorkItem] = []
        var pinnedHead = 0

        init(role: WorkerRole) {
            self.role = role
            pthread_cond_init(wakeup, nil)
        }

        deinit {
            pthread_cond_destroy(wakeup)
            wakeup.deallocate()
        }

        var hasPinned: Bool { pinnedHead < pinned.count }

        func takePinned() -> WorkItem {
            let item = pinned[pinnedHead]
            pinnedHead += 1
            if pinnedHead == pinned.count {
                pinned.removeAll(keepingCapacity: true)
                pinnedHead = 0
            }
            return item
        }
    }

    /// Bumped (under the lock) whenever work may have appeared: a task
    /// queued, work posted, CPUs freed. Read without the lock by spinners.
    private let changes = Atomic<UInt64>(0)
    /// How long an idle worker spins before it parks.
    package static let spin: Duration = .microseconds(50)
    /// How long an attached driver's get spins (see `Primitives.await_`).
    package static let remoteSpin: Duration = .microseconds(300)

    // All state below is guarded by `mutex`.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var slots: [Slot?] = []
    private var freeSlots: [Int] = []
    /// Workers that take runnable tasks and sleep now.
    private var idleTakers: [Int] = []
    /// Task-taking workers spinning in `next`: each looks at the queue again
    /// when its spin ends, so a task they can take wakes no sleeper (a
    /// wasted wake-up per task, when the sleeper found the task gone).
    private var spinningTakers = 0
    private var runnable: [TaskSpec] = []
    private var available: Double
    private var stopping = false
    /// Task-taking workers blocked in a `ray.get` that cannot yield, and the
    /// extra workers that stand in for them.
    private var blocked = 0
    private var extras = 0
    package let totalCPUs: Double

    /// How long an idle worker spins for work before it parks.
    package let idleSpin: Duration

    package init(cpus: Double, idleSpin: Duration = Scheduler.spin) {
        self.idleSpin = idleSpin
        initAdaptiveMutex(mutex)
        available = cpus
        totalCPUs = cpus
    }

    deinit {
        slots = []
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// A place for a new worker.
    package func addSlot(role: WorkerRole) -> Int {
        locked {
            let slot = Slot(role: role)
            if let index = freeSlots.popLast() {
                slots[index] = slot
                return index
            }
            slots.append(slot)
            return slots.count - 1
        }
    }

    /// Wakes `worker` if it sleeps. Lock held.
    private func wake(_ slot: Slot, _ index: Int) {
        if slot.idle {
            slot.idle = false
            if slot.takesTasks, let at = idleTakers.lastIndex(of: index) { idleTakers.remove(at: at) }
            pthread_cond_signal(slot.wakeup)
        }
    }

    /// Wakes one sleeping task-taking worker if a runnable task fits. Lock held.
    private func wakeOneForRunnable() {
        guard runnable.count > spinningTakers, let sleeper = idleTakers.last, let slot = slots[sleeper],
              firstFittingTask() != nil else { return }
        wake(slot, sleeper)
    }

    /// The newest runnable task that fits. Newest first keeps nested work
    /// depth-first: a parent's children run before its siblings' children,
    /// so few coroutines are suspended at once (breadth-first order left
    /// thousands suspended in fib(20), and the collector re-walks every
    /// suspended coroutine in each cycle).
    private func firstFittingTask() -> Int? {
        var index = runnable.count - 1
        while index >= 0 {
            if runnable[index].cpus <= available + 1e-9 { return index }
            index -= 1
        }
        return nil
    }

    package var availableCPUs: Double { locked { available } }

    /// Runnable tasks waiting for a CPU.
    package var queuedTasks: Int { locked { runnable.count } }

    /// A task-taking worker is about to block its thread. Returns whether
    /// an extra worker must be started to stand in for it (there is one
    /// extra per blocked worker, so the node never runs out of threads for
    /// the work a blocked task waits for).
    package func beginBlocking() -> Bool {
        locked {
            blocked += 1
            guard extras < blocked else { return false }
            extras += 1
            return true
        }
    }

    /// The extra worker `beginBlocking` asked for could not start.
    package func extraWorkerFailed() {
        locked { extras -= 1 }
    }

    /// The blocked worker runs again: an idle extra worker may now leave.
    package func endBlocking() {
        locked {
            blocked -= 1
            if extras > blocked, let index = idleTakers.first(where: { slots[$0]?.role == .extra }), let slot = slots[index] {
                wake(slot, index)
            }
        }
    }

    package func enqueue(_ task: TaskSpec) {
        locked {
            runnable.append(task)
            changes.add(1, ordering: .releasing)
            wakeOneForRunnable()
        }
    }

    package func resume(worker: Int, key: Int32, token: UInt64) {
        post(.resume(key: key, token: token), to: worker)
    }

    /// Queues work that must run on `worker` (a resume, or an actor's call:
    /// both live in that worker's Lua state). Taken before new tasks.
    /// False if that worker has left (nothing of its can be waiting).
    @discardableResult
    package func post(_ item: WorkItem, to worker: Int) -> Bool {
        locked {
            guard worker < slots.count, let slot = slots[worker] else { return false }
            slot.pinned.append(item)
            changes.add(1, ordering: .releasing)
            wake(slot, worker)
            return true
        }
    }

    /// Queues several items for `worker` at once (one lock, one wake-up).
    @discardableResult
    package func post(_ items: [WorkItem], to worker: Int) -> Bool {
        locked {
            guard worker < slots.count, let slot = slots[worker] else { return false }
            slot.pinned.append(contentsOf: items)
            changes.add(1, ordering: .releasing)
            wake(slot, worker)
            return true
        }
    }

    /// Takes a queued task out of the runnable queue; nil if it is not there
    /// (not yet runnable, or already started).
    package func remove(_ id: TaskID) -> TaskSpec? {
        locked {
            guard let index = runnable.firstIndex(where: { $0.id == id }) else { return nil }
            return runnable.remove(at: index)
        }
    }

    /// CPUs given back by a task that finished or suspended.
    package func release(cpus: Double) {
        guard cpus > 0 else { return }
        locked {
            available += cpus
            changes.add(1, ordering: .releasing)
            wakeOneForRunnable()
        }
    }

    /// CPUs taken again by a resumed task.
    package func reacquire(cpus: Double) {
        guard cpus > 0 else { return }
        locked { available -= cpus }
    }

    /// The next item for `worker`, sleeping until there is one. Nil once
    /// stopping, or when the worker has nothing to do and `leaveWhenIdle`
    /// holds: its slot is then freed and it must end.
    package func next(for worker: Int, leaveWhenIdle: Bool = false) -> WorkItem? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let slot = slots[worker]!
        var spun = false
        while true {
            if stopping { return nil }
            if slot.hasPinned {
                // A task queued while this worker spun woke nobody (it was
                // counted as a taker); it now runs pinned work instead.
                if slot.takesTasks { wakeOneForRunnable() }
                return slot.takePinned()
            }
            if slot.takesTasks, let index = firstFittingTask() {
                let task = index == runnable.count - 1 ? runnable.removeLast() : runnable.remove(at: index)
                available -= task.cpus
                wakeOneForRunnable()  // more work that fits: let a sleeper take it
                return .start(task)
            }
            if !spun {
                // Spin before parking: work that comes within the spin is
                // taken without the cost of a wake-up on either side.
                spun = true
                let seen = changes.load(ordering: .acquiring)
                if slot.takesTasks { spinningTakers += 1 }
                pthread_mutex_unlock(mutex)
                _ = Scheduler.spin(for: idleSpin, until: { self.changes.load(ordering: .acquiring) != seen })
                pthread_mutex_lock(mutex)
                if slot.takesTasks { spinningTakers -= 1 }
                continue  // look again: work queued after the spin's last look woke nobody
            }
            if leaveWhenIdle && (slot.role != .extra || extras > blocked) {
                if slot.role == .extra { extras -= 1 }
                slots[worker] = nil
                freeSlots.append(worker)
                return nil
            }
            slot.idle = true
            if slot.takesTasks { idleTakers.append(worker) }
            pthread_cond_wait(slot.wakeup, mutex)
            if slot.idle {  // a spurious wake-up: not idle while it looks for work
                slot.idle = false
                if let at = idleTakers.lastIndex(of: worker) { idleTakers.remove(at: at) }
            }
        }
    }

    /// Spins for up to `Scheduler.spin` until `condition` holds; whether it did.
    package static func spin(for duration: Duration = spin, until condition: () -> Bool) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + duration
        var polls = 0
        while !condition() {
            polls += 1
            ray_cpu_relax()
            if polls % 64 == 0 {
                if clock.now >= deadline { return false }
                // Now and then let a thread that would produce the work run
                // (threads can outnumber cores); a yield per poll made the
                // spinners spend a quarter of all time in sched_yield.
                if polls % 1024 == 0 { sched_yield() }
            }
        }
        return true
    }

    /// Wakes every worker and makes `next` return nil.
    package func stop() {
        locked {
            stopping = true
            changes.add(1, ordering: .releasing)
            for case let slot? in slots {
                slot.idle = false
                pthread_cond_signal(slot.wakeup)
            }
            idleTakers = []
        }
    }
}
