
/// The node's actors: where each lives, its queue of calls, its name, and
/// its life cycle (creation, restarts, death).
///
/// Ordering: calls are queued in submission order and dispatched to the
/// actor's home worker only after `init` finished, when the head call's
/// ObjectRef arguments are ready, and while fewer than `max_concurrency`
/// calls run — so with the default of 1, calls from one caller run in order,
/// one at a time, even across `ray.get` inside a method.
///
/// Incarnations: each (re)start of an actor runs a new creation task; the id
/// of that task names the incarnation, and a worker's report about an older
/// one (an init that finished or failed after a restart began) is ignored.
package final class ActorDirectory: Sendable {
    package typealias Options = ActorOptions

    /// One actor's record. A class: its queue and running set are changed
    /// in place under the directory's lock (as a struct, every read through
    /// the dictionary copied the whole record, a third of a call's cost).
    package final class Actor {
        let options: Options
        let className: String
        let methods: [String]
        /// The creation task of the current incarnation (run again on restart).
        var creation: TaskSpec
        var restarts = 0
        /// The worker that ran the creation and holds the instance.
        var home: Int?
        var ready = false
        /// Set when the actor died: the error its calls fail with.
        var death: StoredObject?
        var queue = FIFO<TaskSpec>()
        /// Calls posted to the home worker and not finished, with their attempt numbers.
        var running: [TaskID: Int] = [:]
        var waitingForArguments = false
        /// CPUs held by the running incarnation (given back when it ends).
        var heldCPUs: Double = 0
        /// ObjectRefs inside the class (its functions' upvalues): the
        /// directory holds them while the actor lives, for every incarnation.
        var classRefs: [ObjectID] = []

        init(options: Options, className: String, methods: [String], creation: TaskSpec) {
            self.options = options
            self.className = className
            self.methods = methods
            self.creation = creation
        }

        var label: String { "actor \(options.name.map { "'\($0)'" } ?? className) (\(creation.actorID?.hex ?? "?"))" }

        /// What ending the current incarnation needs, taken before it changes.
        var incarnation: Incarnation {
            Incarnation(creation: creation, running: running, home: home, heldCPUs: heldCPUs)
        }
    }

    /// A snapshot of an incarnation, for `end` outside the lock.
    package struct Incarnation {
        let creation: TaskSpec
        let running: [TaskID: Int]
        let home: Int?
        let heldCPUs: Double
    }

    private struct NameKey: Hashable {
        let namespace: String
        let name: String
    }

    private let actors = Locked<(byID: [ActorID: Actor], byName: [NameKey: ActorID])>(([:], [:]))
    /// The actors this process created on other nodes (their restarts when a host dies).
    private let remote = Locked(RemoteActorBook())
    private unowned let runtime: Runtime

    package init(runtime: Runtime) { self.runtime = runtime }

    /// Tells the event sink, when someone listens, of an actor's change of phase.
    private func emit(_ id: ActorID, _ phase: ActorPhase, reason: String? = nil) {
        guard runtime.events.isListening else { return }
        let (name, restarts) = actors.withLock { table in
            table.byID[id].map { ($0.options.name ?? $0.className, $0.restarts) } ?? ("?", 0)
        }
        runtime.events.emit(.actor(id: id, name: name, phase: phase, restarts: restarts, reason: reason))
    }

    package enum CreationError: Error { case nameTaken(String, namespace: String) }

    /// Registers an actor whose creation task the caller submits next. When
    /// the actor may restart, the directory keeps its own references to the
    /// creation's ObjectRef arguments for the actor's life.
    package func create(_ id: ActorID, options: Options, className: String, methods: [String], creation: TaskSpec,
                classRefs: [ObjectID], restarts: Int = 0) throws {
        try actors.withLock { table in
            if let name = options.name {
                let key = NameKey(namespace: options.namespace, name: name)
                if let existing = table.byName[key], table.byID[existing]?.death == nil {
                    throw CreationError.nameTaken(name, namespace: options.namespace)
                }
                table.byName[key] = id
            }
            let actor = Actor(options: options, className: className, methods: methods, creation: creation)
            actor.classRefs = classRefs
            actor.restarts = restarts
            table.byID[id] = actor
        }
        for ref in classRefs { runtime.store.addReference(ref) }
        if options.maxRestarts != 0 {
            for ref in creation.argumentRefs { runtime.store.addReference(ref) }
        }
        emit(id, .created)
    }

    /// The actors alive here that are not detached.
    package func undetachedAlive() -> [ActorID] {
        actors.withLock { table in table.byID.filter { !$0.value.options.detached && $0.value.death == nil }.map(\.key) }
    }

    /// The job namespace an actor runs in (its creator's), if it lives here.
    package func namespace(of id: ActorID) -> String? {
        actors.withLock { $0.byID[id]?.creation.namespace }
    }

    /// Whether this node hosts (or hosted) the actor.
    package func knows(_ id: ActorID) -> Bool {
        actors.withLock { $0.byID[id] != nil }
    }

    package func lookup(name: String, namespace: String) -> (id: ActorID, methods: [String])? {
        actors.withLock { table in
            guard let id = table.byName[NameKey(namespace: namespace, name: name)], let actor = table.byID[id],
                  actor.death == nil else { return nil }
            return (id, actor.methods)
        }
    }

    /// The creation `creation` started on `worker`: this incarnation lives there.
    package func started(_ id: ActorID, on worker: Int, creation: TaskID) {
        actors.withLock { table in
            if table.byID[id]?.creation.id == creation { table.byID[id]?.home = worker }
        }
    }

    /// `init` of incarnation `creation` returned. Returns the CPUs the
    /// worker must leave held for the actor's life, or nil when this
    /// incarnation is stale (killed or restarted meanwhile): the worker
    /// then drops the instance.
    package func initialized(_ id: ActorID, creation: TaskID) -> Double? {
        let held: Double? = actors.withLock { table in
            guard let actor = table.byID[id], actor.death == nil, actor.creation.id == creation else { return nil }
            actor.ready = true
            actor.heldCPUs = actor.options.lifetimeCPUs
            return actor.heldCPUs
        }
        if held != nil {
            emit(id, .ready)
            dispatch(id)
        }
        return held
    }

    /// `init` of incarnation `creation` raised: the actor dies (a failed
    /// init is not restarted, as in Ray).
    package func initFailed(_ id: ActorID, creation: TaskID, cause: String) {
        die(id, reason: "its init failed: \(cause)", cause: cause, incarnation: creation)
    }

    /// `ray.kill`: the actor's running calls are interrupted and its
    /// instance dropped. With `noRestart` false and restarts left, a new
    /// incarnation is created from the same class and arguments; queued
    /// calls wait for it, and interrupted calls with `max_task_retries` left
    /// run again on it. Otherwise the actor dies.
    package func kill(_ id: ActorID, noRestart: Bool) {
        enum Outcome { case gone, dies, restarts(old: Incarnation, next: TaskSpec, retries: Int) }
        // Decided and applied under one lock: two concurrent restarting
        // kills cannot both pass the max_restarts check.
        let outcome: Outcome = actors.withLock { table in
            guard let actor = table.byID[id], actor.death == nil else { return .gone }
            let limit = actor.options.maxRestarts
            guard !noRestart && (limit < 0 || actor.restarts < limit) else { return .dies }
            let old = actor.incarnation
            actor.restarts += 1
            actor.creation = actor.creation.rerun(as: TaskID.next())
            actor.home = nil
            actor.ready = false
            actor.running = [:]
            actor.waitingForArguments = false
            actor.heldCPUs = 0
            return .restarts(old: old, next: actor.creation, retries: actor.options.maxTaskRetries)
        }
        guard case .restarts(let old, let next, let retries) = outcome else {
            if case .dies = outcome { die(id, reason: "it was killed by ray.kill") }
            return
        }
        emit(id, .restarting, reason: "it was killed by ray.kill (no_restart = false)")
        runtime.cluster?.actorRestarted(id, restarts: actors.withLock { $0.byID[id]?.restarts ?? 0 })
        end(old) { attempt in .actorDied(retry: retries < 0 || attempt < retries) }
        // The new incarnation's creation holds its own references to the arguments.
        for ref in next.argumentRefs { runtime.store.addReference(ref) }
        runtime.tasks.submit(next)
    }

    /// The actor is gone for good: queued and future calls fail with
    /// ActorDiedError (`reason`), running ones are interrupted. With
    /// `incarnation`, only if that creation is still the current one.
    private func die(_ id: ActorID, reason: String, cause: String? = nil, incarnation: TaskID? = nil) {
        typealias Ended = (incarnation: Incarnation, queued: [TaskSpec], options: Options, classRefs: [ObjectID])
        let old: Ended? = actors.withLock { table in
            guard let actor = table.byID[id], actor.death == nil,
                  incarnation == nil || actor.creation.id == incarnation else { return nil }
            let old = (actor.incarnation, Array(actor.queue.elements), actor.options, actor.classRefs)
            actor.death = StoredObject(error: RayError(.actorDied, "\(actor.label) died: \(reason)", cause: cause))
            actor.queue = FIFO()
            actor.running = [:]
            actor.heldCPUs = 0
            if let name = actor.options.name {
                let key = NameKey(namespace: actor.options.namespace, name: name)
                if table.byName[key] == id { table.byName[key] = nil }
            }
            return old
        }
        guard let old, let death = actors.withLock({ $0.byID[id]?.death }) else { return }
        emit(id, .died, reason: reason)
        end(old.incarnation) { _ in .actorDied(retry: false) }
        for call in old.queued { fail(call, with: death) }
        if old.options.maxRestarts != 0 {
            for ref in old.incarnation.creation.argumentRefs { runtime.store.removeReference(ref) }
        }
        for ref in old.classRefs { runtime.store.removeReference(ref) }
    }

    /// Ends incarnation `old`: stops its creation (if still running) and its
    /// calls, drops its instance, and gives back the CPUs it held.
    private func end(_ old: Incarnation, callStop: (_ attempt: Int) -> TaskStop) {
        let id = old.creation.actorID!
        var stops: [TaskID: TaskStop] = [old.creation.id: .actorDied(retry: false)]
        for (call, attempt) in old.running { stops[call] = callStop(attempt) }
        runtime.tasks.stop(stops)
        if let home = old.home { runtime.scheduler.post(.dropActor(id, creation: old.creation.id), to: home) }
        runtime.scheduler.release(cpus: old.heldCPUs)
    }

    package func isAlive(_ id: ActorID) -> Bool {
        actors.withLock { $0.byID[id].map { $0.death == nil } ?? false }
    }

    /// The error of a call stopped because its actor was killed: the
    /// actor's death, or (restarting) that it restarted under the call.
    package func stoppedCallError(_ id: ActorID) -> StoredObject {
        actors.withLock { table in
            guard let actor = table.byID[id] else {
                return StoredObject(error: RayError(.actorDied, "no actor \(id.hex) on this node"))
            }
            return actor.death ?? StoredObject(error: RayError(.actorDied,
                "\(actor.label) was restarted (ray.kill with no_restart = false) while this call ran; max_task_retries did not allow running it again"))
        }
    }

    /// Queues a method call (or fails it at once when the actor is dead).
    /// `atFront`: a call cut short by a restart, with retries left, runs
    /// again first. Calls the new incarnation took meanwhile may run before
    /// it (as in Ray, retries can reorder calls).
    package func enqueue(_ call: TaskSpec, atFront: Bool) {
        guard let id = call.actorID else { return }
        let death: StoredObject? = actors.withLock { table in
            guard let actor = table.byID[id] else {
                return StoredObject(error: RayError(.actorDied, "no actor \(id.hex) on this node"))
            }
            if let death = actor.death { return death }
            if atFront { actor.queue.prepend(call) } else { actor.queue.append(call) }
            return nil
        }
        if let death { fail(call, with: death) } else { dispatch(id) }
    }

    /// Takes a call out of its actor's queue (`ray.cancel` of a call that has
    /// not been posted to the actor's worker); nil if it is not queued.
    package func removeQueued(_ call: TaskID) -> TaskSpec? {
        let removed: TaskSpec? = actors.withLock { table in
            for actor in table.byID.values {
                if let spec = actor.queue.remove(where: { $0.id == call }) {
                    // It may have been the head waiting for its arguments: look again.
                    actor.waitingForArguments = false
                    return spec
                }
            }
            return nil
        }
        if let actor = removed?.actorID { dispatch(actor) }
        return removed
    }

    package func callFinished(_ id: ActorID, call: TaskID) {
        actors.withLock { $0.byID[id]?.running[call] = nil }
        dispatch(id)
    }

    /// Posts what may run now to the actor's home worker.
    private func dispatch(_ id: ActorID) {
        let store = runtime.store
        var waitOn: ObjectID?
        let (home, calls): (Int?, [WorkItem]) = actors.withLock { table in
            guard let actor = table.byID[id], actor.ready, actor.death == nil, let home = actor.home,
                  actor.running.count < actor.options.maxConcurrency, !actor.queue.isEmpty else { return (nil, []) }
            var calls: [WorkItem] = []
            while actor.running.count < actor.options.maxConcurrency, let head = actor.queue.first {
                if let missing = head.topLevelRefs.first(where: { store.object($0.id) == nil }) {
                    if !actor.waitingForArguments {
                        actor.waitingForArguments = true
                        waitOn = missing.id
                    }
                    break
                }
                _ = actor.queue.popFirst()
                actor.running[head.id] = head.attempt
                calls.append(.start(head))
            }
            return (home, calls)
        }
        if let home, !calls.isEmpty { runtime.scheduler.post(calls, to: home) }
        if let waitOn {
            runtime.adoptForeign([waitOn])
            defer { runtime.fetchForeign([waitOn]) }
            store.whenReady(waitOn) { [self] _ in
                actors.withLock { $0.byID[id]?.waitingForArguments = false }
                dispatch(id)
            }
        }
    }

    /// Fails a call that never ran with `error`.
    private func fail(_ call: TaskSpec, with error: StoredObject) {
        runtime.tasks.end(call, .failed(error, mayRetry: false))
    }

    // MARK: actors this process created elsewhere

    /// An actor this process created now lives on the node `host`.
    package func placedElsewhere(_ actor: ActorCreation, classRefs: [ObjectID], host: UInt64) {
        remote.withLock { $0.created(actor, classRefs: classRefs, host: host) }
    }

    /// A call to an actor hosted elsewhere finished there.
    package func remoteCallFinished(_ id: ActorID) {
        remote.withLock { $0.callFinished(id) }
    }

    /// The host of an actor this process created restarted it (`ray.kill`).
    package func remoteRestarted(_ id: ActorID, restarts: Int) {
        remote.withLock { $0.restarted(id, restarts: restarts) }
    }

    /// `ray.kill` of an actor hosted elsewhere, without a restart.
    package func forgetRemote(_ id: ActorID) {
        remote.withLock { $0.forget(id) }
    }

    /// The node with this prefix died: the actors this process created
    /// there are created again elsewhere while `max_restarts` allows (and
    /// they have not taken `TaskBook.crashLimit` nodes down), through the
    /// cluster, which may not wait here (an event loop may be calling).
    package func hostDied(_ node: UInt64, description: String, leaving: Bool) {
        let decisions = remote.withLock { $0.hostDied(node, description: description, leaving: leaving) }
        for decision in decisions {
            switch decision {
            case .restart(let actor, let classRefs):
                do throws(ClusterLinkError) {
                    if let host = try runtime.cluster?.placeActor(actor, classRefs: classRefs, restart: true) {
                        remote.withLock { $0.moved(actor.id, to: host) }
                    } else {
                        // The cluster chose this node: it hosts the actor from
                        // now on (and counts its restarts itself).
                        remote.withLock { $0.forget(actor.id) }
                        try runtime.hostActorForPeer(actor, classRefs: classRefs)
                    }
                    emitRemote(actor, .restarting, reason: "its node died (\(description))")
                } catch {
                    remote.withLock { $0.forget(actor.id) }
                    runtime.cluster?.note("actor \(actor.id.hex.prefix(8)) cannot be restarted: \(error.description)")
                }
            case .notRestarted(let id, let reason):
                runtime.cluster?.note("actor \(id.hex.prefix(8)) is not created again: \(reason)")
                if runtime.events.isListening {
                    runtime.events.emit(.actor(id: id, name: "?", phase: .died, restarts: 0, reason: reason))
                }
            }
        }
    }

    private func emitRemote(_ actor: ActorCreation, _ phase: ActorPhase, reason: String) {
        guard runtime.events.isListening else { return }
        runtime.events.emit(.actor(id: actor.id, name: actor.options.name ?? actor.className, phase: phase,
                                   restarts: actor.restarts, reason: reason))
    }
}
