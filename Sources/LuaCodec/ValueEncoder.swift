import CLua
import CLuaShims
import LuaKit

/*
 * The encoder walks Lua values on the stack and writes docs/codec-format.md.
 *
 * Invariant: outside `fillFunctionCache` the encoder calls only Lua API
 * functions that neither raise nor allocate Lua objects (type tests, raw
 * gets, lua_next over tables it does not modify, upvalue reads, stack pushes
 * after lua_checkstack). It can therefore run outside protected mode, and no
 * longjmp ever crosses its Swift frames. The one allocating step, filling the
 * per-function cache, runs under clua_protect.
 *
 * Identity: every table and Lua function gets an ordinal in the order it is
 * first written. A second sighting writes a `ref` to that ordinal and marks
 * the first occurrence shared, so the decoder remembers only objects that
 * are referred to again.
 *
 * Errors unwind as Swift throws; each frame adds its step of the path
 * (field, upvalue, global...) so the message names where the value was found.
 */
struct ValueEncoder {
    static let maxDepth = 1000

    let state: LuaState
    let L: OpaquePointer
    let tables: CodecTables
    let extensions: ExtensionTable
    /// The global table of this state: the environment functions close over.
    let globals: UnsafeRawPointer

    private var identity: [UnsafeRawPointer: Int] = [:]
    private var objectOffsets: [Int] = []
    private var cells: [UnsafeRawPointer: (ordinal: Int, upvalue: Int)] = [:]
    private var shippedGlobals: Set<UnsafeRawPointer> = []
    private var depth = 0
    /// How many functions were dumped and scanned (cache misses), for tests and benchmarks.
    private(set) var functionDumps = 0
    /// Absolute stack slots of registry tables pushed for this call (0 = not yet).
    private var namesSlot: Int32 = 0
    private var pristineSlot: Int32 = 0
    private var cacheSlot: Int32 = 0
    private var extensionSlot: Int32 = 0
    private var globalsSlot: Int32 = 0

    init(state: LuaState, tables: CodecTables, extensions: ExtensionTable) {
        self.state = state
        self.L = state.pointer
        self.tables = tables
        self.extensions = extensions
        clua_pushglobaltable(state.pointer)
        self.globals = lua_topointer(state.pointer, -1)!
        clua_pop(state.pointer, 1)
    }

    /// Encodes `count` values starting at absolute index `first` as one message;
    /// errors are rooted at `"<label> <n>"`. The stack is left as it was.
    mutating func encode(first: Int32, count: Int32, label: String) throws(LuaCodecError) -> [UInt8] {
        let base = lua_gettop(L)
        defer {
            lua_settop(L, base)
            resetScratch()
        }
        var out = ByteWriter()
        out.byte(Wire.magic0)
        out.byte(Wire.magic1)
        out.byte(Wire.version)
        out.varint(Int(count))
        for i in 0..<count where lua_type(L, first + i) >= LUA_TTABLE {
            try pushWorkingTables()
            break
        }
        for i in 0..<count {
            do {
                try value(first + i, &out)
            } catch var error {
                error.root = count == 1 && label == "value" ? label : "\(label) \(i + 1)"
                throw error
            }
        }
        return out.take()
    }

    private mutating func resetScratch() {
        if !objectOffsets.isEmpty {
            identity.removeAll(keepingCapacity: identity.count < 4096)
            objectOffsets.removeAll(keepingCapacity: objectOffsets.count < 4096)
        }
        if !cells.isEmpty { cells.removeAll(keepingCapacity: cells.count < 4096) }
        if !shippedGlobals.isEmpty { shippedGlobals.removeAll(keepingCapacity: true) }
        depth = 0
        namesSlot = 0
        pristineSlot = 0
        cacheSlot = 0
        extensionSlot = 0
        globalsSlot = 0
    }

    // MARK: values

    /// Writes the value at absolute index `index`; leaves the stack balanced.
    private mutating func value(_ index: Int32, _ out: inout ByteWriter) throws(LuaCodecError) {
        switch lua_type(L, index) {
        case LUA_TNIL:
            out.tag(.nil)
        case LUA_TBOOLEAN:
            out.tag(lua_toboolean(L, index) != 0 ? .true : .false)
        case LUA_TNUMBER:
            if clua_isinteger(L, index) != 0 {
                out.tag(.integer)
                out.zigzag(Int64(clua_tointeger(L, index)))
            } else {
                out.tag(.float)
                out.float(clua_tonumber(L, index))
            }
        case LUA_TSTRING:
            var length = 0
            let chars = lua_tolstring(L, index, &length)!
            out.tag(.string)
            out.lengthPrefixed(UnsafeRawBufferPointer(start: chars, count: length))
        case LUA_TTABLE:
            try table(index, &out)
        case LUA_TFUNCTION:
            try function(index, &out)
        case LUA_TUSERDATA:
            try userdata(index, &out)
        case LUA_TLIGHTUSERDATA:
            throw LuaCodecError(.unsupportedValue, "is a light userdata")
        case LUA_TTHREAD:
            throw LuaCodecError(.unsupportedValue, "is a coroutine")
        default:
            throw LuaCodecError(.unsupportedValue, "has an unknown type")
        }
    }

    /// A back-reference if the object was written before in this message.
    private mutating func writeIfSeen(_ object: UnsafeRawPointer, _ out: inout ByteWriter) -> Bool {
        guard let ordinal = identity[object] else { return false }
        out.setFlag(Wire.sharedFlag, at: objectOffsets[ordinal])
        out.tag(.ref)
        out.varint(ordinal)
        return true
    }

    /// Starts a new object: records its ordinal and the offset of its tag.
    private mutating func beginObject(_ object: UnsafeRawPointer, _ tag: Wire.Tag, _ out: inout ByteWriter) throws(LuaCodecError) -> Int {
        guard depth < Self.maxDepth else {
            throw LuaCodecError(.tooDeep, "is nested more than \(Self.maxDepth) levels deep")
        }
        guard lua_checkstack(L, 8) != 0 else {
            throw LuaCodecError(.tooDeep, "needs more Lua stack than is available")
        }
        let ordinal = objectOffsets.count
        identity[object] = ordinal
        objectOffsets.append(out.count)
        out.tag(tag)
        return ordinal
    }

    /// Writes a standard-library value or module member by name, if it is one.
    private mutating func writeIfNamed(_ index: Int32, _ out: inout ByteWriter) -> Bool {
        lua_pushvalue(L, index)
        guard lua_rawget(L, namesSlot) == LUA_TSTRING else {
            clua_pop(L, 1)
            return false
        }
        var length = 0
        let chars = lua_tolstring(L, -1, &length)!
        let name = UnsafeRawBufferPointer(start: chars, count: length)
        switch name[0] {
        case UInt8(ascii: "B"):
            out.tag(.builtin)
            out.lengthPrefixed(UnsafeRawBufferPointer(rebasing: name[1...]))
        case UInt8(ascii: "M"):
            out.tag(.module)
            out.lengthPrefixed(UnsafeRawBufferPointer(rebasing: name[1...]))
        default:  // "F<module>\0<field>"
            let split = name[1...].firstIndex(of: 0) ?? name.endIndex
            out.tag(.moduleField)
            out.lengthPrefixed(UnsafeRawBufferPointer(rebasing: name[1..<split]))
            out.lengthPrefixed(UnsafeRawBufferPointer(rebasing: name[min(split + 1, name.endIndex)...]))
        }
        clua_pop(L, 1)
        return true
    }

    /// Writes the value as an extension if its metatable is registered; the
    /// metatable must be on top of the stack (it is left there).
    private mutating func writeIfExtension(_ index: Int32, _ out: inout ByteWriter) throws(LuaCodecError) -> Bool {
        lua_pushvalue(L, -1)
        let isKind = lua_rawget(L, extensionSlot) == LUA_TNUMBER
        let kind = clua_tointeger(L, -1)
        clua_pop(L, 1)
        guard isKind, let codecExtension = extensions.byKind[Int(kind) & 0xFF] else { return false }
        var payload: [UInt8] = []
        let top = lua_gettop(L)
        try codecExtension.encode(state, at: index, into: &payload)
        precondition(lua_gettop(L) == top, "codec extension \(kind) left the stack unbalanced")
        out.tag(.extension)
        out.byte(UInt8(kind))
        payload.withUnsafeBytes { out.lengthPrefixed($0) }
        return true
    }

    private mutating func table(_ index: Int32, _ out: inout ByteWriter) throws(LuaCodecError) {
        let object = lua_topointer(L, index)!
        if writeIfSeen(object, &out) || writeIfNamed(index, &out) { return }
        let hasMetatable = lua_getmetatable(L, index) != 0
        if hasMetatable {
            if try writeIfExtension(index, &out) { clua_pop(L, 1); return }
        }
        _ = try beginObject(object, .table, &out)
        depth += 1
        let count = Int64(lua_rawlen(L, index))
        out.varint(UInt64(count))
        // One pass of lua_next. Lua visits the array part first, in order, so
        // keys 1, 2, ... arrive first; when the sequence breaks (a hole, or
        // the rest of 1...count lives in the hash part) the remaining
        // positions are fetched with rawgeti and skipped later.
        var written: Int64 = 0
        var inArray = true
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            let valueIndex = lua_gettop(L)
            let keyIndex = valueIndex - 1
            let intKey: Int64? = clua_isinteger(L, keyIndex) != 0 ? Int64(clua_tointeger(L, keyIndex)) : nil
            if inArray {
                if written < count, intKey == written + 1 {
                    written += 1
                    try element(valueIndex, at: written, &out)
                    clua_pop(L, 1)
                    continue
                }
                try fillArray(index, from: written, to: count, &out)
                written = count
                inArray = false
            }
            if let intKey, intKey >= 1, intKey <= count {
                clua_pop(L, 1)
                continue
            }
            do {
                try value(keyIndex, &out)
            } catch var error {
                error.path.insert(.key, at: 0)
                throw error
            }
            do {
                try value(valueIndex, &out)
            } catch var error {
                error.path.insert(fieldSegment(keyIndex), at: 0)
                throw error
            }
            clua_pop(L, 1)
        }
        if inArray { try fillArray(index, from: written, to: count, &out) }
        out.tag(.nil)
        if hasMetatable {
            do {
                try value(lua_gettop(L), &out)
            } catch var error {
                error.path.insert(.metatable, at: 0)
                throw error
            }
            clua_pop(L, 1)
        } else {
            out.tag(.nil)
        }
        depth -= 1
    }

    private mutating func fillArray(_ table: Int32, from written: Int64, to count: Int64, _ out: inout ByteWriter) throws(LuaCodecError) {
        var i = written
        while i < count {
            i += 1
            lua_rawgeti(L, table, lua_Integer(i))
            try element(lua_gettop(L), at: i, &out)
            clua_pop(L, 1)
        }
    }

    @inline(__always)
    private mutating func element(_ index: Int32, at position: Int64, _ out: inout ByteWriter) throws(LuaCodecError) {
        do {
            try value(index, &out)
        } catch var error {
            error.path.insert(.index(String(position)), at: 0)
            throw error
        }
    }

    /// How a key appears in a path: `name` for identifiers, `[key]` otherwise.
    private func fieldSegment(_ keyIndex: Int32) -> PathSegment {
        if lua_type(L, keyIndex) == LUA_TSTRING, let key = state.toString(at: keyIndex) {
            let isName = key.first.map { $0 == "_" || $0.isLetter } == true
                && key.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber }
            return isName ? .field(key) : .index("\"\(key)\"")
        }
        if lua_type(L, keyIndex) == LUA_TNUMBER { return .index(state.describe(at: keyIndex)) }
        return .index(String(cString: lua_typename(L, lua_type(L, keyIndex))))
    }

    private mutating func userdata(_ index: Int32, _ out: inout ByteWriter) throws(LuaCodecError) {
        if writeIfNamed(index, &out) { return }
        if lua_getmetatable(L, index) != 0 {
            if try writeIfExtension(index, &out) { clua_pop(L, 1); return }
            let hasName = lua_getfield(L, -1, "__name") == LUA_TSTRING  // raw table read of a metatable
            let typeName = hasName ? state.toString(at: -1) : nil
            clua_pop(L, 2)
            if let typeName { throw LuaCodecError(.unsupportedValue, "is a userdata (\(typeName)) that cannot be serialized") }
        }
        throw LuaCodecError(.unsupportedValue, "is a userdata that cannot be serialized")
    }

    // MARK: functions

    private mutating func function(_ index: Int32, _ out: inout ByteWriter) throws(LuaCodecError) {
        let object = lua_topointer(L, index)!
        if writeIfSeen(object, &out) || writeIfNamed(index, &out) { return }
        if lua_iscfunction(L, index) != 0 {
            throw LuaCodecError(.unsupportedValue, "is a C function that is neither in the standard library nor in a loaded module")
        }
        let record = try cachedRecord(index)
        let flags = lua_rawgeti(L, record, 2) == LUA_TNUMBER ? clua_tointeger(L, -1) : 0
        clua_pop(L, 1)
        if flags & FunctionRecord.dynamicFlag != 0 {
            throw LuaCodecError(.unresolvableGlobal,
                                "is function \(where_(index)), which reads globals through a computed key (_G[expr] or _ENV[expr]); only globals named in the code can be shipped, so read the value into a local or pass it as an argument")
        }
        let ordinal = try beginObject(object, .function, &out)
        depth += 1
        lua_rawgeti(L, record, 1)
        var length = 0
        let code = lua_tolstring(L, -1, &length)!
        out.lengthPrefixed(UnsafeRawBufferPointer(start: code, count: length))
        clua_pop(L, 1)

        var upvalueCount = 0
        while lua_getupvalue(L, index, Int32(upvalueCount + 1)) != nil {
            clua_pop(L, 1)
            upvalueCount += 1
        }
        out.varint(upvalueCount)
        var readsGlobals = false
        for n in 1...max(upvalueCount, 1) where upvalueCount > 0 {
            let name = lua_getupvalue(L, index, Int32(n))
            let upvalueIndex = lua_gettop(L)
            if lua_type(L, upvalueIndex) == LUA_TTABLE && lua_topointer(L, upvalueIndex) == globals {
                out.byte(Wire.Upvalue.env.rawValue)
                readsGlobals = true
            } else if let cell = lua_upvalueid(L, index, Int32(n)).map(UnsafeRawPointer.init),
                      let shared = cells[cell] {
                out.setFlag(Wire.sharedFlag, at: objectOffsets[shared.ordinal])
                out.byte(Wire.Upvalue.join.rawValue)
                out.varint(shared.ordinal)
                out.varint(shared.upvalue)
            } else {
                if let cell = lua_upvalueid(L, index, Int32(n)).map(UnsafeRawPointer.init) {
                    cells[cell] = (ordinal, n)
                }
                out.byte(Wire.Upvalue.value.rawValue)
                do {
                    try value(upvalueIndex, &out)
                } catch var error {
                    let upvalueName = name.map { String(cString: $0) } ?? "?"
                    error.path.insert(.upvalue(name: upvalueName.isEmpty ? "?" : upvalueName, function: where_(index)), at: 0)
                    throw error
                }
            }
            clua_pop(L, 1)
        }
        if readsGlobals { try shipGlobals(of: index, record: record, &out) }
        out.varint(0)  // end of globals
        clua_pop(L, 1)  // the record
        depth -= 1
    }

    /// Writes `(name, value)` for each global the function reads that the
    /// script defined: present, and not the pristine standard-library value.
    /// Each name is shipped once per message.
    private mutating func shipGlobals(of function: Int32, record: Int32, _ out: inout ByteWriter) throws(LuaCodecError) {
        var i: lua_Integer = 3
        while lua_rawgeti(L, record, i) == LUA_TSTRING {
            let nameIndex = lua_gettop(L)
            i += 1
            let namePointer = lua_topointer(L, nameIndex)!
            if shippedGlobals.contains(namePointer) { clua_pop(L, 1); continue }
            lua_pushvalue(L, nameIndex)
            let valueType = lua_rawget(L, globalsSlot)
            lua_pushvalue(L, nameIndex)
            lua_rawget(L, pristineSlot)
            let isPristine = lua_rawequal(L, -1, -2) != 0
            clua_pop(L, 1)
            if valueType == LUA_TNIL || isPristine {
                clua_pop(L, 2)
                continue
            }
            shippedGlobals.insert(namePointer)
            var length = 0
            let chars = lua_tolstring(L, nameIndex, &length)!
            out.lengthPrefixed(UnsafeRawBufferPointer(start: chars, count: length))
            do {
                try value(lua_gettop(L), &out)
            } catch var error {
                error.path.insert(.global(name: state.toString(at: nameIndex) ?? "?", function: where_(function)), at: 0)
                throw error
            }
            clua_pop(L, 2)
        }
        clua_pop(L, 1)
    }

    /// Pushes the function's cache record, filling it on first use; returns its index.
    private mutating func cachedRecord(_ function: Int32) throws(LuaCodecError) -> Int32 {
        lua_pushvalue(L, function)
        if lua_rawget(L, cacheSlot) == LUA_TTABLE { return lua_gettop(L) }
        clua_pop(L, 1)
        functionDumps += 1
        try FunctionRecord.fill(state: state, function: function, cache: cacheSlot)
        return lua_gettop(L)
    }

    /// `job.lua:12` for the Lua function at `index`.
    private func where_(_ index: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        clua_funcwhere(L, index, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Pushes the registry tables that composite values need, once per call.
    /// They sit below everything the walk pushes, so the walk stays balanced.
    private mutating func pushWorkingTables() throws(LuaCodecError) {
        guard lua_checkstack(L, 16) != 0 else {
            throw LuaCodecError(.tooDeep, "cannot be encoded: the Lua stack is full")
        }
        namesSlot = pushRegistry(tables.names)
        pristineSlot = pushRegistry(tables.pristine)
        cacheSlot = pushRegistry(tables.functionCache)
        extensionSlot = pushRegistry(tables.extensionMetatables)
        clua_pushglobaltable(L)
        globalsSlot = lua_gettop(L)
    }

    private func pushRegistry(_ ref: Int32) -> Int32 {
        lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(ref))
        return lua_gettop(L)
    }
}
