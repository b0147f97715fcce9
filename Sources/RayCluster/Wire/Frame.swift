import NIOCore

/// One unit on a cluster connection (docs/cluster-protocol.md):
///
///     magic "SRAY" (4) | version (1) | kind (1) | length (4, big-endian) | payload
///
/// `kind` names the message (`MessageKind`); the payload's layout is the
/// message's own (`WireWriter`), with task arguments and values inside it in
/// the value codec's format.
struct Frame: Equatable, Sendable {
    /// Object pieces this large are handed on as `bulk`.
    static let bulkThreshold = 64 << 10
    /// The kind of a frame that carries part of a message larger than
    /// `maxPayload`: the message's kind (1 byte), whether this is the last
    /// part (1 byte), then the next bytes of its payload.
    static let partKind: UInt8 = 31
    /// The largest message parts may add up to.
    static let maxMessage = Int(Int32.max)

    static let magic: [UInt8] = Array("SRAY".utf8)
    /// 2: nodes run work (peer messages, owners in hello/welcome/status, jobs).
    /// 3: tasks' code environments. 4: tasks' scheduling strategies; an
    /// environment's two blobs each marked present or not; an actor's name
    /// after its presence flag; `finished` returns laid out as `object` pieces.
    static let version: UInt8 = 5
    static let headerSize = 10
    /// Larger frames are refused before their payload is read.
    static let maxPayload = 64 << 20
    /// The limit for a connection's first frame (its `hello`), so that an
    /// unauthenticated peer cannot make the head buffer 64 MiB.
    static let maxFirstPayload = 64 << 10

    var kind: UInt8
    var payload: [UInt8]
    /// A large object piece's payload, left in the connection's buffer
    /// (no copy); `payload` is empty then. See `FrameDecoder`.
    var bulk: ByteBuffer? = nil

    /// The frame itself, or the `part` frames that carry it when its
    /// payload is over `maxPayload`.
    var parts: [Frame] { parts(maxPayload: Frame.maxPayload) }

    /// The same with a smaller limit: the fuzz seeds' messages in parts.
    func parts(maxPayload: Int) -> [Frame] {
        guard payload.count > maxPayload else { return [self] }
        let size = maxPayload - 2
        return stride(from: 0, to: payload.count, by: size).map { start in
            let end = min(payload.count, start + size)
            return Frame(kind: Frame.partKind, payload: [kind, end == payload.count ? 1 : 0] + payload[start..<end])
        }
    }

    /// The frame's bytes.
    var bytes: [UInt8] {
        var out = Frame.magic
        out.reserveCapacity(Frame.headerSize + payload.count)
        out.append(Frame.version)
        out.append(kind)
        let length = UInt32(payload.count)
        out += [UInt8(length >> 24), UInt8(truncatingIfNeeded: length >> 16),
                UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
        out += payload
        return out
    }

    /// Reads the header at the start of `bytes`: the payload length, or nil
    /// when fewer than `headerSize` bytes are there. Throws on a header that
    /// is not ours, so the connection can be closed at once.
    static func payloadLength(header bytes: some Collection<UInt8>, limit: Int = maxPayload) throws(FrameError) -> (kind: UInt8, length: Int)? {
        // TLS records start with 0x16 (a handshake: ClientHello) or 0x15 (an alert): say so.
        if let first = bytes.first, first == 0x16 || first == 0x15 { throw .tlsOnPlainConnection }
        guard bytes.count >= headerSize else {
            // A wrong start is refused as soon as it shows.
            for (byte, expected) in zip(bytes, magic) where byte != expected { throw .badMagic }
            return nil
        }
        let header = Array(bytes.prefix(headerSize))
        guard Array(header[0..<4]) == magic else { throw .badMagic }
        guard header[4] == version else { throw .unsupportedVersion(header[4]) }
        let length = Int(header[6]) << 24 | Int(header[7]) << 16 | Int(header[8]) << 8 | Int(header[9])
        guard length <= limit else { throw .tooLarge(length, limit: limit) }
        return (header[5], length)
    }
}

/// Why a connection's bytes were refused; the connection is then closed.
enum FrameError: Error, Equatable, CustomStringConvertible {
    case badMagic
    /// The peer speaks TLS to a process that does not use it.
    case tlsOnPlainConnection
    case unsupportedVersion(UInt8)
    case tooLarge(Int, limit: Int)
    /// A `part` frame out of place, or another frame between parts.
    case badPart

    var description: String {
        switch self {
        case .badMagic: "not a SwiftRay cluster connection (bad magic)"
        case .tlsOnPlainConnection: "the other side speaks TLS and this process does not (set RAY_USE_TLS=1 on every process of the cluster, or on none)"
        case .unsupportedVersion(let v): "cluster protocol version \(v) is not supported (this build speaks version \(Frame.version))"
        case .tooLarge(let n, let limit): "frame of \(n) bytes exceeds the limit of \(limit)"
        case .badPart: "a message in parts was interrupted or malformed"
        }
    }
}
