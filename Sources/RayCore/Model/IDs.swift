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

    /// This process's random prefix: the `high` word of every id it makes.
    /// In a cluster an object's id names its owner this way (the process
    /// that made the id), so any node can ask the owner for it.
    public static var localPrefix: UInt64 { processPrefix }

    /// Whether this process made the id (it owns the object it names).
    public var isLocal: Bool { high == Self.processPrefix }
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
        var hex = hex
        guard let id = hex.withUTF8({ UniqueID(hexDigits: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = id
    }

    /// Parses 32 hex digits (either case) from UTF-8 bytes, e.g. a Lua
    /// string read in place: actor handles carry their id this way, and
    /// parsing it through Substrings cost 3% of an actor call.
    public init?(hexDigits bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 32 else { return nil }
        var words: (UInt64, UInt64) = (0, 0)
        for (i, byte) in bytes.enumerated() {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte &- UInt8(ascii: "A") &+ 10
            default: return nil
            }
            if i < 16 { words.0 = words.0 << 4 | UInt64(digit) } else { words.1 = words.1 << 4 | UInt64(digit) }
        }
        self.init(high: words.0, low: words.1)
    }

    /// One word to hash: `low` is a per-process counter and `high` a
    /// per-process random prefix, so mixing them loses nothing that matters.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(low ^ high)
    }

    /// What Dictionary and Set use: one multiply-xorshift of the same word
    /// and the seed, instead of a full SipHash round per lookup (which was
    /// 4% of a cluster driver's samples). Ids are not attacker-chosen keys
    /// in a way that matters here: the random prefix differs per process.
    public func _rawHashValue(seed: Int) -> Int {
        var x = (low ^ high) ^ UInt64(UInt(bitPattern: seed))
        x = (x ^ (x >> 30)) &* 0xbf58476d1ce4e5b9
        x = (x ^ (x >> 27)) &* 0x94d049bb133111eb
        return Int(truncatingIfNeeded: x ^ (x >> 31))
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
