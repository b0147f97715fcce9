import CLua
import CLuaShims

/// Stack access. None of these raise a Lua error; each documents its effect on
/// the stack in Lua's manual notation `[-o, +p]`. Callers must already own the
/// state (checked entry points call `preconditionOwned()`).
extension LuaState {
    /// The index of the top element (the number of elements on the stack).
    public var top: Int32 {
        get { lua_gettop(pointer) }
        set { lua_settop(pointer, newValue) }
    }

    /// Ensures room for `extra` more values; false when the stack cannot grow. [-0, +0]
    public func ensureStack(_ extra: Int32) -> Bool {
        lua_checkstack(pointer, extra) != 0
    }

    /// The type of the value at `index`. [-0, +0]
    public func type(at index: Int32) -> LuaType {
        LuaType(rawValue: lua_type(pointer, index)) ?? .none
    }

    /// Pops `count` values. [-count, +0]
    public func pop(_ count: Int32 = 1) { clua_pop(pointer, count) }

    /// Converts a relative index to an absolute one. [-0, +0]
    public func absoluteIndex(_ index: Int32) -> Int32 { lua_absindex(pointer, index) }

    /// Pushes nil. [-0, +1]
    public func pushNil() { lua_pushnil(pointer) }
    /// Pushes a boolean. [-0, +1]
    public func push(_ value: Bool) { lua_pushboolean(pointer, value ? 1 : 0) }
    /// Pushes an integer. [-0, +1]
    public func push(_ value: Int64) { lua_pushinteger(pointer, lua_Integer(value)) }
    /// Pushes a float. [-0, +1]
    public func push(_ value: Double) { lua_pushnumber(pointer, value) }
    /// Pushes a copy of the value at `index`. [-0, +1]
    public func pushValue(at index: Int32) { lua_pushvalue(pointer, index) }

    /// The boolean value at `index` (Lua truthiness). [-0, +0]
    public func toBool(at index: Int32) -> Bool { lua_toboolean(pointer, index) != 0 }

    /// The integer at `index` if it is an integer (not a float). [-0, +0]
    public func toInteger(at index: Int32) -> Int64? {
        clua_isinteger(pointer, index) != 0 ? Int64(clua_tointeger(pointer, index)) : nil
    }

    /// The number at `index` as a Double if it is a number. [-0, +0]
    public func toNumber(at index: Int32) -> Double? {
        lua_type(pointer, index) == LUA_TNUMBER ? clua_tonumber(pointer, index) : nil
    }

    /// The bytes of the string at `index` if it is a string (numbers are not
    /// converted, so the stack is never modified). [-0, +0]
    public func toBytes(at index: Int32) -> [UInt8]? {
        guard lua_type(pointer, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let chars = lua_tolstring(pointer, index, &length) else { return nil }
        return chars.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// The string at `index` decoded as UTF-8 (invalid bytes repaired), if it is a string. [-0, +0]
    public func toString(at index: Int32) -> String? {
        toBytes(at: index).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The value at `index` rendered as `tostring` would, honouring `__tostring`
    /// in protected mode (a failing metamethod gives a placeholder). [-0, +0]
    public func describe(at index: Int32) -> String {
        var length = 0
        let chars = clua_tolstring_safe(pointer, index, &length)
        defer { pop() }
        guard let chars else { return "?" }
        return chars.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// Pushes a binary-safe string. Allocates in Lua, so it can raise on
    /// memory exhaustion: call it only in protected mode or accept the abort. [-0, +1, m]
    public func push(bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress, bytes.count > 0 {
            lua_pushlstring(pointer, base.assumingMemoryBound(to: CChar.self), bytes.count)
        } else {
            lua_pushlstring(pointer, "", 0)
        }
    }

    /// Pushes a string (UTF-8). [-0, +1, m]
    public func push(_ value: String) {
        var value = value
        value.withUTF8 { push(bytes: UnsafeRawBufferPointer($0)) }
    }
}
