import Foundation
import RayCore
#if canImport(Glibc)
import Glibc
#endif

/// What a worker thread does next.
enum WorkItem: Sendable {
    /// Start a task whose dependencies are ready.
    case start(TaskSpec)
    /// Resume a suspended coroutine of this worker (its key), if it is still
    /// waiting for suspension `token` (stale resumes are ignored).
    case resume(key: Int32, token: UInt64)
    /// A task of this worker was cancelled: resume it if it is suspended
    /// (its `ray.get` then raises); if running, its hook raises.
    case cancel(TaskID)
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
/// Waking a sleeping thread costs microseconds here (architecture.md), so
/// each worker sleeps on its own condition variable and is signalled only
/// when there is something it can do: a resume for it, or a runnable task
/// that fits while it is idle. A worker that queues work for itself wakes
/// nobody.
final class Scheduler: @unchecked Sendable {
    // All state below is guarded by `mutex`.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wakeups: UnsafeMutablePointer<pthread_cond_t>
    private var idle: [Bool]
    private var runnable: [TaskSpec] = []
    private var resumes: [[WorkItem]]
    private var available: Double
    private var stopping = false
    let totalCPUs: Double

    init(workers: Int, cpus: Double) {
        pthread_mutex_init(mutex, nil)
        wakeups = .allocate(capacity: workers)
        for i in 0..<workers { pthread_cond_init(wakeups + i, nil) }
        idle = Array(repeating: false, count: workers)
        resumes = Array(repeating: [], count: workers)
        available = cpus
        totalCPUs = cpus
    }

    deinit {
        for i in idle.indices { pthread_cond_destroy(wakeups + i) }
        wakeups.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Wakes `worker` if it sleeps. Lock held.
    private func wake(_ worker: Int) {
        if idle[worker] {
            idle[worker] = false
            pthread_cond_signal(wakeups + worker)
        }
    }

    /// Wakes one sleeping worker if a runnable task fits. Lock held.
    private func wakeOneForRunnable() {
        guard let sleeper = idle.firstIndex(of: true), firstFittingTask() != nil else { return }
        wake(sleeper)
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

    var availableCPUs: Double { locked { available } }

    func enqueue(_ task: TaskSpec) {
        locked {
            runnable.append(task)
            wakeOneForRunnable()
        }
    }

    func resume(worker: Int, key: Int32, token: UInt64) {
        post(.resume(key: key, token: token), to: worker)
    }

    /// Queues work that must run on `worker` (a resume, or an actor's call:
    /// both live in that worker's Lua state). Taken before new tasks.
    func post(_ item: WorkItem, to worker: Int) {
        locked {
            resumes[worker].append(item)
            wake(worker)
        }
    }

    /// Takes a queued task out of the runnable queue; nil if it is not there
    /// (not yet runnable, or already started).
    func remove(_ id: TaskID) -> TaskSpec? {
        locked {
            guard let index = runnable.firstIndex(where: { $0.id == id }) else { return nil }
            return runnable.remove(at: index)
        }
    }

    /// CPUs given back by a task that finished or suspended.
    func release(cpus: Double) {
        guard cpus > 0 else { return }
        locked {
            available += cpus
            wakeOneForRunnable()
        }
    }

    /// CPUs taken again by a resumed task.
    func reacquire(cpus: Double) {
        guard cpus > 0 else { return }
        locked { available -= cpus }
    }

    /// The next item for `worker`, sleeping until there is one; nil once stopping.
    func next(for worker: Int) -> WorkItem? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if stopping { return nil }
            if !resumes[worker].isEmpty { return resumes[worker].removeFirst() }
            if let index = firstFittingTask() {
                let task = index == runnable.count - 1 ? runnable.removeLast() : runnable.remove(at: index)
                available -= task.cpus
                wakeOneForRunnable()  // more work that fits: let a sleeper take it
                return .start(task)
            }
            idle[worker] = true
            pthread_cond_wait(wakeups + worker, mutex)
        }
    }

    /// Wakes every worker and makes `next` return nil.
    func stop() {
        locked {
            stopping = true
            for worker in idle.indices {
                idle[worker] = false
                pthread_cond_signal(wakeups + worker)
            }
        }
    }
}
