import Foundation
import LuaCodec
import RayCore
import Synchronization

/// Settings of a runtime, frozen when it starts.
public struct RuntimeSettings: Sendable {
    /// CPUs the node offers to tasks (default: the machine's cores). Worker
    /// threads: one per whole CPU, at least one.
    public var numCPUs: Double = Double(ProcessInfo.processInfo.activeProcessorCount)
    /// Custom resources (name -> amount).
    public var resources: [String: Double] = [:]

    public init() {}
}

/// One node's runtime in this process: the object store, the scheduler and
/// the worker threads (each with its own Lua state). The driver's state
/// attaches to it with `RayLuaState(driverOf:)`.
public final class Runtime: Sendable {
    public let settings: RuntimeSettings
    public let nodeID = NodeID.next()
    public let jobID = JobID.next()
    let store = ObjectStore()
    let scheduler: Scheduler
    /// Remote functions' code by id, and the ids by the handle a RemoteFunction table keeps.
    private let functions = Locked<(code: [UniqueID: [UInt8]], handles: [UniqueID])>(([:], []))
    private let workers = Locked<[Worker]>([])
    let tasks = TaskTable()
    /// Set right after init (it needs `self`); never nil afterwards.
    private let actorDirectory = Locked<ActorDirectory?>(nil)
    var actors: ActorDirectory { actorDirectory.withLock { $0! } }
    private let stopped = Locked(false)

    /// Starts the worker threads; returns once each has loaded the `ray` module.
    public init(settings: RuntimeSettings = RuntimeSettings()) throws {
        self.settings = settings
        let threads = max(1, Int(settings.numCPUs.rounded(.up)))
        scheduler = Scheduler(workers: threads, cpus: settings.numCPUs)
        actorDirectory.withLock { $0 = ActorDirectory(runtime: self) }
        var started: [Worker] = []
        for index in 0..<threads {
            started.append(try Worker.start(index: index, runtime: self))
        }
        workers.withLock { $0 = started }
    }

    /// Reserves an id for a remote function at its first submission; returns
    /// the handle its RemoteFunction table keeps. The handle is stored in the
    /// table *before* the function is encoded, so every copy of it that
    /// travels (inside the function's own upvalues, for a recursive task)
    /// names the same function instead of registering a new one.
    func reserveFunction() -> Int {
        functions.withLock { table in
            table.handles.append(UniqueID.next())
            return table.handles.count - 1
        }
    }

    /// How many remote functions were registered (each once, however often submitted or shipped).
    public var registeredFunctions: Int { functions.withLock { $0.handles.count } }

    /// How many objects the store holds (ready or expected).
    public var liveObjects: Int { store.count }

    /// Stores the code of a reserved function.
    func setFunctionCode(handle: Int, _ bytes: [UInt8]) {
        functions.withLock { table in table.code[table.handles[handle]] = bytes }
    }

    func functionID(handle: Int) -> UniqueID? {
        functions.withLock { handle >= 0 && handle < $0.handles.count ? $0.handles[handle] : nil }
    }

    func functionCode(_ id: UniqueID) -> [UInt8]? {
        functions.withLock { $0.code[id] }
    }

    /// Queues a task once its top-level ObjectRef arguments are ready.
    /// `parent` is the task that submitted it (for recursive cancellation).
    func submit(_ task: TaskSpec, parent: TaskID? = nil) {
        tasks.add(task, parent: parent)
        let waiting = task.topLevelRefs.filter { store.object($0.id) == nil }
        if waiting.isEmpty {
            scheduler.enqueue(task)
            return
        }
        let remaining = Atomic(waiting.count)
        for (_, id) in waiting {
            store.whenReady(id) { [self] _ in
                if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                    if tasks.isCancelled(task.id) {
                        failCancelled(task.id, task: task)
                        return
                    }
                    scheduler.enqueue(task)
                }
            }
        }
    }

    /// `ray.cancel`: a task not started yet is dropped and its returns fail
    /// with TaskCancelledError; a started one is interrupted on its worker
    /// (a count hook raises inside its coroutine; a suspended one is resumed
    /// and its `ray.get` raises). `recursive` also cancels the tasks it submitted.
    func cancel(returning ref: ObjectID, recursive: Bool) {
        for (id, place) in tasks.cancel(returning: ref, recursive: recursive) {
            switch place {
            case .pending:
                // Still queued: take it out. Not queued yet (waiting for its
                // arguments): the readiness callback sees the mark and drops it.
                let queued = scheduler.remove(id)
                failCancelled(id, task: queued)
            case .running(let worker):
                workers.withLock { $0[worker] }.interrupt(id)
            }
        }
    }

    /// Fails a task that never started with TaskCancelledError. Without its
    /// spec (still waiting for arguments, or just taken by a worker) nothing
    /// is done here: the readiness callback or the worker sees the mark.
    func failCancelled(_ id: TaskID, task: TaskSpec?) {
        guard let task else { return }
        let error = StoredObject(bytes: LuaCodec.message(stringTable: [
            ("type", "TaskCancelledError"), ("message", "task '\(task.name)' was cancelled before it started"), ("task", task.name),
        ]), isError: true)
        for ref in task.returnIDs { store.fulfill(ref, with: error) }
        for ref in task.argumentRefs { store.removeReference(ref) }
        tasks.finish(id)
    }


    /// Runs a full garbage collection on every worker's state (ObjectRefs
    /// they no longer use release their objects) and waits for it, as long
    /// as the workers are not stuck in a task.
    public func collectGarbageOnWorkers(timeout: Double = 30) {
        let all = workers.withLock { $0 }
        let done = DispatchSemaphore(value: 0)
        for worker in all { scheduler.post(.collectGarbage(done), to: worker.index) }
        for _ in all { _ = done.wait(timeout: .now() + timeout) }
    }

    /// Whether `shutdown` has begun: running tasks are being interrupted.
    var isStopping: Bool { stopped.withLock { $0 } }

    /// Stops the workers and waits for their threads to end: suspended tasks
    /// are abandoned, running ones interrupted (as by `ray.cancel`). A task
    /// that swallows the interruption (pcall in a loop) cannot be stopped: its
    /// thread is left behind after `timeout` seconds, with a warning.
    /// Idempotent.
    public func shutdown(timeout: Double = 5) {
        let first = stopped.withLock { was in
            defer { was = true }
            return !was
        }
        guard first else { return }
        scheduler.stop()
        let all = workers.withLock { $0 }
        for worker in all { worker.interruptForShutdown() }
        let deadline = DispatchTime.now() + timeout
        for worker in all where !worker.join(until: deadline) {
            FileHandle.standardError.write(Data("ray: worker \(worker.index) is still running a task that ignores interruption; leaving its thread behind\n".utf8))
        }
    }

    deinit {
        shutdown()
    }
}
