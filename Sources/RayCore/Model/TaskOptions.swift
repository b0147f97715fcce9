/// The options of a remote function's call, with Ray's defaults: the one
/// place they are written (the Lua binding reads a script's options over
/// these). An actor's are `ActorOptions`.
package struct TaskOptions: Sendable, Equatable {
    /// Return values, each its own ObjectRef.
    package var numReturns = 1
    /// CPUs it holds while it runs.
    package var numCPUs: Double = 1
    /// Custom resources it needs (name -> amount).
    package var resources: [String: Double] = [:]
    /// Re-runs after its node dies (and, with `retryExceptions`, after a
    /// Lua error); `Int.max` for Ray's -1 (unlimited).
    package var maxRetries = 3
    package var retryExceptions = false
    /// Shown in errors and events instead of where the function was defined.
    package var name: String?
    package var strategy: SchedulingStrategy = .default

    package init() {}

    /// An actor method's call: one return, no CPU while it runs (its actor
    /// holds what it needs), never retried by itself (`max_task_retries`
    /// is its actor's).
    package static var actorCall: TaskOptions {
        var options = TaskOptions()
        options.numCPUs = 0
        options.maxRetries = 0
        return options
    }
}
