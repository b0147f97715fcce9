import Foundation
import Synchronization

/// Settings of a runtime, frozen when it starts.
public struct RuntimeSettings: Sendable {
    /// CPUs the node offers to tasks (default: the machine's cores). Worker
    /// threads: one per whole CPU, at least one.
    public var numCPUs: Double = Double(ProcessInfo.processInfo.activeProcessorCount)
    /// Custom resources (name -> amount).
    public var resources: [String: Double] = [:]
    /// What tasks `print` goes to `outputSink` instead of this process's
    /// stdout (a cluster node sends it to the drivers, as Ray does).
    public var forwardsOutput = false
    /// How long an idle worker spins for more work before it sleeps: work
    /// that comes within it costs no wake-up. A cluster node spins longer,
    /// since work from other processes comes a few wake-ups apart.
    public var idleSpin: Duration = .microseconds(50)
    /// Where `runtime_env` working directories are unpacked (once per node,
    /// shared by its workers); a node uses its session directory.
    public var workingDirectoryCache = NSTemporaryDirectory() + "swiftray-\(getuid())/working_dirs"

    public init() {}
}

/// One node's runtime in this process: the object store, the scheduler and
/// the worker threads (each with its own Lua state). The driver's state
/// attaches to it with `RayLuaState(driverOf:)`.
public final class Runtime: Sendable {
    public let settings: RuntimeSettings
    public let nodeID = NodeID.next()
    /// The process's working directory when the runtime started: where work
    /// without a `runtime_env.working_dir` runs.
    package let startDirectory = FileManager.default.currentDirectoryPath
    public let jobID = JobID.next()
    package let store = ObjectStore()
    package let scheduler: Scheduler
    /// Remote functions' code by id (a RemoteFunction table keeps its id,
    /// which is the same on every node), and how many were registered here.
    private let functions = Locked<(code: [UniqueID: [UInt8]], registered: Int)>(([:], 0))
    /// The live workers by slot: the pool, actors' own, and extra ones.
    private let workers = Locked<[Int: any TaskExecutor]>([:])
    /// Starts the executors (RayLua's Lua workers).
    package let executors: any ExecutorFactory
    package let tasks = TaskTable()
    /// Set right after init (it needs `self`); never nil afterwards.
    private let actorDirectory = Locked<ActorDirectory?>(nil)
    package var actors: ActorDirectory { actorDirectory.withLock { $0! } }
    private let stopped = Locked(false)
    /// The cluster this runtime belongs to, once attached (see Runtime+Cluster.swift).
    package let clusterLink = Locked<(any ClusterLink)?>(nil)
    /// Where tasks' `print` lines go when `settings.forwardsOutput`: the
    /// task (nil outside one) and the whole line, newline included.
    public let outputSink = Locked<(@Sendable (TaskID?, String) -> Void)?>(nil)
    /// Tasks waiting for their ObjectRef arguments. Whoever takes one out
    /// (the last readiness callback, or a cancel) decides what becomes of it.
    private let awaitingArguments = Locked<[TaskID: TaskSpec]>([:])
    package var awaitingArgumentsCount: Int { awaitingArguments.withLock { $0.count } }
    /// Custom resources this node offers: `settings.resources`, plus those a
    /// driver's `ray.init{resources = ...}` added before any conflict.
    private let customResources: Locked<[String: Double]>
    public var resources: [String: Double] { customResources.withLock { $0 } }
    /// The namespace of named actors: anonymous (this job's own) until
    /// `ray.init{namespace = ...}` names it, as in Ray.
    private let namespaceState: Locked<(name: String, named: Bool)>

    /// Starts the worker threads through `executors`; returns once each is
    /// ready. (RayLua's `Runtime(settings:)` gives it Lua workers.)
    package init(settings: RuntimeSettings, executors: any ExecutorFactory) throws {
        self.settings = settings
        self.executors = executors
        namespaceState = Locked(("anonymous-" + jobID.hex, false))
        customResources = Locked(settings.resources)
        let threads = max(1, Int(settings.numCPUs.rounded(.up)))
        scheduler = Scheduler(cpus: settings.numCPUs, idleSpin: settings.idleSpin)
        actorDirectory.withLock { $0 = ActorDirectory(runtime: self) }
        for _ in 0..<threads { _ = try startWorker(.pool) }
    }

    /// Adds custom resources (`ray.init{resources = ...}`); a message when one
    /// is already offered in another amount, and then nothing is added.
    package func addResources(_ asked: [String: Double]) -> String? {
        customResources.withLock { offered in
            for (name, amount) in asked.sorted(by: { $0.key < $1.key }) {
                if let have = offered[name], abs(have - amount) > 1e-9 {
                    return "the runtime already offers \(ResourceAmount.text(have)) \(name) (asked for \(ResourceAmount.text(amount)))"
                }
            }
            offered.merge(asked) { $1 }
            return nil
        }
    }

    /// Starts a worker thread (returns once its state is ready).
    package func startWorker(_ role: WorkerRole) throws -> any TaskExecutor {
        let index = scheduler.addSlot(role: role)
        let worker = try executors.startExecutor(index: index, role: role, runtime: self)
        workers.withLock { $0[index] = worker }
        return worker
    }

    /// A worker's thread is ending (it left its slot, or shutdown).
    package func workerLeft(_ worker: any TaskExecutor) {
        workers.withLock { table in
            if table[worker.index] === worker { table[worker.index] = nil }
        }
    }

    /// A task-taking worker is about to block its thread in `ray.get` (a
    /// context that cannot yield): an extra worker stands in for it until
    /// `endBlocking`, so that what it waits for can run.
    package func beginBlocking() {
        guard scheduler.beginBlocking() else { return }
        if isStopping || (try? startWorker(.extra)) == nil { scheduler.extraWorkerFailed() }
    }

    package func endBlocking() { scheduler.endBlocking() }

    /// The current namespace for named actors.
    public var namespace: String { namespaceState.withLock { $0.name } }

    /// Names the job's namespace; false if it was already named otherwise.
    package func setNamespace(_ name: String) -> Bool {
        namespaceState.withLock { state in
            if state.named { return state.name == name }
            state = (name, true)
            return true
        }
    }

    /// How many remote functions this process registered (each once,
    /// however often submitted or shipped).
    public var registeredFunctions: Int { functions.withLock { $0.registered } }

    /// Worker threads alive now: the pool, one per actor, and stand-ins for blocked ones.
    public var workerCount: Int { workers.withLock { $0.count } }

    /// How many objects the store holds (ready or expected).
    public var liveObjects: Int { store.count }

    /// Stores a remote function's code under its id: one registered here
    /// (`registered`), or one that came from another node.
    public func setFunctionCode(_ id: UniqueID, _ bytes: [UInt8], registered: Bool = false) {
        functions.withLock { table in
            if table.code.updateValue(bytes, forKey: id) == nil && registered { table.registered += 1 }
        }
    }

    public func functionCode(_ id: UniqueID) -> [UInt8]? {
        functions.withLock { $0.code[id] }
    }

    /// Queues a task once its top-level ObjectRef arguments are ready.
    /// `parent` is the task that submitted it (for recursive cancellation).
    public func submit(_ task: TaskSpec, parent: TaskID? = nil) {
        tasks.add(task, parent: parent)
        let waiting = task.topLevelRefs.filter { store.object($0.id) == nil }
        if waiting.isEmpty {
            scheduler.enqueue(task)
            return
        }
        awaitingArguments.withLock { $0[task.id] = task }
        let remaining = Atomic(waiting.count)
        for (_, id) in waiting {
            store.whenReady(id) { [self] _ in
                guard remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0,
                      let task = awaitingArguments.withLock({ $0.removeValue(forKey: task.id) }) else { return }
                if let reason = tasks.stopReason(task.id) {
                    finishStopped(task, reason)
                } else {
                    scheduler.enqueue(task)
                }
            }
        }
    }

    /// `ray.cancel`: a task or actor call not started yet is dropped and its
    /// returns fail with TaskCancelledError; a started one is interrupted on
    /// its worker (a hook raises inside its coroutine; a suspended one is
    /// resumed and its `ray.get` raises). `recursive` also cancels the tasks
    /// it submitted.
    public func cancel(returning ref: ObjectID, recursive: Bool) {
        let (marked, remote) = tasks.cancel(returning: ref, recursive: recursive)
        if marked.isEmpty, cluster?.cancel(returning: ref, recursive: recursive) == true { return }
        for (id, place) in marked {
            stopMarked(id, place, .cancelled)
        }
        // Children placed on other nodes are cancelled there.
        for child in remote { _ = cluster?.cancel(returning: child, recursive: true) }
    }

    /// Stops tasks for the given reasons (an actor's calls and creation when
    /// it is killed or restarted).
    package func stop(_ reasons: [TaskID: TaskTable.Stop]) {
        for (id, place) in tasks.stop(Array(reasons.keys), { reasons[$0]! }) {
            stopMarked(id, place, reasons[id]!)
        }
    }

    /// A task just marked to stop: take it out of its queue (runnable, an
    /// actor's, or waiting for its arguments) if it is still there and end
    /// it; interrupt it if it runs. Not found (being handed to a worker): the
    /// worker sees the mark.
    private func stopMarked(_ id: TaskID, _ place: TaskTable.Place, _ reason: TaskTable.Stop) {
        switch place {
        case .pending:
            if let queued = scheduler.remove(id) ?? actors.removeQueued(id)
                ?? awaitingArguments.withLock({ $0.removeValue(forKey: id) }) {
                finishStopped(queued, reason)
            }
        case .running(let worker):
            workers.withLock { $0[worker] }?.interrupt(id)
        }
    }

    /// Ends a task that was stopped before it started.
    package func finishStopped(_ task: TaskSpec, _ reason: TaskTable.Stop) {
        switch reason {
        case .cancelled:
            end(task, storing: StoredObject(error: .cancelledBeforeStart(task)))
        case .actorDied(retry: true):
            actors.retry(task)
        case .actorDied(retry: false):
            end(task, storing: task.actorID.map { actors.stoppedCallError($0) })
        }
    }

    /// Ends a task that did not run: stores `error` in its returns, drops its arguments.
    private func end(_ task: TaskSpec, storing error: StoredObject?) {
        if let error {
            for ref in task.returnIDs { store.fulfill(ref, with: error) }
        }
        for ref in task.argumentRefs { store.removeReference(ref) }
        tasks.finish(task.id)
    }

    /// Runs a full garbage collection on every worker's state (ObjectRefs
    /// they no longer use release their objects) and waits for it, as long
    /// as the workers are not stuck in a task.
    public func collectGarbageOnWorkers(timeout: Double = 30) {
        let all = workers.withLock { $0.values }
        let done = DispatchSemaphore(value: 0)
        let posted = all.filter { scheduler.post(.collectGarbage(done), to: $0.index) }
        for _ in posted { _ = done.wait(timeout: .now() + timeout) }
    }

    /// Whether `shutdown` has begun: running tasks are being interrupted.
    package var isStopping: Bool { stopped.withLock { $0 } }

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
        // Leaving the cluster first: the nodes end this job's work and actors.
        clusterLink.withLock { link in
            defer { link = nil }  // the link holds this runtime: let both go
            return link
        }?.leave()
        scheduler.stop()
        let deadline = DispatchTime.now() + timeout
        var abandoned = Set<ObjectIdentifier>()
        // Workers remove themselves as they end; one started meanwhile (an
        // actor's) finds the scheduler stopped and ends at once.
        while true {
            let all = workers.withLock { $0.values.filter { !abandoned.contains(ObjectIdentifier($0)) } }
            if all.isEmpty { break }
            for worker in all { worker.interruptForShutdown() }
            for worker in all where !worker.join(until: deadline) {
                abandoned.insert(ObjectIdentifier(worker))
                FileHandle.standardError.write(Data("ray: worker \(worker.index) is still running a task that ignores interruption; leaving its thread behind\n".utf8))
            }
            for worker in all { workerLeft(worker) }
        }
    }

    deinit {
        shutdown()
    }
}
