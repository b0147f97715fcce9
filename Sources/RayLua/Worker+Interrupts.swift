import CLua
import CLuaShims
import RayCore

/// Stopping the task a worker runs: `ray.cancel`, `ray.kill` of its actor,
/// and shutdown. A running task is interrupted like `lua.c` handles Ctrl-C
/// (a signal to the worker's thread installs a hook that raises); a
/// suspended one is resumed so that its `ray.get` raises.
extension Worker {
    /// `ray.cancel` reached a task of this worker: a running one is
    /// interrupted through a signal to this thread (its hook raises), a
    /// suspended one is resumed (its `ray.get` raises).
    func interrupt(_ id: TaskID) {
        cancellations.add(1, ordering: .releasing)
        runtime.scheduler.post(.cancel(id), to: index)
        signalThread()
    }

    func signalThread() {
        thread.withLock { thread in
            if thread != 0 { clua_interrupt_thread(thread) }
        }
    }

    /// A cancelled task that is suspended is resumed, so its `ray.get` raises.
    func wakeCancelled(_ id: TaskID) {
        guard let run = runs.values.first(where: { $0.task.id == id }), run.suspended else { return }
        resume(key: run.key, token: run.token)
    }

    /// Installs the interrupt signal handler and check, once per process
    /// (`static let` runs its initializer exactly once, thread-safely).
    static let interruptsInstalled: Void = clua_interrupts_init(Worker.interruptCheck)

    /// The count hook's check: is the task running here cancelled? Pushes the
    /// error to raise when it is.
    static let interruptCheck: clua_InterruptCheck = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        guard let worker = ray.worker, let run = worker.current else { return 0 }
        if worker.runtime.isStopping {
            lua_pushstring(L, "the runtime is shutting down")
            return 1
        }
        switch worker.runtime.tasks.stopReason(run.task.id) {
        case nil: return 0
        case .cancelled: lua_pushstring(L, "task '\(run.task.name)' was cancelled")
        case .actorDied: lua_pushstring(L, "the actor of '\(run.task.name)' was killed")
        }
        return 1
    }

    /// Whether the task running now must stop: cancelled, or its actor
    /// killed (checked by ray.get/wait/sleep).
    var currentMustStop: Bool {
        guard let run = current, cancellations.load(ordering: .acquiring) > 0 else { return false }
        return runtime.tasks.stopReason(run.task.id) != nil
    }
}
