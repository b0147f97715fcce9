import Synchronization

/// The runtime's side of a cluster: attaching a link, checking placements,
/// running work that other processes placed here, and other processes' objects.
extension Runtime {
    /// Joins `runtime` to the cluster at an address ("HOST:PORT" or "auto"):
    /// set by a program that links cluster support (the `ray` command, an
    /// embedding), used by `ray.init{address = ...}`.
    package static let clusterConnector = Locked<(@Sendable (Runtime, String) throws -> Void)?>(nil)

    /// The cluster this runtime belongs to; nil for a runtime on its own.
    package var cluster: (any ClusterLink)? { clusterLink.withLock { $0 } }

    /// Joins a cluster: from now on tasks and actors are placed through `link`.
    package func attach(_ link: any ClusterLink) {
        clusterLink.withLock { $0 = link }
        attached.store(true, ordering: .releasing)
    }

    /// Whether a cluster is attached: one atomic load, where `cluster`
    /// takes a lock (each submission asks).
    package var isClustered: Bool { attached.load(ordering: .acquiring) }

    /// The node's object store (the cluster serves and fills it).
    package var objects: ObjectStore { store }

    /// The hex id of the node this process counts as.
    package var nodeIDHex: String { cluster?.nodeID ?? nodeID.hex }

    package enum Subject {
        case task, actor
        var noun: String { self == .task ? "the task" : "the actor" }
        var never: String { self == .task ? "it could never run" : "it could never be placed" }
    }

    /// Why no node could ever run (or host) what asks for `cpus`,
    /// `resources` and `strategy`, as the error message's text; nil when a node can.
    package func infeasibility(cpus: Double, resources: [String: Double], strategy: SchedulingStrategy, what: Subject) -> String? {
        if let cluster {
            switch cluster.infeasibility(cpus: cpus, resources: resources, strategy: strategy) {
            case nil:
                return nil
            case .resource(let name, let amount, let localHas, let mostHas)?:
                let unit = name == "CPU" ? "CPUs" : name
                return "\(what.noun) needs \(ResourceAmount.text(amount)) \(unit) but this node has \(ResourceAmount.text(localHas)); \(what.never) (no node of the cluster has more than \(ResourceAmount.text(mostHas)))"
            case .affinity(let node, let known, let alive)?:
                let why = !known ? "which is not in the cluster" : !alive ? "which is dead" : "which does not have the resources asked for"
                return "scheduling_strategy asks for node \(node) (soft = false), \(why); \(what.noun) could never \(what == .task ? "run" : "be placed")"
            }
        }
        if cpus > settings.numCPUs + 1e-9 {
            return "\(what.noun) needs \(ResourceAmount.text(cpus)) CPUs but this node has \(ResourceAmount.text(settings.numCPUs)); \(what.never)"
        }
        for (name, amount) in resources.sorted(by: { $0.key < $1.key }) {
            let offered = name == "CPU" ? settings.numCPUs : self.resources[name] ?? 0
            if amount > offered + 1e-9 {
                return "\(what.noun) needs \(ResourceAmount.text(amount)) \(name) but this node has \(ResourceAmount.text(offered)); \(what.never)"
            }
        }
        if case .node(let node, soft: false) = strategy, node != nodeID.hex {
            return "scheduling_strategy asks for node \(node) (soft = false), which is not in the cluster; \(what.noun) could never \(what == .task ? "run" : "be placed")"
        }
        return nil
    }

    /// Runs a task or actor call that another process placed here. Its
    /// returns are kept here until all are ready; `done` then gets them (to
    /// send to their owner) and they are let go.
    /// `task` must have a return (the caller gives a returnless task one of
    /// its own, so that `done` comes when it ends).
    package func runForPeer(_ task: TaskSpec, done: @escaping @Sendable ([(ObjectID, StoredObject)]) -> Void) {
        precondition(!task.returnIDs.isEmpty, "runForPeer needs a task with a return")
        for id in task.returnIDs { store.expect(id, references: 1) }
        holdArguments(of: task)
        let results = Locked<[(ObjectID, StoredObject)]>([])
        let count = task.returnIDs.count
        for id in task.returnIDs {
            store.whenReady(id) { [store] object in
                let all: [(ObjectID, StoredObject)]? = results.withLock { results in
                    results.append((id, object))
                    return results.count == count ? results : nil
                }
                guard let all else { return }
                done(all)
                for (id, _) in all { store.removeReference(id) }
            }
        }
        switch task.kind {
        case .function:
            submit(task)
        case .actorMethod:
            submit(task)
        case .actorCreation:
            // Actors come with `hostActorForPeer` (their options and name);
            // a creation sent as a plain task is refused, not half-run.
            let refused = StoredObject(error: RayError(.taskError, of: task, "an actor's creation cannot be sent as a task"))
            for id in task.returnIDs { store.fulfill(id, with: refused) }
            for ref in task.argumentRefs { store.removeReference(ref) }
        }
    }

    /// Hosts an actor another process created: registers it here and runs its creation.
    package func hostActorForPeer(_ actor: ActorCreation, classRefs: [ObjectID]) throws(ClusterLinkError) {
        adoptForeign(classRefs)
        do {
            try actors.create(actor.id, options: actor.options, className: actor.className, methods: actor.methods,
                              creation: actor.creation, classRefs: classRefs, restarts: actor.restarts)
        } catch {
            throw ClusterLinkError("an actor named '\(actor.options.name ?? "")' already exists in namespace '\(actor.options.namespace)'")
        }
        holdArguments(of: actor.creation)
        submit(actor.creation)
    }

    /// `ray.kill`: the actor's node kills it (and, `noRestart`, its creator
    /// here stops restarting it when its node dies).
    package func killActor(_ id: ActorID, noRestart: Bool) {
        if let cluster, !actors.knows(id), cluster.killActor(id, noRestart: noRestart) {
            if noRestart { actors.forgetRemote(id) }
            return
        }
        actors.kill(id, noRestart: noRestart)
    }

    /// `ray.kill` from another process, for an actor hosted here.
    package func killActorForPeer(_ id: ActorID, noRestart: Bool) {
        actors.kill(id, noRestart: noRestart)
    }

    /// Tasks here that wait: for a CPU, or for their ObjectRef arguments.
    package var pendingTasks: Int { scheduler.queuedTasks + tasks.waitingForArguments }

    /// CPUs not in use on this node now.
    package var availableCPUs: Double { scheduler.availableCPUs }

    /// What this node has free now (`CPU` included), for its heartbeat.
    package var availableResources: [String: Double] {
        resources.merging(["CPU": max(0, scheduler.availableCPUs)]) { $1 }
    }

    /// An object that came from another process (a task's return, or a
    /// fetched copy): stored, with references to the objects it contains.
    package func receive(_ id: ObjectID, _ object: StoredObject) {
        adoptForeign(object.contained)
        for ref in object.contained { store.addReference(ref) }
        store.fulfill(id, with: object)
    }

    /// Writes what a task printed on another node to this process's stdout,
    /// in order with the driver's own prints.
    package func writeOutput(_ text: String) {
        executors.writeOutput(text)
    }

    /// The job on this node ended (its last driver left): every actor
    /// hosted here that is not detached is killed; returns their ids.
    package func endJobActors() -> [ActorID] {
        let ended = actors.undetachedAlive()
        for id in ended { actors.kill(id, noRestart: true) }
        return ended
    }

    /// The references a task placed here holds on its arguments until it
    /// starts (its submitter holds its own); the ones that are ObjectRef
    /// arguments are fetched from their owners now.
    private func holdArguments(of task: TaskSpec) {
        adoptForeign(task.argumentRefs)
        for id in task.argumentRefs { store.addReference(id) }
        let foreign = task.topLevelRefs.map(\.id).filter { !$0.isLocal }
        if !foreign.isEmpty, store.objects(foreign).contains(where: { $0 == nil }) {
            cluster?.fetch(foreign.filter { store.object($0) == nil })
        }
    }

    /// Makes other processes' objects known to this store (expected, not
    /// yet fetched), so that refs to them can be held and waited on.
    package func adoptForeign(_ ids: [ObjectID]) {
        let foreign = ids.filter { !$0.isLocal }
        if !foreign.isEmpty { _ = store.expectUnknown(foreign) }
    }

    /// Asks the owners of the foreign ones among `ids` (not ready here) for them.
    package func fetchForeign(_ ids: [ObjectID]) {
        guard let cluster else { return }
        let foreign = ids.filter { !$0.isLocal }
        if !foreign.isEmpty { cluster.fetch(foreign) }
    }
}

/// Resource amounts as messages show them: whole numbers without a decimal point.
package enum ResourceAmount {
    package static func text(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
