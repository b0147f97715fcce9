import CLua
import CLuaShims
import Foundation
import LuaCodec
import LuaKit
import RayCore
import Synchronization

/// The `_ray` table: the runtime's primitives, on which stdlib/ray/init.lua
/// builds the public `ray` API. Each is a Swift function behind the C
/// trampoline: it never raises or yields itself but returns CLUA_RAISE (error
/// value pushed) or CLUA_YIELD (suspend the task's coroutine; called again on
/// resume). Values are encoded and decoded on the state's main stack and
/// moved to and from the calling coroutine with lua_xmove.
enum Primitives {
    /// Pushes the `_ray` table. [-0, +1]
    static func push(on L: OpaquePointer) {
        let functions: [(String, clua_SwiftFunction)] = [
            ("submit", submit), ("get", get), ("put", put), ("wait", wait),
            ("init", initialize), ("is_initialized", isInitialized), ("shutdown", shutdown),
            ("context", context), ("resources", resources), ("nodes", nodes),
            ("now", now), ("sleep", sleep), ("set_error_metatable", setErrorMetatable),
            ("create_actor", createActor), ("call_actor", callActor), ("get_actor", getActor),
            ("kill_actor", killActor), ("set_actor_helpers", setActorHelpers), ("cancel", cancel),
            ("call_swift", callSwift), ("stderr_is_tty", stderrIsTTY),
        ]
        lua_createtable(L, 0, Int32(functions.count) + 1)
        for (name, function) in functions {
            clua_pushswiftfunction(L, function)
            lua_setfield(L, -2, name)
        }
        clua_pushprint(L, printSink)
        lua_setfield(L, -2, "print")
    }

    // MARK: helpers

    /// What is wrong with a primitive's argument, for the message `fail` raises.
    struct ArgumentProblem: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Pushes a message with the user's position ("job.lua:3: ...", past the
    /// `ray` module's own Lua wrappers) and returns CLUA_RAISE.
    static func fail(_ L: OpaquePointer, _ message: String) -> Int32 {
        clua_userwhere(L, "@stdlib/ray/init.lua")
        lua_pushstring(L, message)
        lua_concat(L, 2)
        return CLUA_RAISE
    }

    /// Pushes a Ray error table (`type`, `message`) with the error metatable; returns CLUA_RAISE.
    static func raise(_ L: OpaquePointer, _ ray: RayLuaState, _ code: RayError.Code, _ message: String) -> Int32 {
        ray.pushError(RayError(code, message), on: L)
        return CLUA_RAISE
    }

    /// The string at `index` of `L` (any thread of the state: primitives run
    /// on the caller's coroutine, whose stack is not the main one). [-0, +0]
    static func string(_ L: OpaquePointer, _ index: Int32) -> String? {
        stringBytes(L, index).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The bytes of the string at `index`, in place (valid while it is on the stack).
    static func stringBytes(_ L: OpaquePointer, _ index: Int32) -> UnsafeRawBufferPointer? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let chars = lua_tolstring(L, index, &length) else { return nil }
        return UnsafeRawBufferPointer(start: chars, count: length)
    }

    /// The actor id in the hex string at `index`, parsed in place.
    static func actorID(_ L: OpaquePointer, _ index: Int32) -> ActorID? {
        stringBytes(L, index).flatMap { ActorID(hexDigits: $0) }
    }

    static func monotonicSeconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    /// Runs `body` with copies of `count` values of `L` (from `first`) on top
    /// of the state's main stack (where the codec works), then restores the
    /// main stack, before the caller pushes its results.
    static func onMainStack<T>(_ ray: RayLuaState, copying first: Int32, count: Int32, from L: OpaquePointer,
                               _ body: (Int32) throws(LuaCodecError) -> T) -> Result<T, LuaCodecError> {
        let main = ray.state.pointer
        // Room for the copies on both stacks (each may hold up to LUAI_MAXSTACK).
        guard lua_checkstack(L, count) != 0, L == main || lua_checkstack(main, count) != 0 else {
            return .failure(LuaCodecError(.limitExceeded, "\(count) values are more than a Lua stack can hold"))
        }
        let base = lua_gettop(main)
        for i in 0..<count { lua_pushvalue(L, first + i) }
        if L != main { lua_xmove(L, main, count) }
        defer { lua_settop(main, base) }
        return Result { () throws(LuaCodecError) in try body(base + 1) }
    }

    // MARK: submit

    static let submit: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        guard lua_type(L, 1) == LUA_TTABLE, lua_getfield(L, 1, "_fn") == LUA_TFUNCTION else {
            return fail(L, "remote: expected a RemoteFunction (call it as f.remote(...))")
        }
        let function = lua_gettop(L)
        let arguments = function - 2  // the stack: f, args..., _fn
        // What a RemoteFunction shares with the copies `options` makes: the
        // registered function's handle and its name.
        guard lua_getfield(L, 1, "_shared") == LUA_TTABLE else {
            return fail(L, "remote: expected a RemoteFunction (call it as f.remote(...))")
        }
        let shared = lua_gettop(L)
        lua_getfield(L, 1, "_options")
        let options = lua_gettop(L)
        var read = TaskOptions()  // the defaults, then what the script set
        if lua_getfield(L, options, "num_returns") == LUA_TNUMBER { read.numReturns = Int(clua_tointeger(L, -1)) }
        if lua_getfield(L, options, "num_cpus") == LUA_TNUMBER { read.numCPUs = clua_tonumber(L, -1) }
        if lua_getfield(L, options, "name") == LUA_TSTRING { read.name = string(L, -1) }
        if lua_getfield(L, options, "max_retries") == LUA_TNUMBER {
            let retries = Int(clua_tointeger(L, -1))
            read.maxRetries = retries < 0 ? Int.max : retries  // -1: unlimited, as in Ray
        }
        if lua_getfield(L, options, "retry_exceptions") == LUA_TBOOLEAN { read.retryExceptions = lua_toboolean(L, -1) != 0 }
        let numReturns = read.numReturns, cpus = read.numCPUs, customName = read.name
        let taskEnv = lua_getfield(L, options, "runtime_env") == LUA_TTABLE ? RuntimeEnv.read(L, at: -1) : nil
        lua_settop(L, options)
        if let failure = reserveReturns(L, numReturns, what: "remote") { return failure }

        let placement: Placement
        switch readPlacement(L, options: options) {
        case .failure(let error): return fail(L, "remote: \(error.description)")
        case .success(let read): placement = read
        }
        if let reason = ray.runtime.infeasibility(cpus: cpus, resources: placement.resources, strategy: placement.strategy, what: .task) {
            return fail(L, "remote: \(reason)")
        }
        let name: String
        if let customName {
            name = customName
        } else if lua_getfield(L, shared, "where") == LUA_TSTRING, let cached = string(L, -1) {
            name = cached
        } else {
            var buffer = [CChar](repeating: 0, count: 256)
            clua_funcwhere(L, function, &buffer, buffer.count)
            name = "function " + String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            lua_pushstring(L, name)
            lua_setfield(L, shared, "where")  // computed once per function
        }

        // The function's code, encoded at its first submission here (its
        // globals are snapshot then). Its id is kept in `_shared` as two
        // integers *before* the function is encoded, so every copy of it
        // that travels (inside the function's own upvalues, for a recursive
        // task, or to another node) names the same function.
        var functionID: UniqueID?
        if lua_getfield(L, shared, "fh") == LUA_TNUMBER, lua_getfield(L, shared, "fl") == LUA_TNUMBER {
            functionID = UniqueID(high: UInt64(bitPattern: clua_tointeger(L, -2)), low: UInt64(bitPattern: clua_tointeger(L, -1)))
        }
        if let known = functionID, !ray.registeredFunctions.contains(known), ray.runtime.functionCode(known) != nil {
            ray.registeredFunctions.insert(known)
        }
        if functionID == nil || !ray.registeredFunctions.contains(functionID!) {
            let isNew = functionID == nil
            let id = functionID ?? UniqueID.next()
            if isNew {
                lua_pushinteger(L, lua_Integer(bitPattern: id.high))
                lua_setfield(L, shared, "fh")
                lua_pushinteger(L, lua_Integer(bitPattern: id.low))
                lua_setfield(L, shared, "fl")
            }
            ray.collectedRefs.removeAll(keepingCapacity: true)
            let encoded = onMainStack(ray, copying: function, count: 1, from: L) { at throws(LuaCodecError) in
                try ray.codec.encode(valueAt: at, label: "the remote function")
            }
            guard case .success(let code) = encoded else {
                if isNew {
                    lua_pushnil(L)
                    lua_setfield(L, shared, "fh")
                }
                if case .failure(let error) = encoded { return raise(L, ray, .serialization, "remote: \(error.message)") }
                return CLUA_RAISE
            }
            // ObjectRefs captured by the function live as long as it is
            // registered (the runtime's life), like its code.
            for ref in ray.collectedRefs { ray.runtime.store.addReference(ref) }
            ray.runtime.setFunctionCode(id, code, registered: isNew)
            ray.registeredFunctions.insert(id)
            functionID = id
        }
        lua_settop(L, options)

        let environment: TaskEnvironment
        do throws(WorkingDirectory.Problem) {
            environment = try ray.environment.current(L, runtime: ray.runtime, taskEnv: taskEnv)
        } catch {
            return fail(L, "remote: runtime_env: \(error.description)")
        }
        switch encodeArguments(L, ray, first: 2, count: arguments) {
        case .failure(let error):
            return raise(L, ray, .serialization, "remote: \(error.message)")
        case .success(let (message, contained, topLevel)):
            let id = TaskID.next()
            let returns = expectReturns(ray, count: numReturns, of: id, holding: contained)
            var task = TaskSpec(id: id, name: name, kind: .function(functionID!), arguments: message,
                                argumentRefs: contained, topLevelRefs: topLevel, returnIDs: returns, cpus: cpus)
            task.maxRetries = read.maxRetries
            task.retryExceptions = read.retryExceptions
            task.resources = placement.resources
            task.strategy = placement.strategy
            task.environment = environment
            task.namespace = ray.namespace
            ray.runtime.tasks.submit(task, parent: ray.worker?.current?.task.id, mayPlace: true)
            ray.recordSubmission(returns)
            return pushRefs(L, ray, returns)
        }
    }

    /// Encodes `count` values of `L` from `first` as a task's arguments: the
    /// message, the ObjectRefs inside it, and which arguments are ObjectRefs.
    static func encodeArguments(_ L: OpaquePointer, _ ray: RayLuaState, first: Int32, count: Int32)
        -> Result<([UInt8], [ObjectID], [(position: Int, id: ObjectID)]), LuaCodecError> {
        if count == 0 { return .success(([], [], [])) }  // no arguments: an empty message
        ray.collectedRefs.removeAll(keepingCapacity: true)
        let encoded = onMainStack(ray, copying: first, count: count, from: L) { at throws(LuaCodecError) in
            try ray.codec.encode(valuesAt: at, count: count, label: "argument")
        }
        return encoded.map { message in
            var topLevel: [(position: Int, id: ObjectID)] = []
            for position in 0..<Int(count) {
                if let id = ObjectRefs.id(at: first + Int32(position), on: L, metatable: ray.objectRefMetatable) {
                    topLevel.append((position + 1, id))
                }
            }
            return (message, ray.collectedRefs, topLevel)
        }
    }

    /// The ids of `task`'s returns (derived from its id, so that each names
    /// the task that makes it), expected by the store; the task holds
    /// references to `contained` until it starts.
    static func expectReturns(_ ray: RayLuaState, count: Int, of task: TaskID, holding contained: [ObjectID]) -> [ObjectID] {
        let store = ray.runtime.store
        for id in contained { store.addReference(id) }
        let returns = count == 0 ? [] : (1...count).map { ObjectID.returned(by: task, index: $0) }
        for id in returns { store.expect(id) }
        return returns
    }

    /// Makes room on `L` for a call's `count` ObjectRefs before anything is
    /// submitted; nil when there is room, else the failure to return (a
    /// num_returns no Lua stack can hold is refused at the call).
    static func reserveReturns(_ L: OpaquePointer, _ count: Int, what: String) -> Int32? {
        guard count >= 0, count <= TaskID.maxReturns, lua_checkstack(L, Int32(count) + 1) != 0 else {
            return fail(L, "\(what): num_returns = \(count) is more return values than a Lua stack can hold")
        }
        return nil
    }

    /// Pushes an ObjectRef for each id (handing over the reference `expect` made).
    static func pushRefs(_ L: OpaquePointer, _ ray: RayLuaState, _ ids: [ObjectID]) -> Int32 {
        guard lua_checkstack(L, Int32(ids.count) + 1) != 0 else { return fail(L, "too many return values") }
        for id in ids { ObjectRefs.push(id, owned: true, on: L, store: ray.runtime.store) }
        return Int32(ids.count)
    }

    /// `_ray.cancel(ref, recursive)`.
    static let cancel: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        guard let id = ObjectRefs.id(at: 1, on: L, metatable: ray.objectRefMetatable) else {
            return fail(L, "ray.cancel: expected an ObjectRef, got \(describeType(L, 1))")
        }
        ray.runtime.cancel(returning: id, recursive: lua_toboolean(L, 2) != 0)
        return 0
    }

    /// What `options` ask of the node that runs a task or hosts an actor.
    struct Placement {
        var resources: [String: Double] = [:]
        var strategy: SchedulingStrategy = .default
    }

    /// Reads `resources` and `scheduling_strategy` from `options` (the Lua
    /// side checked their types); a message for what is malformed.
    static func readPlacement(_ L: OpaquePointer, options: Int32) -> Result<Placement, ArgumentProblem> {
        defer { lua_settop(L, options) }
        var placement = Placement()
        if lua_getfield(L, options, "resources") == LUA_TTABLE {
            switch readResources(L, at: lua_gettop(L)) {
            case .failure(let problem): return .failure(problem)
            case .success(let resources): placement.resources = resources
            }
        }
        lua_settop(L, options)
        switch lua_getfield(L, options, "scheduling_strategy") {
        case LUA_TSTRING:
            switch string(L, -1) {
            case "SPREAD": placement.strategy = .spread
            default: placement.strategy = .default
            }
        case LUA_TTABLE:
            let strategy = lua_gettop(L)
            lua_getfield(L, strategy, "soft")
            let soft = lua_toboolean(L, -1) != 0
            guard lua_getfield(L, strategy, "node_id") == LUA_TSTRING, let node = string(L, -1) else {
                return .failure(ArgumentProblem("scheduling_strategy = { node_id = ID, soft = boolean } needs a node_id string"))
            }
            placement.strategy = .node(node.lowercased(), soft: soft)
        default:
            break
        }
        return .success(placement)
    }

    /// A `resources` table (name = amount, amounts not negative). [-0, +0]
    static func readResources(_ L: OpaquePointer, at table: Int32) -> Result<[String: Double], ArgumentProblem> {
        var resources: [String: Double] = [:]
        lua_pushnil(L)
        while lua_next(L, table) != 0 {
            guard lua_type(L, -2) == LUA_TSTRING, let name = string(L, -2), lua_type(L, -1) == LUA_TNUMBER,
                  clua_tonumber(L, -1) >= 0 else {
                clua_pop(L, 2)
                return .failure(ArgumentProblem("resources must be given as name = amount pairs (amounts not negative)"))
            }
            resources[name] = clua_tonumber(L, -1)
            clua_pop(L, 1)
        }
        return .success(resources)
    }

    static func format(_ value: Double) -> String { ResourceAmount.text(value) }
}
