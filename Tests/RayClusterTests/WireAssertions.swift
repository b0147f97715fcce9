import XCTest
@testable import RayCluster

/// The bytes `value` is written as on its own.
func wireBytes(_ value: some WireCodable) -> [UInt8] {
    var w = WireWriter()
    w.write(value)
    return w.bytes
}

/// Reads a `Value` from `bytes`, which it must use up.
func decodeWire<Value: WireCodable>(_ bytes: [UInt8], as _: Value.Type = Value.self) throws(WireError) -> Value {
    var r = WireReader(bytes)
    let value = try r.read(Value.self)
    try r.finish()
    return value
}

/// `value` written and read back is equal to it, and no proper prefix of
/// its bytes decodes (each throws, none traps).
func assertRoundTrips<Value: WireCodable & Equatable>(_ value: Value, file: StaticString = #filePath, line: UInt = #line) {
    let bytes = wireBytes(value)
    XCTAssertEqual(try decodeWire(bytes, as: Value.self), value, file: file, line: line)
    for cut in 0..<bytes.count {
        var r = WireReader(Array(bytes.prefix(cut)))
        XCTAssertThrowsError(try r.read(Value.self), "the first \(cut) of \(bytes.count) bytes of \(value)", file: file, line: line)
    }
}

/// Fails, naming it, for each stored property of `value` that has the same
/// value as in `base`: a fixture must set every field, so that a field
/// added later and left off the wire fails the round trip.
func assertEveryField<Value>(of value: Value, differsFrom base: Value, file: StaticString = #filePath, line: UInt = #line) {
    let defaults = Dictionary(uniqueKeysWithValues: Mirror(reflecting: base).children.map { ($0.label ?? "?", String(reflecting: $0.value)) })
    let fields = Mirror(reflecting: value).children
    XCTAssertFalse(fields.isEmpty, "\(Value.self) has no stored properties to check", file: file, line: line)
    for field in fields {
        let label = field.label ?? "?"
        XCTAssertNotEqual(String(reflecting: field.value), defaults[label] ?? "(not in the default)",
                          "\(Value.self).\(label) keeps its default in the fixture: set it, so that the round trip checks it travels",
                          file: file, line: line)
    }
}

/// `body` throws `WireError.malformed` with a message containing `words`.
func assertMalformed(_ words: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws(WireError) -> Void) {
    do {
        try body()
        XCTFail("decoded; expected a malformed message about \(words)", file: file, line: line)
    } catch {
        guard case .malformed(let why) = error, why.contains(words) else {
            return XCTFail("\(error); expected a malformed message about \(words)", file: file, line: line)
        }
    }
}
