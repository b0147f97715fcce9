import NIOCore

/// Whether the other end of an accepted connection showed the cluster
/// token. Until it did, its frames are limited to `Frame.maxFirstPayload`
/// and it cannot send a message in parts: an unauthenticated peer cannot
/// make this process buffer more than that. Shared by the connection's
/// decoder and handler; confined to its event loop.
final class Admission: @unchecked Sendable {
    var authenticated = false
}

/// Cuts a connection's bytes into frames. A header that is not ours is an
/// error, and the connection's handler closes that connection.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = Frame
    /// For an accepted connection: whether the peer is authenticated yet.
    private let admission: Admission?
    /// A message arriving in `part` frames: its kind and the bytes so far.
    private var partial: (kind: UInt8, bytes: [UInt8])?

    init(admission: Admission?) {
        self.admission = admission
    }

    /// A decoder for the side that dialled (`accepting` false), or for an
    /// accepted connection that is never authenticated (tests).
    init(accepting: Bool) {
        self.init(admission: accepting ? Admission() : nil)
    }

    private var admitted: Bool { admission?.authenticated ?? true }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        let limit = admitted ? Frame.maxPayload : Frame.maxFirstPayload
        guard let (kind, length) = try Frame.payloadLength(header: view.prefix(Frame.headerSize), limit: limit) else {
            return .needMoreData
        }
        guard view.count >= Frame.headerSize + length else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Frame.headerSize)
        if kind == PeerMessage.Kind.object.rawValue && length >= Frame.bulkThreshold {
            guard partial == nil else { throw FrameError.badPart }
            // A piece of a large object: its bytes are copied once, into the object.
            context.fireChannelRead(NIOAny(Frame(kind: kind, payload: [], bulk: buffer.readSlice(length: length))))
            return .continue
        }
        let payload = buffer.readBytes(length: length) ?? []
        if kind == Frame.partKind {
            // A part's message is never itself a part (the fuzz target found
            // one handed on as a frame of kind `partKind`).
            guard admitted, payload.count >= 2, payload[0] != Frame.partKind,
                  partial == nil || partial!.kind == payload[0] else { throw FrameError.badPart }
            var message = partial ?? (payload[0], [])
            guard message.bytes.count + payload.count - 2 <= Frame.maxMessage else {
                throw FrameError.tooLarge(message.bytes.count + payload.count, limit: Frame.maxMessage)
            }
            message.bytes += payload[2...]
            if payload[1] == 0 {
                partial = message
            } else {
                partial = nil
                context.fireChannelRead(NIOAny(Frame(kind: message.kind, payload: message.bytes)))
            }
            return .continue
        }
        guard partial == nil else { throw FrameError.badPart }
        context.fireChannelRead(NIOAny(Frame(kind: kind, payload: payload)))
        return .continue
    }
}

struct FrameEncoder: MessageToByteEncoder {
    typealias OutboundIn = Frame

    func encode(data: Frame, out: inout ByteBuffer) throws {
        out.writeBytes(data.bytes)
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// The framing handlers every cluster connection starts with;
    /// `accepting` on the side that accepted the connection.
    /// `admission` for an accepted connection (its handler admits the peer).
    func addFraming(admission: Admission?) throws {
        try addHandler(ByteToMessageHandler(FrameDecoder(admission: admission)))
        try addHandler(MessageToByteHandler(FrameEncoder()))
    }

    /// A peer connection's framing: frames in; out, whole frames already
    /// in ByteBuffers (`PeerLink` batches them).
    func addPeerFraming(admission: Admission?) throws {
        try addHandler(ByteToMessageHandler(FrameDecoder(admission: admission)))
    }
}

extension Frame {
    /// Appends the frame (header and payload) to `buffer`.
    func write(to buffer: inout ByteBuffer) {
        Frame.writeHeader(kind: kind, length: payload.count, to: &buffer)
        buffer.writeBytes(payload)
    }

    static func writeHeader(kind: UInt8, length: Int, to buffer: inout ByteBuffer) {
        buffer.writeBytes(magic)
        buffer.writeInteger(version)
        buffer.writeInteger(kind)
        buffer.writeInteger(UInt32(length))
    }
}

extension ChannelHandlerContext {
    /// "ip:port" of the other end, for logs.
    var peerDescription: String { channel.peerDescription }
}
