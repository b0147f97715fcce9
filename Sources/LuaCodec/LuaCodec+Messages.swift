/// Messages built without a Lua state, for the runtime's own values.
extension LuaCodec {
    /// A message of one value: a table with these string fields and no
    /// metatable (e.g. an error `{ type = "ActorDiedError", message = ... }`).
    public static func message(stringTable fields: [(key: String, value: String)]) -> [UInt8] {
        var out: [UInt8] = [Wire.magic0, Wire.magic1, Wire.version, 1, Wire.Tag.table.rawValue, 0]
        func string(_ text: String) {
            let bytes = Array(text.utf8)
            out.append(Wire.Tag.string.rawValue)
            var n = UInt64(bytes.count)
            while n >= 0x80 {
                out.append(UInt8(truncatingIfNeeded: n) | 0x80)
                n >>= 7
            }
            out.append(UInt8(n))
            out += bytes
        }
        for (key, value) in fields {
            string(key)
            string(value)
        }
        out.append(Wire.Tag.nil.rawValue)  // end of pairs
        out.append(Wire.Tag.nil.rawValue)  // no metatable
        return out
    }
}
