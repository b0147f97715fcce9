/// A value that travels inside messages, with its wire layout written and
/// read in one place (its `+Wire` file): every message that carries it
/// calls these, so its fields are listed once. Every encoding takes at
/// least one byte and is self-delimiting (no proper prefix decodes).
protocol WireCodable {
    func write(to writer: inout WireWriter)
    /// Reads what `write(to:)` wrote; throws `WireError.malformed` on bytes
    /// that do not fit, never traps, whatever the bytes.
    init(from reader: inout WireReader) throws(WireError)
}

extension WireWriter {
    mutating func write(_ value: some WireCodable) { value.write(to: &self) }

    /// A varint count, then each value.
    mutating func write(_ values: [some WireCodable]) {
        int(values.count)
        for value in values { value.write(to: &self) }
    }
}

extension WireReader {
    mutating func read<Value: WireCodable>(_: Value.Type = Value.self) throws(WireError) -> Value {
        try Value(from: &self)
    }

    /// What `WireWriter.write(_:)` wrote for an array. A count larger than
    /// the bytes left is refused before anything is read or reserved (each
    /// value takes at least one byte).
    mutating func read<Value: WireCodable>(_: [Value].Type = [Value].self) throws(WireError) -> [Value] {
        let count = try int()
        guard count <= remaining else { throw .malformed("\(count) \(Value.self) values run past the payload") }
        var values: [Value] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try Value(from: &self)) }
        return values
    }
}
