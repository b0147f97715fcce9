import CLuaShims
import CRaySupport

/// An encoded message as the encoder produced it: small messages in an
/// array; large ones (from `RAY_BIG_THRESHOLD`, 1 MiB) in the block the
/// encoder wrote them to, handed over without a copy.
public enum EncodedMessage: Sendable {
    case array([UInt8])
    case block(LargeBlock)

    /// The bytes as an array (a copy, for a large message).
    public var array: [UInt8] {
        switch self {
        case .array(let bytes): bytes
        case .block(let block): [UInt8](block.bytes)
        }
    }
}

/// Bytes in a large block (`ray_big_alloc`), immutable once made and
/// returned to the block cache when the last reference goes.
public final class LargeBlock: @unchecked Sendable {
    /// Valid for the life of the block; never written after init.
    public let bytes: UnsafeRawBufferPointer

    /// Takes ownership of `data`, a block from `ray_big_alloc`.
    init(adopting data: UnsafeMutablePointer<UInt8>, count: Int) {
        bytes = UnsafeRawBufferPointer(start: data, count: count)
    }

    deinit {
        ray_big_free(UnsafeMutableRawPointer(mutating: bytes.baseAddress))
    }
}
