import NIOCore
import RayCore

/// The messages between the processes of a cluster (nodes and drivers),
/// after `hello`/`welcome`: work placed on a node, and objects moving to
/// where they are needed. Values travel in the value codec's bytes;
/// objects larger than `ObjectTransfer.chunkSize` travel in several pieces.
/// The head is never on this path (docs/cluster-protocol.md).
enum PeerMessage: Sendable {
    /// A remote function's code, sent once per connection before the first task that runs it.
    case function(UniqueID, code: [UInt8])
    /// Tasks and actor calls placed on the receiver; their returns go back to the sender.
    case submit([TaskSpec])
    /// An actor the receiver is to host, with the refs inside its class.
    case createActor(ActorCreation, classRefs: [ObjectID])
    /// A task the receiver placed on the sender ended: its small returns
    /// (large ones come as `object` pieces), and its arguments can go.
    case finished(TaskID, results: [ObjectPiece])
    /// Send these objects (owned by the receiver) once they are ready.
    case fetch([ObjectID])
    /// An object, or a piece of one.
    case object(ObjectPiece)
    /// The object cannot be sent: freed, or never made; the reason says which.
    case lost(ObjectID, reason: String)
    case cancel(returning: ObjectID, recursive: Bool)
    /// `ray.kill` for an actor the receiver hosts; answered by `done` with
    /// the same request id once the kill took effect there.
    case killActor(ActorID, noRestart: Bool, request: UInt64)
    /// The request with this id took effect.
    case done(request: UInt64)
    /// Lines tasks printed on the sender, for a driver's stdout.
    case output(String)

    /// One piece of an object: `data` goes at `offset` of its `total` bytes.
    struct ObjectPiece: Sendable {
        var id: ObjectID
        var isError: Bool
        var contained: [ObjectID]
        var total: Int
        var offset: Int
        var data: ByteBuffer
    }

    enum Kind: UInt8 {
        case function = 32, submit, createActor, finished, fetch, object, lost, cancel, killActor, output, done
    }

    var frame: Frame {
        var w = WireWriter()
        let kind: Kind
        switch self {
        case .function(let id, let code):
            kind = .function
            w.id(id)
            w.blob(code)
        case .submit(let tasks):
            kind = .submit
            w.int(tasks.count)
            for task in tasks { w.task(task) }
        case .createActor(let actor, let classRefs):
            kind = .createActor
            w.string(actor.options.name ?? "")
            w.bool(actor.options.name != nil)
            w.string(actor.options.namespace)
            w.signed(actor.options.maxConcurrency)
            w.signed(actor.options.maxRestarts)
            w.signed(actor.options.maxTaskRetries)
            w.double(actor.options.lifetimeCPUs)
            w.bool(actor.options.detached)
            w.string(actor.className)
            w.strings(actor.methods)
            w.task(actor.creation)
            w.ids(classRefs)
        case .finished(let id, let results):
            kind = .finished
            w.id(id)
            w.int(results.count)
            for piece in results {
                w.id(piece.id)
                w.bool(piece.isError)
                w.ids(piece.contained)
                w.blob(piece.data.readableBytesView)
            }
        case .fetch(let ids):
            kind = .fetch
            w.ids(ids)
        case .object(let piece):
            kind = .object
            w.id(piece.id)
            w.bool(piece.isError)
            w.ids(piece.contained)
            w.varint(UInt64(piece.total))
            w.varint(UInt64(piece.offset))
            w.blob(piece.data.readableBytesView)
        case .lost(let id, let reason):
            kind = .lost
            w.id(id)
            w.string(reason)
        case .cancel(let ref, let recursive):
            kind = .cancel
            w.id(ref)
            w.bool(recursive)
        case .killActor(let id, let noRestart, let request):
            kind = .killActor
            w.id(id)
            w.bool(noRestart)
            w.u64(request)
        case .done(let request):
            kind = .done
            w.u64(request)
        case .output(let text):
            kind = .output
            w.string(text)
        }
        return Frame(kind: kind.rawValue, payload: w.bytes)
    }

    /// Whether a frame of this kind is a peer message.
    static func isPeerKind(_ kind: UInt8) -> Bool { Kind(rawValue: kind) != nil }

    init(_ frame: Frame) throws(WireError) {
        guard let kind = Kind(rawValue: frame.kind) else { throw .unknownKind(frame.kind) }
        if var bulk = frame.bulk {
            guard kind == .object else { throw .malformed("a large payload for message kind \(frame.kind)") }
            self = .object(try ObjectPiece(reading: &bulk))
            return
        }
        var r = WireReader(frame.payload)
        switch kind {
        case .function:
            self = .function(try r.id(), code: try r.blob())
        case .submit:
            var tasks: [TaskSpec] = []
            for _ in 0..<(try r.int()) { tasks.append(try r.task()) }
            self = .submit(tasks)
        case .createActor:
            let name = try r.string()
            var options = ActorOptions(namespace: "")
            options.name = try r.bool() ? name : nil
            options.namespace = try r.string()
            options.maxConcurrency = try r.signed()
            options.maxRestarts = try r.signed()
            options.maxTaskRetries = try r.signed()
            options.lifetimeCPUs = try r.double()
            options.detached = try r.bool()
            let className = try r.string(), methods = try r.strings()
            let creation = try r.task()
            guard case .actorCreation = creation.kind else { throw .malformed("an actor's creation task is not an actor creation") }
            self = .createActor(ActorCreation(options: options, className: className, methods: methods, creation: creation),
                                classRefs: try r.ids())
        case .finished:
            let id = try r.id()
            var results: [ObjectPiece] = []
            for _ in 0..<(try r.int()) {
                let object = try r.id(), isError = try r.bool(), contained = try r.ids()
                let data = try r.blob { ByteBuffer(bytes: $0) }
                results.append(ObjectPiece(id: object, isError: isError, contained: contained, total: data.readableBytes,
                                           offset: 0, data: data))
            }
            self = .finished(id, results: results)
        case .fetch:
            self = .fetch(try r.ids())
        case .object:
            let id = try r.id(), isError = try r.bool(), contained = try r.ids()
            let total = Int(clamping: try r.varint()), offset = Int(clamping: try r.varint())
            let data = try r.blob { ByteBuffer(bytes: $0) }
            let piece = ObjectPiece(id: id, isError: isError, contained: contained, total: total, offset: offset, data: data)
            try piece.check()
            self = .object(piece)
        case .lost:
            self = .lost(try r.id(), reason: try r.string())
        case .cancel:
            self = .cancel(returning: try r.id(), recursive: try r.bool())
        case .killActor:
            self = .killActor(try r.id(), noRestart: try r.bool(), request: try r.u64())
        case .done:
            self = .done(request: try r.u64())
        case .output:
            self = .output(try r.string())
        }
        try r.finish()
    }
}

extension WireWriter {
    /// Any Int, negative ones too (as their 64-bit pattern).
    mutating func signed(_ value: Int) { varint(UInt64(bitPattern: Int64(value))) }

    mutating func task(_ task: TaskSpec) {
        id(task.id)
        string(task.name)
        switch task.kind {
        case .function(let function):
            varint(1)
            id(function)
        case .actorCreation(let actor, let classCode):
            varint(2)
            id(actor)
            blob(classCode)
        case .actorMethod(let actor, let method):
            varint(3)
            id(actor)
            string(method)
        }
        blob(task.arguments)
        ids(task.argumentRefs)
        int(task.topLevelRefs.count)
        for (position, ref) in task.topLevelRefs {
            int(position)
            id(ref)
        }
        ids(task.returnIDs)
        double(task.cpus)
        resources(task.resources)
        signed(task.maxRetries)
        bool(task.retryExceptions)
        int(task.attempt)
        ids(task.environment.ids)
    }
}

extension WireReader {
    mutating func signed() throws(WireError) -> Int {
        Int(truncatingIfNeeded: Int64(bitPattern: try varint()))
    }

    mutating func task() throws(WireError) -> TaskSpec {
        let id = try id(), name = try string()
        let kind: TaskSpec.Kind
        switch try varint() {
        case 1: kind = .function(try self.id())
        case 2: kind = .actorCreation(try self.id(), classCode: try blob())
        case 3: kind = .actorMethod(try self.id(), method: try string())
        case let other: throw .malformed("unknown task kind \(other)")
        }
        let arguments = try blob(), argumentRefs = try ids()
        var topLevel: [(position: Int, id: ObjectID)] = []
        for _ in 0..<(try int()) { topLevel.append((try int(), try self.id())) }
        let returns = try ids(), cpus = try double()
        guard cpus >= 0, cpus.isFinite else { throw .malformed("a task needs \(cpus) CPUs") }
        var task = TaskSpec(id: id, name: name, kind: kind, arguments: arguments, argumentRefs: argumentRefs,
                            topLevelRefs: topLevel, returnIDs: returns, cpus: cpus)
        task.resources = try resources()
        task.maxRetries = try signed()
        task.retryExceptions = try bool()
        task.attempt = try int()
        guard let environment = TaskEnvironment(ids: try ids()) else { throw .malformed("a task names more than two environment blobs") }
        task.environment = environment
        return task
    }
}

extension PeerMessage.ObjectPiece {
    /// Reads a piece whose payload stayed in the connection's buffer: the
    /// fields as `frame` writes them, then the data, left as a slice.
    init(reading buffer: inout ByteBuffer) throws(WireError) {
        func u64() throws(WireError) -> UInt64 {
            guard let value = buffer.readInteger(as: UInt64.self) else { throw .malformed("truncated object piece") }
            return value
        }
        func varint() throws(WireError) -> UInt64 {
            var value: UInt64 = 0
            for shift in stride(from: UInt64(0), to: 64, by: 7) {
                guard let byte = buffer.readInteger(as: UInt8.self) else { throw .malformed("truncated object piece") }
                value |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { return value }
            }
            throw .malformed("number too long in an object piece")
        }
        id = UniqueID(high: try u64(), low: try u64())
        guard let flag = buffer.readInteger(as: UInt8.self) else { throw .malformed("truncated object piece") }
        isError = flag != 0
        let count = Int(clamping: try varint())
        guard count <= buffer.readableBytes / 16 else { throw .malformed("\(count) ids run past the object piece") }
        contained = []
        for _ in 0..<count { contained.append(UniqueID(high: try u64(), low: try u64())) }
        total = Int(clamping: try varint())
        offset = Int(clamping: try varint())
        let length = Int(clamping: try varint())
        guard length == buffer.readableBytes else { throw .malformed("object piece of \(length) bytes in \(buffer.readableBytes)") }
        data = buffer
        try check()
    }

    func check() throws(WireError) {
        guard offset <= total, data.readableBytes <= total - offset else {
            throw .malformed("object piece at \(offset) of \(data.readableBytes) bytes runs past its \(total) bytes")
        }
    }
}
