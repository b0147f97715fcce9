import Foundation
import NIOCore
import NIOPosix
import RayCore
import Testing
@testable import RayCluster

/// A head server on a loopback port, in this process.
final class TestHead {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let server: HeadServer
    let channel: Channel
    let address: String
    let logged = Locked<[String]>([])
    private let newLine = DispatchSemaphore(value: 0)

    init(token: String = "secret", limits: ConnectionLimits = .standard) throws {
        let logged = self.logged, newLine = self.newLine
        server = HeadServer(token: token, headNodeID: "head-node", heartbeatInterval: 0.05, limits: limits) { line in
            logged.withLock { $0.append(line) }
            newLine.signal()
        }
        channel = try server.bind(host: "127.0.0.1", port: 0, group: group)
        address = "127.0.0.1:\(channel.localAddress!.port!)"
    }

    func hello(token: String = "secret", role: Message.Hello.Role = .node, nodeID: String = UniqueID.next().hex,
               resources: [String: Double] = ["CPU": 2]) -> Message.Hello {
        .init(token: token, role: role, nodeID: nodeID, incarnation: 1, address: "", resources: resources)
    }

    /// Waits (at most `timeout` s) until the head logs a line containing `text`.
    func waitForLog(_ text: String, timeout: Double = 10) -> Bool {
        let deadline = DispatchTime.now() + timeout
        while !logged.withLock({ $0.contains { $0.contains(text) } }) {
            guard newLine.wait(timeout: deadline) == .success else { return false }
        }
        return true
    }

    deinit {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

@Suite("Head server: token, directory, bad input")
struct HeadServerTests {
    @Test func aNodeWithTheTokenJoinsAndShowsInStatus() throws {
        let head = try TestHead()
        let node = try HeadClient.connect(to: head.address, hello: head.hello(nodeID: "worker-1", resources: ["CPU": 4, "GPU": 1]),
                                          group: head.group)
        defer { node.close() }
        #expect(node.welcome.headNodeID == "head-node")
        try node.send(.heartbeat(.init(nodeID: "worker-1", incarnation: 1, available: ["CPU": 3, "GPU": 1], pendingTasks: 2))).wait()
        let status = try HeadClient.connect(to: head.address, hello: head.hello(role: .command), group: head.group)
        defer { status.close() }
        // The heartbeat is in the head's socket buffer, but on another
        // connection than the requests: ask until the head has read it (bounded).
        var seen: Message.NodeInfo?
        for _ in 0..<200 {
            guard case .status(let nodes, _) = try status.request(.statusRequest) else { break }
            seen = nodes.first { $0.nodeID == "worker-1" }
            if seen?.pendingTasks == 2 { break }
        }
        let worker = try #require(seen)
        #expect(worker.alive && !worker.isHead)
        #expect(worker.total == ["CPU": 4, "GPU": 1])
        #expect(worker.available == ["CPU": 3, "GPU": 1])
        #expect(worker.pendingTasks == 2)
        #expect(worker.address == "127.0.0.1")
    }

    @Test func aWrongOrMissingTokenIsRefusedOnBothSides() throws {
        let head = try TestHead()
        for token in ["wrong", ""] {
            do {
                _ = try HeadClient.connect(to: head.address, hello: head.hello(token: token), group: head.group)
                Issue.record("a connection with token '\(token)' was accepted")
            } catch let error as ClusterError {
                #expect(error.description.contains(token.isEmpty ? "no cluster token given" : "wrong cluster token"))
                #expect(error.description.contains("refused"))
            }
        }
        #expect(head.logged.withLock { $0.filter { $0.contains("refused a connection") }.count } == 2)
        #expect(head.server.status().isEmpty, "refused nodes are not registered")
    }

    @Test func malformedBytesCloseThatConnectionOnly() throws {
        let head = try TestHead()
        let good = try HeadClient.connect(to: head.address, hello: head.hello(role: .command), group: head.group)
        defer { good.close() }
        for garbage in [Array("GET / HTTP/1.1\r\n\r\n".utf8), Array("SRAY".utf8) + [7, 1, 0, 0, 0, 0],
                        Frame(kind: 99, payload: [1, 2, 3]).bytes,
                        Frame(kind: Message.Kind.hello.rawValue, payload: [0xff]).bytes] {
            let raw = try ClientBootstrap(group: head.group).connect(host: "127.0.0.1", port: head.channel.localAddress!.port!).wait()
            var buffer = raw.allocator.buffer(capacity: garbage.count)
            buffer.writeBytes(garbage)
            try raw.writeAndFlush(buffer).wait()
            try raw.closeFuture.wait()  // the head closes it
        }
        guard case .status = try good.request(.statusRequest) else {
            Issue.record("the good connection stopped answering")
            return
        }
    }

    @Test func aNodeThatLeavesIsReportedDead() throws {
        let head = try TestHead()
        let node = try HeadClient.connect(to: head.address, hello: head.hello(nodeID: "leaver"), group: head.group)
        #expect(head.server.status().first { $0.nodeID == "leaver" }?.alive == true)
        node.close()
        #expect(head.waitForLog("node leaver left"), "the head did not notice the node leave within 10 s")
        #expect(head.server.status().first { $0.nodeID == "leaver" }?.alive == false)
    }

    @Test func anOlderIncarnationDoesNotReplaceANewerOne() throws {
        let head = try TestHead()
        var newer = head.hello(nodeID: "n", resources: ["CPU": 8])
        newer.incarnation = 5
        var older = newer
        older.incarnation = 4
        older.resources = ["CPU": 1]
        head.server.register(newer)
        head.server.register(older)
        #expect(head.server.status().first?.total == ["CPU": 8])
        #expect(head.waitForLog("ignored a hello from an older incarnation of node n"))
    }
}

/// A TCP listener that is not a head: it accepts and then stays silent, or
/// closes at once.
final class MuteListener {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let channel: Channel
    var address: String { "127.0.0.1:\(channel.localAddress!.port!)" }

    init(closeAtOnce: Bool) throws {
        channel = try ServerBootstrap(group: group)
            .childChannelInitializer { child in
                if closeAtOnce { return child.close() }
                return child.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    deinit {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

@Suite("Head client: peers that do not answer")
struct HeadClientTests {
    static let hello = Message.Hello(token: "t", role: .command, nodeID: "c", incarnation: 0, address: "", resources: [:])

    @Test func aSilentPeerTimesOutWithAClearError() throws {
        let listener = try MuteListener(closeAtOnce: false)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        do {
            _ = try HeadClient.connect(to: listener.address, hello: Self.hello, group: group, timeout: 0.3)
            Issue.record("a peer that never answers was taken for a head")
        } catch let error as ClusterError {
            #expect(error.description.contains("no answer within 0.30 s"), "\(error)")
        }
    }

    @Test func aPeerThatClosesAtOnceIsAnErrorNeverAHang() throws {
        let listener = try MuteListener(closeAtOnce: true)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        for _ in 0..<50 {
            // The timeout is the backstop; the close must end the wait first.
            do {
                _ = try HeadClient.connect(to: listener.address, hello: Self.hello, group: group, timeout: 30)
                Issue.record("a peer that closed was taken for a head")
            } catch let error as ClusterError {
                #expect(!error.description.contains("no answer within"), "waited for the timeout: \(error)")
            }
        }
    }
}
