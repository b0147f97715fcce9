import CLua
import CLuaShims
import RayCore

/// The driver's `package.path` and `package.cpath` hold on its workers (the
/// contract's "Code and environment"): each submission names the paths its
/// state has, as a small blob registered next to the functions' code (and
/// sent to other nodes with it, once per link), and a worker sets them
/// before it runs the task, so modules next to the script load in tasks.
///
/// Blob: the path's bytes, a 0 byte, the cpath's bytes.
struct CodePaths {
    /// The paths last seen at submission and their blob's id: a script that
    /// does not change them registers one blob.
    private var last: (path: [UInt8], cpath: [UInt8], id: UniqueID)?

    /// The id of the blob holding `L`'s current paths, registered in
    /// `runtime` when they changed since the last submission. [-0, +0]
    mutating func current(_ L: OpaquePointer, runtime: Runtime) -> UniqueID? {
        lua_getfield(L, CLUA_REGISTRYINDEX, LUA_LOADED_TABLE)
        defer { clua_pop(L, 4) }
        guard lua_getfield(L, -1, "package") == LUA_TTABLE else {
            lua_pushnil(L)
            lua_pushnil(L)
            return nil
        }
        lua_getfield(L, -1, "path")
        lua_getfield(L, -2, "cpath")
        guard let path = Self.bytes(L, -2), let cpath = Self.bytes(L, -1) else { return nil }
        if let last, path.elementsEqual(last.path), cpath.elementsEqual(last.cpath) { return last.id }
        let id = UniqueID.next()
        let kept = (Array(path), Array(cpath))
        runtime.setFunctionCode(id, kept.0 + [0] + kept.1)
        last = (kept.0, kept.1, id)
        return id
    }

    /// The bytes of the string at `index`, in place.
    private static func bytes(_ L: OpaquePointer, _ index: Int32) -> UnsafeRawBufferPointer? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let chars = lua_tolstring(L, index, &length) else { return nil }
        return UnsafeRawBufferPointer(start: chars, count: length)
    }

    /// Sets `L`'s `package.path` and `package.cpath` from a blob, unless
    /// they already read so. [-0, +0]
    static func apply(_ blob: [UInt8], on L: OpaquePointer) {
        guard let split = blob.firstIndex(of: 0) else { return }
        lua_getfield(L, CLUA_REGISTRYINDEX, LUA_LOADED_TABLE)
        defer { clua_pop(L, 2) }
        guard lua_getfield(L, -1, "package") == LUA_TTABLE else { return }
        for (key, value) in [("path", blob[..<split]), ("cpath", blob[(split + 1)...])] {
            lua_getfield(L, -1, key)
            let same = bytes(L, -1).map { $0.elementsEqual(value) } ?? false
            clua_pop(L, 1)
            if same { continue }
            value.withUnsafeBytes { raw in
                _ = lua_pushlstring(L, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
            }
            lua_setfield(L, -2, key)
        }
    }
}
