import CLua
import CLuaShims
import LuaKit

/// Turns Lua values into bytes and back, between any two states — on other
/// threads, in other processes, on other machines (same Lua 5.4 build).
///
/// What crosses and how is specified in `docs/codec-format.md`: scalars with
/// their subtype, binary-safe strings, tables as graphs (shared references,
/// cycles and metatables kept), Lua functions by value (bytecode, upvalues
/// with shared cells kept, and the script-defined globals they read),
/// standard-library values and loaded modules by name, and runtime handles
/// through `LuaCodecExtension`s.
///
/// One codec belongs to one state and shares its confinement: every entry
/// point checks that the calling thread owns the state. Create it right after
/// the state, before any script runs: it snapshots the pristine globals to
/// tell script-defined ones from the standard library.
public final class LuaCodec {
    public let state: LuaState
    private let extensions = ExtensionTable()
    private var encoder: ValueEncoder
    private var decoder: ValueDecoder
    private let tables: CodecTables

    public init(state: LuaState) throws(LuaError) {
        state.preconditionOwned()
        self.state = state
        tables = try CodecTables(installingInto: state)
        encoder = ValueEncoder(state: state, tables: tables, extensions: extensions)
        decoder = ValueDecoder(state: state, tables: tables, extensions: extensions)
    }

    deinit {
        encoder.release()
    }

    /// Encodes `count` consecutive stack values starting at `index` as one
    /// message (identity is shared across them). Errors name the value as
    /// `"<label> <n>"`, e.g. `argument 2: field 'co' is a coroutine`.
    /// The stack is unchanged.
    public func encode(valuesAt index: Int32, count: Int32, label: String = "argument") throws(LuaCodecError) -> [UInt8] {
        state.preconditionOwned()
        precondition(count >= 0 && (count == 0 || state.top >= state.absoluteIndex(index) + count - 1),
                     "encode: stack holds fewer than \(count) values from \(index)")
        return try encoder.encode(first: state.absoluteIndex(index), count: count, label: label, single: false).array
    }

    /// Encodes the single value at `index` as a message of one value; errors
    /// are rooted at `label` (e.g. `value is a coroutine`). The stack is unchanged.
    public func encode(valueAt index: Int32, label: String = "value") throws(LuaCodecError) -> [UInt8] {
        try encodeMessage(valueAt: index, label: label).array
    }

    /// Encodes like `encode(valueAt:label:)`; a large message stays in the
    /// block it was written to instead of being copied into an array.
    public func encodeMessage(valueAt index: Int32, label: String = "value") throws(LuaCodecError) -> EncodedMessage {
        state.preconditionOwned()
        return try encoder.encode(first: state.absoluteIndex(index), count: 1, label: label, single: true)
    }

    /// Whether received metatables may carry a `__gc` finalizer (the default,
    /// like `__del__` under cloudpickle). A finalizer runs received code when
    /// the object is collected, without anyone calling it; set this to false
    /// to refuse such messages, e.g. when decoding data from an untrusted
    /// source. Finalizers of a message that fails to decode never register.
    public var acceptsFinalizers: Bool {
        get { decoder.acceptsFinalizers }
        set { decoder.acceptsFinalizers = newValue }
    }

    /// How many distinct functions this codec has dumped; a function encoded
    /// again is served from its cache and does not count.
    public var functionDumps: Int { encoder.functionDumps }

    /// Decodes a message and pushes its values; returns how many were pushed.
    /// On error nothing is pushed.
    @discardableResult
    public func decode(_ bytes: UnsafeRawBufferPointer) throws(LuaCodecError) -> Int32 {
        state.preconditionOwned()
        return try decoder.decode(bytes)
    }

    /// Decodes a message and pushes its values; returns how many were pushed.
    @discardableResult
    public func decode(_ bytes: [UInt8]) throws(LuaCodecError) -> Int32 {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(LuaCodecError) in try decode(buffer) }
        }.get()
    }

    /// Registers `codecExtension` for values whose metatable is the table at
    /// `metatableIndex`. Both ends of a connection must register the same kinds.
    public func register(_ codecExtension: some LuaCodecExtension, metatableAt metatableIndex: Int32) {
        state.preconditionOwned()
        let L = state.pointer
        let metatable = state.absoluteIndex(metatableIndex)
        precondition(lua_type(L, metatable) == LUA_TTABLE, "register: the value at \(metatableIndex) is not a table")
        precondition(extensions.byKind[Int(codecExtension.kind)] == nil, "extension kind \(codecExtension.kind) registered twice")
        extensions.byKind[Int(codecExtension.kind)] = codecExtension
        lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(tables.extensionMetatables))
        lua_pushvalue(L, metatable)
        lua_pushinteger(L, lua_Integer(codecExtension.kind))
        lua_rawset(L, -3)
        clua_pop(L, 1)
    }
}
