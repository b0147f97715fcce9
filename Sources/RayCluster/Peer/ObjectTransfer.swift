import CRaySupport
import Foundation
import NIOCore
import RayCore

/// Objects between processes: a value goes in pieces of at most
/// `chunkSize` bytes, each written only when the connection has room for
/// it (back-pressure: a sender never holds more than about one piece beyond
/// the socket's buffer, whatever the object's size), and is put together
/// again on the receiving side.
enum ObjectTransfer {
    static let chunkSize = 1 << 20
    /// Small returns ride in `finished` up to this many bytes in all.
    static let finishedLimit = 16 << 20

    /// A small object whole, as one piece.
    static func piece(_ id: ObjectID, _ object: StoredObject) -> PeerMessage.ObjectPiece {
        object.bytes.withUnsafeBytes { bytes in
            PeerMessage.ObjectPiece(id: id, isError: object.isError, contained: object.contained, total: bytes.count,
                                    offset: 0, data: ByteBuffer(bytes: bytes))
        }
    }

    /// Writes pieces from `offset` while the channel has room, then goes
    /// on when the last one written has left. Runs on the channel's event
    /// loop. Each piece is written straight from the object's memory into
    /// the connection's buffer.
    static func sendPieces(_ id: ObjectID, _ object: StoredObject, from offset: Int, on channel: Channel,
                           done: EventLoopPromise<Void>) {
        let total = object.bytes.count
        var offset = offset
        guard channel.isActive else {
            done.fail(ClusterError("the connection closed while an object was being sent"))
            return
        }
        while offset < total {
            guard channel.isActive else {
                done.fail(ClusterError("the connection closed while an object was being sent"))
                return
            }
            let end = min(total, offset + chunkSize)
            var w = WireWriter()
            PeerMessage.ObjectPiece(id: id, isError: object.isError, contained: offset == 0 ? object.contained : [],
                                    total: total, offset: offset, data: ByteBuffer()).writeHeader(to: &w)
            w.int(end - offset)
            var buffer = channel.allocator.buffer(capacity: Frame.headerSize + w.bytes.count + end - offset)
            Frame.writeHeader(kind: PeerMessage.Kind.object.rawValue, length: w.bytes.count + end - offset, to: &buffer)
            buffer.writeBytes(w.bytes)
            object.bytes.withUnsafeBytes { bytes in _ = buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) }
            let written = channel.writeAndFlush(buffer)
            offset = end
            if offset == total {
                written.cascade(to: done)
                return
            }
            if !channel.isWritable {
                let next = offset
                written.whenComplete { result in
                    switch result {
                    case .success: sendPieces(id, object, from: next, on: channel, done: done)
                    case .failure(let error): done.fail(error)
                    }
                }
                return
            }
        }
    }
}

/// The pieces of one object arriving, written into one buffer the stored
/// object will keep (no copy once it is whole).
final class ObjectAssembly: @unchecked Sendable {
    // Written only by the connection's event loop until whole; then immutable.
    let total: Int
    let isError: Bool
    let contained: [ObjectID]
    private let memory: UnsafeMutableRawBufferPointer
    private var received = 0

    /// Nil when `total` bytes cannot be had (a peer can claim any size).
    init?(total: Int, isError: Bool, contained: [ObjectID]) {
        self.total = total
        self.isError = isError
        self.contained = contained
        // Large objects reuse the mapped blocks the codec and Lua use:
        // fresh pages cost more to fault in than the copy itself.
        if total >= RAY_BIG_THRESHOLD {
            guard let block = ray_big_alloc(total) else { return nil }
            memory = UnsafeMutableRawBufferPointer(start: block, count: total)
            isBlock = true
        } else {
            guard let block = malloc(max(total, 1)) else { return nil }
            memory = UnsafeMutableRawBufferPointer(start: block, count: total)
            isBlock = false
        }
    }

    private let isBlock: Bool

    deinit {
        if isBlock { ray_big_free(memory.baseAddress) } else { free(memory.baseAddress) }
    }

    enum Progress {
        case partial, whole(StoredObject), outOfOrder
    }

    /// Adds the next piece (pieces of one object come in order on their
    /// connection; any other is refused, so no byte is left unwritten).
    func add(_ data: ByteBuffer, at offset: Int) -> Progress {
        let count = data.readableBytes
        guard offset == received, offset + count <= total else { return .outOfOrder }
        data.withUnsafeReadableBytes { bytes in
            UnsafeMutableRawBufferPointer(rebasing: memory[offset..<(offset + count)]).copyMemory(from: bytes)
        }
        received += count
        guard received == total else { return .partial }
        return .whole(StoredObject(bytes: ObjectBytes(UnsafeRawBufferPointer(rebasing: memory[0..<total]), owner: self),
                                   isError: isError, contained: contained))
    }
}
