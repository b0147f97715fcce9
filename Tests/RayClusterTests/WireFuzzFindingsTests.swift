import Foundation
import NIOCore
import NIOEmbedded
import Testing
@testable import RayCluster

/// Inputs the wire fuzz targets found (scripts/fuzz/repro/), fed as they
/// were found: each must now end in a clean error.
@Suite("Wire inputs found by fuzzing")
struct WireFuzzFindingsTests {
    /// A frame-target input: mode (0: the side that dialled), read size, then the connection's bytes.
    static func frameInput(_ name: String) throws -> (mode: UInt8, stream: [UInt8]) {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/fuzz/repro/frame/\(name)")
        let bytes = [UInt8](try Data(contentsOf: url))
        return (bytes[0] % 3, Array(bytes.dropFirst(2)))
    }

    /// Part frames whose message kind is `partKind` were joined and handed on
    /// as a frame of that kind; such a part is malformed.
    @Test func aPartCarryingAPartIsRefused() throws {
        let (mode, stream) = try Self.frameInput("part-carrying-a-part.bin")
        #expect(mode == 0)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(accepting: false)))
        #expect(throws: FrameError.badPart) { try channel.writeInbound(ByteBuffer(bytes: stream)) }
        var frames: [Frame] = []
        while let frame = try channel.readInbound(as: Frame.self) { frames.append(frame) }
        #expect(frames.map(\.kind) == [PeerMessage.Kind.fetch.rawValue], "the whole frame before the parts")
    }
}
