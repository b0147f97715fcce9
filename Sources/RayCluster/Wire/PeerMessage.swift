import NIOCore
import RayCore

/// The messages between the processes of a cluster (nodes and drivers),
/// after `hello`/`welcome`: work placed on a node, and objects moving to
/// where they are needed. Values travel in the value codec's bytes;
/// objects larger than `ObjectTransfer.chunkSize` travel in several pieces.
/// The head is never on this path (docs/cluster-protocol.md).
enum PeerMessage: Equatable, Sendable {
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
    /// An actor the sender hosts for the receiver (its creator) was
    /// restarted there (`ray.kill` without `no_restart`): its restarts so far.
    case actorRestarted(ActorID, restarts: Int)
    /// Lines tasks printed on the sender, for a driver's stdout.
    case output(String)

    /// One piece of an object: `data` goes at `offset` of its `total` bytes.
    struct ObjectPiece: Equatable, Sendable {
        var id: ObjectID
        var isError: Bool
        var contained: [ObjectID]
        var total: Int
        var offset: Int
        var data: ByteBuffer
    }

    enum Kind: UInt8 {
        case function = 32, submit, createActor, finished, fetch, object, lost, cancel, killActor, output, done, actorRestarted
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
            w.write(tasks)
        case .createActor(let actor, let classRefs):
            kind = .createActor
            w.write(actor)
            w.ids(classRefs)
        case .finished(let id, let results):
            kind = .finished
            w.id(id)
            w.write(results)
        case .fetch(let ids):
            kind = .fetch
            w.ids(ids)
        case .object(let piece):
            kind = .object
            w.write(piece)
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
        case .actorRestarted(let id, let restarts):
            kind = .actorRestarted
            w.id(id)
            w.int(restarts)
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
            self = .submit(try r.read())
        case .createActor:
            self = .createActor(try r.read(), classRefs: try r.ids())
        case .finished:
            let id: TaskID = try r.id()
            let results = try r.read([ObjectPiece].self)
            guard results.allSatisfy(\.isWhole) else { throw .malformed("a task's small return is not a whole object") }
            self = .finished(id, results: results)
        case .fetch:
            self = .fetch(try r.ids())
        case .object:
            self = .object(try r.read())
        case .lost:
            self = .lost(try r.id(), reason: try r.string())
        case .cancel:
            self = .cancel(returning: try r.id(), recursive: try r.bool())
        case .killActor:
            self = .killActor(try r.id(), noRestart: try r.bool(), request: try r.u64())
        case .done:
            self = .done(request: try r.u64())
        case .actorRestarted:
            self = .actorRestarted(try r.id(), restarts: try r.int())
        case .output:
            self = .output(try r.string())
        }
        try r.finish()
    }
}
