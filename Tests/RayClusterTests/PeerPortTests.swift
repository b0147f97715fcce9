import Foundation
import NIOCore
import NIOPosix
import RayCore
import RayLua
import Testing
@testable import RayCluster

/// A node's peer port in this process: a runtime, its membership of an
/// in-process head, and the port other processes place work on.
@Suite("A node's peer port: token and bad input")
struct PeerPortTests {
    final class TestNode {
        let head: TestHead
        let runtime: Runtime
        let member: ClusterMember
        let server: Channel
        let address: String

        let unauthenticated: UnauthenticatedConnections

        init(limits: ConnectionLimits = .standard) throws {
            head = try TestHead()
            var settings = RuntimeSettings()
            settings.numCPUs = 1
            runtime = try Runtime(settings: settings)
            let client = try HeadClient.connect(to: head.address, hello: head.hello(role: .command), group: head.group)
            let logged = head.logged
            member = ClusterMember(runtime: runtime, token: "secret", nodeID: "node-1", isNode: true, head: client,
                                   group: head.group, log: { line in logged.withLock { $0.append(line) } })
            let member = self.member
            let unauthenticated = UnauthenticatedConnections(limits: limits)
            self.unauthenticated = unauthenticated
            server = try PeerServer.bind(host: "127.0.0.1", port: 0, group: head.group, unauthenticated: unauthenticated) { member }
            address = PeerServer.address(of: server, host: "127.0.0.1")
        }

        deinit {
            member.stop()
            try? server.close().wait()
            runtime.shutdown()
        }
    }

    @Test func aWrongTokenIsRefusedOnBothSides() throws {
        let node = try TestNode()
        #expect(throws: ClusterError.self) {
            try HeadClient.connect(to: node.address, hello: node.head.hello(token: "not-it", role: .driver), group: node.head.group)
        }
        do {
            _ = try HeadClient.connect(to: node.address, hello: node.head.hello(token: "", role: .driver), group: node.head.group)
            Issue.record("an empty token was accepted")
        } catch {
            #expect("\(error)".contains("refused the connection: no cluster token given"), "\(error)")
        }
        #expect(node.head.logged.withLock { $0.contains { $0.contains("refused a peer connection from 127.0.0.1") } })
        let welcome = try HeadClient.connect(to: node.address, hello: node.head.hello(role: .driver), group: node.head.group)
        #expect(welcome.welcome.headNodeID == "node-1", "the right token is welcomed by the node")
        welcome.close()
    }

    @Test func aPeerMessageBeforeHelloOrGarbageClosesOnlyThatConnection() throws {
        let node = try TestNode()
        for bytes in [PeerMessage.fetch([.next()]).frame.bytes, Array("GET / HTTP/1.1\r\n\r\n".utf8)] {
            let channel = try ClientBootstrap(group: node.head.group).connect(host: "127.0.0.1", port: node.server.localAddress!.port!).wait()
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            try channel.writeAndFlush(buffer).wait()
            try channel.closeFuture.wait()  // the node closes it (bounded by the node, not a timer here)
        }
        let good = try HeadClient.connect(to: node.address, hello: node.head.hello(role: .driver), group: node.head.group)
        #expect(good.welcome.headNodeID == "node-1", "the port still serves others")
        good.close()
    }
}
