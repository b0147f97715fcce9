/// An append-only byte buffer with the codec's primitive encodings.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    var count: Int { bytes.count }

    mutating func reset() { bytes.removeAll(keepingCapacity: true) }

    /// Hands the buffer out and leaves an empty one behind.
    mutating func take() -> [UInt8] {
        defer { bytes = [] }
        return bytes
    }

    @inline(__always) mutating func byte(_ value: UInt8) { bytes.append(value) }

    @inline(__always) mutating func tag(_ tag: Wire.Tag) { bytes.append(tag.rawValue) }

    /// Sets a flag bit on a byte already written.
    mutating func setFlag(_ flag: UInt8, at offset: Int) { bytes[offset] |= flag }

    /// LEB128: 7 bits per byte, least significant first, high bit = more follows.
    @inline(__always) mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    @inline(__always) mutating func varint(_ value: Int) { varint(UInt64(value)) }

    /// Zigzag then LEB128, so small negative numbers stay short.
    @inline(__always) mutating func zigzag(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inline(__always) mutating func float(_ value: Double) {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ buffer: UnsafeRawBufferPointer) { bytes.append(contentsOf: buffer) }

    /// A varint length followed by the bytes.
    mutating func lengthPrefixed(_ buffer: UnsafeRawBufferPointer) {
        varint(buffer.count)
        bytes.append(contentsOf: buffer)
    }
}
