import Foundation
import NIOCore
import NIOPosix
import RayCore

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
    struct State {
        var nodes: [Message.NodeInfo] = []
        /// The alive and dead nodes as placement sees them, by node id.
        var placementNodes: [Placement.Node] = []
        /// The node counted as local: this node, or for a driver the node it attached to.
        var local: UInt64?
        var links: [UInt64: PeerLink] = [:]
        /// CPUs of the work placed on each node and not finished.
        var inFlight: [UInt64: Double] = [:]
        var spreadCounter = 0
        /// Objects asked of their owners and not arrived.
        var requested: Set<ObjectID> = []
        /// Large objects arriving in pieces, by the link they come on.
        var assemblies: [AssemblyKey: ObjectAssembly] = [:]
        /// Where actors live, as far as known here.
        var actorHosts: [ActorID: UInt64] = [:]
        /// The process that created each actor hosted here (told of its restarts).
        var actorCreators: [ActorID: UInt64] = [:]
        /// Actors hosted here for each driver (non-detached: they end with its job).
        var actorsOfDriver: [UInt64: [ActorID]] = [:]
        /// References held on objects of this node whose refs went to other
        /// processes, until no driver is attached (see docs/cluster.md).
        var pins: [ObjectID] = []
        /// Work other processes placed here and not finished: who placed
        /// it, and its first return (what `cancel` names it by).
        var hosted: [TaskID: (owner: UInt64, firstReturn: ObjectID?)] = [:]
        /// This process is leaving the cluster: links it closes itself are
        /// not node deaths (nothing is retried or restarted for them).
        var stopping = false
    }
    let state = Locked(State())

    struct AssemblyKey: Hashable {
        let link: ObjectIdentifier
        let id: ObjectID
    }
    private let refresher = Locked<RepeatedTask?>(nil)
    /// Requests waiting for their `done`, by request id.
    let requests = Locked<[UInt64: (owner: UInt64, answered: DispatchSemaphore)]>([:])

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
        let links = state.withLock { state in
            state.stopping = true
            return Array(state.links.values)
        }
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

    func update(_ nodes: [Message.NodeInfo]) {
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
                    try channel.pipeline.syncOperations.addClientTLS()
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
}
