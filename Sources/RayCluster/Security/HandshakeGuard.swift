import NIOCore

/// The first handler of an accepted connection (after TLS): holds the
/// connection's place among the server's unauthenticated ones until the
/// connection handler admits the peer (`Admission`), and closes the
/// connection when that has not happened within the handshake timeout
/// (a silent peer, or one that sends a byte a second) or when more than a
/// first frame's worth of bytes came without a hello. Once the peer is
/// admitted it gives its place back and leaves the pipeline, so an
/// authenticated connection pays nothing for it.
final class HandshakeGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The most a peer may send before its hello is read: one first frame.
    static let maxBytesBeforeHello = Frame.headerSize + Frame.maxFirstPayload

    private let admission: Admission
    private let ticket: UnauthenticatedConnections.Ticket
    private let timeout: Double
    private let log: @Sendable (String) -> Void
    private var deadline: Scheduled<Void>?

    init(admission: Admission, ticket: UnauthenticatedConnections.Ticket, timeout: Double,
         log: @escaping @Sendable (String) -> Void) {
        self.admission = admission
        self.ticket = ticket
        self.timeout = timeout
        self.log = log
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel, peer = context.peerDescription, log = self.log, timeout = self.timeout
        deadline = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) {
            log("closed a connection from \(peer): no hello with the cluster token within \(ConnectionLimits.text(seconds: timeout)) s")
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        ticket.release()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        ticket.received(unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
        if admission.authenticated {
            deadline?.cancel()
            ticket.release()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } else if ticket.bytes > Self.maxBytesBeforeHello && context.channel.isActive {
            log("closed a connection from \(context.peerDescription): more than \(Self.maxBytesBeforeHello) bytes before a hello")
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        ticket.release()
        context.fireChannelInactive()
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Puts an accepted connection under the server's limits for
    /// unauthenticated peers; false (and the caller closes the channel)
    /// when the server has as many as it allows.
    func addHandshakeGuard(_ connections: UnauthenticatedConnections, admission: Admission, peer: String,
                           log: @escaping @Sendable (String) -> Void) throws -> Bool {
        guard let ticket = connections.admit(peer: peer, log: log) else { return false }
        try addHandler(HandshakeGuard(admission: admission, ticket: ticket, timeout: connections.limits.handshakeTimeout, log: log))
        return true
    }
}
