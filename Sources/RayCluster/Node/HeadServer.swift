import Foundation
import NIOCore
import NIOPosix
import RayCore

/// The head node's cluster directory and the TCP server in front of it.
///
/// The directory holds nodes (with their incarnations, resources and
/// heartbeats); it is not on the path of each task. Every connection must
/// present the cluster token in its first frame; a wrong or missing token
/// is refused with a `refused` frame, logged, and the connection closed.
/// A frame that is malformed closes its connection and nothing else.
final class HeadServer: Sendable {
    struct NodeRecord {
        var address: String
        var isHead: Bool
        var incarnation: UInt64
        var total: [String: Double]
        var available: [String: Double]
        var pendingTasks = 0
        var lastSeen: Double
        var connected: Bool
        var owner: UInt64
    }

    let token: String
    let headNodeID: String
    let heartbeatInterval: Double
    /// A node that sent nothing for this long is reported dead.
    var deadAfter: Double { heartbeatInterval * 5 }
    private let nodes = Locked<[String: NodeRecord]>([:])
    private let log: @Sendable (String) -> Void
    /// Connections that have not shown the token yet (bounded; docs/cluster.md).
    let unauthenticated: UnauthenticatedConnections

    init(token: String, headNodeID: String, heartbeatInterval: Double, limits: ConnectionLimits = .standard,
         log: @escaping @Sendable (String) -> Void) {
        unauthenticated = UnauthenticatedConnections(limits: limits)
        self.token = token
        self.headNodeID = headNodeID
        self.heartbeatInterval = heartbeatInterval
        self.log = log
    }

    /// Binds the server; returns its channel (its local address has the port).
    func bind(host: String, port: Int, group: EventLoopGroup) throws -> Channel {
        try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.setUpAccepted(unauthenticated, log: log) { admission in
                    try channel.pipeline.syncOperations.addFraming(admission: admission)
                    try channel.pipeline.syncOperations.addHandler(HeadConnectionHandler(head: self, admission: admission))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port).wait()
    }

    func register(_ hello: Message.Hello, isHead: Bool = false) {
        let registered = nodes.withLock { nodes -> Bool in
            if let known = nodes[hello.nodeID], known.incarnation > hello.incarnation { return false }
            nodes[hello.nodeID] = NodeRecord(address: hello.address, isHead: isHead, incarnation: hello.incarnation,
                                             total: hello.resources, available: hello.resources,
                                             lastSeen: Self.now(), connected: true, owner: hello.owner)
            return true
        }
        if registered {
            log("node \(hello.nodeID.prefix(8)) joined from \(hello.address) with \(describe(hello.resources))")
        } else {
            log("ignored a hello from an older incarnation of node \(hello.nodeID.prefix(8))")
        }
    }

    func heartbeat(_ beat: Message.Heartbeat) {
        nodes.withLock { nodes in
            guard var node = nodes[beat.nodeID], node.incarnation == beat.incarnation else { return }
            node.available = beat.available
            node.pendingTasks = beat.pendingTasks
            node.lastSeen = Self.now()
            nodes[beat.nodeID] = node
        }
    }

    func disconnected(nodeID: String, incarnation: UInt64) {
        let left = nodes.withLock { nodes -> Bool in
            guard nodes[nodeID]?.incarnation == incarnation else { return false }
            nodes[nodeID]?.connected = false
            return true
        }
        if left { log("node \(nodeID.prefix(8)) left") }
    }

    func status() -> [Message.NodeInfo] {
        let now = Self.now()
        return nodes.withLock { nodes in
            nodes.map { id, node in
                let alive = node.isHead || (node.connected && now - node.lastSeen < deadAfter)
                return Message.NodeInfo(nodeID: id, address: node.address, isHead: node.isHead, alive: alive,
                                        total: node.total, available: alive ? node.available : [:],
                                        pendingTasks: node.pendingTasks, lastSeen: node.isHead ? 0 : now - node.lastSeen,
                                        owner: node.owner)
            }.sorted { ($0.isHead ? 0 : 1, $0.address, $0.nodeID) < ($1.isHead ? 0 : 1, $1.address, $1.nodeID) }
        }
    }

    /// Actors by id, and named ones by namespace and name. (Actors are
    /// forgotten when they die for good; a dead node's are reported by
    /// the node-failure work that builds on this.)
    private let actors = Locked<(byID: [ActorID: Message.ActorRecord], byName: [String: ActorID])>(([:], [:]))

    private static func nameKey(_ name: String, _ namespace: String) -> String { namespace + "\u{0}" + name }

    /// Records an actor; the refusal when its name is taken ("" when done).
    func registerActor(_ record: Message.ActorRecord) -> String {
        actors.withLock { table in
            if !record.name.isEmpty {
                let key = Self.nameKey(record.name, record.namespace)
                if let holder = table.byName[key], holder != record.id {
                    return "an actor named '\(record.name)' already exists in namespace '\(record.namespace)'"
                }
                table.byName[key] = record.id
            }
            table.byID[record.id] = record
            return ""
        }
    }

    func lookupActor(name: String, namespace: String) -> Message.ActorRecord? {
        actors.withLock { table in table.byName[Self.nameKey(name, namespace)].flatMap { table.byID[$0] } }
    }

    func locateActor(_ id: ActorID) -> Message.ActorRecord? {
        actors.withLock { $0.byID[id] }
    }

    func actorGone(_ id: ActorID) {
        actors.withLock { table in
            guard let record = table.byID.removeValue(forKey: id), !record.name.isEmpty else { return }
            let key = Self.nameKey(record.name, record.namespace)
            if table.byName[key] == id { table.byName[key] = nil }
        }
    }

    /// Drivers that attached, by their id: when each started and ended.
    private let jobs = Locked<[String: (started: Double, ended: Double?)]>([:])

    func jobStarted(_ id: String) {
        jobs.withLock { $0[id] = (Self.now(), nil) }
        log("job \(id.prefix(8)) attached")
    }

    /// Finished jobs kept for `ray status`: the newest ones.
    static let finishedJobsKept = 100

    func jobEnded(_ id: String) {
        jobs.withLock { jobs in
            jobs[id]?.ended = Self.now()
            let finished = jobs.filter { $0.value.ended != nil }
            if finished.count > Self.finishedJobsKept {
                for (old, _) in finished.sorted(by: { $0.value.ended! < $1.value.ended! }).prefix(finished.count - Self.finishedJobsKept) {
                    jobs[old] = nil
                }
            }
        }
        log("job \(id.prefix(8)) ended")
    }

    func jobList() -> [Message.JobInfo] {
        let now = Self.now()
        return jobs.withLock { jobs in
            jobs.map { Message.JobInfo(jobID: $0.key, running: $0.value.ended == nil, age: now - $0.value.started) }
                .sorted { $0.age > $1.age }
        }
    }

    func refused(_ reason: String, peer: String) {
        log("refused a connection from \(peer): \(reason)")
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}

func describe(_ resources: [String: Double]) -> String {
    resources.sorted { $0.key < $1.key }.map { "\($0.key)=\(formatAmount($0.value))" }.joined(separator: " ")
}

func formatAmount(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(format: "%.2f", value)
}

/// One connection to the head: authenticates it, then serves its messages.
private final class HeadConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    private let head: HeadServer
    private var authenticated = false
    private var node: (id: String, incarnation: UInt64)?
    private var job: String?

    private let admission: Admission

    init(head: HeadServer, admission: Admission) {
        self.head = head
        self.admission = admission
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message: Message
        do {
            message = try Message(unwrapInboundIn(data))
        } catch {
            close(context, because: "\(error)")
            return
        }
        guard authenticated else {
            guard case .hello(let hello) = message else {
                refuse(context, "the first message must be hello with the cluster token")
                return
            }
            guard ClusterToken.matches(hello.token, head.token) else {
                refuse(context, hello.token.isEmpty ? "no cluster token given" : "wrong cluster token")
                return
            }
            authenticated = true
            admission.authenticated = true
            if hello.role == .driver {
                job = hello.nodeID
                head.jobStarted(hello.nodeID)
            }
            if hello.role == .node {
                var hello = hello
                if hello.address.isEmpty { hello.address = context.remoteAddress?.ipAddress ?? "?" }
                head.register(hello)
                node = (hello.nodeID, hello.incarnation)
            }
            let welcome = Message.welcome(.init(headNodeID: head.headNodeID, heartbeatInterval: head.heartbeatInterval,
                                                owner: UniqueID.localPrefix))
            context.writeAndFlush(wrapOutboundOut(welcome.frame), promise: nil)
            return
        }
        switch message {
        case .heartbeat(let beat):
            head.heartbeat(beat)
        case .statusRequest:
            context.writeAndFlush(wrapOutboundOut(Message.status(head.status(), jobs: head.jobList()).frame), promise: nil)
        case .registerActor(let record):
            context.writeAndFlush(wrapOutboundOut(Message.actorRegistered(refusal: head.registerActor(record)).frame), promise: nil)
        case .lookupActor(let name, let namespace):
            context.writeAndFlush(wrapOutboundOut(Message.actorFound(head.lookupActor(name: name, namespace: namespace)).frame), promise: nil)
        case .locateActor(let id):
            context.writeAndFlush(wrapOutboundOut(Message.actorFound(head.locateActor(id)).frame), promise: nil)
        case .actorGone(let id):
            head.actorGone(id)
        case .hello, .welcome, .refused, .status, .actorRegistered, .actorFound:
            close(context, because: "unexpected message \(message.frame.kind)")
        }
    }

    /// Says why, then closes once the frame is out.
    private func refuse(_ context: ChannelHandlerContext, _ reason: String) {
        head.refused(reason, peer: context.peerDescription)
        let closing = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(Message.refused(reason: reason).frame)).whenComplete { _ in
            closing.value.close(promise: nil)
        }
    }

    private func close(_ context: ChannelHandlerContext, because reason: String) {
        head.refused(reason, peer: context.peerDescription)
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Bad framing or a failed TLS handshake: this connection ends, nothing else does.
        if ClusterTLS.isQuietClose(error) && admission.authenticated {
            context.close(promise: nil)  // a client that was done left without a TLS close
            return
        }
        close(context, because: ClusterTLS.describe(error) ?? "\(error)")
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let node { head.disconnected(nodeID: node.id, incarnation: node.incarnation) }
        if let job { head.jobEnded(job) }
        context.fireChannelInactive()
    }
}
