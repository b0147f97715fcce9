import Foundation
import NIOCore
import NIOPosix
import RayCore
import RayLua

/// A process's membership in a cluster: a node's (its runtime runs work
/// others place on it) or an attached driver's (it only submits). It is
/// the runtime's `ClusterLink`: it places tasks and actors with the
/// policies of `Placement`, sends them straight to the chosen node, and
/// moves objects between their owners and where they are used. The head
/// is asked only for the directory (nodes, actors), never on a task's path.
///
/// Ownership: whoever submits a task owns its returns (their ids carry
/// its prefix); the node that runs it sends them back, then `finished`.
/// Another process's object is fetched from its owner when a ref to it is
/// waited on (or is a task's argument), and cached while referenced.
final class ClusterMember: ClusterLink, Sendable {
    let runtime: Runtime
    let token: String
    let nodeID: String
    /// A node runs work; a driver only submits.
    let isNode: Bool
    let head: HeadClient
    let group: EventLoopGroup
    let log: @Sendable (String) -> Void
    /// Whether `leave` shuts `group` down (a driver's own group).
    let ownsGroup: Bool

    /// What this process knows of the cluster and of the work it placed.
    private struct State {
        var nodes: [Message.NodeInfo] = []
        /// The alive and dead nodes as placement sees them, by node id.
        var placementNodes: [Placement.Node] = []
        /// The node counted as local: this node, or for a driver the node it attached to.
        var local: UInt64?
        var links: [UInt64: PeerLink] = [:]
        /// Tasks and actor calls placed on other nodes, not finished.
        var placed: [TaskID: (task: TaskSpec, owner: UInt64)] = [:]
        var placedByReturn: [ObjectID: TaskID] = [:]
        /// CPUs of the work placed on each node and not finished.
        var inFlight: [UInt64: Double] = [:]
        var spreadCounter = 0
        /// Objects asked of their owners and not arrived.
        var requested: Set<ObjectID> = []
        /// Large objects arriving in pieces, by the link they come on.
        var assemblies: [AssemblyKey: ObjectAssembly] = [:]
        /// Where actors live, as far as known here.
        var actorHosts: [ActorID: UInt64] = [:]
        /// Actors hosted here for each driver (non-detached: they end with its job).
        var actorsOfDriver: [UInt64: [ActorID]] = [:]
        /// References held on objects of this node whose refs went to other
        /// processes, until no driver is attached (see docs/cluster.md).
        var pins: [ObjectID] = []
        /// Work other processes placed here and not finished: who placed
        /// it, and its first return (what `cancel` names it by).
        var hosted: [TaskID: (owner: UInt64, firstReturn: ObjectID?)] = [:]
    }
    private let state = Locked(State())

    struct AssemblyKey: Hashable {
        let link: ObjectIdentifier
        let id: ObjectID
    }
    private let refresher = Locked<RepeatedTask?>(nil)
    /// Requests waiting for their `done`, by request id.
    private let requests = Locked<[UInt64: (owner: UInt64, answered: DispatchSemaphore)]>([:])

    init(runtime: Runtime, token: String, nodeID: String, isNode: Bool, head: HeadClient, group: EventLoopGroup,
         ownsGroup: Bool = false, log: @escaping @Sendable (String) -> Void) {
        self.ownsGroup = ownsGroup
        self.runtime = runtime
        self.token = token
        self.nodeID = nodeID
        self.isNode = isNode
        self.head = head
        self.group = group
        self.log = log
    }

    /// Loads the node list and keeps it fresh every `interval` seconds.
    func start(refreshEvery interval: Double) throws {
        if isNode {
            runtime.outputSink.withLock { $0 = { [weak self] task, text in self?.forward(text, of: task) } }
        }
        try refreshNow()
        let delay = TimeAmount.nanoseconds(Int64(interval * 1e9))
        refresher.withLock {
            $0 = group.next().scheduleRepeatedTask(initialDelay: delay, delay: delay) { [weak self] _ in self?.refresh() }
        }
    }

    func stop() {
        refresher.withLock { $0?.cancel() }
        let links = state.withLock { Array($0.links.values) }
        for link in links { link.close() }
    }

    func leave() {
        stop()
        head.channel.close(promise: nil)
        if ownsGroup { group.shutdownGracefully { _ in } }
    }

    func refreshNow() throws {
        guard case .status(let nodes, _) = try head.request(.statusRequest) else {
            throw ClusterError("the head answered a status request with an unexpected message")
        }
        update(nodes)
    }

    private func refresh() {
        head.requestAsync(.statusRequest).whenSuccess { [weak self] answer in
            if case .status(let nodes, _) = answer { self?.update(nodes) }
        }
    }

    private func update(_ nodes: [Message.NodeInfo]) {
        let placement = nodes.sorted { $0.nodeID < $1.nodeID }.map { node in
            Placement.Node(nodeID: node.nodeID, owner: node.owner, alive: node.alive, total: node.total,
                           reportedCPUs: max(0, (node.total["CPU"] ?? 0) - (node.available["CPU"] ?? 0)))
        }
        let local = isNode ? UniqueID.localPrefix : nodes.first { $0.nodeID == nodeID }?.owner
        state.withLock { state in
            state.nodes = nodes
            state.placementNodes = placement
            state.local = local
        }
        // A driver keeps a link to every node, so that any node can fetch
        // the driver's objects from it.
        if !isNode {
            for node in nodes where node.alive { _ = link(to: node.owner) }
        }
    }

    // MARK: links

    /// The link to the process with this prefix: the one open, or a new
    /// connection to the node's address. Nil for a process that is not an
    /// alive node and has no link open (a driver that went away).
    func link(to owner: UInt64, mayWait: Bool = false) -> PeerLink? {
        if let open = state.withLock({ $0.links[owner] }) { return open }
        var known = state.withLock { $0.nodes.first { $0.owner == owner && $0.alive } }
        if known == nil && mayWait {
            // A node that joined since the last refresh: ask the head now.
            try? refreshNow()
            known = state.withLock { $0.nodes.first { $0.owner == owner && $0.alive } }
        }
        guard let node = known, let (host, port) = try? parseAddress(node.address) else { return nil }
        let promise = group.next().makePromise(of: Channel.self)
        let link = PeerLink(channel: promise.futureResult, owner: owner, isDriver: false)
        let winner = state.withLock { state -> PeerLink in
            if let open = state.links[owner] { return open }
            state.links[owner] = link
            return link
        }
        guard winner === link else {
            promise.fail(ClusterError("superseded"))
            return winner
        }
        let hello = Message.hello(.init(token: token, role: isNode ? .node : .driver, nodeID: nodeID, incarnation: 0,
                                        address: "", resources: [:], owner: UniqueID.localPrefix))
        ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: PeerServer.waterMark)
            .connectTimeout(.seconds(10))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addPeerFraming(admission: nil)
                    try channel.pipeline.syncOperations.addHandler(PeerHandler(member: self, dialled: link))
                }
            }
            .connect(host: host, port: port)
            .map { channel in
                var buffer = channel.allocator.buffer(capacity: 256)
                hello.frame.write(to: &buffer)
                channel.writeAndFlush(buffer, promise: nil)
                return channel
            }
            .cascade(to: promise)
        promise.futureResult.whenFailure { [weak self] error in
            let why = (error as? NIOConnectionError)?.connectionErrors.first.map { "\($0.error)" } ?? "\(error)"
            self?.log("cannot reach node \(node.nodeID.prefix(8)) at \(node.address) (\(why))")
            self?.closed(link)
        }
        return link
    }

    /// A process connected to this one.
    func accepted(_ link: PeerLink) {
        state.withLock { state in
            if state.links[link.owner] == nil { state.links[link.owner] = link }
        }
    }

    /// A connection ended: its process's work placed from here is retried
    /// elsewhere or fails; a driver's actors end with it.
    /// What a closed connection leaves to do, gathered under the lock.
    private struct Departure {
        var lost: [TaskSpec] = []
        var unanswered: [ObjectID] = []
        var abandoned: [ObjectID] = []
        var actors: [ActorID] = []
        var pins: [ObjectID] = []
        var lastDriver = false
    }

    func closed(_ link: PeerLink) {
        let departure: Departure = state.withLock { state in
            var departure = Departure()
            guard state.links[link.owner] === link || state.links[link.owner] == nil else { return departure }
            state.links[link.owner] = nil
            // A node whose connection broke takes no more work from here
            // until the head's list says it is back.
            for i in state.placementNodes.indices where state.placementNodes[i].owner == link.owner {
                state.placementNodes[i].alive = false
            }
            for (id, entry) in state.placed where entry.owner == link.owner {
                state.placed[id] = nil
                for ref in entry.task.returnIDs { state.placedByReturn[ref] = nil }
                departure.lost.append(entry.task)
            }
            state.inFlight[link.owner] = nil
            // Objects asked of that process will not come; pieces from it are dropped.
            let unanswered = state.requested.filter { $0.high == link.owner }
            state.requested.subtract(unanswered)
            departure.unanswered = Array(unanswered)
            state.assemblies = state.assemblies.filter { $0.key.link != ObjectIdentifier(link) }
            guard link.isDriver else { return departure }
            // A driver's job ended: what it placed here stops, as in Ray;
            // when no driver is left, so does all other work and every
            // actor that is not detached.
            departure.actors = state.actorsOfDriver.removeValue(forKey: link.owner) ?? []
            departure.lastDriver = !state.links.values.contains(where: \.isDriver)
            for (id, entry) in state.hosted where departure.lastDriver || entry.owner == link.owner {
                state.hosted[id] = nil
                if let ref = entry.firstReturn { departure.abandoned.append(ref) }
            }
            if departure.lastDriver {
                swap(&departure.pins, &state.pins)
                state.actorsOfDriver = [:]
            }
            return departure
        }
        // Requests to that process will not be answered: their waiters go on.
        for waiting in requests.withLock({ $0.values.filter { $0.owner == link.owner } }) { waiting.answered.signal() }
        for task in departure.lost { retryOrFail(task, because: "the node that ran it went away") }
        for id in departure.unanswered {
            runtime.receive(id, Runtime.lostObject(id, "the process that owned it went away"))
        }
        for ref in departure.abandoned { runtime.cancel(returning: ref, recursive: true) }
        var ended = departure.actors
        for id in ended { runtime.killActorForPeer(id, noRestart: true) }
        if departure.lastDriver { ended += runtime.endJobActors() }
        for id in ended { head.send(.actorGone(id)) }
        for id in departure.pins { runtime.objects.removeReference(id) }
    }

    /// Sends what a task printed to the driver that placed it; output of
    /// other work (a node's own nested tasks) goes to every attached driver.
    private func forward(_ text: String, of task: TaskID?) {
        let links: [PeerLink] = state.withLock { state in
            if let task, let owner = state.hosted[task]?.owner, let link = state.links[owner], link.isDriver { return [link] }
            return state.links.values.filter(\.isDriver)
        }
        if links.isEmpty {
            Runtime.writeOutput(text)  // no driver: the node's own log
        }
        for link in links { link.send(.output(text)) }
    }

    private func retryOrFail(_ task: TaskSpec, because reason: String) {
        if task.actorID == nil && task.attempt < task.maxRetries {
            var again = task
            again.attempt += 1
            if send(again) { return }
        }
        runtime.endPlaced(task, failing: Runtime.nodeDied(task, reason))
    }

    // MARK: ClusterLink

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

    private func decide(_ task: TaskSpec) -> UInt64? {
        let holder = largeArgumentOwner(task)
        return state.withLock { state in
            let nodes = state.placementNodes
            var counter = state.spreadCounter
            defer { state.spreadCounter = counter }
            guard case .node(let owner) = Placement.choose(cpus: task.cpus, resources: task.resources, strategy: task.strategy,
                                                            nodes: nodes, used: { usedCPUs($0, state.inFlight) }, local: state.local,
                                                            largeArgumentsOn: holder, spreadCounter: &counter) else { return nil }
            return owner
        }
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

    func place(_ task: TaskSpec) -> Bool {
        guard let owner = decide(task) else { return false }  // infeasible now: checked at submit; run here
        if owner == UniqueID.localPrefix { return false }
        if send(task, to: owner, mayWait: true) { return true }
        if isNode { return false }  // run it here
        runtime.endPlaced(task, failing: Runtime.nodeDied(task, "the node chosen to run it cannot be reached"))
        return true
    }

    /// Places a task again (a retry), anywhere but here for a driver.
    private func send(_ task: TaskSpec) -> Bool {
        guard let owner = decide(task) else { return false }
        if owner == UniqueID.localPrefix {
            runtime.submit(task)
            return true
        }
        return send(task, to: owner)
    }

    /// Sends a task or actor call to the process `owner`, recording it until it finishes.
    private func send(_ task: TaskSpec, to owner: UInt64, mayWait: Bool = false) -> Bool {
        guard task.arguments.count < Frame.maxMessage - (1 << 20) else {
            runtime.endPlaced(task, failing: Runtime.taskError(task, type: "SerializationError",
                "its arguments take \(task.arguments.count) bytes, more than a message between nodes can carry (2 GiB): put them with ray.put and pass the ObjectRef"))
            return true
        }
        guard let link = link(to: owner, mayWait: mayWait) else { return false }
        // Refs nested in the arguments may be kept there (an actor's state):
        // a node's own objects among them stay alive (see `pin`). A driver's
        // stay alive while its script holds them.
        if isNode {
            let topLevel = Set(task.topLevelRefs.map(\.id))
            pin(task.argumentRefs.filter { !topLevel.contains($0) })
        }
        state.withLock { state in
            state.placed[task.id] = (task, owner)
            for ref in task.returnIDs { state.placedByReturn[ref] = task.id }
            state.inFlight[owner, default: 0] += task.cpus
        }
        link.send(task: task, code: runtime.functionCode)
        return true
    }

    func placeActor(_ actor: ActorCreation, classRefs: [ObjectID]) throws(ClusterLinkError) -> Bool {
        guard let host = decide(actor.creation) else {
            throw ClusterLinkError("no node of the cluster can host the actor now")
        }
        let record = Message.ActorRecord(id: actor.id, name: actor.options.name ?? "", namespace: actor.options.namespace,
                                         methods: actor.methods, host: host)
        let answer: Message
        do {
            answer = try head.request(.registerActor(record))
        } catch {
            throw ClusterLinkError("the cluster's head did not record the actor: \(error)")
        }
        if case .actorRegistered(let refusal) = answer, !refusal.isEmpty { throw ClusterLinkError(refusal) }
        state.withLock { $0.actorHosts[actor.id] = host }
        if host == UniqueID.localPrefix { return false }
        guard let link = link(to: host, mayWait: true) else {
            head.send(.actorGone(actor.id))
            throw ClusterLinkError("the node chosen to host the actor went away")
        }
        link.send(.createActor(actor, classRefs: classRefs))
        return true
    }

    /// Where an actor lives: known here, or asked of the head.
    private func host(of id: ActorID) -> UInt64? {
        if let known = state.withLock({ $0.actorHosts[id] }) { return known }
        guard case .actorFound(let record?) = try? head.request(.locateActor(id)) else { return nil }
        state.withLock { $0.actorHosts[id] = record.host }
        return record.host
    }

    func callActor(_ call: TaskSpec) -> Bool {
        guard let id = call.actorID, let host = host(of: id), host != UniqueID.localPrefix else { return false }
        if !send(call, to: host, mayWait: true) {
            runtime.endPlaced(call, failing: Runtime.nodeDied(call, "the node that hosts its actor went away"))
        }
        return true
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
            for id in ids { arrived(id, Runtime.lostObject(id, "its owner is not in the cluster any more")) }
        }
    }

    func cancel(returning ref: ObjectID, recursive: Bool) -> Bool {
        guard let owner = state.withLock({ state in state.placedByReturn[ref].flatMap { state.placed[$0]?.owner } }) else {
            return false
        }
        link(to: owner)?.send(.cancel(returning: ref, recursive: recursive))
        return true
    }

    // MARK: messages from peers

    /// Runs on the connection's event loop: nothing here waits.
    func handle(_ message: PeerMessage, from link: PeerLink) {
        switch message {
        case .function(let id, let code):
            runtime.setFunctionCode(id, code)
        case .submit(let tasks):
            for task in tasks { run(task, for: link) }
        case .createActor(let actor, let classRefs):
            do {
                try runtime.hostActorForPeer(actor, classRefs: classRefs)
                if link.isDriver && !actor.options.detached {
                    state.withLock { $0.actorsOfDriver[link.owner, default: []].append(actor.id) }
                }
            } catch {
                log("could not host actor \(actor.id.hex): \(error)")
            }
        case .finished(let id, let results):
            for piece in results {
                arrived(piece.id, StoredObject(bytes: Array(piece.data.readableBytesView), isError: piece.isError,
                                               contained: piece.contained))
            }
            let task: TaskSpec? = state.withLock { state in
                guard let entry = state.placed.removeValue(forKey: id) else { return nil }
                for ref in entry.task.returnIDs { state.placedByReturn[ref] = nil }
                state.inFlight[entry.owner, default: 0] -= entry.task.cpus
                return entry.task
            }
            if let task { runtime.endPlaced(task) }
        case .fetch(let ids):
            for id in ids {
                let known = runtime.objects.whenReady(id) { [self] object in
                    pin(object.contained)
                    link.send(object: object, as: id)
                }
                if !known { link.send(.lost(id, reason: "its owner freed it (no reference to it remained there)")) }
            }
        case .object(let piece):
            if piece.offset == 0 && piece.data.readableBytes == piece.total {
                arrived(piece.id, StoredObject(bytes: Array(piece.data.readableBytesView), isError: piece.isError,
                                               contained: piece.contained))
                return
            }
            let key = AssemblyKey(link: ObjectIdentifier(link), id: piece.id)
            let assembly = state.withLock { state -> ObjectAssembly? in
                if piece.offset == 0 {
                    state.assemblies[key] = ObjectAssembly(total: piece.total, isError: piece.isError, contained: piece.contained)
                }
                return state.assemblies[key]
            }
            guard let assembly else {
                let why = piece.offset == 0 ? "its \(piece.total) bytes could not be allocated here"
                                            : "a piece came without the ones before it"
                arrived(piece.id, Runtime.lostObject(piece.id, why))
                return
            }
            switch assembly.add(piece.data, at: piece.offset) {
            case .partial:
                break
            case .whole(let object):
                state.withLock { _ = $0.assemblies.removeValue(forKey: key) }
                arrived(piece.id, object)
            case .outOfOrder:
                state.withLock { _ = $0.assemblies.removeValue(forKey: key) }
                arrived(piece.id, Runtime.lostObject(piece.id, "its pieces came out of order"))
            }
        case .lost(let id, let reason):
            arrived(id, Runtime.lostObject(id, reason))
        case .cancel(let ref, let recursive):
            runtime.cancel(returning: ref, recursive: recursive)
        case .killActor(let id, let noRestart, let request):
            runtime.killActorForPeer(id, noRestart: noRestart)
            link.send(.done(request: request))
        case .done(let request):
            requests.withLock { $0[request] }?.answered.signal()
        case .output(let text):
            Runtime.writeOutput(text)
        }
    }

    /// Runs work a peer placed here; its returns go back on the same link.
    private func run(_ task: TaskSpec, for link: PeerLink) {
        // A task with no returns gets one of its own here, kept from its
        // owner: `done` still comes when it ends, and cancel can name it.
        let own = task.returnIDs.isEmpty ? ObjectID.next() : nil
        let task = own.map { task.returning([$0]) } ?? task
        state.withLock { $0.hosted[task.id] = (link.owner, task.returnIDs.first) }
        runtime.runForPeer(task) { [self] results in
            state.withLock { _ = $0.hosted.removeValue(forKey: task.id) }
            var small: [PeerMessage.ObjectPiece] = []
            var smallBytes = 0
            var large: [EventLoopFuture<Void>] = []
            for (id, object) in results where id != own {
                pin(object.contained)
                if object.bytes.count > ObjectTransfer.chunkSize {
                    large.append(link.send(object: object, as: id))
                } else if smallBytes + object.bytes.count > ObjectTransfer.finishedLimit {
                    link.send(object: object, as: id)  // many small returns: not all in one message
                } else {
                    smallBytes += object.bytes.count
                    small.append(ObjectTransfer.piece(id, object))
                }
            }
            let finished = PeerMessage.finished(task.id, results: small)
            guard let first = large.first else { return link.send(finished) }
            // `finished` ends the task for its owner: only once every piece
            // of its large returns is out (a broken connection before then
            // makes the owner retry or fail the task).
            EventLoopFuture.whenAllSucceed(large, on: first.eventLoop).whenSuccess { _ in link.send(finished) }
        }
    }

    private func arrived(_ id: ObjectID, _ object: StoredObject) {
        runtime.receive(id, object)
        // Only others' objects are requested; cleared after the store has
        // it, so that a fetch in between finds it there instead of asking again.
        if !id.isLocal { state.withLock { _ = $0.requested.remove(id) } }
    }

    /// Objects of this process whose refs leave it stay alive while a
    /// driver is attached (distributed reference counting comes later).
    private func pin(_ ids: [ObjectID]) {
        let local = ids.filter(\.isLocal)
        guard !local.isEmpty else { return }
        for id in local { runtime.objects.addReference(id) }
        state.withLock { $0.pins += local }
    }
}
