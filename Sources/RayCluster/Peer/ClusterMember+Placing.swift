import Foundation
import NIOCore
import NIOPosix
import RayCore

/// The runtime's side of the link: placing tasks and actors on nodes,
/// finding actors, fetching objects, forwarding cancels and kills.
extension ClusterMember {
    func nodes() -> [ClusterNode] {
        state.withLock { state in
            state.nodes.map { ClusterNode(nodeID: $0.nodeID, address: $0.address, alive: $0.alive, total: $0.total, available: $0.available) }
        }
    }

    /// CPUs in use on `node` as counted here: live for this node; else the
    /// larger of its last report and what was placed there from here.
    private func usedCPUs(_ node: Placement.Node, _ inFlight: [UInt64: Double]) -> Double {
        if node.owner == UniqueID.localPrefix { return node.cpus - max(0, runtime.availableCPUs) }
        return max(node.reportedCPUs, inFlight[node.owner] ?? 0)
    }

    func infeasibility(cpus: Double, resources: [String: Double], strategy: SchedulingStrategy) -> Infeasibility? {
        let why = currentInfeasibility(cpus: cpus, resources: resources, strategy: strategy)
        guard case .affinity = why else { return why }
        // A node asked for by id that this process has not heard of yet, or
        // saw dead (it joined or came back since the last refresh, which runs
        // every few seconds): ask the head now before refusing.
        try? refreshNow()
        return currentInfeasibility(cpus: cpus, resources: resources, strategy: strategy)
    }

    private func currentInfeasibility(cpus: Double, resources: [String: Double], strategy: SchedulingStrategy) -> Infeasibility? {
        state.withLock { state in
            var counter = 0
            if case .infeasible(let why) = Placement.choose(cpus: cpus, resources: resources, strategy: strategy,
                                                            nodes: state.placementNodes, used: { usedCPUs($0, state.inFlight) },
                                                            local: state.local, spreadCounter: &counter) {
                return why
            }
            return nil
        }
    }

    func decide(_ task: TaskSpec) -> UInt64? {
        let holder = largeArgumentOwner(task)
        return state.withLock { choose(task, largeArgumentsOn: holder, &$0) }
    }

    /// The node for `task` now (nil: none can run it), under the lock.
    private func choose(_ task: TaskSpec, largeArgumentsOn holder: UInt64?, _ state: inout State) -> UInt64? {
        let nodes = state.placementNodes
        var counter = state.spreadCounter
        defer { state.spreadCounter = counter }
        guard case .node(let owner) = Placement.choose(cpus: task.cpus, resources: task.resources, strategy: task.strategy,
                                                        nodes: nodes, used: { usedCPUs($0, state.inFlight) }, local: state.local,
                                                        largeArgumentsOn: holder, spreadCounter: &counter) else { return nil }
        return owner
    }

    /// Large arguments are worth running next to: the owner of the
    /// largest ObjectRef argument of at least a MiB known here.
    private func largeArgumentOwner(_ task: TaskSpec) -> UInt64? {
        guard !task.topLevelRefs.isEmpty else { return nil }
        let objects = runtime.objects.objects(task.topLevelRefs.map(\.id))
        var best: (owner: UInt64, size: Int)?
        for (ref, object) in zip(task.topLevelRefs, objects) {
            guard let size = object?.bytes.count, size >= 1 << 20, size > best?.size ?? 0 else { continue }
            best = (ref.id.high, size)
        }
        return best?.owner
    }

    func place(_ task: TaskSpec, retry: Bool) -> ClusterPlacement {
        // The common case in one pass under the lock: the node is chosen,
        // its link is open, and the task is counted and recorded there.
        let holder = largeArgumentOwner(task)
        let fits = Self.fitsInMessage(task)
        let quick = state.withLock { state -> (owner: UInt64?, sent: (PeerLink, TaskFollowUp)?) in
            guard let owner = choose(task, largeArgumentsOn: holder, &state) else { return (nil, nil) }
            guard fits, owner != UniqueID.localPrefix, let link = state.links[owner] else { return (owner, nil) }
            state.inFlight[owner, default: 0] += task.cpus
            return (owner, (link, runtime.tasks.placed(task.id, on: owner)))
        }
        if let (link, followUp) = quick.sent {
            transmit(task, on: link, then: followUp)
            return .sent
        }
        guard let owner = quick.owner else {
            // Infeasible now (it was checked at submit): a new task runs
            // here; a retry whose node died has nowhere to go.
            return retry ? .failed(.nodeDied(task, "the node that ran it went away, and no other node can run it now")) : .runHere
        }
        if owner == UniqueID.localPrefix { return .runHere }
        if let sent = send(task, to: owner, mayWait: !retry) { return sent }
        if isNode { return .runHere }
        return .failed(.nodeDied(task, retry ? "the node that ran it went away" : "the node chosen to run it cannot be reached"))
    }

    /// Sends a task or actor call to the process `owner`, recorded with the
    /// task manager until it finishes; nil when there is no link to it.
    private func send(_ task: TaskSpec, to owner: UInt64, mayWait: Bool = false) -> ClusterPlacement? {
        guard Self.fitsInMessage(task) else {
            return .failed(RayError(.serialization, of: task,
                "its arguments take \(task.arguments.count) bytes, more than a message between nodes can carry (2 GiB): put them with ray.put and pass the ObjectRef"))
        }
        guard let link = link(to: owner, mayWait: mayWait) else { return nil }
        // Recorded only while the link is still the one in use: once it has
        // closed, its placed work was already swept (`closed`), and a record
        // made after that would never be failed (a call that hung forever).
        let followUp = state.withLock { state -> TaskFollowUp? in
            guard state.links[owner] === link else { return nil }
            state.inFlight[owner, default: 0] += task.cpus
            return runtime.tasks.placed(task.id, on: owner)
        }
        guard let followUp else { return nil }
        transmit(task, on: link, then: followUp)
        return .sent
    }

    /// Whether the task's arguments fit in one message between nodes (with
    /// room for the rest of the task).
    private static func fitsInMessage(_ task: TaskSpec) -> Bool {
        task.arguments.count < Frame.maxMessage - (1 << 20)
    }

    /// Sends a task recorded as placed on `link`'s node, then carries out
    /// what recording it called for.
    private func transmit(_ task: TaskSpec, on link: PeerLink, then followUp: TaskFollowUp) {
        // Refs nested in the arguments may be kept there (an actor's state):
        // a node's own objects among them stay alive (see `pin`). A driver's
        // stay alive while its script holds them.
        if isNode {
            let topLevel = Set(task.topLevelRefs.map(\.id))
            pin(task.argumentRefs.filter { !topLevel.contains($0) })
        }
        link.send(task: task, code: runtime.functionCode)
        followUp.perform()
    }

    func placeActor(_ actor: ActorCreation, classRefs: [ObjectID], restart: Bool) throws(ClusterLinkError) -> UInt64? {
        guard let host = decide(actor.creation) else {
            throw ClusterLinkError("no node of the cluster can host the actor now")
        }
        let record = Message.ActorRecord(id: actor.id, name: actor.options.name ?? "", namespace: actor.options.namespace,
                                         methods: actor.methods, host: host)
        if restart {
            // Where it lives now, for other processes; an event loop may be
            // calling, so nothing here waits.
            _ = head.requestAsync(.registerActor(record))
        } else {
            let answer: Message
            do {
                answer = try head.request(.registerActor(record))
            } catch {
                throw ClusterLinkError("the cluster's head did not record the actor: \(error)")
            }
            if case .actorRegistered(let refusal) = answer, !refusal.isEmpty { throw ClusterLinkError(refusal) }
        }
        state.withLock { $0.actorHosts[actor.id] = host }
        if host == UniqueID.localPrefix { return nil }
        guard let link = link(to: host, mayWait: !restart) else {
            if !restart { head.send(.actorGone(actor.id)) }
            throw ClusterLinkError("the node chosen to host the actor went away")
        }
        link.send(PeerMessage.createActor(actor, classRefs: classRefs).frame, after: actor.creation.environment.ids, code: runtime.functionCode)
        return host
    }

    func note(_ message: String) {
        log(message)
    }

    func actorRestarted(_ id: ActorID, restarts: Int) {
        guard let creator = state.withLock({ $0.actorCreators[id] }), creator != UniqueID.localPrefix else { return }
        link(to: creator)?.send(.actorRestarted(id, restarts: restarts))
    }

    /// Where an actor lives: known here, or asked of the head.
    private func host(of id: ActorID) -> UInt64? {
        if let known = state.withLock({ $0.actorHosts[id] }) { return known }
        guard case .actorFound(let record?) = try? head.request(.locateActor(id)) else { return nil }
        state.withLock { $0.actorHosts[id] = record.host }
        return record.host
    }

    func callActor(_ call: TaskSpec) -> ClusterPlacement {
        guard let id = call.actorID, let host = host(of: id), host != UniqueID.localPrefix else { return .runHere }
        if let sent = send(call, to: host, mayWait: true) { return sent }
        // Its node went away: the actor may have been restarted elsewhere.
        state.withLock { _ = $0.actorHosts.removeValue(forKey: id) }
        if let moved = self.host(of: id), moved != host, moved != UniqueID.localPrefix, let sent = send(call, to: moved, mayWait: true) {
            return sent
        }
        return .failed(.nodeDied(call, "the node that hosts its actor went away"))
    }

    /// Kills an actor on its node and waits (at most 10 s) until the kill
    /// took effect there, so that a call made after `ray.kill` returns, from
    /// any process, finds the actor dead.
    func killActor(_ id: ActorID, noRestart: Bool) -> Bool {
        guard let host = host(of: id), host != UniqueID.localPrefix else { return false }
        if let link = link(to: host, mayWait: true) {
            let request = UInt64.random(in: 1...UInt64.max)
            let acknowledged = DispatchSemaphore(value: 0)
            requests.withLock { $0[request] = (host, acknowledged) }
            link.send(.killActor(id, noRestart: noRestart, request: request))
            _ = acknowledged.wait(timeout: .now() + 10)
            requests.withLock { _ = $0.removeValue(forKey: request) }
        }
        if noRestart { head.send(.actorGone(id)) }
        return true
    }

    func lookupActor(name: String, namespace: String) -> (id: ActorID, methods: [String])? {
        guard case .actorFound(let record?) = try? head.request(.lookupActor(name: name, namespace: namespace)) else { return nil }
        state.withLock { $0.actorHosts[record.id] = record.host }
        return (record.id, record.methods)
    }

    func fetch(_ ids: [ObjectID]) {
        let missing = ids.filter { runtime.objects.object($0) == nil }
        let wanted: [ObjectID] = state.withLock { state in missing.filter { state.requested.insert($0).inserted } }
        var byOwner: [UInt64: [ObjectID]] = [:]
        for id in wanted { byOwner[id.high, default: []].append(id) }
        for (owner, ids) in byOwner { request(ids, from: owner, attempts: 3) }
    }

    /// Asks `owner` for objects. An owner not in this process's view may
    /// be a node that joined since the last refresh: the view is refreshed
    /// (without waiting on this thread) and the request tried again.
    private func request(_ ids: [ObjectID], from owner: UInt64, attempts: Int) {
        if let link = link(to: owner) {
            link.send(.fetch(ids))
        } else if attempts > 0 {
            head.requestAsync(.statusRequest).whenComplete { [self] answer in
                if case .success(.status(let nodes, _)) = answer { update(nodes) }
                request(ids, from: owner, attempts: attempts - 1)
            }
        } else {
            for id in ids { arrived(id, StoredObject(error: .objectLost(id, "its owner is not in the cluster any more"))) }
        }
    }

    func cancel(returning ref: ObjectID, on node: UInt64, recursive: Bool) {
        link(to: node)?.send(.cancel(returning: ref, recursive: recursive))
    }
}
