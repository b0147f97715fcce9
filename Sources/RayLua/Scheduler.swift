import Foundation
import RayCore

/// What a worker thread does next.
enum WorkItem: Sendable {
    /// Start a task whose dependencies are ready.
    case start(TaskSpec)
    /// Resume a suspended coroutine of this worker (its key), if it is still
    /// waiting for suspension `token` (stale resumes are ignored).
    case resume(key: Int32, token: UInt64)
}

/// The node's queue of runnable tasks, CPU accounting, and the per-worker
/// queues of coroutines to resume (a suspended coroutine is pinned to the
/// worker whose interpreter state holds it).
///
/// A task holds its CPUs while it runs and gives them back while it is
/// suspended in `ray.get`; a resumed task takes them again even if that
/// briefly oversubscribes the node (as Ray does), so resuming never waits.
/// Resumes come before new tasks.
final class Scheduler: @unchecked Sendable {
    // All state guarded by `condition`.
    private let condition = NSCondition()
    private var runnable: [TaskSpec] = []
    private var runnableHead = 0
    private var resumes: [[WorkItem]]
    private var available: Double
    private var stopping = false
    let totalCPUs: Double

    init(workers: Int, cpus: Double) {
        resumes = Array(repeating: [], count: workers)
        available = cpus
        totalCPUs = cpus
    }

    var availableCPUs: Double {
        condition.lock()
        defer { condition.unlock() }
        return available
    }

    func enqueue(_ task: TaskSpec) {
        condition.lock()
        runnable.append(task)
        condition.broadcast()
        condition.unlock()
    }

    func resume(worker: Int, key: Int32, token: UInt64) {
        condition.lock()
        resumes[worker].append(.resume(key: key, token: token))
        condition.broadcast()
        condition.unlock()
    }

    /// CPUs given back by a task that finished or suspended.
    func release(cpus: Double) {
        guard cpus > 0 else { return }
        condition.lock()
        available += cpus
        condition.broadcast()
        condition.unlock()
    }

    /// CPUs taken again by a resumed task.
    func reacquire(cpus: Double) {
        condition.lock()
        available -= cpus
        condition.unlock()
    }

    /// The next item for `worker`, waiting until there is one; nil once stopping.
    func next(for worker: Int) -> WorkItem? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if stopping { return nil }
            if !resumes[worker].isEmpty { return resumes[worker].removeFirst() }
            if let index = (runnableHead..<runnable.count).first(where: { runnable[$0].cpus <= available + 1e-9 }) {
                let task = runnable[index]
                if index == runnableHead {
                    runnableHead += 1
                    if runnableHead > 1024 && runnableHead * 2 > runnable.count {
                        runnable.removeFirst(runnableHead)
                        runnableHead = 0
                    }
                } else {
                    runnable.remove(at: index)
                }
                available -= task.cpus
                return .start(task)
            }
            condition.wait()
        }
    }

    /// Wakes every worker and makes `next` return nil.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }
}
