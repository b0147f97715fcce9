import RayCore

/// The messages of the cluster protocol (docs/cluster-protocol.md). Every
/// connection starts with `hello`, answered by `welcome` or `refused`.
enum Message: Equatable, Sendable {
    /// A node, driver or command introduces itself with the cluster token.
    case hello(Hello)
    case welcome(Welcome)
    /// The head refused the connection; it closes it after this frame.
    case refused(reason: String)
    /// A node's periodic report: it is alive, and what it has free.
    case heartbeat(Heartbeat)
    case statusRequest
    case status([NodeInfo], jobs: [JobInfo] = [])
    /// Records an actor (and its name) in the cluster directory; answered
    /// by `actorRegistered` (an empty reason: done).
    case registerActor(ActorRecord)
    case actorRegistered(refusal: String)
    /// A named actor, or where an actor lives: answered by `actorFound`.
    case lookupActor(name: String, namespace: String)
    case locateActor(ActorID)
    case actorFound(ActorRecord?)
    /// The actor died for good: its name is free again.
    case actorGone(ActorID)

    /// An actor in the cluster directory: its name and the process that hosts it.
    struct ActorRecord: Equatable, Sendable {
        var id: ActorID
        var name: String
        var namespace: String
        var methods: [String]
        /// The hosting process's id prefix (`UniqueID.localPrefix`).
        var host: UInt64
    }

    struct Hello: Equatable, Sendable {
        enum Role: UInt8, Sendable { case node = 1, driver = 2, command = 3 }
        var token: String
        var role: Role
        var nodeID: String
        /// Distinguishes restarts of a node with the same id: requests of
        /// an older incarnation are ignored (node failure handling builds on it).
        var incarnation: UInt64
        var address: String
        var resources: [String: Double]
        /// The sender's id prefix: the objects it owns have ids that start with it.
        var owner: UInt64 = 0
    }

    struct Welcome: Equatable, Sendable {
        var headNodeID: String
        var heartbeatInterval: Double
        /// The answering process's id prefix.
        var owner: UInt64 = 0
    }

    struct Heartbeat: Equatable, Sendable {
        var nodeID: String
        var incarnation: UInt64
        var available: [String: Double]
        var pendingTasks: Int
    }

    /// A job: a driver attached to the cluster, running or finished.
    struct JobInfo: Equatable, Sendable {
        var jobID: String
        var running: Bool
        /// Seconds since it started.
        var age: Double
    }

    struct NodeInfo: Equatable, Sendable {
        var nodeID: String
        var address: String
        var isHead: Bool
        var alive: Bool
        var total: [String: Double]
        var available: [String: Double]
        var pendingTasks: Int
        /// Seconds since the last heartbeat.
        var lastSeen: Double
        /// The node process's id prefix (see `Hello.owner`).
        var owner: UInt64 = 0
    }

    enum Kind: UInt8 {
        case hello = 1, welcome, refused, heartbeat, statusRequest, status
        case registerActor, actorRegistered, lookupActor, locateActor, actorFound, actorGone
    }

    var frame: Frame {
        var w = WireWriter()
        let kind: Kind
        switch self {
        case .hello(let hello):
            kind = .hello
            w.write(hello)
        case .welcome(let welcome):
            kind = .welcome
            w.write(welcome)
        case .refused(let reason):
            kind = .refused
            w.string(reason)
        case .heartbeat(let beat):
            kind = .heartbeat
            w.write(beat)
        case .statusRequest:
            kind = .statusRequest
        case .status(let nodes, let jobs):
            kind = .status
            w.write(nodes)
            w.write(jobs)
        case .registerActor(let record):
            kind = .registerActor
            w.write(record)
        case .actorRegistered(let refusal):
            kind = .actorRegistered
            w.string(refusal)
        case .lookupActor(let name, let namespace):
            kind = .lookupActor
            w.string(name)
            w.string(namespace)
        case .locateActor(let id):
            kind = .locateActor
            w.id(id)
        case .actorFound(let record):
            kind = .actorFound
            w.bool(record != nil)
            if let record { w.write(record) }
        case .actorGone(let id):
            kind = .actorGone
            w.id(id)
        }
        return Frame(kind: kind.rawValue, payload: w.bytes)
    }

    init(_ frame: Frame) throws(WireError) {
        guard let kind = Kind(rawValue: frame.kind) else { throw .unknownKind(frame.kind) }
        var r = WireReader(frame.payload)
        switch kind {
        case .hello:
            self = .hello(try r.read())
        case .welcome:
            self = .welcome(try r.read())
        case .refused:
            self = .refused(reason: try r.string())
        case .heartbeat:
            self = .heartbeat(try r.read())
        case .statusRequest:
            self = .statusRequest
        case .status:
            self = .status(try r.read(), jobs: try r.read())
        case .registerActor:
            self = .registerActor(try r.read())
        case .actorRegistered:
            self = .actorRegistered(refusal: try r.string())
        case .lookupActor:
            self = .lookupActor(name: try r.string(), namespace: try r.string())
        case .locateActor:
            self = .locateActor(try r.id())
        case .actorFound:
            self = .actorFound(try r.bool() ? try r.read() : nil)
        case .actorGone:
            self = .actorGone(try r.id())
        }
        try r.finish()
    }
}
