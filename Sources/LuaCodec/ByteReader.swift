/// A bounds-checked cursor over untrusted bytes. Every read either succeeds
/// within the buffer or throws `LuaCodecError.malformed`; lengths are checked
/// against what remains before anything is allocated for them.
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    private(set) var position = 0

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    /// Moves to `offset` (within the buffer), after bytes consumed elsewhere.
    mutating func skip(to offset: Int) {
        precondition(offset >= position && offset <= buffer.count)
        position = offset
    }

    var remaining: Int { buffer.count - position }
    var isAtEnd: Bool { position == buffer.count }

    @inline(__always) mutating func byte() throws(LuaCodecError) -> UInt8 {
        guard position < buffer.count else { throw .malformed("truncated input at byte \(position)") }
        defer { position += 1 }
        return buffer[position]
    }

    @inline(__always) func peek() -> UInt8? {
        position < buffer.count ? buffer[position] : nil
    }

    mutating func varint() throws(LuaCodecError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw .malformed("varint overflows 64 bits at byte \(position - 1)") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .malformed("varint longer than 10 bytes at byte \(position - 1)") }
        }
    }

    /// A varint that counts items of at least `minimumSize` bytes each, which
    /// must therefore fit in what remains.
    mutating func count(minimumSize: Int = 1, what: StaticString) throws(LuaCodecError) -> Int {
        let at = position
        let value = try varint()
        guard value <= UInt64(remaining / max(minimumSize, 1)) else {
            throw .malformed("\(what) \(value) at byte \(at) exceeds the \(remaining) bytes that remain")
        }
        return Int(value)
    }

    mutating func zigzag() throws(LuaCodecError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    mutating func float() throws(LuaCodecError) -> Double {
        let slice = try bytes(8)
        var bits: UInt64 = 0
        withUnsafeMutableBytes(of: &bits) { $0.copyMemory(from: slice) }
        return Double(bitPattern: UInt64(littleEndian: bits))
    }

    /// The next `count` bytes, without copying.
    mutating func bytes(_ count: Int) throws(LuaCodecError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else {
            throw .malformed("\(count) bytes needed at byte \(position), \(remaining) remain")
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: buffer[position..<(position + count)])
    }

    mutating func lengthPrefixed(what: StaticString = "length") throws(LuaCodecError) -> UnsafeRawBufferPointer {
        try bytes(count(what: what))
    }
}
