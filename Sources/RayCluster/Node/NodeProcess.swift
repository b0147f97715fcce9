import Dispatch
import Foundation
import NIOCore
import NIOPosix
import RayCore

/// How to run one node process (`ray start ... --block`).
public struct NodeOptions: Sendable {
    /// Head: the address to bind (127.0.0.1 unless told otherwise) and port
    /// (0: any free one). Worker: the head's address.
    public var isHead: Bool
    public var host: String = "127.0.0.1"
    public var port: Int = 6379
    public var headAddress: String?
    /// Resources this node offers, `CPU` included.
    public var resources: [String: Double]
    /// The cluster token; a head makes one when nil, a worker looks in
    /// `RAY_TOKEN` and then the session files.
    public var token: String?
    public var heartbeatInterval: Double = 1
    /// The port this node listens on for other nodes and drivers (0: any free one).
    public var nodePort: Int = 0

    public init(isHead: Bool, resources: [String: Double]) {
        self.isHead = isHead
        self.resources = resources
    }
}

/// A node process: the head's directory and server, or a worker node that
/// joined a head and reports to it. Runs until SIGTERM or SIGINT, or, for a
/// worker, until its head goes away; then removes its session files.
public enum NodeProcess {
    /// What a node runner needs from `run`.
    struct Context {
        let options: NodeOptions
        let session: SessionFiles
        let group: EventLoopGroup
        let nodeID = UniqueID.next().hex
        /// Start time in nanoseconds: tells this process from a restarted node.
        let incarnation = UInt64(Date().timeIntervalSince1970 * 1e9)
        let pid = getpid()
        /// Signalled by SIGTERM, SIGINT, or the loss of the head.
        let stop: DispatchSemaphore
        let log: @Sendable (String) -> Void
        /// What the head's and the peer port's unauthenticated connections may do.
        let limits: ConnectionLimits
        /// Makes the node's runtime (the `ray` command's: Lua workers).
        let makeRuntime: @Sendable (RuntimeSettings) throws -> Runtime
    }

    /// `makeRuntime` makes the runtime that runs the work placed here (the
    /// cluster layer knows no language binding: the caller brings it).
    public static func run(_ options: NodeOptions, session: SessionFiles,
                           makeRuntime: @escaping @Sendable (RuntimeSettings) throws -> Runtime,
                           ready: (_ address: String) -> Void,
                           log: @escaping @Sendable (String) -> Void) throws {
        // Configuration errors first, before anything listens.
        let limits = try ConnectionLimits.fromEnvironment()
        _ = try ClusterTLS.configured()
        try session.prepare()
        // Signals are taken by a dispatch source, so no thread dies of them.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let stop = DispatchSemaphore(value: 0)
        let signals = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let context = Context(options: options, session: session, group: group, stop: stop, log: log, limits: limits,
                              makeRuntime: makeRuntime)
        if options.isHead {
            try runHead(context, ready: ready)
        } else {
            try runWorker(context, ready: ready)
        }
    }

    /// The head: binds, registers itself as a node, publishes its address
    /// and token in the session files, and serves until stopped.
    private static func runHead(_ context: Context, ready: (String) -> Void) throws {
        let (options, session) = (context.options, context.session)
        if let running = session.nodes.first(where: { $0.summary.hasPrefix("head") && SessionFiles.isNodeProcess($0.pid) }) {
            throw ClusterError("a head node already runs on this machine (pid \(running.pid), \(running.summary)); run `ray stop` first")
        }
        let token = options.token ?? ClusterToken.generate()
        let head = HeadServer(token: token, headNodeID: context.nodeID, heartbeatInterval: options.heartbeatInterval,
                              limits: context.limits, log: context.log)
        let channel: Channel
        do {
            channel = try head.bind(host: options.host, port: options.port, group: context.group)
        } catch {
            throw ClusterError("cannot listen on \(options.host):\(options.port): \(error)")
        }
        defer { try? channel.close().wait() }
        let address = PeerServer.address(of: channel, host: options.host)
        let node = try NodeRuntime(context, token: token)
        defer { node.stop() }
        head.register(.init(token: token, role: .node, nodeID: context.nodeID, incarnation: context.incarnation,
                            address: node.address, resources: options.resources, owner: UniqueID.localPrefix), isHead: true)
        // The head's own node reports to the directory in-process.
        let beats = context.group.next().scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(250)) { _ in
            head.heartbeat(.init(nodeID: context.nodeID, incarnation: context.incarnation,
                                 available: node.runtime.availableResources, pendingTasks: node.runtime.pendingTasks))
        }
        defer { beats.cancel() }
        try node.join(headAddress: address, role: .command)
        try session.write(token, to: session.tokenFile)
        try session.write(address, to: session.headAddressFile)
        try session.registerNode(pid: context.pid, summary: "head \(address) node \(context.nodeID)")
        defer {
            session.clearHead()
            session.unregisterNode(pid: context.pid)
        }
        context.log("head node \(context.nodeID.prefix(8)) listening on \(address)")
        ready(address)
        context.stop.wait()
        context.log("head node stopping")
    }

    /// A worker node: joins the head with the token and sends heartbeats
    /// until stopped, or until the head goes away.
    private static func runWorker(_ context: Context, ready: (String) -> Void) throws {
        let (options, session) = (context.options, context.session)
        guard let headAddress = options.headAddress else { throw ClusterError("a worker node needs --address HOST:PORT") }
        _ = try parseAddress(headAddress)
        let fromEnvironment = ProcessInfo.processInfo.environment["RAY_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        guard let token = options.token ?? fromEnvironment ?? session.token else {
            throw ClusterError("no cluster token: pass --token or set RAY_TOKEN to the token the head printed (on the head's machine it is found in \(session.tokenFile.path))")
        }
        let node = try NodeRuntime(context, token: token)
        defer { node.stop() }
        let client = try node.join(headAddress: headAddress, role: .node)
        let interval = TimeAmount.nanoseconds(Int64(client.welcome.heartbeatInterval * 1e9))
        let heartbeats = client.channel.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            client.send(.heartbeat(.init(nodeID: context.nodeID, incarnation: context.incarnation,
                                         available: node.runtime.availableResources, pendingTasks: node.runtime.pendingTasks)))
        }
        defer { heartbeats.cancel() }
        let headLost = Locked(false)
        let stop = context.stop
        client.channel.closeFuture.whenComplete { _ in
            headLost.withLock { $0 = true }
            stop.signal()
        }
        try session.registerNode(pid: context.pid, summary: "worker node \(context.nodeID) of \(headAddress)")
        defer { session.unregisterNode(pid: context.pid) }
        context.log("worker node \(context.nodeID.prefix(8)) joined the head at \(headAddress)")
        ready(headAddress)
        stop.wait()
        if headLost.withLock({ $0 }) {
            throw ClusterError("the head at \(headAddress) went away; this worker node stops")
        }
        context.log("worker node stopping")
    }

    /// Asks the head for every node's state (`ray status`).
    public static func status(headAddress: String, token: String) throws -> ClusterStatus {
        _ = try ClusterTLS.configured()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let hello = Message.Hello(token: token, role: .command, nodeID: UniqueID.next().hex, incarnation: 0,
                                  address: "", resources: [:])
        let client = try HeadClient.connect(to: headAddress, hello: hello, group: group)
        defer { client.close() }
        guard case .status(let nodes, let jobs) = try client.request(.statusRequest) else {
            throw ClusterError("the head at \(headAddress) answered the status request with an unexpected message")
        }
        return ClusterStatus(headAddress: headAddress, nodes: nodes.map {
            ClusterStatus.Node(nodeID: $0.nodeID, address: $0.address, isHead: $0.isHead, alive: $0.alive,
                               total: $0.total, available: $0.available, pendingTasks: $0.pendingTasks,
                               secondsSinceHeartbeat: $0.lastSeen)
        }, jobs: jobs.map { ClusterStatus.Job(jobID: $0.jobID, running: $0.running, age: $0.age) })
    }
}

/// A node's runtime in a node process: the worker threads that run what
/// is placed here, the port peers reach it on, and its membership.
final class NodeRuntime: Sendable {
    let runtime: Runtime
    let address: String
    private let server: Channel
    private let member = Locked<ClusterMember?>(nil)
    private let context: NodeProcess.Context
    private let token: String

    init(_ context: NodeProcess.Context, token: String) throws {
        self.context = context
        self.token = token
        var settings = RuntimeSettings()
        settings.numCPUs = context.options.resources["CPU"] ?? settings.numCPUs
        settings.resources = context.options.resources.filter { $0.key != "CPU" }
        settings.workingDirectoryCache = context.session.directory.appendingPathComponent("working_dirs").path
        settings.forwardsOutput = true
        settings.idleSpin = .microseconds(250)
        runtime = try context.makeRuntime(settings)
        let box = member
        do {
            server = try PeerServer.bind(host: context.options.host, port: context.options.nodePort, group: context.group,
                                         unauthenticated: UnauthenticatedConnections(limits: context.limits)) {
                box.withLock { $0 }
            }
        } catch {
            runtime.shutdown()
            throw ClusterError("cannot listen for peers on \(context.options.host): \(error)")
        }
        address = PeerServer.address(of: server, host: context.options.host)
    }

    /// Connects to the head (as a node, or for the head's own runtime
    /// without registering again) and starts placing work through it.
    @discardableResult
    func join(headAddress: String, role: Message.Hello.Role) throws -> HeadClient {
        let hello = Message.Hello(token: token, role: role, nodeID: context.nodeID, incarnation: context.incarnation,
                                  address: address, resources: context.options.resources, owner: UniqueID.localPrefix)
        let client = try HeadClient.connect(to: headAddress, hello: hello, group: context.group)
        let joined = ClusterMember(runtime: runtime, token: token, nodeID: context.nodeID, isNode: true, head: client,
                                   group: context.group, log: context.log)
        try joined.start(refreshEvery: 0.5)
        runtime.attach(joined)
        member.withLock { $0 = joined }
        return client
    }

    func stop() {
        member.withLock { $0 }?.stop()
        try? server.close().wait()
        runtime.shutdown()
    }
}
