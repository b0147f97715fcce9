import CLua
import CLuaShims
import RayCore

/// Why a Lua value could not become a LuaValue (or back).
public struct LuaValueError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

extension LuaValue {
    /// Reads the value at `index` of `L` (any thread of `ray`'s state).
    /// Never raises: only type checks, raw gets and `lua_next` over tables.
    static func read(from L: OpaquePointer, at index: Int32, ray: RayLuaState, path: String = "value",
                     depth: Int = 0) throws(LuaValueError) -> LuaValue {
        let index = lua_absindex(L, index)
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE: return .nil
        case LUA_TBOOLEAN: return .boolean(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER:
            return lua_isinteger(L, index) != 0 ? .integer(Int64(clua_tointeger(L, index))) : .number(clua_tonumber(L, index))
        case LUA_TSTRING: return .string(Primitives.string(L, index) ?? "")
        case LUA_TUSERDATA:
            if let id = ObjectRefs.id(at: index, on: L, metatable: ray.objectRefMetatable) {
                ray.runtime.store.addReference(id)
                return .objectRef(ObjectReference(adopting: id, store: ray.runtime.store))
            }
            throw LuaValueError(description: "\(path) is a userdata, which Swift cannot receive")
        case LUA_TTABLE:
            guard depth < 100 else { throw LuaValueError(description: "\(path) is nested more than 100 tables deep (a cycle?)") }
            guard lua_checkstack(L, 3) != 0 else { throw LuaValueError(description: "\(path): out of stack space") }
            var entries: [LuaValue: LuaValue] = [:]
            lua_pushnil(L)
            while lua_next(L, index) != 0 {
                defer { clua_pop(L, 1) }
                let key: LuaValue, value: LuaValue
                do {
                    key = try read(from: L, at: -2, ray: ray, path: "\(path) key", depth: depth + 1)
                    value = try read(from: L, at: -1, ray: ray, path: "\(path)[\(key)]", depth: depth + 1)
                } catch {
                    clua_pop(L, 2)  // the value and the key: lua_next is over
                    throw error
                }
                entries[key] = value
            }
            return .table(entries)
        default:
            throw LuaValueError(description: "\(path) is a \(String(cString: lua_typename(L, lua_type(L, index)))), which Swift cannot receive")
        }
    }

    /// Pushes the value onto `L`. [-0, +1]
    func push(on L: OpaquePointer, ray: RayLuaState) throws(LuaValueError) {
        guard lua_checkstack(L, 3) != 0 else { throw LuaValueError(description: "out of Lua stack space") }
        switch self {
        case .nil: lua_pushnil(L)
        case .boolean(let value): lua_pushboolean(L, value ? 1 : 0)
        case .integer(let value): lua_pushinteger(L, lua_Integer(value))
        case .number(let value): lua_pushnumber(L, value)
        case .string(let value):
            var value = value
            value.withUTF8 { bytes in
                bytes.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
            }
        case .objectRef(let reference):
            ObjectRefs.push(reference.id, owned: false, on: L, store: ray.runtime.store)
        case .table(let entries):
            lua_createtable(L, 0, Int32(min(entries.count, 1 << 20)))
            for (key, value) in entries {
                if case .nil = key { throw LuaValueError(description: "a table key is nil") }
                if case .number(let n) = key, n.isNaN { throw LuaValueError(description: "a table key is NaN") }
                try key.push(on: L, ray: ray)
                try value.push(on: L, ray: ray)
                lua_rawset(L, -3)
            }
        }
    }
}
