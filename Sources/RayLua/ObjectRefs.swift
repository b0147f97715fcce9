import CLua
import CLuaShims
import LuaCodec
import LuaKit
import RayCore

/// ObjectRefs in Lua: a userdata holding the 16-byte object id, with one
/// reference on the object for as long as the userdata lives (`__gc` drops it).
/// Equal ids compare equal; `tostring` is `ObjectRef(<hex>)`; `ref:hex()`.
enum ObjectRefs {
    static let metatableName = "ray.ObjectRef"

    /// Pushes a new ObjectRef; `owned` means the caller hands over a
    /// reference it already holds, otherwise one is added. [-0, +1, m]
    static func push(_ id: ObjectID, owned: Bool, on L: OpaquePointer, store: ObjectStore) {
        if !owned { store.addReference(id) }
        let memory = lua_newuserdatauv(L, 16, 0)!
        memory.storeBytes(of: id.high, as: UInt64.self)
        memory.storeBytes(of: id.low, toByteOffset: 8, as: UInt64.self)
        luaL_setmetatable(L, metatableName)
    }

    /// The id of the ObjectRef at `index`, or nil if the value is not one. [-0, +0]
    static func id(at index: Int32, on L: OpaquePointer, metatable: Int32) -> ObjectID? {
        guard lua_type(L, index) == LUA_TUSERDATA, lua_getmetatable(L, index) != 0 else { return nil }
        lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(metatable))
        let isRef = lua_rawequal(L, -1, -2) != 0
        clua_pop(L, 2)
        guard isRef, let memory = lua_touserdata(L, index) else { return nil }
        return ObjectID(high: memory.load(as: UInt64.self), low: memory.load(fromByteOffset: 8, as: UInt64.self))
    }

    /// Creates the metatable and registers the codec extension; returns the metatable's registry key.
    static func install(on ray: RayLuaState) -> Int32 {
        let L = ray.state.pointer
        lua_pushlightuserdata(L, Unmanaged.passUnretained(ray.runtime.store).toOpaque())
        lua_setfield(L, CLUA_REGISTRYINDEX, storeKey)
        luaL_newmetatable(L, metatableName)
        clua_pushswiftfunction(L, collect)
        lua_setfield(L, -2, "__gc")
        clua_pushswiftfunction(L, equals)
        lua_setfield(L, -2, "__eq")
        clua_pushswiftfunction(L, describe)
        lua_setfield(L, -2, "__tostring")
        lua_createtable(L, 0, 1)
        clua_pushswiftfunction(L, hex)
        lua_setfield(L, -2, "hex")
        lua_setfield(L, -2, "__index")
        lua_pushstring(L, "ObjectRef")
        lua_setfield(L, -2, "__name")
        // getmetatable(ref) gives this name, not the table every ref shares:
        // a task that cleared its __gc would leak every later ref on its worker.
        lua_pushstring(L, "ObjectRef")
        lua_setfield(L, -2, "__metatable")
        ray.codec.register(Extension(ray: ray), metatableAt: -1)
        return luaL_ref(L, CLUA_REGISTRYINDEX)
    }

    private static func idOrNil(_ L: OpaquePointer, _ index: Int32) -> ObjectID? {
        id(at: index, on: L, metatable: RayLuaState.from(L).objectRefMetatable)
    }

    /// `__gc` may run while the state is closing, after its RayLuaState is
    /// gone: it reads the id directly (only ObjectRefs carry this metatable)
    /// and finds the store through the registry.
    private static let collect: clua_SwiftFunction = { L in
        guard let L, let memory = lua_touserdata(L, 1) else { return 0 }
        let id = ObjectID(high: memory.load(as: UInt64.self), low: memory.load(fromByteOffset: 8, as: UInt64.self))
        lua_getfield(L, CLUA_REGISTRYINDEX, storeKey)
        if let store = lua_touserdata(L, -1) {
            Unmanaged<ObjectStore>.fromOpaque(store).takeUnretainedValue().removeReference(id)
        }
        return 0
    }

    /// Registry key of a light userdata pointing at the runtime's store (which outlives every state).
    static let storeKey = "ray.store"

    private static let equals: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let a = idOrNil(L, 1), b = idOrNil(L, 2)
        lua_pushboolean(L, a != nil && a == b ? 1 : 0)
        return 1
    }

    private static let describe: clua_SwiftFunction = { L in
        guard let L, let id = idOrNil(L, 1) else { return 0 }
        lua_pushstring(L, "ObjectRef(\(id.hex))")
        return 1
    }

    private static let hex: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        guard let id = idOrNil(L, 1) else {
            lua_pushstring(L, "ObjectRef:hex: expected an ObjectRef (call it as ref:hex())")
            return CLUA_RAISE
        }
        lua_pushstring(L, id.hex)
        return 1
    }

    /// Carries ObjectRefs through the codec as their 16-byte id; an encoding
    /// in progress collects the ids it meets, so that the object made from
    /// it can hold references to them.
    final class Extension: LuaCodecExtension {
        let kind: UInt8 = 1
        unowned let ray: RayLuaState

        init(ray: RayLuaState) { self.ray = ray }

        func encode(_ state: LuaState, at index: Int32, into payload: inout [UInt8]) throws(LuaCodecError) {
            guard let id = ObjectRefs.id(at: index, on: state.pointer, metatable: ray.objectRefMetatable) else {
                throw LuaCodecError(.unsupportedValue, "is a damaged ObjectRef")
            }
            payload += id.bytes
            ray.collectedRefs.append(id)
        }

        func decode(_ state: LuaState, payload: UnsafeRawBufferPointer) throws(LuaCodecError) {
            guard let id = ObjectID(bytes: payload) else {
                throw LuaCodecError(.malformed, "ObjectRef payload of \(payload.count) bytes")
            }
            if !id.isLocal { ray.runtime.adoptForeign([id]) }  // another process's object
            ObjectRefs.push(id, owned: false, on: state.pointer, store: ray.runtime.store)
        }
    }
}
