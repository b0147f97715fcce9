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
final class Worker: TaskExecutor, @unchecked Sendable {
    typealias Role = WorkerRole

    let index: Int
    let role: Role
    unowned let runtime: Runtime
    let id = WorkerID.next()
    private let exited = DispatchSemaphore(value: 0)
    /// Raised by `interrupt`: some task here was cancelled, so the count hook
    /// of running tasks starts checking (one atomic load until then).
    let cancellations = Atomic<Int>(0)

    // Thread-confined.
    private(set) var ray: RayLuaState!
    /// Coroutines of this state that are running or suspended, by registry key.
    var runs: [Int32: TaskRun] = [:]
    /// Finished coroutines kept for later tasks, with their registry keys.
    private var spareCoroutines: [(OpaquePointer, Int32)] = []
    /// Decoded remote functions: registry keys by function id.
    private var functionCache: [UniqueID: Int32] = [:]
    /// Environment blobs met here (see CodeEnvironment), so that a task's costs no lock.
    var environmentBlobs: [UniqueID: [UInt8]?] = [:]
    /// The environment in place: the last applied `TaskSpec.environment`.
    var appliedEnvironment = TaskEnvironment()
    /// This thread's working directory, once it has one of its own.
    var currentDirectory: String?
    var hasOwnDirectory = false
    /// Instances (`self` tables) of the actors living here: registry keys,
    /// and the creation task (incarnation) that made each.
    private var actors: [ActorID: (key: Int32, creation: TaskID)] = [:]
    /// The task whose coroutine is executing right now.
    private(set) var current: TaskRun?

    /// An actor worker: whether it has run its creation yet.
    private var hostedActor = false

    private init(index: Int, role: Role, runtime: Runtime) {
        self.index = index
        self.role = role
        self.runtime = runtime
    }

    /// Starts the thread; returns once its state is ready, or throws why it is not.
    static func start(index: Int, role: Role, runtime: Runtime) throws -> Worker {
        let worker = Worker(index: index, role: role, runtime: runtime)
        let ready = DispatchSemaphore(value: 0)
        let failure = ResultSlot()
        _ = Worker.interruptsInstalled
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
            runtime.workerLeft(worker)
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

    /// Whether this worker may end once it has nothing queued.
    private var mayLeave: Bool {
        switch role {
        case .pool: false
        case .actor: hostedActor && actors.isEmpty && runs.isEmpty
        case .extra: runs.isEmpty
        }
    }

    private func loop() {
        while let item = runtime.scheduler.next(for: index, leaveWhenIdle: mayLeave) {
            switch item {
            case .start(let task): start(task)
            case .resume(let key, let token): resume(key: key, token: token)
            case .cancel(let id): wakeCancelled(id)
            case .dropActor(let id, let creation): dropActor(id, creation: creation)
            case .collectGarbage(let done):
                clua_gc_collect(ray.state.pointer)
                done.signal()
            }
        }
    }

    private func close() {
        let L = ray.state.pointer
        for key in runs.keys { luaL_unref(L, CLUA_REGISTRYINDEX, key) }
        for (_, key) in spareCoroutines { luaL_unref(L, CLUA_REGISTRYINDEX, key) }
        spareCoroutines = []
        for actor in actors.values { luaL_unref(L, CLUA_REGISTRYINDEX, actor.key) }
        runs = [:]
        actors = [:]
        ray = nil  // closes the state; ObjectRefs it held drop their references
    }

    /// This worker's pthread while it runs (0 before and after). Signals are
    /// sent under this lock and the thread clears it before it ends:
    /// pthread_kill on a thread that has ended is undefined behaviour.
    let thread = Locked<UInt>(0)

    // MARK: running tasks

    private func start(_ task: TaskSpec) {
        if case .actorCreation = task.kind, role != .actor {
            hostActor(task)
            return
        }
        if runtime.tasks.start(task, worker: index) != nil {
            // Stopped while it was being handed to us: it ends here, giving
            // back the CPUs the scheduler took for it.
            runtime.tasks.end(task, .stopped)
            runtime.scheduler.release(cpus: task.cpus)
            if case .actorCreation = task.kind { hostedActor = true }  // nothing to host: this worker may leave
            return
        }
        let L = ray.state.pointer
        let base = lua_gettop(L)
        let (co, key) = spareCoroutines.popLast() ?? (lua_newthread(L)!, luaL_ref(L, CLUA_REGISTRYINDEX))
        let run = TaskRun(task: task, coroutine: co, key: key)
        runs[key] = run
        do {
            // Before anything is decoded: a module that travels by name is required in it.
            do throws(WorkingDirectory.Problem) {
                try applyEnvironment(of: task)
            } catch {
                throw TaskFailure.error(ray.makeError(.taskError, "runtime_env: \(error.description)", task: task.name))
            }
            // The coroutine's body and its leading arguments, then the task's arguments.
            switch task.kind {
            case .function:
                try pushFunction(of: task)
            case .actorCreation(let actorID, let classCode):
                hostedActor = true
                runtime.actors.started(actorID, on: index, creation: task.id)
                lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(ray.newInstance))
                do {
                    try ray.codec.decode(classCode)
                } catch {
                    throw TaskFailure.error(ray.makeError(.serialization, "the actor class could not be loaded on a worker: \(error.message)", task: task.name))
                }
            case .actorMethod(let actorID, let method):
                guard let instance = actors[actorID], runtime.actors.isAlive(actorID) else {
                    throw TaskFailure.error(runtime.actors.stoppedCallError(actorID))
                }
                lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(ray.callMethod))
                lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(instance.key))
                lua_pushstring(L, method)
            }
            _ = try ray.decodeArguments(task)
            // The coroutine's own stack must hold the body and every argument.
            guard lua_checkstack(co, lua_gettop(L) - base + 1) != 0 else {
                throw TaskFailure.error(ray.makeError(.taskError, "\(lua_gettop(L) - base - 1) arguments are more than a Lua stack can hold", task: task.name))
            }
            lua_xmove(L, co, lua_gettop(L) - base)
        } catch let failure as TaskFailure {
            lua_settop(L, base)
            finish(run, failure: failure)
            return
        } catch {
            lua_settop(L, base)
            finish(run, failure: .error(ray.makeError(.taskError, "\(error)", task: task.name)))
            return
        }
        lua_settop(L, base)
        step(run, arguments: lua_gettop(co) - 1)
    }

    /// A pool worker took an actor's creation (and its CPUs) from the
    /// runnable queue: it starts the actor's own worker and passes it on.
    private func hostActor(_ task: TaskSpec) {
        do {
            let home = try runtime.startWorker(.actor)
            runtime.scheduler.post(.start(task), to: home.index)
        } catch {
            let failure = ray.makeError(.taskError, "could not start a worker for the actor: \(error)", task: task.name)
            runtime.tasks.end(task, .failed(failure, mayRetry: false))
            if case .actorCreation(let actorID, _) = task.kind {
                runtime.actors.initFailed(actorID, creation: task.id, cause: "could not start a worker for it: \(error)")
            }
            runtime.scheduler.release(cpus: task.cpus)
        }
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
            throw TaskFailure.error(ray.makeError(.taskError, "unknown remote function", task: task.name))
        }
        do {
            try ray.codec.decode(code)
        } catch {
            throw TaskFailure.error(ray.makeError(.serialization, "the function could not be loaded on a worker: \(error.message)", task: task.name))
        }
        lua_pushvalue(L, -1)
        functionCache[functionID] = luaL_ref(L, CLUA_REGISTRYINDEX)
    }

    /// Lets go of an actor instance (killed, or restarting elsewhere) unless
    /// a newer incarnation replaced it here.
    private func dropActor(_ id: ActorID, creation: TaskID) {
        guard let instance = actors[id], instance.creation == creation else { return }
        actors[id] = nil
        luaL_unref(ray.state.pointer, CLUA_REGISTRYINDEX, instance.key)
    }

    func resume(key: Int32, token: UInt64) {
        guard let run = runs[key], run.suspended, run.token == token else { return }  // stale
        run.suspended = false
        runtime.scheduler.reacquire(cpus: run.task.cpus)
        runtime.tasks.suspended(run.task, false)
        try? applyEnvironment(of: run.task)  // it was in place when the task started
        step(run, arguments: 0)
    }

    /// Runs the coroutine until it finishes, fails or suspends.
    private func step(_ run: TaskRun, arguments: Int32) {
        let L = ray.state.pointer
        var results: Int32 = 0
        current = run
        clua_set_running(run.coroutine)
        // A cancel that came before the mark above found nothing to signal.
        if currentMustStop { clua_interrupt_now(run.coroutine) }
        let status = lua_resume(run.coroutine, L, arguments, &results)
        clua_set_running(nil)
        current = nil
        switch status {
        case LUA_YIELD:
            clua_pop(run.coroutine, results)
            guard run.suspended else {
                // coroutine.yield in the task's own body: there is no caller
                // to yield to. The coroutine is left suspended, so it is
                // discarded, not reused.
                finish(run, failure: .error(ray.makeError(.taskError, "coroutine.yield called outside a coroutine the task created", task: run.task.name)))
                return
            }
            runtime.scheduler.release(cpus: run.task.cpus)
            runtime.tasks.suspended(run.task, true)
        case LUA_OK:
            if case .actorCreation(let actorID, _) = run.task.kind {
                lua_xmove(run.coroutine, L, 1)  // the instance
                let key = luaL_ref(L, CLUA_REGISTRYINDEX)
                actors[actorID] = (key, run.task.id)
                if let held = runtime.actors.initialized(actorID, creation: run.task.id) {
                    finish(run, failure: nil, keepingCPUs: held)
                } else {
                    dropActor(actorID, creation: run.task.id)  // killed or restarted meanwhile
                    finish(run, failure: nil)
                }
            } else {
                finish(run, failure: ray.storeResults(of: run.task, from: run.coroutine, count: results))
            }
        default:
            if runtime.tasks.stopReason(run.task.id) != nil {
                finish(run, .stopped)  // cancelled, or its actor died: the mark decides
            } else {
                finish(run, .failed(ray.taskError(from: run.coroutine, task: run.task), mayRetry: run.task.retryExceptions))
            }
        }
    }

    /// Lets go of a task's coroutine. One that returned normally (and is not
    /// hooked by an interruption) is kept to run a later task: a finished
    /// coroutine starts afresh when a function is pushed on its empty stack,
    /// which saves creating and collecting a thread per task.
    private func release(_ run: TaskRun) {
        runs[run.key] = nil
        ray.resealModuleTables()
        let co = run.coroutine
        if spareCoroutines.count < 64, lua_status(co) == LUA_OK, lua_gethook(co) == nil {
            lua_settop(co, 0)
            spareCoroutines.append((co, run.key))
        } else {
            luaL_unref(ray.state.pointer, CLUA_REGISTRYINDEX, run.key)
        }
    }

    /// Ends a task's run on this worker: the task manager stores a failure
    /// in its returns (or runs it again), and drops its arguments; the
    /// worker lets go of its coroutine and gives back its CPUs (but
    /// `keepingCPUs`, held by an actor for its life). A failed actor
    /// creation, not stopped by a kill, fails its actor.
    private func finish(_ run: TaskRun, _ outcome: TaskOutcome, keepingCPUs: Double = 0) {
        let stop = runtime.tasks.end(run.task, outcome)
        if case .failed(let error, _) = outcome, stop == nil, case .actorCreation(let actorID, _) = run.task.kind {
            let message = (try? ray.messageOf(error)) ?? "its creation failed"
            runtime.actors.initFailed(actorID, creation: run.task.id, cause: message)
        }
        release(run)
        runtime.scheduler.release(cpus: run.task.cpus - keepingCPUs)
    }

    /// A run that failed before its body ran (or could not keep its results).
    private func finish(_ run: TaskRun, failure: TaskFailure?, keepingCPUs: Double = 0) {
        guard let failure else { return finish(run, .succeeded, keepingCPUs: keepingCPUs) }
        switch failure {
        case .error(let error): finish(run, .failed(error, mayRetry: false), keepingCPUs: keepingCPUs)
        }
    }

    /// Suspends the current task until `resume(key:token:)` is called with
    /// the returned token; the caller then yields (CLUA_YIELD).
    func suspendCurrent() -> (key: Int32, token: UInt64) {
        let run = current!
        run.token = Worker.nextToken.add(1, ordering: .relaxed).newValue
        run.suspended = true
        return (run.key, run.token)
    }

    /// Suspension tokens, unique in the process: a stale resume can never
    /// match a later suspension, even on a worker that took over the slot.
    private static let nextToken = Atomic<UInt64>(0)

    /// Whether `L` is the coroutine of the task running now and may yield.
    func canYield(_ L: OpaquePointer) -> Bool {
        guard let current else { return false }
        return current.coroutine == L && lua_isyieldable(L) != 0
    }
}

/// Carries a startup error out of a thread.
private final class ResultSlot: @unchecked Sendable {
    var error: (any Error)?
}
