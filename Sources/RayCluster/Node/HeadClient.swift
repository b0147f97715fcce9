import NIOCore
import NIOPosix
import RayCore

/// A connection to the head: says hello with the token, waits for the
/// answer, then sends messages and takes replies in order.
final class HeadClient: Sendable {
    let channel: Channel
    let welcome: Message.Welcome
    private let replies: ReplyQueue

    private init(channel: Channel, welcome: Message.Welcome, replies: ReplyQueue) {
        self.channel = channel
        self.welcome = welcome
        self.replies = replies
    }

    /// Connects and authenticates. Throws a `ClusterError` that says what
    /// went wrong: no head there, no answer within `timeout` seconds (to any
    /// request on this connection), or the head refused the token.
    static func connect(to address: String, hello: Message.Hello, group: EventLoopGroup,
                        timeout: Double = 10) throws -> HeadClient {
        let (host, port) = try parseAddress(address)
        let replies = ReplyQueue(timeout: timeout)
        let channel: Channel
        do {
            channel = try ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addClientTLS()
                        try channel.pipeline.syncOperations.addFraming(admission: nil)
                        try channel.pipeline.syncOperations.addHandler(ReplyHandler(replies: replies))
                    }
                }
                .connect(host: host, port: port).wait()
        } catch {
            throw ClusterError("cannot connect to the head at \(address): \(error)")
        }
        let answer: Message
        do {
            answer = try replies.request(.hello(hello), on: channel).wait()
        } catch {
            channel.close(promise: nil)
            // Closed without a word: a server closes at accept when it has as
            // many connections without the token as it allows (a flood), and a
            // TLS server closes a plain connection.
            let hint = "\(error)" == "connection closed"
                ? " (it closes new connections while \(ConnectionLimits.standard.maxUnauthenticated) without the token are open, and when one side uses TLS and the other does not: check RAY_USE_TLS)"
                : ""
            throw ClusterError("no welcome from the head at \(address): \(error)\(hint)")
        }
        switch answer {
        case .welcome(let welcome):
            return HeadClient(channel: channel, welcome: welcome, replies: replies)
        case .refused(let reason):
            channel.close(promise: nil)
            throw ClusterError("the head at \(address) refused the connection: \(reason) (use the token printed by `ray start --head`: --token or RAY_TOKEN)")
        default:
            channel.close(promise: nil)
            throw ClusterError("the head at \(address) answered hello with an unexpected message")
        }
    }

    /// Sends without waiting for a reply; the future completes once the
    /// frame is written to the socket.
    @discardableResult
    func send(_ message: Message) -> EventLoopFuture<Void> {
        channel.writeAndFlush(message.frame)
    }

    func request(_ message: Message) throws -> Message {
        try replies.request(message, on: channel).wait()
    }

    /// A request whose answer completes the future (usable on an event loop).
    func requestAsync(_ message: Message) -> EventLoopFuture<Message> {
        replies.request(message, on: channel)
    }

    func close() {
        try? channel.close().wait()
    }
}

/// "host:port" -> parts; the host may be a bracketed IPv6 address.
func parseAddress(_ address: String) throws -> (host: String, port: Int) {
    guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
          (1...65535).contains(port) else {
        throw ClusterError("bad address '\(address)': expected HOST:PORT, e.g. 127.0.0.1:6379")
    }
    var host = String(address[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty else { throw ClusterError("bad address '\(address)': no host") }
    return (host, port)
}

/// Promises for replies, fulfilled in the order the requests were sent
/// (the head answers each connection in order).
///
/// Every promise is completed exactly once, by whoever takes it out of the
/// queue under the lock: a reply, or the connection's end. A request that
/// gets no answer in time closes the connection, which ends them all with
/// the reason; so does a request made after the connection closed.
private final class ReplyQueue: Sendable {
    private let timeout: Double
    private let state = Locked<(pending: [EventLoopPromise<Message>], closed: Bool, reason: String?)>(([], false, nil))

    init(timeout: Double) { self.timeout = timeout }

    func request(_ message: Message, on channel: Channel) -> EventLoopFuture<Message> {
        let promise = channel.eventLoop.makePromise(of: Message.self)
        let queued = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.pending.append(promise)
            channel.writeAndFlush(message.frame, promise: nil)  // under the lock: order matches the queue
            return true
        }
        guard queued else {
            promise.fail(ClusterError(state.withLock { $0.reason } ?? "connection closed"))
            return promise.futureResult
        }
        let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) { [self] in
            state.withLock { $0.reason = $0.reason ?? "no answer within \(formatAmount(timeout)) s" }
            channel.close(promise: nil)  // ends every waiting request, through `closed`
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        return promise.futureResult
    }

    func deliver(_ message: Message) {
        let promise = state.withLock { $0.pending.isEmpty ? nil : $0.pending.removeFirst() }
        promise?.succeed(message)
    }

    /// The connection ended: fails what waits, and every later request.
    func closed(_ error: Error) {
        let (promises, reason) = state.withLock { state in
            defer {
                state.pending = []
                state.closed = true
            }
            state.reason = state.reason ?? "\(error)"
            return (state.pending, state.reason!)
        }
        for promise in promises { promise.fail(ClusterError(reason)) }
    }
}

private final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    private let replies: ReplyQueue

    init(replies: ReplyQueue) { self.replies = replies }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            replies.deliver(try Message(unwrapInboundIn(data)))
        } catch {
            replies.closed(error)
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        replies.closed(ClusterError(ClusterTLS.describe(error) ?? "\(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        replies.closed(ClusterError("connection closed"))
        context.fireChannelInactive()
    }
}
