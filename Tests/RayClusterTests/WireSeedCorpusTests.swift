import Foundation
import NIOCore
import XCTest
@testable import RayCluster

/// The fuzz seeds in scripts/fuzz/corpus-message and corpus-frame are
/// messages of the current format: after a change to the wire they must be
/// written again (scripts/fuzz/README.md), or the fuzzer starts from bytes
/// every decoder refuses at once. `ray-fuzz replay` cannot tell: it only
/// checks that nothing traps.
final class WireSeedCorpusTests: XCTestCase {
    static let regenerate = "write the seeds again: .build/debug/ray-fuzz seeds message scripts/fuzz/corpus-message (and frame)"

    static func seeds(_ corpus: String) throws -> [(name: String, bytes: [UInt8])] {
        let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/fuzz/\(corpus)")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".bin") }.sorted()
        return try names.map { ($0, [UInt8](try Data(contentsOf: directory.appendingPathComponent($0)))) }
    }

    static func decode(_ frame: Frame) throws(WireError) {
        if PeerMessage.isPeerKind(frame.kind) { _ = try PeerMessage(frame) } else { _ = try Message(frame) }
    }

    /// Each message seed (kind, flags, payload) decodes.
    func testEveryMessageSeedDecodes() throws {
        let seeds = try Self.seeds("corpus-message")
        XCTAssertFalse(seeds.isEmpty)
        for (name, bytes) in seeds {
            let payload = Array(bytes.dropFirst(2))
            let frame = bytes[1] & 1 == 0 ? Frame(kind: bytes[0], payload: payload)
                                          : Frame(kind: bytes[0], payload: [], bulk: ByteBuffer(bytes: payload))
            XCTAssertNoThrow(try Self.decode(frame), "\(name): \(Self.regenerate)")
        }
    }

    /// Each frame seed's stream (after mode and read size) is frames of this
    /// protocol version, and each whole frame among them decodes.
    func testEveryFrameSeedIsOfThisVersion() throws {
        let seeds = try Self.seeds("corpus-frame")
        XCTAssertFalse(seeds.isEmpty)
        for (name, bytes) in seeds {
            var stream = bytes.dropFirst(2)
            while !stream.isEmpty {
                let header: (kind: UInt8, length: Int)?
                do {
                    header = try Frame.payloadLength(header: stream.prefix(Frame.headerSize))
                } catch {
                    XCTFail("\(name): \(error); \(Self.regenerate)")
                    break
                }
                guard let (kind, length) = header, stream.count >= Frame.headerSize + length else {
                    XCTFail("\(name): a frame cut short")
                    break
                }
                let payload = Array(stream.dropFirst(Frame.headerSize).prefix(length))
                if kind != Frame.partKind {
                    XCTAssertNoThrow(try Self.decode(Frame(kind: kind, payload: payload)), "\(name): \(Self.regenerate)")
                }
                stream = stream.dropFirst(Frame.headerSize + length)
            }
        }
    }
}
