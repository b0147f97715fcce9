import NIOCore

/// Cuts a connection's bytes into frames. A header that is not ours is an
/// error, and the connection's handler closes that connection.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = Frame
    /// The payload limit of the next frame: `Frame.maxFirstPayload` for the
    /// first frame on the accepting side, `Frame.maxPayload` afterwards.
    private var limit: Int
    /// A message arriving in `part` frames: its kind and the bytes so far.
    private var partial: (kind: UInt8, bytes: [UInt8])?

    init(accepting: Bool) {
        limit = accepting ? Frame.maxFirstPayload : Frame.maxPayload
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let (kind, length) = try Frame.payloadLength(header: view.prefix(Frame.headerSize), limit: limit) else {
            return .needMoreData
        }
        guard view.count >= Frame.headerSize + length else { return .needMoreData }
        limit = Frame.maxPayload
        buffer.moveReaderIndex(forwardBy: Frame.headerSize)
        if kind == PeerMessage.Kind.object.rawValue && length >= Frame.bulkThreshold {
            guard partial == nil else { throw FrameError.badPart }
            // A piece of a large object: its bytes are copied once, into the object.
            context.fireChannelRead(NIOAny(Frame(kind: kind, payload: [], bulk: buffer.readSlice(length: length))))
            return .continue
        }
        let payload = buffer.readBytes(length: length) ?? []
        if kind == Frame.partKind {
            guard payload.count >= 2, partial == nil || partial!.kind == payload[0] else { throw FrameError.badPart }
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
    func addFraming(accepting: Bool) throws {
        try addHandler(ByteToMessageHandler(FrameDecoder(accepting: accepting)))
        try addHandler(MessageToByteHandler(FrameEncoder()))
    }

    /// A peer connection's framing: frames in; out, whole frames already
    /// in ByteBuffers (`PeerLink` batches them).
    func addPeerFraming(accepting: Bool) throws {
        try addHandler(ByteToMessageHandler(FrameDecoder(accepting: accepting)))
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
    var peerDescription: String {
        guard let address = remoteAddress else { return "?" }
        return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
    }
}
