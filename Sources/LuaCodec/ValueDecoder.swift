import CLua
import CLuaShims
import LuaKit

/*
 * The decoder turns bytes written by ValueEncoder (docs/codec-format.md)
 * back into Lua values, in protected mode: it allocates Lua objects, and
 * allocation can raise. It never raises itself; a problem is thrown as a
 * LuaCodecError from Swift code, the body returns -1 and the C trampoline
 * raises a placeholder that clua_protect turns back into a status.
 *
 * Untrusted input: every length is checked against the bytes that remain
 * before anything is allocated for it; nesting is capped; every value is
 * checked before it reaches an API call that trusts its argument
 * (lua_setmetatable, lua_upvaluejoin, lua_rawset with a NaN key); bytecode
 * is validated by BytecodeChunk before lua_load sees it.
 *
 * Scalars are read by clua_get_scalar (C) when they are well-formed; any
 * other tag, and malformed scalars, take the Swift path, which reports.
 *
 * Metatables are set only after the whole message has been read and
 * validated: setting one with `__gc` registers a finalizer, which would let
 * a message that is then rejected run code at the next collection; and a
 * metatable still being filled (a cycle) is complete by then.
 *
 * Scratch: the pending metatables, the table of shared objects (ordinal -> object) and the message's
 * environment live in two registry slots, created on first use and cleared
 * when the decode ends, so a message without them pays nothing. Decoding is
 * therefore not reentrant (checked).
 */
struct ValueDecoder {
    static let maxDepth = ValueEncoder.maxDepth

    let state: LuaState
    let L: OpaquePointer
    let tables: CodecTables
    let extensions: ExtensionTable

    init(state: LuaState, tables: CodecTables, extensions: ExtensionTable) {
        self.state = state
        self.L = state.pointer
        self.tables = tables
        self.extensions = extensions
    }

    /// Pushes the values of one message; returns how many.
    private var decoding = false
    /// See `LuaCodec.acceptsFinalizers`.
    var acceptsFinalizers = true

    mutating func decode(_ bytes: UnsafeRawBufferPointer) throws(LuaCodecError) -> Int32 {
        precondition(!decoding, "LuaCodec.decode called from inside a decode (an extension?)")
        decoding = true
        defer { decoding = false }
        var run = Run(decoder: self, reader: ByteReader(bytes))
        let base = lua_gettop(L)
        let status = withUnsafeMutablePointer(to: &run) { pointer in
            clua_protect(L, ValueDecoder.decodeBody, pointer, 0, CLUA_MULTRET)
        }
        if run.hasShared { clearScratch(tables.sharedScratch) }
        if run.hasEnvironment { clearScratch(tables.environmentScratch) }
        if run.pendingMetatables > 0 { clearScratch(tables.metatableScratch) }
        guard status == LUA_OK else {
            let message = state.describe(at: -1)
            lua_settop(L, base)
            throw run.error ?? LuaCodecError(.malformed, "could not be decoded: \(message)")
        }
        return lua_gettop(L) - base
    }

    /// Releases what a scratch slot held; the slot exists, so this does not allocate.
    private func clearScratch(_ slot: Int32) {
        lua_pushboolean(L, 0)
        lua_rawseti(L, CLUA_REGISTRYINDEX, lua_Integer(slot))
    }

    private static let decodeBody: clua_Body = { _, raw in
        let run = raw!.assumingMemoryBound(to: Run.self)
        do throws(LuaCodecError) {
            return try run.pointee.message()
        } catch {
            run.pointee.error = error
            lua_pushstring(run.pointee.L, "codec: \(error.message)")
            return -1
        }
    }

    /// The state of one `decode` call.
    private struct Run {
        /// The decoder outlives the run (it waits for it), so no reference counting.
        unowned(unsafe) let state: LuaState
        unowned(unsafe) let extensions: ExtensionTable
        let tables: CodecTables
        let acceptsFinalizers: Bool
        let L: OpaquePointer
        var reader: ByteReader
        var error: LuaCodecError?
        var ordinals = 0
        var depth = 0
        var hasShared = false
        var hasEnvironment = false
        /// Number of (table, metatable) pairs waiting in the metatable scratch slot.
        var pendingMetatables = 0

        init(decoder: ValueDecoder, reader: ByteReader) {
            state = decoder.state
            extensions = decoder.extensions
            tables = decoder.tables
            acceptsFinalizers = decoder.acceptsFinalizers
            L = decoder.L
            self.reader = reader
        }

        mutating func message() throws(LuaCodecError) -> Int32 {
            guard try reader.byte() == Wire.magic0, try reader.byte() == Wire.magic1 else {
                throw .malformed("not a codec message (bad magic)")
            }
            let version = try reader.byte()
            guard version == Wire.version else {
                throw .malformed("codec version \(version) is not supported (this build reads version \(Wire.version))")
            }
            let count = try reader.count(what: "value count")
            guard lua_checkstack(L, Int32(clamping: count + 8)) != 0 else {
                throw LuaCodecError(.limitExceeded, "has \(count) values, more than a Lua stack can hold")
            }
            for _ in 0..<count { try value() }
            guard reader.isAtEnd else { throw .malformed("\(reader.remaining) trailing bytes after the message") }
            try setPendingMetatables()
            return Int32(count)
        }

        /// Decodes one value and pushes it.
        mutating func value() throws(LuaCodecError) {
            var next = reader.position
            if let base = reader.buffer.baseAddress,
               clua_get_scalar(L, base.assumingMemoryBound(to: UInt8.self), reader.buffer.count, &next) != 0 {
                reader.skip(to: next)
                return
            }
            let at = reader.position
            let byte = try reader.byte()
            let shared = byte & Wire.sharedFlag != 0
            guard let tag = Wire.Tag(rawValue: byte & ~Wire.sharedFlag) else {
                throw .malformed("unknown tag \(byte) at byte \(at)")
            }
            if shared && tag != .table && tag != .function {
                throw .malformed("shared flag on a non-object tag at byte \(at)")
            }
            switch tag {
            case .nil: lua_pushnil(L)
            case .false: lua_pushboolean(L, 0)
            case .true: lua_pushboolean(L, 1)
            case .integer: lua_pushinteger(L, lua_Integer(try reader.zigzag()))
            case .float: lua_pushnumber(L, try reader.float())
            case .string: pushString(try reader.lengthPrefixed(what: "string length"))
            case .table: try table(shared: shared)
            case .function: try function(shared: shared)
            case .ref: try reference(at: at)
            case .builtin: try builtin()
            case .module: try module(field: false)
            case .moduleField: try module(field: true)
            case .extension: try extensionValue()
            }
        }

        /// Runs a C scalar loop over the unread bytes and advances past what it consumed.
        /// Only called after a tag was read, so the buffer is not empty.
        private mutating func withScalars<R>(_ body: (UnsafePointer<UInt8>, Int, inout Int) -> R) -> R {
            let base = reader.buffer.baseAddress!
            var position = reader.position
            let result = body(base.assumingMemoryBound(to: UInt8.self), reader.buffer.count, &position)
            reader.skip(to: position)
            return result
        }

        private func pushString(_ bytes: UnsafeRawBufferPointer) {
            if let base = bytes.baseAddress, bytes.count > 0 {
                lua_pushlstring(L, base.assumingMemoryBound(to: CChar.self), bytes.count)
            } else {
                lua_pushlstring(L, "", 0)
            }
        }

        /// Claims the next ordinal for a new object about to be pushed.
        private mutating func enter() throws(LuaCodecError) -> Int {
            guard depth < ValueDecoder.maxDepth else {
                throw .malformed("values nested more than \(ValueDecoder.maxDepth) levels deep")
            }
            guard clua_stack_room() > ValueEncoder.stackReserve else {
                throw LuaCodecError(.limitExceeded, "values nested \(depth) levels deep exceed this thread's stack")
            }
            guard lua_checkstack(L, 8) != 0 else { throw .malformed("decoding needs more Lua stack than is available") }
            depth += 1
            defer { ordinals += 1 }
            return ordinals
        }

        /// Remembers the object on top of the stack as `ordinal`.
        private mutating func remember(_ ordinal: Int) {
            let slot = lua_Integer(tables.sharedScratch)
            if !hasShared {
                lua_createtable(L, 0, 4)
                lua_rawseti(L, CLUA_REGISTRYINDEX, slot)
                hasShared = true
            }
            lua_rawgeti(L, CLUA_REGISTRYINDEX, slot)
            lua_pushvalue(L, -2)
            lua_rawseti(L, -2, lua_Integer(ordinal))
            clua_pop(L, 1)
        }

        private mutating func table(shared: Bool) throws(LuaCodecError) {
            let ordinal = try enter()
            let count = try reader.count(what: "array length")
            lua_createtable(L, Int32(clamping: count), 0)
            let table = lua_gettop(L)
            if shared { remember(ordinal) }
            let L = self.L
            var next: lua_Integer = 1
            while next <= count {
                let from = next
                next = withScalars { data, size, position in
                    clua_get_array(L, table, from, lua_Integer(count), data, size, &position)
                }
                guard next <= count else { break }
                try value()
                lua_rawseti(L, table, next)
                next += 1
            }
            pairs: while true {
                let keyAt = reader.position
                let status = withScalars { data, size, position in
                    clua_get_pairs(L, table, data, size, &position)
                }
                switch status {
                case CLUA_PAIRS_DONE:
                    break pairs
                case CLUA_PAIRS_NAN_KEY:
                    throw .malformed("table key is NaN at byte \(keyAt)")
                case CLUA_PAIRS_KEY:
                    guard let next = reader.peek() else { throw .malformed("truncated table at byte \(reader.position)") }
                    if next == Wire.Tag.nil.rawValue { throw .malformed("malformed table at byte \(reader.position)") }
                    try value()
                    if lua_type(L, -1) == LUA_TNUMBER && clua_isinteger(L, -1) == 0 && clua_tonumber(L, -1).isNaN {
                        throw .malformed("table key is NaN at byte \(reader.position)")
                    }
                    try value()
                default:  // CLUA_PAIRS_VALUE: the key is on the stack
                    try value()
                }
                lua_rawset(L, table)
            }
            let metaAt = reader.position
            try value()
            switch lua_type(L, -1) {
            case LUA_TNIL: clua_pop(L, 1)
            case LUA_TTABLE: deferMetatable(of: table)
            default: throw .malformed("metatable is not a table at byte \(metaAt)")
            }
            depth -= 1
        }

        private mutating func function(shared: Bool) throws(LuaCodecError) {
            let ordinal = try enter()
            let code = try reader.lengthPrefixed(what: "bytecode length")
            let upvalueCount = try BytecodeChunk.validate(code)
            let status = luaL_loadbufferx(L, code.baseAddress!.assumingMemoryBound(to: CChar.self), code.count, "=?", "b")
            guard status == LUA_OK else {
                throw .malformed("bytecode rejected by Lua: \(state.describe(at: -1))")
            }
            let function = lua_gettop(L)
            if shared { remember(ordinal) }
            let declared = try reader.varint()
            guard declared == UInt64(upvalueCount) else {
                throw .malformed("function declares \(declared) upvalues, its bytecode has \(upvalueCount)")
            }
            for n in 0..<upvalueCount {
                let upvalue = Int32(n + 1)
                let kindAt = reader.position
                switch Wire.Upvalue(rawValue: try reader.byte()) {
                case .value:
                    try value()
                    _ = lua_setupvalue(L, function, upvalue)
                case .env:
                    pushEnvironment()
                    _ = lua_setupvalue(L, function, upvalue)
                case .join:
                    let target = try reader.varint()
                    let targetUpvalue = try reader.varint()
                    try pushShared(target, at: kindAt)
                    guard lua_type(L, -1) == LUA_TFUNCTION, lua_iscfunction(L, -1) == 0 else {
                        throw .malformed("upvalue join at byte \(kindAt) points at a non-function")
                    }
                    guard targetUpvalue >= 1, targetUpvalue <= 255,
                          lua_getupvalue(L, -1, Int32(targetUpvalue)) != nil else {
                        throw .malformed("upvalue join at byte \(kindAt) names a missing upvalue")
                    }
                    clua_pop(L, 1)
                    lua_upvaluejoin(L, function, upvalue, -1, Int32(targetUpvalue))
                    clua_pop(L, 1)
                case nil:
                    throw .malformed("unknown upvalue kind at byte \(kindAt)")
                }
            }
            // Globals the function reads, into the message's environment.
            while true {
                let name = try reader.lengthPrefixed(what: "global name length")
                if name.isEmpty { break }
                pushEnvironment()
                pushString(name)
                try value()
                lua_rawset(L, -3)
                clua_pop(L, 1)
            }
            depth -= 1
        }

        /// Records (table, metatable on top of the stack) to be joined by
        /// `setPendingMetatables`; pops the metatable.
        private mutating func deferMetatable(of table: Int32) {
            let slot = lua_Integer(tables.metatableScratch)
            if pendingMetatables == 0 {
                lua_createtable(L, 8, 0)
                lua_rawseti(L, CLUA_REGISTRYINDEX, slot)
            }
            lua_rawgeti(L, CLUA_REGISTRYINDEX, slot)
            lua_pushvalue(L, table)
            lua_rawseti(L, -2, lua_Integer(2 * pendingMetatables + 1))
            lua_rotate(L, -2, 1)  // metatable on top, list below
            lua_rawseti(L, -2, lua_Integer(2 * pendingMetatables + 2))
            clua_pop(L, 1)
            pendingMetatables += 1
        }

        /// Sets every deferred metatable, in the order they were read; when
        /// finalizers are refused, first checks that none has `__gc`.
        private func setPendingMetatables() throws(LuaCodecError) {
            guard pendingMetatables > 0 else { return }
            lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(tables.metatableScratch))
            if !acceptsFinalizers {
                for i in 0..<pendingMetatables {
                    lua_rawgeti(L, -1, lua_Integer(2 * i + 2))
                    lua_pushstring(L, "__gc")
                    if lua_rawget(L, -2) != LUA_TNIL {
                        throw .unavailable("a metatable has a __gc finalizer, which this codec refuses")
                    }
                    clua_pop(L, 2)
                }
            }
            for i in 0..<pendingMetatables {
                lua_rawgeti(L, -1, lua_Integer(2 * i + 1))
                lua_rawgeti(L, -2, lua_Integer(2 * i + 2))
                lua_setmetatable(L, -2)
                clua_pop(L, 1)
            }
            clua_pop(L, 1)
        }

        /// Pushes the message's environment: a table whose `_G` is itself and
        /// whose metatable falls back to the receiver's globals.
        private mutating func pushEnvironment() {
            if !hasEnvironment {
                lua_createtable(L, 0, 4)
                lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(tables.environmentMeta))
                lua_setmetatable(L, -2)
                lua_pushstring(L, "_G")
                lua_pushvalue(L, -2)
                lua_rawset(L, -3)
                lua_rawseti(L, CLUA_REGISTRYINDEX, lua_Integer(tables.environmentScratch))
                hasEnvironment = true
            }
            lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(tables.environmentScratch))
        }

        private mutating func pushShared(_ ordinal: UInt64, at: Int) throws(LuaCodecError) {
            guard hasShared, ordinal < UInt64(ordinals) else {
                throw .malformed("reference at byte \(at) to object \(ordinal), which is not a shared object before it")
            }
            lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(tables.sharedScratch))
            let found = lua_rawgeti(L, -1, lua_Integer(ordinal)) != LUA_TNIL
            lua_rotate(L, -2, 1)
            clua_pop(L, 1)
            guard found else {
                clua_pop(L, 1)
                throw .malformed("reference at byte \(at) to object \(ordinal), which is not a shared object before it")
            }
        }

        private mutating func reference(at: Int) throws(LuaCodecError) {
            try pushShared(try reader.varint(), at: at)
        }

        private mutating func builtin() throws(LuaCodecError) {
            let name = try reader.lengthPrefixed(what: "name length")
            lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(tables.byName))
            pushString(name)
            let found = lua_rawget(L, -2) != LUA_TNIL
            lua_rotate(L, -2, 1)
            clua_pop(L, 1)
            guard found else {
                throw .unavailable("standard-library value '\(String(decoding: name, as: UTF8.self))' does not exist in this Lua")
            }
        }

        private mutating func module(field: Bool) throws(LuaCodecError) {
            let name = try reader.lengthPrefixed(what: "module name length")
            let member = field ? try reader.lengthPrefixed(what: "field name length") : nil
            let moduleName = String(decoding: name, as: UTF8.self)
            lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(tables.require))
            pushString(name)
            guard clua_pcall_traced(L, 1, 1) == LUA_OK else {
                let message = state.describe(at: -1)
                throw .unavailable("module '\(moduleName)' cannot be loaded here: \(message)")
            }
            guard let member else { return }
            guard lua_type(L, -1) == LUA_TTABLE else {
                throw .unavailable("module '\(moduleName)' is not a table, so it has no field '\(String(decoding: member, as: UTF8.self))'")
            }
            pushString(member)
            var found = lua_rawget(L, -2) != LUA_TNIL
            if !found, lua_getmetatable(L, -2) != 0 {
                // A read-only view of a module (its fields behind a table
                // __index): one level, raw, so that nothing here can raise.
                if lua_getfield(L, -1, "__index") == LUA_TTABLE {
                    pushString(member)
                    found = lua_rawget(L, -2) != LUA_TNIL
                    lua_rotate(L, -4, 1)  // the value below the nil, the metatable and __index
                    clua_pop(L, 3)
                } else {
                    clua_pop(L, 2)
                }
            }
            lua_rotate(L, -2, 1)
            clua_pop(L, 1)
            guard found else {
                throw .unavailable("module '\(moduleName)' has no field '\(String(decoding: member, as: UTF8.self))' here")
            }
        }

        private mutating func extensionValue() throws(LuaCodecError) {
            let kind = try reader.byte()
            let payload = try reader.lengthPrefixed(what: "extension payload length")
            guard let codecExtension = extensions.byKind[Int(kind)] else {
                throw .unavailable("extension kind \(kind) is not registered with this codec")
            }
            let top = lua_gettop(L)
            try codecExtension.decode(state, payload: payload)
            guard lua_gettop(L) == top + 1 else {
                throw .malformed("extension kind \(kind) pushed \(lua_gettop(L) - top) values instead of 1")
            }
        }
    }
}
