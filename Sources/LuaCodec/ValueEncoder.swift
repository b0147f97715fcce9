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
 * Scalars and the walk over a table's entries run in C (clua_codec.c),
 * which calls back into `complex` for tables, functions and userdata; the
 * bytes go to one clua_Buf shared by both sides and reused across calls.
 *
 * Errors unwind as Swift throws; each frame adds its step of the path
 * (field, upvalue, global...) so the message names where the value was found.
 */
struct ValueEncoder {
    static let maxDepth = 1000
    /// Thread stack kept free below the deepest codec frame, for Lua and error handling.
    static let stackReserve = 128 << 10

    let state: LuaState
    let L: OpaquePointer
    let tables: CodecTables
    let extensions: ExtensionTable
    /// The global table of this state: the environment functions close over.
    let globals: UnsafeRawPointer
    /// The output buffer, reused across calls (freed by `release()`).
    let buffer: UnsafeMutablePointer<clua_Buf>
    /// The error a C-driven walk stopped on.
    private var pendingError: LuaCodecError?

    /// object -> ordinal
    private var identity = PointerMap<Int>()
    /// ordinal -> offset of the object's tag, to set its shared flag later;
    /// only the first `objectCount` entries are live (reset by count).
    private var objectOffsets: [Int] = []
    private var objectCount = 0
    /// upvalue cell -> the first (function ordinal, upvalue number) holding it
    private var cells = PointerMap<(ordinal: Int, upvalue: Int)>()
    /// names (interned Lua strings) of the globals already in this message
    private var shippedGlobals = PointerMap<Void>()
    private var depth = 0
    /// How many functions were dumped and scanned (cache misses), for tests and benchmarks.
    private(set) var functionDumps = 0
    /// Absolute stack slot of the names table, pushed once per call that has
    /// a composite root (0 = not pushed). Tables needed only by functions and
    /// metatables are fetched from the registry where they are used.
    private var namesSlot: Int32 = 0

    init(state: LuaState, tables: CodecTables, extensions: ExtensionTable) {
        self.state = state
        self.L = state.pointer
        self.tables = tables
        self.extensions = extensions
        clua_pushglobaltable(state.pointer)
        self.globals = lua_topointer(state.pointer, -1)!
        clua_pop(state.pointer, 1)
        buffer = .allocate(capacity: 1)
        buffer.initialize(to: clua_Buf(data: nil, len: 0, cap: 0, failed: 0))
    }

    /// Frees the output buffer; the encoder must not be used afterwards.
    func release() {
        clua_buf_free(buffer)
        buffer.deallocate()
    }

    /// Encodes `count` values starting at absolute index `first` as one message;
    /// errors are rooted at `"<label> <n>"`, or at `label` itself for a
    /// `single` value. The stack is left as it was.
    mutating func encode(first: Int32, count: Int32, label: String, single: Bool) throws(LuaCodecError) -> EncodedMessage {
        let base = lua_gettop(L)
        defer {
            lua_settop(L, base)
            resetScratch()
            // Never keep a big buffer between messages (after a failed or a
            // small message): a later small message must not be handed it.
            if buffer.pointee.cap >= RAY_BIG_THRESHOLD { clua_buf_free(buffer) }
        }
        buffer.pointee.len = 0
        buffer.pointee.failed = 0
        clua_buf_byte(buffer, Wire.magic0)
        clua_buf_byte(buffer, Wire.magic1)
        clua_buf_byte(buffer, Wire.version)
        clua_buf_varint(buffer, UInt64(count))
        for i in 0..<count where lua_type(L, first + i) >= LUA_TTABLE {
            guard lua_checkstack(L, 16) != 0 else {
                throw LuaCodecError(.limitExceeded, "cannot be encoded: the Lua stack is full")
            }
            namesSlot = pushRegistry(tables.names)
            break
        }
        for i in 0..<count {
            do {
                try value(first + i)
            } catch var error {
                error.root = single ? label : "\(label) \(i + 1)"
                throw error
            }
        }
        guard buffer.pointee.failed == 0 else {
            clua_buf_free(buffer)
            throw LuaCodecError(.limitExceeded, "could not be encoded: out of memory")
        }
        if buffer.pointee.len >= RAY_BIG_THRESHOLD {
            // A large message keeps the block it was written to: no copy.
            let block = LargeBlock(adopting: buffer.pointee.data, count: buffer.pointee.len)
            buffer.pointee = clua_Buf(data: nil, len: 0, cap: 0, failed: 0)
            return .block(block)
        }
        return .array([UInt8](UnsafeRawBufferPointer(start: buffer.pointee.data, count: buffer.pointee.len)))
    }

    private mutating func resetScratch() {
        if objectCount > 0 {
            identity.removeAll()
            objectCount = 0
            if objectOffsets.count > 4096 { objectOffsets = [] }
        }
        cells.removeAll()
        shippedGlobals.removeAll()
        depth = 0
        namesSlot = 0
    }

    // MARK: values

    /// Writes the value at absolute index `index`; leaves the stack balanced.
    private mutating func value(_ index: Int32) throws(LuaCodecError) {
        if clua_put_scalar(L, index, buffer) != 0 { return }
        switch lua_type(L, index) {
        case LUA_TTABLE:
            try table(index)
        case LUA_TFUNCTION:
            try function(index)
        case LUA_TUSERDATA:
            try userdata(index)
        case LUA_TLIGHTUSERDATA:
            throw LuaCodecError(.unsupportedValue, "is a light userdata")
        case LUA_TTHREAD:
            throw LuaCodecError(.unsupportedValue, "is a coroutine")
        default:
            throw LuaCodecError(.unsupportedValue, "has an unknown type")
        }
    }

    /// The C table walk's way back into Swift for a non-scalar.
    private static let putComplex: clua_PutComplex = { _, index, role, position, context in
        let encoder = context!.assumingMemoryBound(to: ValueEncoder.self)
        return encoder.pointee.complex(index, role: role, position: position)
    }

    private mutating func complex(_ index: Int32, role: Int32, position: lua_Integer) -> Int32 {
        if role == CLUA_ROLE_MOVED {
            // Objects written since `position` moved up by `index` bytes; their
            // offsets are the last ones recorded (offsets grow with ordinals).
            var ordinal = objectCount - 1
            while ordinal >= 0 && objectOffsets[ordinal] >= Int(position) {
                objectOffsets[ordinal] += Int(index)
                ordinal -= 1
            }
            return 0
        }
        do {
            try value(index)
            return 0
        } catch var error {
            switch role {
            case CLUA_ROLE_ELEMENT: error.path.insert(.index(String(position)), at: 0)
            case CLUA_ROLE_KEY: error.path.insert(.key, at: 0)
            default: error.path.insert(fieldSegment(index - 1), at: 0)
            }
            pendingError = error
            return 1
        }
    }

    /// A back-reference if the object was written before in this message.
    private mutating func writeIfSeen(_ object: UnsafeRawPointer) -> Bool {
        guard let ordinal = identity[object] else { return false }
        markShared(ordinal)
        clua_buf_byte(buffer, Wire.Tag.ref.rawValue)
        clua_buf_varint(buffer, UInt64(ordinal))
        return true
    }

    /// Sets the shared flag on the tag of object `ordinal` (a tag that was not
    /// written because memory ran out is skipped; the message fails anyway).
    private func markShared(_ ordinal: Int) {
        let offset = objectOffsets[ordinal]
        if offset < buffer.pointee.len { buffer.pointee.data[offset] |= Wire.sharedFlag }
    }

    /// Starts a new object: records its ordinal and the offset of its tag.
    private mutating func beginObject(_ object: UnsafeRawPointer, _ tag: Wire.Tag) throws(LuaCodecError) -> Int {
        guard depth < Self.maxDepth else {
            throw LuaCodecError(.limitExceeded, "is nested more than \(Self.maxDepth) levels deep")
        }
        guard clua_stack_room() > Self.stackReserve else {
            throw LuaCodecError(.limitExceeded, "is nested \(depth) levels deep, more than this thread's stack allows")
        }
        guard lua_checkstack(L, 12) != 0 else {
            throw LuaCodecError(.limitExceeded, "needs more Lua stack than is available")
        }
        let ordinal = objectCount
        identity.insert(object, ordinal)
        if ordinal < objectOffsets.count {
            objectOffsets[ordinal] = buffer.pointee.len
        } else {
            objectOffsets.append(buffer.pointee.len)
        }
        objectCount += 1
        clua_buf_byte(buffer, tag.rawValue)
        return ordinal
    }

    /// Writes a standard-library value or module member by name, if it is one.
    private mutating func writeIfNamed(_ index: Int32) -> Bool {
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
            clua_buf_byte(buffer, Wire.Tag.builtin.rawValue)
            prefixed(UnsafeRawBufferPointer(rebasing: name[1...]))
        case UInt8(ascii: "M"):
            clua_buf_byte(buffer, Wire.Tag.module.rawValue)
            prefixed(UnsafeRawBufferPointer(rebasing: name[1...]))
        default:  // "F<module>\0<field>"
            let split = name[1...].firstIndex(of: 0) ?? name.endIndex
            clua_buf_byte(buffer, Wire.Tag.moduleField.rawValue)
            prefixed(UnsafeRawBufferPointer(rebasing: name[1..<split]))
            prefixed(UnsafeRawBufferPointer(rebasing: name[min(split + 1, name.endIndex)...]))
        }
        clua_pop(L, 1)
        return true
    }

    /// Writes the value as an extension if its metatable is registered; the
    /// metatable must be on top of the stack (it is left there).
    private mutating func writeIfExtension(_ index: Int32) throws(LuaCodecError) -> Bool {
        let metatable = lua_gettop(L)
        let extensionMetatables = pushRegistry(tables.extensionMetatables)
        lua_pushvalue(L, metatable)
        let isKind = lua_rawget(L, extensionMetatables) == LUA_TNUMBER
        let kind = clua_tointeger(L, -1)
        clua_pop(L, 2)
        guard isKind, let codecExtension = extensions.byKind[Int(kind) & 0xFF] else { return false }
        var payload: [UInt8] = []
        let top = lua_gettop(L)
        let gcWasRunning = clua_gc_stop(L) != 0  // its allocations must not run finalizers mid-walk
        defer { if gcWasRunning { clua_gc_restart(L) } }
        try codecExtension.encode(state, at: index, into: &payload)
        precondition(lua_gettop(L) == top, "codec extension \(kind) left the stack unbalanced")
        clua_buf_byte(buffer, Wire.Tag.extension.rawValue)
        clua_buf_byte(buffer, UInt8(kind))
        payload.withUnsafeBytes { prefixed($0) }
        return true
    }

    private mutating func table(_ index: Int32) throws(LuaCodecError) {
        let object = lua_topointer(L, index)!
        if writeIfSeen(object) || writeIfNamed(index) { return }
        let hasMetatable = lua_getmetatable(L, index) != 0
        if hasMetatable {
            if try writeIfExtension(index) { clua_pop(L, 1); return }
        }
        _ = try beginObject(object, .table)
        depth += 1
        let status = withUnsafeMutablePointer(to: &self) { me in
            clua_put_entries(me.pointee.L, index, me.pointee.buffer, ValueEncoder.putComplex, me)
        }
        if status != 0 {
            defer { pendingError = nil }
            throw pendingError ?? LuaCodecError(.unsupportedValue, "could not be encoded")
        }
        if hasMetatable {
            do {
                try value(lua_gettop(L))
            } catch var error {
                error.path.insert(.metatable, at: 0)
                throw error
            }
            clua_pop(L, 1)
        } else {
            clua_buf_byte(buffer, Wire.Tag.nil.rawValue)
        }
        depth -= 1
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

    private mutating func userdata(_ index: Int32) throws(LuaCodecError) {
        if writeIfNamed(index) { return }
        if lua_getmetatable(L, index) != 0 {
            if try writeIfExtension(index) { clua_pop(L, 1); return }
            lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(tables.nameKey))  // "__name", no allocation
            let hasName = lua_rawget(L, -2) == LUA_TSTRING  // raw: no metamethod runs mid-encode
            let typeName = hasName ? state.toString(at: -1) : nil
            clua_pop(L, 2)
            if let typeName { throw LuaCodecError(.unsupportedValue, "is a userdata (\(typeName)) that cannot be serialized") }
        }
        throw LuaCodecError(.unsupportedValue, "is a userdata that cannot be serialized")
    }

    // MARK: functions

    private mutating func function(_ index: Int32) throws(LuaCodecError) {
        let object = lua_topointer(L, index)!
        if writeIfSeen(object) || writeIfNamed(index) { return }
        if lua_iscfunction(L, index) != 0 {
            throw LuaCodecError(.unsupportedValue, "is a C function that is neither in the standard library nor in a loaded module")
        }
        var record = try cachedRecord(index)
        let recordBase = record
        let ordinal = try beginObject(object, .function)
        depth += 1
        lua_rawgeti(L, record, FunctionRecord.dumpSlot)
        var length = 0
        let code = lua_tolstring(L, -1, &length)!
        clua_buf_prefixed(buffer, code, length)
        clua_pop(L, 1)

        var flags = FunctionRecord.flags(record, L)
        let upvalueCount = Int(flags >> FunctionRecord.upvalueShift)
        clua_buf_varint(buffer, UInt64(upvalueCount))
        var environments = FunctionRecord.EnvironmentMask()
        for n in stride(from: 1, through: upvalueCount, by: 1) {
            let name = lua_getupvalue(L, index, Int32(n))
            let upvalueIndex = lua_gettop(L)
            let isEnvironment = lua_type(L, upvalueIndex) == LUA_TTABLE && lua_topointer(L, upvalueIndex) == globals
            if isEnvironment { environments.insert(n) }
            // A cell seen before is joined, whatever it holds (the global
            // table included: `local G = _G` shared by two closures stays shared).
            let cell = lua_upvalueid(L, index, Int32(n)).map(UnsafeRawPointer.init)
            if let cell, let shared = cells[cell] {
                markShared(shared.ordinal)
                clua_buf_byte(buffer, Wire.Upvalue.join.rawValue)
                clua_buf_varint(buffer, UInt64(shared.ordinal))
                clua_buf_varint(buffer, UInt64(shared.upvalue))
            } else {
                if let cell { cells.insert(cell, (ordinal, n)) }
                if isEnvironment {
                    clua_buf_byte(buffer, Wire.Upvalue.env.rawValue)
                } else {
                    clua_buf_byte(buffer, Wire.Upvalue.value.rawValue)
                    do {
                        try value(upvalueIndex)
                    } catch var error {
                        let upvalueName = name.map { String(cString: $0) } ?? "?"
                        error.path.insert(.upvalue(name: upvalueName.isEmpty ? "?" : upvalueName, function: where_(index)), at: 0)
                        throw error
                    }
                }
            }
            clua_pop(L, 1)
        }
        // The cached scan assumed which upvalues held the global table when it
        // was made; if that changed since (an upvalue reassigned), scan again.
        if !environments.matches(FunctionRecord.environments(record, L)) {
            functionDumps += 1
            try FunctionRecord.fill(state: state, function: index, cache: pushRegistry(tables.functionCache))
            lua_rotate(L, -2, 1)
            clua_pop(L, 1)
            record = lua_gettop(L)
            flags = FunctionRecord.flags(record, L)
        }
        if flags & FunctionRecord.dynamicFlag != 0 {
            throw LuaCodecError(.unresolvableGlobal,
                                "is function \(where_(index)), which reads globals through a computed key (_G[expr] or _ENV[expr]); only globals named in the code can be shipped, so read the value into a local or pass it as an argument")
        }
        if !environments.isEmpty { try shipGlobals(of: index, record: record) }
        clua_buf_byte(buffer, 0)  // end of globals
        lua_settop(L, recordBase - 1)  // the record(s)
        depth -= 1
    }

    /// Writes `(name, value)` for each global the function reads that the
    /// script defined: present, and not the pristine standard-library value.
    /// Each name is shipped once per message.
    private mutating func shipGlobals(of function: Int32, record: Int32) throws(LuaCodecError) {
        clua_pushglobaltable(L)
        let globalsSlot = lua_gettop(L)
        let pristineSlot = pushRegistry(tables.pristine)
        defer { lua_settop(L, globalsSlot - 1) }
        var i = FunctionRecord.firstNameSlot
        while lua_rawgeti(L, record, i) == LUA_TSTRING {
            let nameIndex = lua_gettop(L)
            i += 1
            let namePointer = lua_topointer(L, nameIndex)!
            if shippedGlobals[namePointer] != nil { clua_pop(L, 1); continue }
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
            shippedGlobals.insert(namePointer, ())
            var length = 0
            let chars = lua_tolstring(L, nameIndex, &length)!
            clua_buf_prefixed(buffer, chars, length)
            do {
                try value(lua_gettop(L))
            } catch var error {
                error.path.insert(.global(name: state.toString(at: nameIndex) ?? "?", function: where_(function)), at: 0)
                throw error
            }
            clua_pop(L, 2)
        }
    }

    /// Pushes the function's cache record, filling it on first use; returns its index.
    private mutating func cachedRecord(_ function: Int32) throws(LuaCodecError) -> Int32 {
        let cache = pushRegistry(tables.functionCache)
        lua_pushvalue(L, function)
        if lua_rawget(L, cache) == LUA_TTABLE {
            lua_rotate(L, cache, 1)  // keep the record, drop the cache
            clua_pop(L, 1)
            return lua_gettop(L)
        }
        clua_pop(L, 1)
        functionDumps += 1
        try FunctionRecord.fill(state: state, function: function, cache: cache)
        lua_rotate(L, cache, 1)
        clua_pop(L, 1)
        return lua_gettop(L)
    }

    /// `job.lua:12` for the Lua function at `index`.
    private func where_(_ index: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        clua_funcwhere(L, index, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func prefixed(_ bytes: UnsafeRawBufferPointer) {
        clua_buf_prefixed(buffer, bytes.baseAddress, bytes.count)
    }

    private func pushRegistry(_ ref: Int32) -> Int32 {
        lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(ref))
        return lua_gettop(L)
    }
}
