import Dispatch
import NIOCore
import NIOPosix
import RayCore
import Testing
@testable import RayCluster

/// A listening server under test, the head's or a node's peer port, in
/// this process: where it listens, its unauthenticated connections, its
/// log, and what a client with the token says and expects back.
struct Listener: CustomTestStringConvertible, Sendable {
    let name: String
    let make: @Sendable (ConnectionLimits) throws -> Instance
    var testDescription: String { name }

    final class Instance {
        let port: Int
        let unauthenticated: UnauthenticatedConnections
        let group: EventLoopGroup
        let logged: Locked<[String]>
        /// The hello with the token; a request this server answers, and the kind of its answer.
        let hello: Message.Hello
        let probe: (request: Frame, answer: UInt8)
        private let keep: AnyObject

        init(port: Int, unauthenticated: UnauthenticatedConnections, group: EventLoopGroup, logged: Locked<[String]>,
             keep: AnyObject, hello: Message.Hello, probe: (Frame, UInt8)) {
            (self.port, self.unauthenticated, self.group, self.logged, self.keep, self.hello, self.probe) =
                (port, unauthenticated, group, logged, keep, hello, probe)
        }

        /// A plain TCP connection that sends nothing by itself.
        func raw() throws -> Channel {
            try ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).wait()
        }

        /// A connection that said hello with the token and was welcomed.
        func connect() throws -> FrameClient {
            let client = try FrameClient(group: group, port: port)
            client.send(Message.hello(hello).frame)
            let answer = try #require(client.next(), "no answer to hello")
            try #require(answer.kind == Message.Kind.welcome.rawValue, "hello answered with kind \(answer.kind)")
            return client
        }

        /// Whether `client` is still served: its request is answered.
        func serves(_ client: FrameClient) -> Bool {
            client.send(probe.request)
            return client.next()?.kind == probe.answer
        }

        func logContains(_ text: String) -> Bool { logged.withLock { $0.contains { $0.contains(text) } } }
    }

    static let head = Listener(name: "head server") { limits in
        let head = try TestHead(limits: limits)
        return Instance(port: head.channel.localAddress!.port!, unauthenticated: head.server.unauthenticated, group: head.group,
                        logged: head.logged, keep: head, hello: head.hello(role: .command),
                        probe: (Message.statusRequest.frame, Message.Kind.status.rawValue))
    }

    static let peerPort = Listener(name: "peer port") { limits in
        let node = try PeerPortTests.TestNode(limits: limits)
        return Instance(port: node.server.localAddress!.port!, unauthenticated: node.unauthenticated, group: node.head.group,
                        logged: node.head.logged, keep: node, hello: node.head.hello(role: .driver),
                        probe: (PeerMessage.fetch([.next()]).frame, PeerMessage.Kind.lost.rawValue))
    }
}

/// A cluster connection that sends frames and takes the frames that come back, in order.
final class FrameClient {
    let channel: Channel
    private let received = Locked<[Frame]>([])
    private let arrived = DispatchSemaphore(value: 0)

    init(group: EventLoopGroup, port: Int) throws {
        let received = self.received, arrived = self.arrived
        channel = try ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addFraming(admission: nil)
                    try channel.pipeline.syncOperations.addHandler(Collector { frame in
                        received.withLock { $0.append(frame) }
                        arrived.signal()
                    })
                }
            }
            .connect(host: "127.0.0.1", port: port).wait()
    }

    func send(_ frame: Frame) {
        channel.writeAndFlush(frame, promise: nil)
    }

    /// The next frame, or nil when none came within 10 s.
    func next() -> Frame? {
        guard arrived.wait(timeout: .now() + 10) == .success else { return nil }
        return received.withLock { $0.removeFirst() }
    }

    func close() { try? channel.close().wait() }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = Frame
        let take: (Frame) -> Void
        init(_ take: @escaping (Frame) -> Void) { self.take = take }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { take(unwrapInboundIn(data)) }
    }
}

/// Polls `condition` until it holds or `timeout` seconds pass.
func eventually(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = DispatchTime.now() + timeout
    while !condition() {
        guard DispatchTime.now() < deadline else { return false }
        usleep(2_000)
    }
    return true
}

/// Waits (at most `timeout` s) for the other side to close `channel`.
func closedByServer(_ channel: Channel, timeout: Double = 10) -> Bool {
    let closed = DispatchSemaphore(value: 0)
    channel.closeFuture.whenComplete { _ in closed.signal() }
    return closed.wait(timeout: .now() + timeout) == .success
}

@Suite("Connections without the token are bounded: time, number, bytes")
struct UnauthenticatedConnectionTests {
    @Test(arguments: [Listener.head, Listener.peerPort])
    func aSilentConnectionIsClosedAfterTheTimeoutAndAnAuthenticatedOneIsNot(_ listener: Listener) throws {
        let server = try listener.make(ConnectionLimits(handshakeTimeout: 0.3, maxUnauthenticated: 64))
        let client = try server.connect()
        defer { client.close() }
        let silent = try server.raw()
        #expect(closedByServer(silent), "a connection that sent nothing was still open after 10 s (timeout 0.3 s)")
        #expect(server.logContains("no hello with the cluster token within 0.3 s"), "\(server.logged.withLock { $0 })")
        // The client connected before the silent one: its own deadline would have passed too.
        #expect(server.serves(client), "the authenticated connection was closed by the handshake timeout")
        #expect(eventually { server.unauthenticated.open == 0 }, "\(server.unauthenticated.open) still counted")
    }

    @Test(arguments: [Listener.head, Listener.peerPort])
    func aSlowLorisIsClosedByTheSameTimeout(_ listener: Listener) throws {
        let server = try listener.make(ConnectionLimits(handshakeTimeout: 0.5, maxUnauthenticated: 64))
        let slow = try server.raw()
        // A hello whose bytes come one every 20 ms, never finished in time.
        let bytes = Frame(kind: Message.Kind.hello.rawValue, payload: Array(repeating: 1, count: 1000)).bytes
        let sent = Locked(0)
        let trickle = slow.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(20)) { _ in
            let next = sent.withLock { count -> Int in
                defer { count += 1 }
                return count
            }
            guard next < bytes.count else { return }
            var buffer = slow.allocator.buffer(capacity: 1)
            buffer.writeInteger(bytes[next])
            slow.writeAndFlush(buffer, promise: nil)
        }
        defer { trickle.cancel() }
        #expect(closedByServer(slow), "a connection sending a byte every 20 ms was still open after 10 s (timeout 0.5 s)")
        #expect(sent.withLock { $0 } > 1, "bytes kept coming before the close")
        #expect(server.logContains("no hello with the cluster token within 0.5 s"), "\(server.logged.withLock { $0 })")
        #expect(eventually { server.unauthenticated.open == 0 && server.unauthenticated.bytes == 0 })
    }

    @Test(arguments: [Listener.head, Listener.peerPort])
    func oneConnectionOverTheLimitIsRefusedWhileAnAuthenticatedClientWorks(_ listener: Listener) throws {
        let limit = 4
        let server = try listener.make(ConnectionLimits(handshakeTimeout: 60, maxUnauthenticated: limit))
        let client = try server.connect()
        defer { client.close() }
        let silent = try (0..<limit).map { _ in try server.raw() }
        #expect(eventually { server.unauthenticated.open == limit }, "\(server.unauthenticated.open) of \(limit) counted")
        let extra = try server.raw()
        #expect(closedByServer(extra), "connection \(limit + 1) without the token was not refused")
        #expect(server.logContains("\(limit) connections without the cluster token are open already"))
        #expect(silent.allSatisfy { $0.isActive }, "the ones within the limit stay until their timeout")
        #expect(server.serves(client), "the authenticated client stopped being served during the flood")
        for channel in silent { try channel.close().wait() }
        #expect(eventually { server.unauthenticated.open == 0 }, "closed connections still counted: \(server.unauthenticated.open)")
        let later = try server.connect()  // room again
        #expect(server.serves(later))
        later.close()
    }

    @Test(arguments: [Listener.head, Listener.peerPort])
    func partialHellosHoldNothingOnceClosed(_ listener: Listener) throws {
        let server = try listener.make(ConnectionLimits(handshakeTimeout: 60, maxUnauthenticated: 64))
        // A hello announcing the largest first frame, and all of it but its last byte.
        let hello = Frame(kind: Message.Kind.hello.rawValue, payload: Array(repeating: 7, count: Frame.maxFirstPayload)).bytes
        let partial = Array(hello.dropLast())
        for round in 1...4 {
            let channels = try (0..<64).map { _ in
                let channel = try server.raw()
                var buffer = channel.allocator.buffer(capacity: partial.count)
                buffer.writeBytes(partial)
                channel.writeAndFlush(buffer, promise: nil)
                return channel
            }
            #expect(eventually { server.unauthenticated.bytes == 64 * partial.count },
                    "round \(round): the server counts \(server.unauthenticated.bytes) bytes, expected \(64 * partial.count)")
            #expect(server.unauthenticated.open == 64)
            for channel in channels { try channel.close().wait() }
            #expect(eventually { server.unauthenticated.open == 0 && server.unauthenticated.bytes == 0 },
                    "round \(round): after the close \(server.unauthenticated.open) connections, \(server.unauthenticated.bytes) bytes held")
        }
        // Past a first frame's worth without a hello: closed at once.
        let greedy = try server.raw()
        var buffer = greedy.allocator.buffer(capacity: hello.count + 100)
        buffer.writeBytes(Array("SRAY".utf8) + [Frame.version, Message.Kind.hello.rawValue, 0, 1, 0, 1])
        try greedy.writeAndFlush(buffer).wait()
        #expect(closedByServer(greedy), "a first frame over 64 KiB was accepted")
        let client = try server.connect()
        #expect(server.serves(client))
        client.close()
    }
}
