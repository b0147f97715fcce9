import Dispatch

/// What a worker is for, which decides what it takes and when it leaves.
package enum WorkerRole: Sendable {
    /// One per CPU: takes runnable tasks, lives as long as the runtime.
    case pool
    /// Hosts one actor (as Ray gives each actor its own process), so a
    /// busy method never holds up other actors or tasks; leaves when
    /// the actor is gone and its calls have ended.
    case actor
    /// Added while a pool worker is blocked in a `ray.get` that cannot
    /// yield; takes runnable tasks and leaves when it runs out of work.
    case extra
}

/// A worker thread that runs tasks: the runtime's port to the language
/// binding (RayLua's `Worker` runs them as Lua coroutines). An executor
/// takes its work from `Runtime.scheduler` (`next(for: index)`) on its own
/// thread and reports each task's end to the runtime; the runtime only
/// starts, interrupts and joins it.
package protocol TaskExecutor: AnyObject, Sendable {
    /// Its slot in the scheduler.
    var index: Int { get }
    /// `ray.cancel` (or an actor's death) reached a task running here: stop it.
    func interrupt(_ task: TaskID)
    /// Shutdown: interrupt whatever runs now.
    func interruptForShutdown()
    /// Waits for the thread to end; false if it still runs at `deadline`.
    func join(until deadline: DispatchTime) -> Bool
}

/// Starts executors for a runtime: one per pool slot at start, and more
/// for actors and for workers blocked in `ray.get` (RayLua's `LuaWorkers`).
package protocol ExecutorFactory: Sendable {
    /// Starts an executor in scheduler slot `index`; returns once it is
    /// ready to take work, or throws why it cannot be.
    func startExecutor(index: Int, role: WorkerRole, runtime: Runtime) throws -> any TaskExecutor
    /// Writes text to this process's stdout in order with what its tasks
    /// and driver print (Lua's `print` buffers in C's stdout).
    func writeOutput(_ text: String)
}
