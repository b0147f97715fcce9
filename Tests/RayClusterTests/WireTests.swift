import NIOCore
import NIOEmbedded
import RayCore
import RayLua
import Testing
@testable import RayCluster

@Suite("Cluster wire format: frames and messages")
struct WireTests {
    static let samples: [Message] = [
        .hello(.init(token: "t0k3n", role: .node, nodeID: "abc", incarnation: 1 << 40, address: "10.0.0.2:1234",
                     resources: ["CPU": 2, "GPU": 0.5])),
        .hello(.init(token: "", role: .command, nodeID: "", incarnation: 0, address: "", resources: [:])),
        .welcome(.init(headNodeID: "head", heartbeatInterval: 0.25)),
        .refused(reason: "wrong cluster token"),
        .heartbeat(.init(nodeID: "n1", incarnation: 7, available: ["CPU": 1.5], pendingTasks: 3)),
        .statusRequest,
        .status([.init(nodeID: "n1", address: "127.0.0.1:6379", isHead: true, alive: true, total: ["CPU": 2],
                       available: ["CPU": 1], pendingTasks: 0, lastSeen: 0),
                 .init(nodeID: "n2", address: "127.0.0.1", isHead: false, alive: false, total: ["CPU": 4, "GPU": 1],
                       available: [:], pendingTasks: 9, lastSeen: 12.5, owner: 0xfeed_beef)],
                jobs: [.init(jobID: "j1", running: true, age: 1.5), .init(jobID: "j2", running: false, age: 60)]),
        .registerActor(.init(id: .init(high: 1, low: 2), name: "counter", namespace: "ns", methods: ["incr", "get"], host: 42)),
        .actorRegistered(refusal: ""),
        .lookupActor(name: "counter", namespace: "ns"),
        .locateActor(.init(high: .max, low: 0)),
        .actorFound(nil),
        .actorFound(.init(id: .init(high: 3, low: 4), name: "", namespace: "", methods: [], host: .max)),
        .actorGone(.init(high: 5, low: 6)),
    ]

    static func task(_ kind: TaskSpec.Kind, environment: Bool = true) -> TaskSpec {
        var task = WireFixtures.task(kind: kind)
        if !environment { task.environment = TaskEnvironment() }
        return task
    }

    /// Peer messages round-trip: the message read back equals the one written.
    @Test func everyPeerMessageRoundTrips() throws {
        var options = ActorOptions(namespace: "ns")
        options.name = "counter"
        options.maxRestarts = -1
        options.detached = true
        let piece = PeerMessage.ObjectPiece(id: ID(high: 3, low: 3), isError: true, contained: [ID(high: 4, low: 4)],
                                            total: 10, offset: 4, data: ByteBuffer(bytes: [1, 2, 3]))
        let messages: [PeerMessage] = [
            .function(UniqueID(high: 1, low: 2), code: [9, 9]),
            .submit([Self.task(.function(UniqueID(high: 5, low: 5))), Self.task(.actorMethod(ID(high: 6, low: 6), method: "incr"), environment: false)]),
            .createActor(ActorCreation(options: options, className: "Counter", methods: ["incr"],
                                       creation: Self.task(.actorCreation(ID(high: 6, low: 6), classCode: [4]))),
                         classRefs: [ID(high: 2, low: 2)]),
            .finished(ID(high: 7, low: 8), results: [WireFixtures.wholePiece]),
            .fetch([ID(high: 1, low: 1)]),
            .object(piece),
            .lost(ID(high: 1, low: 1), reason: "freed"),
            .cancel(returning: ID(high: 1, low: 1), recursive: true),
            .killActor(ID(high: 6, low: 6), noRestart: false, request: 77),
            .done(request: 77),
            .output("task\tsays\n"),
        ]
        for message in messages {
            let frame = message.frame
            let back = try PeerMessage(frame)
            #expect(back == message)
            #expect(back.frame == frame, "\(message)")
            for cut in 0..<frame.payload.count {
                #expect(throws: WireError.self) { try PeerMessage(Frame(kind: frame.kind, payload: Array(frame.payload.prefix(cut)))) }
            }
        }
    }

    @Test func objectPiecesThatRunPastTheirObjectAreRefused() {
        let bad = PeerMessage.object(.init(id: ID(high: 1, low: 1), isError: false, contained: [], total: 2, offset: 1,
                                           data: ByteBuffer(bytes: [1, 2, 3])))
        #expect(throws: WireError.self) { try PeerMessage(bad.frame) }
    }

    /// A large piece stays in the connection's buffer (`bulk`) and reads the same.
    @Test func aLargePieceIsReadFromTheConnectionsBuffer() throws {
        let data = [UInt8](repeating: 7, count: Frame.bulkThreshold)
        let piece = PeerMessage.ObjectPiece(id: ID(high: 3, low: 3), isError: false, contained: [ID(high: 4, low: 4)],
                                            total: data.count * 2, offset: data.count, data: ByteBuffer(bytes: data))
        let frame = PeerMessage.object(piece).frame
        let bulk = Frame(kind: frame.kind, payload: [], bulk: ByteBuffer(bytes: frame.payload))
        guard case .object(let back) = try PeerMessage(bulk) else { Issue.record("not an object"); return }
        #expect(back == piece)
        var wrongKind = bulk
        wrongKind.kind = PeerMessage.Kind.submit.rawValue
        #expect(throws: WireError.self) { try PeerMessage(wrongKind) }
    }

    /// A message over the 64 MiB frame limit goes in `part` frames and
    /// comes out of the decoder whole; a part out of place closes the connection.
    @Test func aMessageLargerThanAFrameTravelsInParts() throws {
        let big = Frame(kind: PeerMessage.Kind.output.rawValue, payload: [UInt8](repeating: 5, count: Frame.maxPayload + 100))
        let parts = big.parts
        #expect(parts.count == 2 && parts.allSatisfy { $0.kind == Frame.partKind && $0.payload.count <= Frame.maxPayload })
        #expect(Frame(kind: 1, payload: [1, 2]).parts == [Frame(kind: 1, payload: [1, 2])])
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(accepting: false)))
        for part in parts {
            var buffer = channel.allocator.buffer(capacity: part.payload.count + Frame.headerSize)
            part.write(to: &buffer)
            try channel.writeInbound(buffer)
        }
        let whole = try #require(try channel.readInbound(as: Frame.self))
        #expect(whole == big)
        #expect(try channel.readInbound(as: Frame.self) == nil)

        let stray = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(accepting: false)))
        var buffer = stray.allocator.buffer(capacity: 64)
        Frame(kind: Frame.partKind, payload: [PeerMessage.Kind.output.rawValue, 0, 1]).write(to: &buffer)
        Frame(kind: PeerMessage.Kind.fetch.rawValue, payload: [0]).write(to: &buffer)
        #expect(throws: FrameError.badPart) { try stray.writeInbound(buffer) }
    }

    /// Before the peer showed the token, every frame is held to 64 KiB and
    /// parts are refused: nothing unauthenticated makes a process buffer more.
    @Test func anUnauthenticatedPeerCanSendNeitherPartsNorLargeFrames() throws {
        let admission = Admission()
        func feed(_ frames: [Frame]) throws {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(admission: admission)))
            var buffer = channel.allocator.buffer(capacity: 256)
            for frame in frames { frame.write(to: &buffer) }
            try channel.writeInbound(buffer)
        }
        let hello = Frame(kind: 1, payload: [0])
        #expect(throws: FrameError.badPart) { try feed([hello, Frame(kind: Frame.partKind, payload: [41, 0, 1])]) }
        let large = Frame(kind: PeerMessage.Kind.output.rawValue, payload: [UInt8](repeating: 1, count: Frame.maxFirstPayload + 1))
        #expect(throws: FrameError.tooLarge(large.payload.count, limit: Frame.maxFirstPayload)) { try feed([hello, large]) }
        admission.authenticated = true
        try feed([hello, large, Frame(kind: Frame.partKind, payload: [41, 1, 1])])
    }

    @Test func everyMessageRoundTrips() throws {
        for message in Self.samples {
            let bytes = message.frame.bytes
            let (kind, length) = try #require(try Frame.payloadLength(header: bytes))
            #expect(length == bytes.count - Frame.headerSize)
            let back = try Message(Frame(kind: kind, payload: Array(bytes[Frame.headerSize...])))
            #expect(back == message)
        }
    }

    @Test func headerStartsWithMagicVersionKindAndLength() {
        let bytes = Message.refused(reason: "no").frame.bytes
        #expect(Array(bytes[0..<4]) == Array("SRAY".utf8))
        #expect(bytes[4] == 5, "protocol version 5")
        #expect(bytes[5] == Message.Kind.refused.rawValue)
        #expect(Array(bytes[6..<10]) == [0, 0, 0, 3])
    }

    @Test func foreignHeadersAreRefusedAtOnce() throws {
        #expect(throws: FrameError.badMagic) { try Frame.payloadLength(header: Array("GET / HTTP/1.1\r\n".utf8)) }
        #expect(throws: FrameError.badMagic) { try Frame.payloadLength(header: Array("SX".utf8)) }  // before a full header
        #expect(throws: FrameError.tlsOnPlainConnection) { try Frame.payloadLength(header: [0x16, 0x03, 0x01]) }  // a TLS ClientHello
        #expect(throws: FrameError.unsupportedVersion(9)) {
            try Frame.payloadLength(header: Array("SRAY".utf8) + [9, 1, 0, 0, 0, 0])
        }
        #expect(throws: FrameError.tooLarge(0x7fff_ffff, limit: Frame.maxPayload)) {
            try Frame.payloadLength(header: Array("SRAY".utf8) + [Frame.version, 1, 0x7f, 0xff, 0xff, 0xff])
        }
        // Before the token is checked, a first frame may carry 64 KiB at most.
        #expect(throws: FrameError.tooLarge(1 << 20, limit: Frame.maxFirstPayload)) {
            try Frame.payloadLength(header: Array("SRAY".utf8) + [Frame.version, 1, 0, 0x10, 0, 0], limit: Frame.maxFirstPayload)
        }
        #expect(try Frame.payloadLength(header: Array("SRA".utf8)) == nil, "a partial header waits for more")
        // A process of the previous protocol (version 1) is refused, with the reason.
        #expect(throws: FrameError.unsupportedVersion(1)) {
            try Frame.payloadLength(header: Array("SRAY".utf8) + [1, 1, 0, 0, 0, 0])
        }
    }

    @Test func truncatedOrPaddedPayloadsAreErrorsNotCrashes() {
        for message in Self.samples {
            let frame = message.frame
            for cut in 0..<frame.payload.count {
                #expect(throws: WireError.self) { try Message(Frame(kind: frame.kind, payload: Array(frame.payload[..<cut]))) }
            }
            #expect(throws: WireError.self) { try Message(Frame(kind: frame.kind, payload: frame.payload + [0])) }
        }
        #expect(throws: WireError.unknownKind(200)) { try Message(Frame(kind: 200, payload: [])) }
        // A string length far past the payload.
        #expect(throws: WireError.self) { try Message(Frame(kind: Message.Kind.refused.rawValue, payload: [0xff, 0xff, 0x7f])) }
    }

    @Test func tokensCompareExactly() {
        #expect(ClusterToken.matches("abc", "abc"))
        #expect(!ClusterToken.matches("abd", "abc"))
        #expect(!ClusterToken.matches("ab", "abc"))
        #expect(!ClusterToken.matches("", "abc"))
        let token = ClusterToken.generate()
        #expect(token.count == 64 && token != ClusterToken.generate())
    }

    @Test func addressesAreParsed() throws {
        #expect(try parseAddress("127.0.0.1:6379") == ("127.0.0.1", 6379))
        #expect(try parseAddress("[::1]:7000") == ("::1", 7000))
        #expect(throws: ClusterError.self) { try parseAddress("localhost") }
        #expect(throws: ClusterError.self) { try parseAddress(":80") }
        #expect(throws: ClusterError.self) { try parseAddress("host:99999") }
    }
}
