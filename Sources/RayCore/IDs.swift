import Synchronization

/// A 128-bit identifier unique across processes and machines: 64 random
/// bits chosen once per process, then a per-process counter. Cheap to make
/// (one atomic increment), cheap to hash, printable as 32 hex digits.
public struct UniqueID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    private static let processPrefix = UInt64.random(in: 1...UInt64.max)
    private static let counter = Atomic<UInt64>(0)

    /// A new identifier, never returned before by any process (with the
    /// probability of a 64-bit random collision).
    public static func next() -> UniqueID {
        UniqueID(high: processPrefix, low: counter.add(1, ordering: .relaxed).newValue)
    }

    /// 32 lowercase hex digits.
    public var hex: String { Self.hex16(high) + Self.hex16(low) }

    private static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    public var description: String { hex }

    /// Parses 32 hex digits.
    public init?(hex: String) {
        guard hex.count == 32,
              let high = UInt64(hex.prefix(16), radix: 16),
              let low = UInt64(hex.suffix(16), radix: 16) else { return nil }
        self.init(high: high, low: low)
    }

    /// The 16 bytes, big-endian, for the wire.
    public var bytes: [UInt8] {
        withUnsafeBytes(of: high.bigEndian) { Array($0) } + withUnsafeBytes(of: low.bigEndian) { Array($0) }
    }

    /// Reads 16 bytes written by `bytes`.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 16 else { return nil }
        self.init(high: UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self)),
                  low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
    }

    public static func < (a: UniqueID, b: UniqueID) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

/// Identifies an object in the object store.
public typealias ObjectID = UniqueID
/// Identifies one submission of a task (retries keep it).
public typealias TaskID = UniqueID
/// Identifies an actor.
public typealias ActorID = UniqueID
/// Identifies a worker thread or process.
public typealias WorkerID = UniqueID
/// Identifies a node (a runtime process).
public typealias NodeID = UniqueID
/// Identifies a job (a driver's run).
public typealias JobID = UniqueID
