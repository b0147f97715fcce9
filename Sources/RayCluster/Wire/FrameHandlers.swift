import NIOCore

/// Cuts a connection's bytes into frames. A header that is not ours is an
/// error, and the connection's handler closes that connection.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = Frame

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let (kind, length) = try Frame.payloadLength(header: view.prefix(Frame.headerSize)) else { return .needMoreData }
        guard view.count >= Frame.headerSize + length else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Frame.headerSize)
        let payload = buffer.readBytes(length: length) ?? []
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
    /// The framing handlers every cluster connection starts with.
    func addFraming() throws {
        try addHandler(ByteToMessageHandler(FrameDecoder()))
        try addHandler(MessageToByteHandler(FrameEncoder()))
    }
}
