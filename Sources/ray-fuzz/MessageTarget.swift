import NIOCore
@testable import RayCluster

/// The message target: every head and peer message decoder.
///
/// Input: kind (1 byte), flags (1 byte), payload. Flag bit 0 hands the
/// payload over as `bulk` (left in the connection's buffer, as the frame
/// decoder does for large object pieces) instead of as bytes.
enum MessageTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 2 else { return }
        let payload = Array(input[2...])
        let frame = input[1] & 1 == 0
            ? Frame(kind: input[0], payload: payload)
            : Frame(kind: input[0], payload: [], bulk: ByteBuffer(bytes: payload))
        DecodedFrame.check(frame)
    }

    /// An input for `run`: `frame` as its message decoder receives it.
    static func input(_ frame: Frame, bulk: Bool = false) -> [UInt8] {
        [frame.kind, bulk ? 1 : 0] + frame.payload
    }
}
