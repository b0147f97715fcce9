import CLua
import CLuaShims
import Foundation
import LuaKit
import RayCore
import Synchronization

/// One worker thread and the Lua state it owns. Every task runs as a
/// coroutine of that state; a task that waits in `ray.get` yields, and the
/// thread runs other work until the awaited object is ready, when the
/// coroutine is queued to resume here (it is pinned to this state).
///
/// Confinement: everything but `index`, `runtime` and the exit signal is
/// touched only by the worker's own thread (`@unchecked Sendable` for that).
final class Worker: @unchecked Sendable {
    let index: Int
    unowned let runtime: Runtime
    let id = WorkerID.next()
    private let exited = DispatchSemaphore(value: 0)
    /// Raised by `interrupt`: some task here was cancelled, so the count hook
    /// of running tasks starts checking (one atomic load until then).
    let cancellations = Atomic<Int>(0)

    // Thread-confined.
    private(set) var ray: RayLuaState!
    /// Coroutines of this state that are running or suspended, by registry key.
    private var runs: [Int32: TaskRun] = [:]
    /// Decoded remote functions: registry keys by function id.
    private var functionCache: [UniqueID: Int32] = [:]
    /// Instances (`self` tables) of the actors living here: registry keys.
    private var actors: [ActorID: Int32] = [:]
    /// The task whose coroutine is executing right now.
    private(set) var current: TaskRun?

    private init(index: Int, runtime: Runtime) {
        self.index = index
        self.runtime = runtime
    }

    /// Starts the thread; returns once its state is ready, or throws why it is not.
    static func start(index: Int, runtime: Runtime) throws -> Worker {
        let worker = Worker(index: index, runtime: runtime)
        let ready = DispatchSemaphore(value: 0)
        let failure = ResultSlot()
        clua_interrupts_init(Worker.interruptCheck)
        let thread = Thread {
            clua_interrupts_enable_thread()
            worker.thread.withLock { $0 = pthread_self() }
            defer { worker.thread.withLock { $0 = 0 } }
            do {
                worker.ray = try RayLuaState(runtime: runtime, worker: worker)
            } catch {
                failure.error = error
                ready.signal()
                worker.exited.signal()
                return
            }
            ready.signal()
            worker.loop()
            worker.close()
            worker.exited.signal()
        }
        thread.name = "ray-worker-\(index)"
        thread.stackSize = 16 << 20
        thread.start()
        ready.wait()
        if let error = failure.error { throw error }
        return worker
    }

    /// Waits for the thread to end; false if it is still running at `deadline`.
    func join(until deadline: DispatchTime) -> Bool {
        exited.wait(timeout: deadline) == .success
    }

    /// Shutdown: interrupts whatever this worker's thread is running.
    func interruptForShutdown() {
        signalThread()
    }

    private func loop() {
        while let item = runtime.scheduler.next(for: index) {
            switch item {
            case .start(let task): start(task)
            case .resume(let key, let token): resume(key: key, token: token)
            case .cancel(let id): wakeCancelled(id)
            case .collectGarbage(let done):
                clua_gc_collect(ray.state.pointer)
                done.signal()
            }
        }
    }

    private func close() {
        let L = ray.state.pointer
        for key in runs.keys { luaL_unref(L, CLUA_REGISTRYINDEX, key) }
        runs = [:]
        actors = [:]
        ray = nil  // closes the state; ObjectRefs it held drop their references
    }

    // MARK: running tasks

    private func start(_ task: TaskSpec) {
        guard runtime.tasks.start(task.id, on: index) else {
            runtime.failCancelled(task.id, task: task)  // cancelled while it was being handed to us
            return
        }
        let L = ray.state.pointer
        let base = lua_gettop(L)
        let co = lua_newthread(L)!
        let key = luaL_ref(L, CLUA_REGISTRYINDEX)
        let run = TaskRun(task: task, coroutine: co, key: key)
        runs[key] = run
        do {
            // The coroutine's body and its leading arguments, then the task's arguments.
            switch task.kind {
            case .function:
                try pushFunction(of: task)
            case .actorCreation(let actorID, let classCode):
                runtime.actors.started(actorID, on: index)
                lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(ray.newInstance))
                do {
                    try ray.codec.decode(classCode)
                } catch {
                    throw TaskFailure.error(ray.makeError(type: "SerializationError", message: "the actor class could not be loaded on a worker: \(error.message)", task: task.name))
                }
            case .actorMethod(let actorID, let method):
                guard let instance = actors[actorID], runtime.actors.isAlive(actorID) else {
                    throw TaskFailure.error(ray.makeError(type: "ActorDiedError", message: "the actor of this call is dead", task: task.name))
                }
                lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(ray.callMethod))
                lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(instance))
                lua_pushstring(L, method)
            }
            _ = try ray.decodeArguments(task)
            lua_xmove(L, co, lua_gettop(L) - base)
        } catch let failure as TaskFailure {
            lua_settop(L, base)
            finish(run, failure: failure)
            return
        } catch {
            lua_settop(L, base)
            finish(run, failure: .error(ray.makeError(type: "RayTaskError", message: "\(error)", task: task.name)))
            return
        }
        lua_settop(L, base)
        step(run, arguments: lua_gettop(co) - 1)
    }

    /// Pushes the task's function, decoding it on its first use on this worker.
    private func pushFunction(of task: TaskSpec) throws {
        guard case .function(let functionID) = task.kind else { return }
        let L = ray.state.pointer
        if let key = functionCache[functionID] {
            lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(key))
            return
        }
        guard let code = runtime.functionCode(functionID) else {
            throw TaskFailure.error(ray.makeError(type: "RayTaskError", message: "unknown remote function", task: task.name))
        }
        do {
            try ray.codec.decode(code)
        } catch {
            throw TaskFailure.error(ray.makeError(type: "SerializationError", message: "the function could not be loaded on a worker: \(error.message)", task: task.name))
        }
        lua_pushvalue(L, -1)
        functionCache[functionID] = luaL_ref(L, CLUA_REGISTRYINDEX)
    }

    /// `ray.cancel` reached a task of this worker: a running one is
    /// interrupted through a signal to this thread (its hook raises), a
    /// suspended one is resumed (its `ray.get` raises).
    func interrupt(_ id: TaskID) {
        cancellations.add(1, ordering: .releasing)
        runtime.scheduler.post(.cancel(id), to: index)
        signalThread()
    }

    /// This worker's pthread while it runs (0 before and after). Signals are
    /// sent under this lock and the thread clears it before it ends:
    /// pthread_kill on a thread that has ended is undefined behaviour.
    private let thread = Locked<UInt>(0)

    private func signalThread() {
        thread.withLock { thread in
            if thread != 0 { clua_interrupt_thread(thread) }
        }
    }

    /// A cancelled task that is suspended is resumed, so its `ray.get` raises.
    private func wakeCancelled(_ id: TaskID) {
        guard let run = runs.values.first(where: { $0.task.id == id }), run.suspended else { return }
        resume(key: run.key, token: run.token)
    }

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
        guard worker.runtime.tasks.isCancelled(run.task.id) else { return 0 }
        lua_pushstring(L, "task '\(run.task.name)' was cancelled")
        return 1
    }

    /// Whether the task running now was cancelled (checked by ray.get/wait/sleep).
    var currentIsCancelled: Bool {
        guard let run = current, cancellations.load(ordering: .acquiring) > 0 else { return false }
        return runtime.tasks.isCancelled(run.task.id)
    }

    private func resume(key: Int32, token: UInt64) {
        guard let run = runs[key], run.suspended, run.token == token else { return }  // stale
        run.suspended = false
        runtime.scheduler.reacquire(cpus: run.task.cpus)
        step(run, arguments: 0)
    }

    /// Runs the coroutine until it finishes, fails or suspends.
    private func step(_ run: TaskRun, arguments: Int32) {
        let L = ray.state.pointer
        var results: Int32 = 0
        current = run
        clua_set_running(run.coroutine)
        // A cancel that came before the mark above found nothing to signal.
        if currentIsCancelled { clua_interrupt_now(run.coroutine) }
        let status = lua_resume(run.coroutine, L, arguments, &results)
        clua_set_running(nil)
        current = nil
        switch status {
        case LUA_YIELD:
            clua_pop(run.coroutine, results)
            precondition(run.suspended, "a task coroutine yielded outside ray.get (coroutine.yield in a task body?)")
            runtime.scheduler.release(cpus: run.task.cpus)
        case LUA_OK:
            if case .actorCreation(let actorID, _) = run.task.kind {
                lua_xmove(run.coroutine, L, 1)  // the instance
                actors[actorID] = luaL_ref(L, CLUA_REGISTRYINDEX)
                finish(run, failure: nil)
                runtime.actors.initialized(actorID)
            } else {
                finish(run, failure: ray.storeResults(of: run.task, from: run.coroutine, count: results))
            }
        default:
            if runtime.tasks.isCancelled(run.task.id) {
                finish(run, failure: .error(ray.makeError(type: "TaskCancelledError", message: "task '\(run.task.name)' was cancelled", task: run.task.name)))
            } else if run.task.retryExceptions && run.task.attempt < run.task.maxRetries {
                retry(run)
            } else {
                finish(run, failure: .error(ray.taskError(from: run.coroutine, task: run.task)))
            }
        }
    }

    /// Runs a task that raised again (`retry_exceptions`), as a new attempt
    /// queued like a new task, with the same return objects and arguments.
    private func retry(_ run: TaskRun) {
        runs[run.key] = nil
        luaL_unref(ray.state.pointer, CLUA_REGISTRYINDEX, run.key)
        runtime.scheduler.release(cpus: run.task.cpus)
        var again = run.task
        again.attempt += 1
        runtime.tasks.requeue(again.id)
        runtime.scheduler.enqueue(again)
    }

    /// Ends a task: stores `failure` in every return (when given), releases
    /// its CPUs, coroutine and arguments, and tells the actor directory about
    /// actor work.
    private func finish(_ run: TaskRun, failure: TaskFailure?) {
        if let failure {
            let object: StoredObject
            switch failure {
            case .error(let error): object = error
            }
            for id in run.task.returnIDs { runtime.store.fulfill(id, with: object) }
            if case .actorCreation(let actorID, _) = run.task.kind {
                let message = (try? ray.messageOf(object)) ?? "its creation failed"
                runtime.actors.died(actorID, reason: "its init failed", cause: message)
            }
        }
        runs[run.key] = nil
        luaL_unref(ray.state.pointer, CLUA_REGISTRYINDEX, run.key)
        for ref in run.task.argumentRefs { runtime.store.removeReference(ref) }
        runtime.tasks.finish(run.task.id)
        runtime.scheduler.release(cpus: run.task.cpus)
        if case .actorMethod(let actorID, _) = run.task.kind { runtime.actors.callFinished(actorID) }
    }

    /// Suspends the current task until `resume(key:token:)` is called with
    /// the returned token; the caller then yields (CLUA_YIELD).
    func suspendCurrent() -> (key: Int32, token: UInt64) {
        let run = current!
        run.token &+= 1
        run.suspended = true
        return (run.key, run.token)
    }

    /// Whether `L` is the coroutine of the task running now and may yield.
    func canYield(_ L: OpaquePointer) -> Bool {
        guard let current else { return false }
        return current.coroutine == L && lua_isyieldable(L) != 0
    }
}

/// A task in progress on a worker: its coroutine and how it waits.
final class TaskRun {
    let task: TaskSpec
    let coroutine: OpaquePointer
    let key: Int32
    /// Incremented at each suspension; resumes carrying an older token are stale.
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

/// Carries a startup error out of a thread.
private final class ResultSlot: @unchecked Sendable {
    var error: (any Error)?
}
