import RayCore

/// Writes a message payload: unsigned varints, zigzag-free (counts and
/// sizes only), strings as a varint length and UTF-8, doubles as their
/// IEEE bits (8 bytes, big-endian).
struct WireWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var n = value
        while n >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: n) | 0x80)
            n >>= 7
        }
        bytes.append(UInt8(n))
    }

    mutating func int(_ value: Int) { varint(UInt64(max(0, value))) }

    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        int(utf8.count)
        bytes += utf8
    }

    mutating func double(_ value: Double) {
        let bits = value.bitPattern
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
    }

    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Any Int, negative ones too (as their 64-bit pattern).
    mutating func signed(_ value: Int) { varint(UInt64(bitPattern: Int64(value))) }

    /// 8 bytes, big-endian.
    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func id(_ value: UniqueID) {
        u64(value.high)
        u64(value.low)
    }

    mutating func ids(_ values: [UniqueID]) {
        int(values.count)
        for value in values { id(value) }
    }

    mutating func id<Kind>(_ value: ID<Kind>) { id(value.raw) }

    mutating func ids<Kind>(_ values: [ID<Kind>]) {
        int(values.count)
        for value in values { id(value.raw) }
    }

    /// A length, then the bytes.
    mutating func blob(_ data: some Collection<UInt8>) {
        int(data.count)
        bytes.append(contentsOf: data)
    }

    mutating func strings(_ values: [String]) {
        int(values.count)
        for value in values { string(value) }
    }

    mutating func resources(_ table: [String: Double]) {
        int(table.count)
        for (name, amount) in table.sorted(by: { $0.key < $1.key }) {
            string(name)
            double(amount)
        }
    }
}

/// Reads what `WireWriter` wrote; every read is bounds-checked and throws
/// `WireError.malformed` on bytes that do not fit.
struct WireReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { position == bytes.count }
    /// The bytes read so far.
    var consumed: Int { position }
    /// The bytes not read yet.
    var remaining: Int { bytes.count - position }

    mutating func varint() throws(WireError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count else { throw .malformed("truncated number at byte \(position)") }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw .malformed("number too long at byte \(position)") }
            value |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    mutating func int() throws(WireError) -> Int {
        let value = try varint()
        guard value <= UInt64(Int32.max) else { throw .malformed("count \(value) out of range") }
        return Int(value)
    }

    mutating func string() throws(WireError) -> String {
        let count = try int()
        guard count <= bytes.count - position else { throw .malformed("string of \(count) bytes runs past the payload") }
        defer { position += count }
        return String(decoding: bytes[position..<(position + count)], as: UTF8.self)
    }

    mutating func double() throws(WireError) -> Double {
        guard bytes.count - position >= 8 else { throw .malformed("truncated number at byte \(position)") }
        var bits: UInt64 = 0
        for _ in 0..<8 {
            bits = bits << 8 | UInt64(bytes[position])
            position += 1
        }
        return Double(bitPattern: bits)
    }

    mutating func signed() throws(WireError) -> Int {
        Int(truncatingIfNeeded: Int64(bitPattern: try varint()))
    }

    mutating func bool() throws(WireError) -> Bool {
        guard position < bytes.count else { throw .malformed("truncated flag at byte \(position)") }
        defer { position += 1 }
        return bytes[position] != 0
    }

    mutating func resources() throws(WireError) -> [String: Double] {
        var table: [String: Double] = [:]
        for _ in 0..<(try int()) {
            let name = try string()
            table[name] = try double()
        }
        return table
    }

    mutating func u64() throws(WireError) -> UInt64 {
        guard bytes.count - position >= 8 else { throw .malformed("truncated number at byte \(position)") }
        var value: UInt64 = 0
        for _ in 0..<8 {
            value = value << 8 | UInt64(bytes[position])
            position += 1
        }
        return value
    }

    mutating func id() throws(WireError) -> UniqueID {
        UniqueID(high: try u64(), low: try u64())
    }

    mutating func ids() throws(WireError) -> [UniqueID] {
        let count = try int()
        guard count <= (bytes.count - position) / 16 else { throw .malformed("\(count) ids run past the payload") }
        var values: [UniqueID] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try id()) }
        return values
    }

    /// An id of the kind the context wants.
    mutating func id<Kind>() throws(WireError) -> ID<Kind> { ID(try id() as UniqueID) }

    mutating func ids<Kind>() throws(WireError) -> [ID<Kind>] { try (ids() as [UniqueID]).map(ID.init) }

    mutating func blob() throws(WireError) -> [UInt8] {
        let count = try int()
        guard count <= bytes.count - position else { throw .malformed("\(count) bytes run past the payload") }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    /// Calls `body` with the blob's bytes in place (no copy).
    mutating func blob<R>(_ body: (ArraySlice<UInt8>) -> R) throws(WireError) -> R {
        let count = try int()
        guard count <= bytes.count - position else { throw .malformed("\(count) bytes run past the payload") }
        defer { position += count }
        return body(bytes[position..<(position + count)])
    }

    mutating func strings() throws(WireError) -> [String] {
        var values: [String] = []
        for _ in 0..<(try int()) { values.append(try string()) }
        return values
    }

    func finish() throws(WireError) {
        guard isAtEnd else { throw .malformed("\(bytes.count - position) trailing bytes") }
    }
}

/// A payload that does not match its message's layout.
enum WireError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case unknownKind(UInt8)

    var description: String {
        switch self {
        case .malformed(let why): "malformed message: \(why)"
        case .unknownKind(let kind): "unknown message kind \(kind)"
        }
    }
}
