import NIOCore
import NIOPosix
import RayCore

/// One connection between two processes of the cluster, either side's:
/// what goes out in order, and who is at the other end.
///
/// Sending: frames go into an outbox, and one turn of the connection's
/// event loop writes everything in it with one write and one flush — so
/// a burst of tasks or results costs a few system calls, not one each.
/// Frames from one thread go out in the order they were sent; a dialled
/// link can be used before it is connected (the peer reads `hello` first).
final class PeerLink: Sendable {
    let channel: EventLoopFuture<Channel>
    /// The other process's id prefix (what its objects' ids start with).
    let owner: UInt64
    /// A driver at the other end (it does not listen; it goes away with its job).
    let isDriver: Bool
    /// Frames waiting for the next turn of the event loop, and the remote
    /// functions whose code went out on this link (under the same lock, so
    /// a function's code is always queued before any task that runs it).
    private struct Outbox {
        var frames: [Frame] = []
        var bytes = 0
        var scheduled = false
        var sentFunctions: Set<UniqueID> = []
    }
    private let outbox = Locked(Outbox())

    init(channel: EventLoopFuture<Channel>, owner: UInt64, isDriver: Bool) {
        self.channel = channel
        self.owner = owner
        self.isDriver = isDriver
    }

    func send(_ message: PeerMessage) {
        send([message.frame])
    }

    /// Queues a task, preceded by its function's code the first time this
    /// link carries the function (`code` gives it).
    /// Sends a task, preceded once per link by the code it needs: its
    /// function's and its environment's blobs (all kept in the function table).
    func send(task: TaskSpec, code: (UniqueID) -> [UInt8]?) {
        var needed: [UniqueID] = []
        if case .function(let function) = task.kind { needed.append(function) }
        send(PeerMessage.submit([task]).frame, after: needed + task.environment.ids, code: code)
    }

    /// Sends `frame`, preceded by the code blobs in `needed` this link has not carried yet.
    func send(_ frame: Frame, after needed: [UniqueID], code: (UniqueID) -> [UInt8]?) {
        guard !needed.isEmpty else { return send([frame]) }
        enqueue { box in
            var frames: [Frame] = []
            for id in needed where box.sentFunctions.insert(id).inserted {
                if let bytes = code(id) { frames.append(PeerMessage.function(id, code: bytes).frame) }
            }
            frames.append(frame)
            return frames
        }
    }

    func send(_ frames: [Frame]) {
        enqueue { _ in frames }
    }

    private func enqueue(_ make: (inout Outbox) -> [Frame]) {
        let schedule = outbox.withLock { box -> Bool in
            for frame in make(&box) {
                guard frame.payload.count > Frame.maxPayload else {  // the usual case: no array of parts
                    box.frames.append(frame)
                    box.bytes += Frame.headerSize + frame.payload.count
                    continue
                }
                for part in frame.parts {
                    box.frames.append(part)
                    box.bytes += Frame.headerSize + part.payload.count
                }
            }
            defer { box.scheduled = true }
            return !box.scheduled
        }
        if schedule { channel.whenSuccess { channel in channel.eventLoop.execute { self.drain(channel) } } }
    }

    /// Writes every frame in the outbox; on the channel's event loop.
    private func drain(_ channel: Channel) {
        let (frames, bytes) = outbox.withLock { box in
            defer {
                box.frames = []
                box.bytes = 0
                box.scheduled = false
            }
            return (box.frames, box.bytes)
        }
        guard !frames.isEmpty else { return }
        // One write for the usual burst; a huge outbox goes in writes of
        // about 64 MiB (a buffer holds at most 4 GiB).
        var buffer = channel.allocator.buffer(capacity: min(bytes, Frame.maxPayload + Frame.headerSize))
        for frame in frames {
            if buffer.readableBytes > 0 && buffer.readableBytes + frame.payload.count > Frame.maxPayload {
                channel.write(buffer, promise: nil)
                buffer = channel.allocator.buffer(capacity: Frame.headerSize + frame.payload.count)
            }
            frame.write(to: &buffer)
        }
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Sends an object: small ones through the outbox, large ones in
    /// pieces with back-pressure (after what the outbox holds). The future
    /// completes once the last piece is written, or fails if the
    /// connection closes first.
    @discardableResult
    func send(object: StoredObject, as id: ObjectID) -> EventLoopFuture<Void> {
        guard object.bytes.count > ObjectTransfer.chunkSize else {
            send(.object(ObjectTransfer.piece(id, object)))
            return channel.map { _ in }
        }
        return channel.flatMap { channel in
            let done = channel.eventLoop.makePromise(of: Void.self)
            channel.eventLoop.execute {
                self.drain(channel)
                ObjectTransfer.sendPieces(id, object, from: 0, on: channel, done: done)
            }
            return done.futureResult
        }
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
    typealias OutboundOut = ByteBuffer

    private let member: ClusterMember
    private let accepting: Bool
    private var link: PeerLink?
    private var authenticated = false

    private let admission: Admission?

    /// A dialled connection is bound to its link from the start.
    init(member: ClusterMember, dialled link: PeerLink) {
        self.member = member
        self.link = link
        accepting = false
        admission = nil
    }

    /// An accepted connection: its link comes with the peer's `hello`.
    init(member: ClusterMember, admission: Admission) {
        self.member = member
        link = nil
        accepting = true
        self.admission = admission
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
                member.log("refused a peer connection from \(context.peerDescription): \(reason)")
                let closing = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(buffer(Message.refused(reason: reason).frame, context))).whenComplete { _ in
                    closing.value.close(promise: nil)
                }
                return
            }
            authenticated = true
            admission?.authenticated = true
            let accepted = PeerLink(channel: context.eventLoop.makeSucceededFuture(context.channel), owner: hello.owner,
                                    isDriver: hello.role == .driver)
            link = accepted
            member.accepted(accepted)
            let welcome = Message.welcome(.init(headNodeID: member.nodeID, heartbeatInterval: 0, owner: UniqueID.localPrefix))
            context.writeAndFlush(wrapOutboundOut(buffer(welcome.frame, context)), promise: nil)
        case .welcome where !accepting:
            break
        case .refused(let reason) where !accepting:
            member.log("a peer refused the connection: \(reason)")
            context.close(promise: nil)
        default:
            close(context, because: "unexpected message kind \(frame.kind)")
        }
    }

    private func buffer(_ frame: Frame, _ context: ChannelHandlerContext) -> ByteBuffer {
        var buffer = context.channel.allocator.buffer(capacity: Frame.headerSize + frame.payload.count)
        frame.write(to: &buffer)
        return buffer
    }

    private func close(_ context: ChannelHandlerContext, because reason: String) {
        member.log("closed a peer connection from \(context.peerDescription): \(reason)")
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if ClusterTLS.isQuietClose(error) && (authenticated || !accepting) {
            context.close(promise: nil)  // a peer that was done left without a TLS close
            return
        }
        close(context, because: ClusterTLS.describe(error) ?? "\(error)")
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let link { member.closed(link) }
        context.fireChannelInactive()
    }
}
