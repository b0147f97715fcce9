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

    /// Sends `object` as `id` on `channel` (from any thread).
    static func send(_ id: ObjectID, _ object: StoredObject, on channel: Channel) {
        let total = object.bytes.count
        if total <= chunkSize {
            let frame = object.bytes.withUnsafeBytes { bytes in
                PeerMessage.object(.init(id: id, isError: object.isError, contained: object.contained, total: total,
                                         offset: 0, data: ArraySlice(bytes))).frame
            }
            channel.writeAndFlush(frame, promise: nil)
            return
        }
        channel.eventLoop.execute { sendPieces(id, object, from: 0, on: channel) }
    }

    /// Writes pieces from `offset` until the channel is full, then goes on
    /// when the last one written has left. Runs on the channel's event loop.
    private static func sendPieces(_ id: ObjectID, _ object: StoredObject, from offset: Int, on channel: Channel) {
        let total = object.bytes.count
        var offset = offset
        while offset < total && channel.isActive {
            let end = min(total, offset + chunkSize)
            let frame = object.bytes.withUnsafeBytes { bytes in
                PeerMessage.object(.init(id: id, isError: object.isError, contained: offset == 0 ? object.contained : [],
                                         total: total, offset: offset, data: ArraySlice(bytes[offset..<end]))).frame
            }
            let written = channel.writeAndFlush(frame)
            offset = end
            if offset < total && !channel.isWritable {
                let next = offset
                written.whenSuccess { sendPieces(id, object, from: next, on: channel) }
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

    init(total: Int, isError: Bool, contained: [ObjectID]) {
        self.total = total
        self.isError = isError
        self.contained = contained
        memory = .allocate(byteCount: max(total, 1), alignment: 16)
    }

    deinit { memory.deallocate() }

    /// Adds a piece; the object once every byte arrived.
    func add(_ data: ArraySlice<UInt8>, at offset: Int) -> StoredObject? {
        guard offset + data.count <= total else { return nil }
        data.withUnsafeBytes { bytes in
            UnsafeMutableRawBufferPointer(rebasing: memory[offset..<(offset + data.count)]).copyMemory(from: bytes)
        }
        received += data.count
        guard received >= total else { return nil }
        return StoredObject(bytes: ObjectBytes(UnsafeRawBufferPointer(rebasing: memory[0..<total]), owner: self),
                            isError: isError, contained: contained)
    }
}
