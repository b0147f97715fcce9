import CLua
import CLuaShims
import Foundation
import LuaCodec
import LuaKit
import RayCore

/// The `ray` module installed in one Lua state — the driver's, or a
/// worker's — bound to a runtime. It owns the state and its codec, and is
/// confined to the state's thread like them. The `_ray` primitives find it
/// through the state's extra space (shared by all of the state's coroutines).
public final class RayLuaState {
    public let state: LuaState
    let codec: LuaCodec
    let runtime: Runtime
    /// The worker this state belongs to; nil for the driver.
    unowned(unsafe) let worker: Worker?
    private(set) var objectRefMetatable: Int32 = LUA_NOREF
    private var errorMetatable: Int32 = LUA_NOREF
    /// Lua helpers from stdlib/ray/init.lua: `new_instance(class, ...)` and
    /// `call_method(self, name, ...)`, run as the coroutine body of actor work.
    private(set) var newInstance: Int32 = LUA_NOREF
    private(set) var callMethod: Int32 = LUA_NOREF
    /// ObjectRef ids met by the encoding in progress (see ObjectRefs.Extension).
    var collectedRefs: [ObjectID] = []
    /// Remote functions whose code this state knows the runtime has: a
    /// submission of one of them asks the runtime's table (a lock) no more.
    var registeredFunctions: Set<UniqueID> = []
    /// Registry keys of the read-only views of the module tables (workers only).
    var sealedViews: [Int32] = []
    /// What this state's submissions hand to their work (see CodeEnvironment).
    var environment = CodeEnvironment()
    var initialized = true
    /// This state's worker id when it is the driver's.
    let driverID = WorkerID.next()

    /// The namespace of named actors for what runs here now, as in Ray: the
    /// job's, on whichever node it runs. A task inherits its submitter's
    /// (`TaskSpec.namespace`); an actor's calls run in its creator's; the
    /// driver's is the runtime's own.
    var namespace: String {
        if let task = worker?.current?.task {
            if case .actorMethod(let actor, _) = task.kind, let own = runtime.actors.namespace(of: actor), !own.isEmpty {
                return own
            }
            if !task.namespace.isEmpty { return task.namespace }
        }
        return runtime.namespace
    }

    /// The driver's state: a new Lua state with `ray` loaded, as the global
    /// `ray` and as `require("ray")`.
    public convenience init(driverOf runtime: Runtime) throws {
        try self.init(runtime: runtime, worker: nil)
    }

    init(runtime: Runtime, worker: Worker?) throws {
        state = LuaState()
        // Before the codec names the standard library: every state's guarded
        // debug functions travel by the same names.
        clua_guard_debug_library(state.pointer)
        clua_install_task_coroutine_library(state.pointer)
        clua_install_task_loaders(state.pointer)
        clua_install_task_environment(state.pointer)
        codec = try LuaCodec(state: state)
        self.runtime = runtime
        self.worker = worker
        clua_extraspace(state.pointer).pointee = Unmanaged.passUnretained(self).toOpaque()
        objectRefMetatable = ObjectRefs.install(on: self)
        try loadModule()
        // Most of what a task makes dies young (ObjectRefs, argument lists,
        // decoded values). The incremental collector re-marked the whole
        // state for them: 20% of the samples in actor-call rows went to
        // lgc.c. Generational mode made those rows 1.3-2.8x faster.
        clua_gc_generational(state.pointer)
    }

    deinit {
        clua_extraspace(state.pointer).pointee = nil
    }

    /// The return ids of what this (driver) state submitted while recording:
    /// an interactive session cancels them when a chunk is interrupted.
    private var recordedSubmissions: [ObjectID]?

    func recordSubmission(_ returns: [ObjectID]) {
        if recordedSubmissions != nil, let first = returns.first { recordedSubmissions!.append(first) }
    }

    /// Starts remembering the tasks and actor calls submitted from now on.
    public func recordSubmissions() { recordedSubmissions = [] }

    /// Stops remembering; with `cancel`, cancels (recursively) those of the
    /// remembered tasks that have not finished.
    public func endRecordingSubmissions(cancel: Bool) {
        if cancel, let recorded = recordedSubmissions {
            for id in recorded { runtime.cancel(returning: id, recursive: true) }
        }
        recordedSubmissions = nil
    }

    /// Pushes a LuaValue onto the state's stack. [-0, +1]
    public func push(_ value: LuaValue) throws(LuaValueError) {
        let base = lua_gettop(state.pointer)
        do throws(LuaValueError) {
            try value.push(on: state.pointer, ray: self)
        } catch {
            lua_settop(state.pointer, base)
            throw error
        }
    }

    /// The value at `index` of the state's stack, as a LuaValue.
    public func value(at index: Int32) throws(LuaValueError) -> LuaValue {
        try LuaValue.read(from: state.pointer, at: index, ray: self, path: "result \(index)")
    }

    /// Loads `ray microbenchmark`'s rows (stdlib/ray/microbenchmark.lua) and
    /// pushes their module: `run(opts)`. [-0, +1]
    public func pushMicrobenchmark() throws(LuaError) {
        try state.load(StdlibSources.rayMicrobenchmark, chunkName: "@stdlib/ray/microbenchmark.lua")
        try state.call(arguments: 0, results: 1)
    }

    /// Loads the interactive session's helpers (stdlib/ray/repl.lua) and
    /// pushes their table: `show_all(...)` and `complete(text)`. [-0, +1]
    public func pushReplHelpers() throws(LuaError) {
        try state.load(StdlibSources.rayRepl, chunkName: "@stdlib/ray/repl.lua")
        try state.call(arguments: 0, results: 1)
    }

    static func from(_ L: OpaquePointer) -> RayLuaState {
        Unmanaged<RayLuaState>.fromOpaque(clua_extraspace(L).pointee!).takeUnretainedValue()
    }

    private func loadModule() throws {
        let L = state.pointer
        try state.load(StdlibSources.rayInit, chunkName: "@stdlib/ray/init.lua")
        Primitives.push(on: L)
        // init.lua runs it as ray.util and removes it from the primitives.
        try state.load(StdlibSources.rayUtil, chunkName: "@stdlib/ray/util.lua")
        lua_setfield(L, -2, "util_chunk")
        try state.call(arguments: 1, results: 1)
        lua_getfield(L, CLUA_REGISTRYINDEX, LUA_LOADED_TABLE)
        lua_pushvalue(L, -2)
        lua_setfield(L, -2, "ray")
        clua_pop(L, 1)
        lua_setglobal(L, "ray")
        if worker != nil { sealModuleTables() }
    }

    func setActorHelpers(newInstance instanceIndex: Int32, callMethod methodIndex: Int32) {
        let L = state.pointer
        lua_pushvalue(L, instanceIndex)
        newInstance = luaL_ref(L, CLUA_REGISTRYINDEX)
        lua_pushvalue(L, methodIndex)
        callMethod = luaL_ref(L, CLUA_REGISTRYINDEX)
    }

    /// The `message` field of an error object, for other errors that cite it.
    func messageOf(_ object: StoredObject) throws -> String {
        if let error = object.rayError { return error.message }
        let L = state.pointer
        try decode(object)
        defer { clua_pop(L, 1) }
        guard lua_type(L, -1) == LUA_TTABLE else { return state.describe(at: -1) }
        lua_getfield(L, -1, "message")
        defer { clua_pop(L, 1) }
        return state.toString(at: -1) ?? "?"
    }

    func setErrorMetatable(at index: Int32) {
        let L = state.pointer
        lua_pushvalue(L, index)
        if errorMetatable != LUA_NOREF { luaL_unref(L, CLUA_REGISTRYINDEX, errorMetatable) }
        errorMetatable = luaL_ref(L, CLUA_REGISTRYINDEX)
    }

    // MARK: values to and from the store

    /// Encodes the value at `index` as an object, holding references to the
    /// ObjectRefs inside it.
    func makeObject(valueAt index: Int32, label: String, isError: Bool = false) throws(LuaCodecError) -> StoredObject {
        collectedRefs.removeAll(keepingCapacity: true)
        let bytes = switch try codec.encodeMessage(valueAt: index, label: label) {
        case .array(let array): ObjectBytes(array)
        case .block(let block): ObjectBytes(block.bytes, owner: block)
        }
        for id in collectedRefs { runtime.store.addReference(id) }
        return StoredObject(bytes: bytes, isError: isError, contained: collectedRefs)
    }

    /// Decodes a stored object's value onto the main stack. [-0, +1]
    private func decode(_ object: StoredObject) throws(LuaCodecError) {
        try object.bytes.withUnsafeBytes { (bytes) throws(LuaCodecError) in _ = try codec.decode(bytes) }
    }

    /// Pushes the value of a stored object onto `L` (an error object gets
    /// the error metatable; a runtime error becomes its Lua table here). [-0, +1]
    func push(_ object: StoredObject, on L: OpaquePointer) throws(LuaCodecError) {
        let main = state.pointer
        if let error = object.rayError {
            pushError(error, on: L)
            return
        }
        try decode(object)
        if object.isError && errorMetatable != LUA_NOREF && lua_type(main, -1) == LUA_TTABLE {
            lua_rawgeti(main, CLUA_REGISTRYINDEX, lua_Integer(errorMetatable))
            lua_setmetatable(main, -2)
        }
        if L != main { lua_xmove(main, L, 1) }
    }

    /// Pushes a runtime error as the API's error table: `{type, message,
    /// task, traceback, cause}` with the error metatable. The one place a
    /// RayError becomes a Lua value. [-0, +1]
    func pushError(_ error: RayError, on L: OpaquePointer) {
        _ = lua_checkstack(L, 3)  // fails only at Lua's stack limit, which callers check first
        lua_createtable(L, 0, 5)
        for (key, value) in [("type", error.code.name), ("message", error.message), ("task", error.task),
                             ("traceback", error.traceback), ("cause", error.cause)] {
            guard let value else { continue }
            lua_pushstring(L, value)
            lua_setfield(L, -2, key)
        }
        if errorMetatable != LUA_NOREF {
            lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(errorMetatable))
            lua_setmetatable(L, -2)
        }
    }

    /// A runtime error as an object, for a task's returns.
    func makeError(_ code: RayError.Code, _ message: String, task: String? = nil) -> StoredObject {
        StoredObject(error: RayError(code, message, task: task))
    }

    /// The error a failed task's coroutine raised, as an object: a Ray error
    /// raised inside it (e.g. from a failed dependency) passes through as it
    /// is; anything else becomes a RayTaskError with the remote traceback and
    /// the raised value as `cause` when it can travel.
    func taskError(from co: OpaquePointer, task: TaskSpec) -> StoredObject {
        let L = state.pointer
        lua_xmove(co, L, 1)
        let raised = lua_gettop(L)
        defer { lua_settop(L, raised - 1) }
        if isRayError(at: raised) {
            // It passes through this task on its way up: the task joins its chain.
            joinChain(at: raised, task: task)
            if let object = try? makeObject(valueAt: raised, label: "error", isError: true) { return object }
        }
        let message = state.describe(at: raised)
        luaL_traceback(L, co, nil, 0)
        let traceback = state.toString(at: -1)
        clua_pop(L, 1)
        lua_createtable(L, 0, 5)
        let table = lua_gettop(L)
        for (key, value) in [("type", RayError.Code.taskError.name), ("message", message), ("task", task.name)] {
            lua_pushstring(L, value)
            lua_setfield(L, table, key)
        }
        if let traceback {
            lua_pushstring(L, traceback)
            lua_setfield(L, table, "traceback")
        }
        lua_pushvalue(L, raised)
        lua_setfield(L, table, "cause")
        if let object = try? makeObject(valueAt: table, label: "error", isError: true) { return object }
        lua_pushnil(L)
        lua_setfield(L, table, "cause")  // the raised value cannot travel: drop it
        return (try? makeObject(valueAt: table, label: "error", isError: true))
            ?? makeError(.taskError, message, task: task.name)
    }

    /// Adds `task` to the `through` chain of the Ray error at `index` (on the main stack).
    private func joinChain(at index: Int32, task: TaskSpec) {
        let L = state.pointer
        if lua_getfield(L, index, "through") != LUA_TTABLE {
            clua_pop(L, 1)
            lua_createtable(L, 1, 0)
            lua_pushvalue(L, -1)
            lua_setfield(L, index, "through")
        }
        lua_pushstring(L, task.name)
        lua_rawseti(L, -2, lua_Integer(lua_rawlen(L, -2)) + 1)
        clua_pop(L, 1)
    }

    /// A failed argument's error as the task's own: the same error, with
    /// the task joined to its chain (as when the task raises it itself).
    private func passingThrough(_ error: StoredObject, task: TaskSpec) -> StoredObject {
        let L = state.pointer
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        guard (try? push(error, on: L)) != nil, isRayError(at: base + 1) else { return error }
        joinChain(at: base + 1, task: task)
        return (try? makeObject(valueAt: base + 1, label: "error", isError: true)) ?? error
    }

    /// Whether the value at `index` is a table carrying the Ray error metatable.
    func isRayError(at index: Int32) -> Bool {
        let L = state.pointer
        guard errorMetatable != LUA_NOREF, lua_type(L, index) == LUA_TTABLE, lua_getmetatable(L, index) != 0 else { return false }
        lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(errorMetatable))
        defer { clua_pop(L, 2) }
        return lua_rawequal(L, -1, -2) != 0
    }

    // MARK: task arguments and results (worker side)

    /// Pushes a task's arguments with its top-level ObjectRefs replaced by
    /// their values; returns how many. A failed dependency fails the task
    /// with that same error.
    func decodeArguments(_ task: TaskSpec) throws -> Int32 {
        let L = state.pointer
        if task.arguments.isEmpty { return 0 }  // no arguments (see Primitives.encodeArguments)
        let base = lua_gettop(L)
        let count: Int32
        do {
            count = try codec.decode(task.arguments)
        } catch {
            throw TaskFailure.error(makeError(.serialization, "the arguments could not be decoded: \(error.message)", task: task.name))
        }
        for (position, id) in task.topLevelRefs {
            // Positions come from the submitter (another process's, over the wire).
            guard position >= 1, position <= Int(count) else {
                throw TaskFailure.error(makeError(.serialization, "argument \(position) is named as an ObjectRef, but the task has \(count) arguments", task: task.name))
            }
            guard let object = runtime.store.object(id) else {
                throw TaskFailure.error(makeError(.objectLost, "argument \(position) (\(id.hex)) is gone", task: task.name))
            }
            if object.isError {
                lua_settop(L, base)
                throw TaskFailure.error(passingThrough(object, task: task))
            }
            try push(object, on: L)
            clua_replace(L, base + Int32(position))
        }
        return count
    }

    /// Encodes a finished coroutine's results into the task's return objects;
    /// returns a failure to store instead when they cannot travel.
    func storeResults(of task: TaskSpec, from co: OpaquePointer, count: Int32) -> TaskFailure? {
        let L = state.pointer
        let base = lua_gettop(L)
        // Only the first num_returns results are kept (as in `local x = f()`);
        // fewer are padded with nils.
        let wanted = Int32(clamping: task.returnIDs.count)
        let kept = min(count, wanted)
        guard lua_checkstack(L, wanted + 1) != 0 else {
            return .error(makeError(.taskError, "num_returns = \(wanted) is more than a Lua stack can hold", task: task.name))
        }
        clua_pop(co, count - kept)
        lua_xmove(co, L, kept)
        defer { lua_settop(L, base) }
        for _ in kept..<wanted { lua_pushnil(L) }
        var objects: [StoredObject] = []
        for i in task.returnIDs.indices {
            do throws(LuaCodecError) {
                objects.append(try makeObject(valueAt: base + 1 + Int32(i), label: "return value \(i + 1)"))
            } catch {
                for object in objects { for id in object.contained { runtime.store.removeReference(id) } }
                return .error(makeError(.serialization, error.message, task: task.name))
            }
        }
        for (id, object) in zip(task.returnIDs, objects) { runtime.store.fulfill(id, with: object) }
        return nil
    }
}
