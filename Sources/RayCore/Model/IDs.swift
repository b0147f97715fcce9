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
        UniqueID(high: processPrefix, low: nextCounter())
    }

    /// The process's next counter value (below 2^63 for any practical run).
    static func nextCounter() -> UInt64 {
        counter.add(1, ordering: .relaxed).newValue
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

/// The kinds of id, as phantom types of `ID`: an ObjectID cannot be passed
/// where a TaskID is wanted.
public enum ObjectKind {}
public enum TaskKind {}
public enum ActorKind {}
public enum WorkerKind {}
public enum NodeKind {}
public enum JobKind {}

/// A 128-bit id of one kind (`Kind`): a `UniqueID` that the type system
/// keeps apart from ids of other kinds. Same size, hash and text.
public struct ID<Kind>: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let raw: UniqueID

    @inline(__always)
    public init(_ raw: UniqueID) { self.raw = raw }

    public init(high: UInt64, low: UInt64) { raw = UniqueID(high: high, low: low) }

    public var high: UInt64 { raw.high }
    public var low: UInt64 { raw.low }
    /// Whether this process made the id (an object's owner is the process that made its id).
    public var isLocal: Bool { raw.isLocal }
    public var hex: String { raw.hex }
    public var description: String { raw.hex }
    public var bytes: [UInt8] { raw.bytes }

    public init?(hex: String) {
        guard let raw = UniqueID(hex: hex) else { return nil }
        self.raw = raw
    }

    public init?(hexDigits bytes: UnsafeRawBufferPointer) {
        guard let raw = UniqueID(hexDigits: bytes) else { return nil }
        self.raw = raw
    }

    public init?(bytes: UnsafeRawBufferPointer) {
        guard let raw = UniqueID(bytes: bytes) else { return nil }
        self.raw = raw
    }

    /// A new id, never made before by any process.
    public static func next() -> Self { Self(UniqueID.next()) }

    public func hash(into hasher: inout Hasher) { raw.hash(into: &hasher) }
    public func _rawHashValue(seed: Int) -> Int { raw._rawHashValue(seed: seed) }
    public static func < (a: Self, b: Self) -> Bool { a.raw < b.raw }
}

/// Identifies an object in the object store.
public typealias ObjectID = ID<ObjectKind>
/// Identifies one submission of a task (retries keep it).
public typealias TaskID = ID<TaskKind>
/// Identifies an actor.
public typealias ActorID = ID<ActorKind>
/// Identifies a worker thread or process.
public typealias WorkerID = ID<WorkerKind>
/// Identifies a node (a runtime process).
public typealias NodeID = ID<NodeKind>
/// Identifies a job (a driver's run).
public typealias JobID = ID<JobKind>

/// Task ids and the ids of their returns, derived from them so that an
/// object names the task that makes it (what lineage reconstruction needs).
/// The low word of a task's id is a flag bit, 43 bits of the process's
/// counter and 20 zero bits; its returns' ids fill those 20 bits with their
/// index, 1-based. Every other id has the flag bit clear, so none collides
/// with a derived one.
extension ID where Kind == TaskKind {
    static let derivedFlag: UInt64 = 1 << 63
    static let indexBits: UInt64 = 20
    /// The largest return index a task id can derive (1,048,575).
    public static let maxReturns = Int((1 << indexBits) - 1)

    /// A new task id, never made before by any process.
    public static func next() -> TaskID {
        let counter = UniqueID.nextCounter() & ((1 << (63 - indexBits)) - 1)
        return TaskID(high: UniqueID.localPrefix, low: derivedFlag | counter << indexBits)
    }
}

extension ID where Kind == ObjectKind {
    /// The id of `task`'s return number `index` (1-based).
    public static func returned(by task: TaskID, index: Int) -> ObjectID {
        precondition(index >= 1 && index <= TaskID.maxReturns, "return index \(index) out of range")
        return ObjectID(high: task.high, low: task.low | UInt64(index))
    }

    /// The task that makes this object, for an object a task returns (not
    /// one `ray.put` made).
    public var task: TaskID? {
        guard low & TaskID.derivedFlag != 0 else { return nil }
        return TaskID(high: high, low: low & ~((1 << TaskID.indexBits) - 1))
    }

    /// Its index among its task's returns (1-based); nil for a put object.
    public var returnIndex: Int? {
        guard low & TaskID.derivedFlag != 0 else { return nil }
        return Int(low & ((1 << TaskID.indexBits) - 1))
    }
}
