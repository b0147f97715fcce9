import CLua
import CLuaShims
import LuaKit

/// The cached, packed form of one Lua function: a table
/// `{ [1] = unstripped dump, [2] = flags | upvalue count << 8,
///    [3] = which upvalues held the global table, [4...] = names of globals it reads }`
/// kept in a weak-keyed registry table, so that submitting the function again
/// costs no new `lua_dump` or bytecode scan. The scan depends on which
/// upvalues are environments; the encoder compares that with slot 3 and
/// refills the record when it changed.
enum FunctionRecord {
    static let dumpSlot: lua_Integer = 1
    static let flagsSlot: lua_Integer = 2
    static let environmentsSlot: lua_Integer = 3
    static let firstNameSlot: lua_Integer = 4
    /// Set when the function indexes an environment with a computed key.
    static let dynamicFlag: lua_Integer = 1
    /// The upvalue count is stored above the flags.
    static let upvalueShift: lua_Integer = 8

    /// Which upvalues (1-based) hold the global table: bit n-1 for n < 64;
    /// bit 63 stands for any higher one, and such a mask never matches (the
    /// record is refilled every time: correct, and vanishingly rare).
    struct EnvironmentMask: Equatable {
        private(set) var bits: Int64 = 0
        var isEmpty: Bool { bits == 0 }
        mutating func insert(_ upvalue: Int) { bits |= upvalue < 64 ? 1 << (upvalue - 1) : Int64.min }
        func matches(_ other: Int64) -> Bool { bits == other && bits >= 0 }
    }

    /// The record's flags slot: `dynamicFlag` | upvalue count << `upvalueShift`.
    static func flags(_ record: Int32, _ L: OpaquePointer) -> lua_Integer {
        lua_rawgeti(L, record, flagsSlot)
        defer { clua_pop(L, 1) }
        return clua_tointeger(L, -1)
    }

    static func environments(_ record: Int32, _ L: OpaquePointer) -> Int64 {
        lua_rawgeti(L, record, environmentsSlot)
        defer { clua_pop(L, 1) }
        return Int64(clua_tointeger(L, -1))
    }

    /// Dumps and scans the function at `function`, stores its record in the
    /// cache table at `cache` and pushes the record. Runs in protected mode,
    /// because it allocates. [-0, +1]
    static func fill(state: LuaState, function: Int32, cache: Int32) throws(LuaCodecError) {
        let L = state.pointer
        var context = Context()
        // Allocation below may run a GC step, and a step may run finalizers:
        // Lua code that could change the tables the encoder is walking.
        let gcWasRunning = clua_gc_stop(L) != 0
        defer { if gcWasRunning { clua_gc_restart(L) } }
        lua_pushvalue(L, cache)
        lua_pushvalue(L, function)
        let status = withUnsafeMutablePointer(to: &context) { pointer in
            clua_protect(L, fillBody, pointer, 2, 1)
        }
        guard status == LUA_OK else {
            clua_pop(L, 1)
            throw context.error ?? LuaCodecError(.unsupportedValue, "could not be dumped")
        }
    }

    private struct Context {
        var error: LuaCodecError?
    }

    /// Stack inside: 1 = cache table, 2 = function.
    private static let fillBody: clua_Body = { L, raw in
        let context = raw!.assumingMemoryBound(to: Context.self)
        guard let L else { return -1 }
        var dump: [UInt8] = []
        lua_pushvalue(L, 2)
        let status = withUnsafeMutablePointer(to: &dump) { buffer in
            lua_dump(L, { _, data, size, userData in
                let buffer = userData!.assumingMemoryBound(to: [UInt8].self)
                buffer.pointee.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size))
                return 0
            }, buffer, 0)
        }
        clua_pop(L, 1)
        guard status == 0 else {
            context.pointee.error = LuaCodecError(.unsupportedValue, "could not be dumped")
            lua_pushstring(L, "dump failed")
            return -1
        }

        clua_pushglobaltable(L)
        let globals = lua_topointer(L, -1)
        clua_pop(L, 1)
        var environments: Set<Int> = []
        var mask = EnvironmentMask()
        var n: Int32 = 1
        while lua_getupvalue(L, 2, n) != nil {
            if lua_type(L, -1) == LUA_TTABLE && lua_topointer(L, -1) == globals {
                environments.insert(Int(n - 1))
                mask.insert(Int(n))
            }
            clua_pop(L, 1)
            n += 1
        }

        let parsed = dump.withUnsafeBytes { bytes in
            Result { () throws(LuaCodecError) in try BytecodeChunk.parse(bytes) }
        }
        guard case .success(let proto) = parsed else {
            if case .failure(let error) = parsed { context.pointee.error = error }
            lua_pushstring(L, "bytecode scan failed")
            return -1
        }
        let scan = GlobalScan(proto, isEnvironment: environments.contains)

        lua_createtable(L, Int32(scan.reads.count + 3), 0)
        dump.withUnsafeBytes { _ = lua_pushlstring(L, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        lua_rawseti(L, -2, dumpSlot)
        lua_pushinteger(L, (scan.dynamic ? dynamicFlag : 0) | lua_Integer(n - 1) << upvalueShift)
        lua_rawseti(L, -2, flagsSlot)
        lua_pushinteger(L, lua_Integer(mask.bits))
        lua_rawseti(L, -2, environmentsSlot)
        for (i, name) in scan.reads.enumerated() {
            lua_pushstring(L, name)
            lua_rawseti(L, -2, firstNameSlot + lua_Integer(i))
        }
        lua_pushvalue(L, 2)
        lua_pushvalue(L, -2)
        lua_rawset(L, 1)
        return 1
    }
}
