/// Constants of the value codec's byte format. `docs/codec-format.md` is the
/// specification; change the two together, and bump `version` on any change
/// a version-1 decoder would misread.
enum Wire {
    static let magic0: UInt8 = 0x52  // 'R'
    static let magic1: UInt8 = 0x56  // 'V'
    static let version: UInt8 = 1

    /// Set on the tag of a table or function that a later `ref` or upvalue
    /// `join` points back to; only such objects are remembered by the decoder.
    static let sharedFlag: UInt8 = 0x80

    enum Tag: UInt8 {
        case `nil` = 0x00
        case `false` = 0x01
        case `true` = 0x02
        case integer = 0x03      // zigzag varint
        case float = 0x04        // 8 bytes, IEEE 754 binary64, little-endian
        case string = 0x05       // varint length, bytes
        case table = 0x06        // varint n, n values, (key value)* nil, metatable value
        case function = 0x07     // varint length, bytecode, varint nups, upvalue*, globals
        case ref = 0x08          // varint ordinal of an earlier shared object
        case builtin = 0x09      // string: standard-library path, e.g. "math.sin"
        case module = 0x0A       // string: module name, required on the receiver
        case moduleField = 0x0B  // string module name, string field
        case `extension` = 0x0C  // kind byte, varint length, payload
    }

    enum Upvalue: UInt8 {
        case value = 0  // a value follows
        case env = 1    // the sender's global table: the receiver's per-message environment
        case join = 2   // varint function ordinal, varint upvalue number: shares that cell
    }
}
