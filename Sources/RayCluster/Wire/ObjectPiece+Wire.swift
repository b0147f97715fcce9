import NIOCore
import RayCore

/// An object, or a piece of one (docs/cluster-protocol.md, kinds 35 and
/// 37): the header — id, is error (bool), contained (ids), total size and
/// offset (varints) — then the bytes (blob).
extension PeerMessage.ObjectPiece: WireCodable {
    func write(to w: inout WireWriter) {
        writeHeader(to: &w)
        w.blob(data.readableBytesView)
    }

    init(from r: inout WireReader) throws(WireError) {
        self = try Self.header(from: &r)
        data = try r.blob { ByteBuffer(bytes: $0) }
        try check()
    }

    /// Everything before the bytes' blob; `ObjectTransfer` writes it, then
    /// the blob's length and the bytes straight from the object's memory.
    func writeHeader(to w: inout WireWriter) {
        w.id(id)
        w.bool(isError)
        w.ids(contained)
        w.varint(UInt64(total))
        w.varint(UInt64(offset))
    }

    /// A piece with what `writeHeader` wrote and no data yet.
    private static func header(from r: inout WireReader) throws(WireError) -> Self {
        Self(id: try r.id(), isError: try r.bool(), contained: try r.ids(), total: Int(clamping: try r.varint()),
             offset: Int(clamping: try r.varint()), data: ByteBuffer())
    }

    /// Reads a piece whose payload stayed in the connection's buffer (a
    /// large one, `Frame.bulk`): the header and the blob's length, then the
    /// data, left as a slice of the buffer.
    init(reading buffer: inout ByteBuffer) throws(WireError) {
        let (piece, length, consumed) = try Self.header(in: buffer)
        buffer.moveReaderIndex(forwardBy: consumed)
        guard length == buffer.readableBytes else { throw .malformed("object piece of \(length) bytes in \(buffer.readableBytes)") }
        self = piece
        data = buffer
        try check()
    }

    /// The header and blob length at the start of `buffer`, read from a
    /// copy of as few of its first bytes as hold them (a header is small
    /// unless the object contains many refs; the data is not copied).
    private static func header(in buffer: ByteBuffer) throws(WireError) -> (piece: Self, length: Int, consumed: Int) {
        var size = 256
        while true {
            var r = WireReader(Array(buffer.readableBytesView.prefix(size)))
            do {
                let piece = try header(from: &r)
                return (piece, try r.int(), r.consumed)
            } catch where size < buffer.readableBytes {
                size *= 2  // the header may run past the copy: read again from a longer one
            }
        }
    }

    /// A piece whose data runs past its object is malformed.
    func check() throws(WireError) {
        guard offset <= total, data.readableBytes <= total - offset else {
            throw .malformed("object piece at \(offset) of \(data.readableBytes) bytes runs past its \(total) bytes")
        }
    }

    /// The whole object in one piece, as `finished` carries small returns.
    var isWhole: Bool { offset == 0 && data.readableBytes == total }
}
