import LuaCodec
import LuaKit
import NIOCore
import RayCore
import RayLua
@testable import RayCluster

/// The traffic of a small cluster, made with the project's own encoders:
/// the seeds of the frame and message targets. Ids and the token are fixed
/// so that writing the seeds again gives the same files.
struct WireSeeds {
    /// Task arguments, results and code as the value codec encodes them
    /// (no table with two keys in its hash part: Lua's order would vary).
    let arguments: [UInt8]
    let result: [UInt8]
    let functionCode: [UInt8]
    let classCode: [UInt8]

    init() {
        let state = LuaState()
        let codec = try! LuaCodec(state: state)
        func encode(_ chunk: String) -> [UInt8] {
            let base = state.top
            defer { state.top = base }
            do {
                let n = try state.run(chunk, chunkName: "@driver.lua")
                return try codec.encode(valuesAt: base + 1, count: n)
            } catch {
                fatalError("seed value \(chunk): \(error)")
            }
        }
        arguments = encode("return 21, 'two', { true, x = 1.5 }, nil")
        result = encode("return { 'a', { 'b', 'c' }, total = 42 }")
        functionCode = encode("return function(n, s) return n * 2, s:upper() end")
        classCode = encode("return { __index = { incr = function(self, by) self.n = (self.n or 0) + by; return self.n end } }")
    }

    static let token = String(repeating: "5eed", count: 16)
    static let node = UniqueID(high: 0x0000_5eed_0000_0001, low: 0)
    static let driver = UniqueID(high: 0x0000_5eed_0000_0002, low: 0)
    static func id(_ owner: UniqueID, _ n: UInt64) -> UniqueID { UniqueID(high: owner.high, low: n) }
    static func id<Kind>(_ owner: UniqueID, _ n: UInt64) -> ID<Kind> { ID(high: owner.high, low: n) }

    var head: [Message] {
        let counter = Message.ActorRecord(id: Self.id(Self.driver, 9), name: "counter", namespace: "default",
                                          methods: ["incr", "get"], host: Self.node.high)
        return [
            .hello(.init(token: Self.token, role: .node, nodeID: "node-1", incarnation: 1_733_430_000_000,
                         address: "10.0.0.2:6380", resources: ["CPU": 2, "memory": 4e9], owner: Self.node.high)),
            .hello(.init(token: Self.token, role: .driver, nodeID: "driver-1", incarnation: 1, address: "10.0.0.3:0",
                         resources: [:], owner: Self.driver.high)),
            .hello(.init(token: "", role: .command, nodeID: "", incarnation: 0, address: "", resources: [:])),
            .welcome(.init(headNodeID: "head", heartbeatInterval: 0.5, owner: 0x0000_5eed_0000_0000)),
            .refused(reason: "wrong cluster token"),
            .heartbeat(.init(nodeID: "node-1", incarnation: 1_733_430_000_000, available: ["CPU": 1.5, "GPU": 0],
                             pendingTasks: 3)),
            .statusRequest,
            .status([.init(nodeID: "head", address: "10.0.0.1:6379", isHead: true, alive: true, total: ["CPU": 2],
                           available: ["CPU": 2], pendingTasks: 0, lastSeen: 0.1, owner: 0x0000_5eed_0000_0000),
                     .init(nodeID: "node-1", address: "10.0.0.2:6380", isHead: false, alive: false, total: ["CPU": 2, "GPU": 1],
                           available: [:], pendingTasks: 9, lastSeen: 12.5, owner: Self.node.high)],
                    jobs: [.init(jobID: "job-1", running: true, age: 3.25), .init(jobID: "job-0", running: false, age: 60)]),
            .registerActor(counter),
            .actorRegistered(refusal: ""),
            .actorRegistered(refusal: "an actor named counter exists in namespace default"),
            .lookupActor(name: "counter", namespace: "default"),
            .locateActor(counter.id),
            .actorFound(counter),
            .actorFound(nil),
            .actorGone(counter.id),
        ]
    }

    func task(_ kind: TaskSpec.Kind, _ n: UInt64) -> TaskSpec {
        var task = TaskSpec(id: Self.id(Self.driver, 100 + n), name: "double@driver.lua:3", kind: kind, arguments: arguments,
                            argumentRefs: [Self.id(Self.driver, 50)], topLevelRefs: [(position: 2, id: Self.id(Self.driver, 50))],
                            returnIDs: [Self.id(Self.driver, 200 + n), Self.id(Self.driver, 300 + n)], cpus: 1)
        task.resources = ["GPU": 0.5]
        // Each strategy and environment shape somewhere in the seeds.
        let strategies: [UInt64: SchedulingStrategy] = [1: .spread, 2: .node(Self.node.hex, soft: false), 3: .node(Self.node.hex, soft: true)]
        task.strategy = strategies[n] ?? .default
        task.maxRetries = 3
        task.retryExceptions = n % 2 == 0
        task.attempt = Int(n % 3)
        task.environment = TaskEnvironment(blob: Self.id(Self.driver, 60), workingDirectory: n == 1 ? Self.id(Self.driver, 61) : nil)
        task.namespace = n == 1 ? "" : "anon-0123456789"
        return task
    }

    var peer: [PeerMessage] {
        let function: UniqueID = Self.id(Self.driver, 1)
        let actor: ActorID = Self.id(Self.driver, 9)
        var options = ActorOptions(namespace: "default")
        options.name = "counter"
        options.maxRestarts = -1
        options.maxTaskRetries = 2
        options.lifetimeCPUs = 1
        let creation = ActorCreation(options: options, className: "Counter", methods: ["incr", "get"],
                                     creation: task(.actorCreation(actor, classCode: classCode), 2))
        let whole = PeerMessage.ObjectPiece(id: Self.id(Self.driver, 201), isError: false, contained: [],
                                            total: result.count, offset: 0, data: ByteBuffer(bytes: result))
        let middle = PeerMessage.ObjectPiece(id: Self.id(Self.node, 7), isError: false, contained: [Self.id(Self.driver, 50)],
                                             total: 3 * result.count, offset: result.count, data: ByteBuffer(bytes: result))
        let error = PeerMessage.ObjectPiece(id: Self.id(Self.driver, 301), isError: true, contained: [], total: 17,
                                            offset: 0, data: ByteBuffer(bytes: Array("attempt to call nil".utf8.prefix(17))))
        return [
            .function(function, code: functionCode),
            .submit([task(.function(function), 1), task(.actorMethod(actor, method: "incr"), 3), task(.function(function), 4)]),
            .createActor(creation, classRefs: [Self.id(Self.driver, 51)]),
            .finished(Self.id(Self.driver, 101), results: [whole, error]),
            .fetch([Self.id(Self.node, 7), Self.id(Self.node, 8)]),
            .object(whole),
            .object(middle),
            .lost(Self.id(Self.node, 8), reason: "freed by its owner"),
            .cancel(returning: Self.id(Self.driver, 201), recursive: true),
            .killActor(actor, noRestart: false, request: 77),
            .done(request: 77),
            .output("(double pid=4242) hello from node-1\n"),
        ]
    }

    /// Seeds for the message target: every message, then an object piece
    /// handed over as bulk (as the frame decoder does for large ones).
    func writeMessageSeeds(into directory: String) {
        var files = SeedFiles(directory: directory)
        for message in head { files.write("\(Message.Kind(rawValue: message.frame.kind)!)", MessageTarget.input(message.frame)) }
        for message in peer { files.write("\(PeerMessage.Kind(rawValue: message.frame.kind)!)", MessageTarget.input(message.frame)) }
        files.write("bulk-object", MessageTarget.input(peer[6].frame, bulk: true))
        note("wrote \(files.written) seeds to \(directory)")
    }

    /// A piece just over the bulk threshold: the frame decoder leaves it in the buffer.
    var largePiece: PeerMessage.ObjectPiece {
        let data = (0..<Frame.bulkThreshold).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        return PeerMessage.ObjectPiece(id: Self.id(Self.node, 9), isError: false, contained: [],
                                       total: 2 * data.count, offset: data.count, data: ByteBuffer(bytes: data))
    }

    /// Seeds for the frame target: each side of the cluster's connections,
    /// in one read and in small reads, a message in parts, a large piece.
    func writeFrameSeeds(into directory: String) {
        var files = SeedFiles(directory: directory)
        let head = self.head.map(\.frame), peer = self.peer.map(\.frame)
        // The head accepts a node: hello, then heartbeats and directory requests.
        let atHead = [head[0], head[5], head[8], head[11], head[12], head[15], head[6]]
        files.write("head-accepts", FrameTarget.input(atHead, mode: .admittedByFirstFrame))
        files.write("head-accepts-small-reads", FrameTarget.input(atHead, mode: .admittedByFirstFrame, chunk: 7))
        // A node's view of the head: welcome and answers.
        let fromHead = [head[3], head[9], head[10], head[13], head[14], head[7]]
        files.write("node-dialled-head", FrameTarget.input(fromHead, mode: .dialled))
        files.write("refused", FrameTarget.input([head[4]], mode: .dialled, chunk: 3))
        files.write("unauthenticated", FrameTarget.input([head[2], head[6]], mode: .unauthenticated))
        // A driver's connection to a node's peer port, both ways.
        let toNode = [head[1]] + peer[0...2] + [peer[4], peer[8], peer[9]]
        files.write("node-accepts-driver", FrameTarget.input(toNode, mode: .admittedByFirstFrame))
        files.write("node-accepts-driver-1-byte-reads", FrameTarget.input(toNode, mode: .admittedByFirstFrame, chunk: 1))
        let toDriver = [head[3], peer[3], peer[5], peer[6], peer[7], peer[10], peer[11]]
        files.write("driver-dialled-node", FrameTarget.input(toDriver, mode: .dialled))
        files.write("driver-dialled-node-small-reads", FrameTarget.input(toDriver, mode: .dialled, chunk: 64))
        // A message in parts, between whole frames; and parts refused before hello.
        let inParts = peer[1].parts(maxPayload: 40)
        files.write("parts", FrameTarget.input([peer[4]] + inParts + [peer[11]], mode: .dialled, chunk: 33))
        files.write("parts-before-hello", FrameTarget.input(inParts, mode: .unauthenticated))
        files.write("large-object", FrameTarget.input([PeerMessage.object(largePiece).frame], mode: .dialled))
        note("wrote \(files.written) seeds to \(directory)")
    }
}
