import LuaKit

/// A kind of opaque runtime value (object ref, actor handle, remote function)
/// that crosses as `(kind, payload bytes)` without the codec knowing its
/// meaning. The runtime registers one per kind together with the metatable
/// that marks its values; any userdata or table with that metatable is then
/// handed to `encode`, and a received `(kind, payload)` to `decode`.
public protocol LuaCodecExtension: AnyObject {
    /// The wire kind, unique within a codec.
    var kind: UInt8 { get }

    /// Appends the payload for the value at absolute stack `index`. Must not
    /// raise Lua errors and must leave the stack as it found it.
    func encode(_ state: LuaState, at index: Int32, into payload: inout [UInt8]) throws(LuaCodecError)

    /// Pushes exactly one value for `payload`. Runs in protected mode, so it
    /// may allocate; it must not raise Lua errors itself: throw instead.
    func decode(_ state: LuaState, payload: UnsafeRawBufferPointer) throws(LuaCodecError)
}

/// The extensions registered with one codec, indexed by kind.
final class ExtensionTable {
    var byKind = [(any LuaCodecExtension)?](repeating: nil, count: 256)
}
