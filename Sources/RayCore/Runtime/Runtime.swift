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
    package let store: ObjectStore
    package let scheduler: Scheduler
    /// Remote functions' code by id (a RemoteFunction table keeps its id,
    /// which is the same on every node), and how many were registered here.
    private let functions = Locked<(code: [UniqueID: [UInt8]], registered: Int)>(([:], 0))
    /// The live workers by slot: the pool, actors' own, and extra ones.
    private let workers = Locked<[Int: any TaskExecutor]>([:])
    /// Starts the executors (RayLua's Lua workers).
    package let executors: any ExecutorFactory
    /// The owner of every task's life here, and of every actor's. Both hold
    /// the runtime (unowned), so they are made in `init` right after every
    /// other property and never change after it: written once before any
    /// other thread can see the runtime, read without a lock.
    @exclusivity(unchecked) nonisolated(unsafe) package private(set) var tasks: TaskManager!
    @exclusivity(unchecked) nonisolated(unsafe) package private(set) var actors: ActorDirectory!
    /// Every state transition of tasks, actors and objects, for whoever listens.
    public let events: EventSink
    private let stopped = Locked(false)
    /// The cluster this runtime belongs to, once attached (see Runtime+Cluster.swift).
    package let clusterLink = Locked<(any ClusterLink)?>(nil)
    /// Set with `clusterLink` (see `isClustered`).
    package let attached = Atomic<Bool>(false)
    /// Where tasks' `print` lines go when `settings.forwardsOutput`: the
    /// task (nil outside one) and the whole line, newline included.
    package let outputSink = Locked<(@Sendable (TaskID?, String) -> Void)?>(nil)
    /// Custom resources this node offers: `settings.resources`, plus those a
    /// driver's `ray.init{resources = ...}` added before any conflict.
    private let customResources: Locked<[String: Double]>
    public var resources: [String: Double] { customResources.withLock { $0 } }
    /// The namespace of named actors: anonymous (this job's own) until
    /// `ray.init{namespace = ...}` names it, as in Ray.
    private let namespaceState: Locked<(name: String, named: Bool)>

    /// Starts the worker threads through `executors`; returns once each is
    /// ready. (RayLua's `Runtime(settings:)` gives it Lua workers.)
    package init(settings: RuntimeSettings, executors: any ExecutorFactory, clock: any RuntimeClock = MonotonicClock()) throws {
        self.settings = settings
        self.executors = executors
        events = EventSink(node: nodeID.hex, clock: clock)
        store = ObjectStore(events: events)
        // "anon-" and 10 hex digits of the job's random process prefix: 15
        // bytes, so that the name every task carries is an inline string.
        namespaceState = Locked(("anon-" + String(jobID.hex.prefix(10)), false))
        customResources = Locked(settings.resources)
        let threads = max(1, Int(settings.numCPUs.rounded(.up)))
        scheduler = Scheduler(cpus: settings.numCPUs, idleSpin: settings.idleSpin)
        tasks = TaskManager(runtime: self, store: store, scheduler: scheduler, events: events)
        actors = ActorDirectory(runtime: self)
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
    package func setFunctionCode(_ id: UniqueID, _ bytes: [UInt8], registered: Bool = false) {
        functions.withLock { table in
            if table.code.updateValue(bytes, forKey: id) == nil && registered { table.registered += 1 }
        }
    }

    package func functionCode(_ id: UniqueID) -> [UInt8]? {
        functions.withLock { $0.code[id] }
    }

    /// Runs a task on this node once its top-level ObjectRef arguments are
    /// ready (an actor's call: at its actor). `parent` is the task that
    /// submitted it (for recursive cancellation).
    package func submit(_ task: TaskSpec, parent: TaskID? = nil) {
        tasks.submit(task, parent: parent)
    }

    /// `ray.cancel`: a task or actor call not started yet is dropped and its
    /// returns fail with TaskCancelledError; a started one is interrupted on
    /// its worker (a hook raises inside its coroutine; a suspended one is
    /// resumed and its `ray.get` raises); one placed on another node is
    /// cancelled there. `recursive` also cancels the tasks it submitted.
    public func cancel(returning ref: ObjectID, recursive: Bool) {
        tasks.cancel(returning: ref, recursive: recursive)
    }

    /// The executor in scheduler slot `index`, if one lives there.
    package func executor(at index: Int) -> (any TaskExecutor)? {
        workers.withLock { $0[index] }
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
        attached.store(false, ordering: .releasing)
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
