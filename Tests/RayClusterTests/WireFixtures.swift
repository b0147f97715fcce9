import NIOCore
import RayCore
import RayLua
@testable import RayCluster

/// Every structure that travels in a message, once with each field set to
/// something other than its default (`full`), and once as bare as it can
/// be built (`bare`, the defaults `WireStructTests` compares against).
enum WireFixtures {
    static func id(_ high: UInt64, _ low: UInt64) -> UniqueID { UniqueID(high: high, low: low) }
    static func id<Kind>(_ high: UInt64, _ low: UInt64) -> ID<Kind> { ID(high: high, low: low) }
    static let zero = UniqueID(high: 0, low: 0)

    /// A task with every field set; its `let` fields can be changed one at a time.
    static func task(kind: TaskSpec.Kind = .function(id(5, 5)), id taskID: TaskID = id(7, 8), name: String = "double@driver.lua:3",
                     arguments: [UInt8] = [1, 2, 3], argumentRefs: [ObjectID] = [id(9, 1), id(9, 2)],
                     topLevelRefs: [(position: Int, id: ObjectID)] = [(2, id(9, 1)), (5, id(9, 2))],
                     returnIDs: [ObjectID] = [id(1, 1), id(1, 2)], cpus: Double = 0.5) -> TaskSpec {
        var task = TaskSpec(id: taskID, name: name, kind: kind, arguments: arguments, argumentRefs: argumentRefs,
                            topLevelRefs: topLevelRefs, returnIDs: returnIDs, cpus: cpus)
        task.resources = ["GPU": 1, "memory": 2e9]
        task.strategy = .node("00ab5eed", soft: true)
        task.maxRetries = -1
        task.retryExceptions = true
        task.attempt = 2
        task.environment = environment
        task.namespace = "ns"
        return task
    }

    static let bareTask = TaskSpec(id: TaskID(zero), name: "", kind: .function(zero), arguments: [], argumentRefs: [],
                                   topLevelRefs: [], returnIDs: [], cpus: 0)

    /// One of each kind.
    static let kinds: [TaskSpec.Kind] = [
        .function(id(5, 5)), .actorCreation(id(6, 6), classCode: [4, 2]), .actorMethod(id(6, 6), method: "incr"),
    ]

    /// One of each strategy, both node ones.
    static let strategies: [SchedulingStrategy] = [
        .default, .spread, .node("00ab5eed", soft: false), .node("00ab5eed", soft: true), .node("", soft: true),
    ]

    static let environment = TaskEnvironment(blob: id(11, 12), workingDirectory: id(13, 14))

    static var options: ActorOptions {
        var options = ActorOptions(namespace: "ns")
        options.name = "counter"
        options.maxConcurrency = 4
        options.maxRestarts = -1
        options.maxTaskRetries = 3
        options.lifetimeCPUs = 1.5
        options.detached = true
        return options
    }

    static var actor: ActorCreation {
        var actor = ActorCreation(options: options, className: "Counter", methods: ["incr", "get"],
                                  creation: task(kind: .actorCreation(id(6, 6), classCode: [4, 2])))
        actor.restarts = 2
        return actor
    }

    static var bareActor: ActorCreation {
        ActorCreation(options: ActorOptions(namespace: ""), className: "", methods: [], creation: bareTask)
    }

    static let hello = Message.Hello(token: "t0k3n", role: .driver, nodeID: "node-1", incarnation: 1 << 40,
                                     address: "10.0.0.2:6380", resources: ["CPU": 2, "GPU": 0.5], owner: 0x5eed)
    static let bareHello = Message.Hello(token: "", role: .node, nodeID: "", incarnation: 0, address: "", resources: [:])

    static let welcome = Message.Welcome(headNodeID: "head", heartbeatInterval: 0.25, owner: 0x5eed)
    static let bareWelcome = Message.Welcome(headNodeID: "", heartbeatInterval: 0)

    static let heartbeat = Message.Heartbeat(nodeID: "node-1", incarnation: 7, available: ["CPU": 1.5], pendingTasks: 3)
    static let bareHeartbeat = Message.Heartbeat(nodeID: "", incarnation: 0, available: [:], pendingTasks: 0)

    static let node = Message.NodeInfo(nodeID: "node-1", address: "10.0.0.2:6380", isHead: true, alive: true,
                                       total: ["CPU": 4, "GPU": 1], available: ["CPU": 1], pendingTasks: 9,
                                       lastSeen: 12.5, owner: 0xfeed_beef)
    static let bareNode = Message.NodeInfo(nodeID: "", address: "", isHead: false, alive: false, total: [:], available: [:],
                                           pendingTasks: 0, lastSeen: 0)

    static let job = Message.JobInfo(jobID: "job-1", running: true, age: 1.5)
    static let bareJob = Message.JobInfo(jobID: "", running: false, age: 0)

    static let record = Message.ActorRecord(id: id(3, 4), name: "counter", namespace: "ns", methods: ["incr", "get"], host: 42)
    static let bareRecord = Message.ActorRecord(id: ActorID(zero), name: "", namespace: "", methods: [], host: 0)

    static var piece: PeerMessage.ObjectPiece {
        PeerMessage.ObjectPiece(id: id(3, 3), isError: true, contained: [id(4, 4)], total: 10, offset: 4,
                                data: ByteBuffer(bytes: [1, 2, 3]))
    }

    static var barePiece: PeerMessage.ObjectPiece {
        PeerMessage.ObjectPiece(id: ObjectID(zero), isError: false, contained: [], total: 0, offset: 0, data: ByteBuffer())
    }

    /// A whole object in one piece, as `finished` carries it.
    static var wholePiece: PeerMessage.ObjectPiece {
        PeerMessage.ObjectPiece(id: id(3, 5), isError: false, contained: [id(4, 5)], total: 3, offset: 0,
                                data: ByteBuffer(bytes: [7, 8, 9]))
    }
}
