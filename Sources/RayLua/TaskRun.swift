import Foundation
import RayCore

/// A task in progress on a worker: its coroutine and how it waits.
final class TaskRun {
    let task: TaskSpec
    let coroutine: OpaquePointer
    let key: Int32
    /// A new process-unique value at each suspension; resumes carrying another are stale.
    var token: UInt64 = 0
    var suspended = false
    /// Deadline of the `ray.get`/`ray.wait` in progress, if it has a timeout.
    var deadline: Double?
    var waiting = false

    init(task: TaskSpec, coroutine: OpaquePointer, key: Int32) {
        self.task = task
        self.coroutine = coroutine
        self.key = key
    }
}

/// Why a task ended without results of its own: the error object to store.
enum TaskFailure: Error {
    case error(StoredObject)
}
