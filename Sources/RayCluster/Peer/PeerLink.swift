import NIOCore
import NIOPosix
import RayCore

/// One connection between two processes of the cluster, either side's:
/// what goes out in order, and who is at the other end.
///
/// Messages are written in the order `send` is called from one thread:
/// each write is queued behind the connection's setup (a dialled link can
/// be used before it is connected; the peer reads `hello` first).
final class PeerLink: Sendable {
    let channel: EventLoopFuture<Channel>
    /// The other process's id prefix (what its objects' ids start with).
    let owner: UInt64
    /// A driver at the other end (it does not listen; it goes away with its job).
    let isDriver: Bool
    /// Remote functions whose code went out on this link.
    private let sentFunctions = Locked<Set<UniqueID>>([])

    init(channel: EventLoopFuture<Channel>, owner: UInt64, isDriver: Bool) {
        self.channel = channel
        self.owner = owner
        self.isDriver = isDriver
    }

    func send(_ message: PeerMessage) {
        send(message.frame)
    }

    func send(_ frame: Frame) {
        channel.whenSuccess { $0.writeAndFlush(frame, promise: nil) }
    }

    /// Sends an object in pieces, with back-pressure.
    func send(object: StoredObject, as id: ObjectID) {
        channel.whenSuccess { ObjectTransfer.send(id, object, on: $0) }
    }

    /// True the first time it is asked for a function: its code must go out first.
    func needsCode(_ function: UniqueID) -> Bool {
        sentFunctions.withLock { $0.insert(function).inserted }
    }

    func close() {
        channel.whenSuccess { $0.close(promise: nil) }
    }
}

/// Reads one peer connection: checks the other side's `hello` (accepting)
/// or waits for `welcome` (dialling), then hands every message to the
/// member. A malformed frame closes this connection and nothing else.
final class PeerHandler: ChannelInboundHandler, @unchecked Sendable {
    // Confined to the channel's event loop, like every NIO handler.
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    private let member: ClusterMember
    private let accepting: Bool
    private var link: PeerLink?

    /// A dialled connection is bound to its link from the start.
    init(member: ClusterMember, dialled link: PeerLink?) {
        self.member = member
        self.link = link
        accepting = link == nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if PeerMessage.isPeerKind(frame.kind) {
            guard let link, !accepting || authenticated else {
                return close(context, because: "a peer message before hello")
            }
            do {
                member.handle(try PeerMessage(frame), from: link)
            } catch {
                close(context, because: "\(error)")
            }
            return
        }
        let message: Message
        do {
            message = try Message(frame)
        } catch {
            return close(context, because: "\(error)")
        }
        switch message {
        case .hello(let hello) where accepting && !authenticated:
            guard ClusterToken.matches(hello.token, member.token) else {
                let reason = hello.token.isEmpty ? "no cluster token given" : "wrong cluster token"
                member.log("refused a peer connection from \(peer(context)): \(reason)")
                let closing = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(Message.refused(reason: reason).frame)).whenComplete { _ in
                    closing.value.close(promise: nil)
                }
                return
            }
            authenticated = true
            let accepted = PeerLink(channel: context.eventLoop.makeSucceededFuture(context.channel), owner: hello.owner,
                                    isDriver: hello.role == .driver)
            link = accepted
            member.accepted(accepted)
            let welcome = Message.welcome(.init(headNodeID: member.nodeID, heartbeatInterval: 0, owner: UniqueID.localPrefix))
            context.writeAndFlush(wrapOutboundOut(welcome.frame), promise: nil)
        case .welcome where !accepting:
            break
        case .refused(let reason) where !accepting:
            member.log("a peer refused the connection: \(reason)")
            context.close(promise: nil)
        default:
            close(context, because: "unexpected message kind \(frame.kind)")
        }
    }

    private var authenticated = false

    private func close(_ context: ChannelHandlerContext, because reason: String) {
        member.log("closed a peer connection from \(peer(context)): \(reason)")
        context.close(promise: nil)
    }

    private func peer(_ context: ChannelHandlerContext) -> String {
        guard let address = context.remoteAddress else { return "?" }
        return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        close(context, because: "\(error)")
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let link { member.closed(link) }
        context.fireChannelInactive()
    }
}
