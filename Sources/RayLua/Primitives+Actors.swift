import CLua
import CLuaShims
import LuaCodec
import RayCore

/// The actor primitives: create, call, look up by name, kill.
extension Primitives {
    /// `_ray.create_actor(class_handle, methods, ...)` -> actor id (hex).
    static let createActor: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        let arguments = lua_gettop(L) - 2
        guard lua_type(L, 1) == LUA_TTABLE, lua_getfield(L, 1, "_class") == LUA_TTABLE,
              lua_getfield(L, 1, "_options") == LUA_TTABLE, lua_type(L, 2) == LUA_TTABLE else {
            return fail(L, "remote: expected an actor class (call it as Class.remote(...))")
        }
        let classIndex = lua_gettop(L) - 1, options = lua_gettop(L)
        func integer(_ key: String, default value: Int) -> Int {
            lua_getfield(L, options, key) == LUA_TNUMBER ? Int(clua_tointeger(L, -1)) : value
        }
        var settings = ActorDirectory.Options(namespace: ray.namespace)
        settings.name = lua_getfield(L, options, "name") == LUA_TSTRING ? string(L, -1) : nil
        if lua_getfield(L, options, "namespace") == LUA_TSTRING, let namespace = string(L, -1) { settings.namespace = namespace }
        settings.maxConcurrency = max(1, integer("max_concurrency", default: settings.maxConcurrency))
        settings.maxRestarts = integer("max_restarts", default: settings.maxRestarts)
        settings.maxTaskRetries = integer("max_task_retries", default: settings.maxTaskRetries)
        settings.detached = lua_getfield(L, options, "lifetime") == LUA_TSTRING && string(L, -1) == "detached"
        // As in Ray: without num_cpus an actor needs 1 CPU to be placed and
        // none while it lives; an explicit num_cpus is held for its life.
        let explicitCPUs = lua_getfield(L, options, "num_cpus") == LUA_TNUMBER ? clua_tonumber(L, -1) : nil
        let cpus = explicitCPUs ?? TaskOptions().numCPUs
        settings.lifetimeCPUs = explicitCPUs ?? 0
        let className = lua_getfield(L, classIndex, "__name") == LUA_TSTRING ? string(L, -1) ?? "Actor" : "Actor"
        let actorEnv = lua_getfield(L, options, "runtime_env") == LUA_TTABLE ? RuntimeEnv.read(L, at: -1) : nil
        let environment: TaskEnvironment
        do throws(WorkingDirectory.Problem) {
            environment = try ray.environment.current(L, runtime: ray.runtime, taskEnv: actorEnv)
        } catch {
            return fail(L, "remote: runtime_env: \(error.description)")
        }
        var methods: [String] = []
        for i in stride(from: 1, through: Int(lua_rawlen(L, 2)), by: 1) {
            lua_rawgeti(L, 2, lua_Integer(i))
            if let method = string(L, -1) { methods.append(method) }
            clua_pop(L, 1)
        }
        let placement: Placement
        switch readPlacement(L, options: options) {
        case .failure(let error): return fail(L, "remote: \(error.description)")
        case .success(let read): placement = read
        }
        if let reason = ray.runtime.infeasibility(cpus: cpus, resources: placement.resources, strategy: placement.strategy, what: .actor) {
            return fail(L, "remote: \(reason)")
        }
        let classCode: [UInt8]
        ray.collectedRefs.removeAll(keepingCapacity: true)
        switch onMainStack(ray, copying: classIndex, count: 1, from: L, { at throws(LuaCodecError) in
            try ray.codec.encode(valueAt: at, label: "the actor class")
        }) {
        case .success(let code): classCode = code
        case .failure(let error): return raise(L, ray, .serialization, "remote: \(error.message)")
        }
        let classRefs = ray.collectedRefs
        switch encodeArguments(L, ray, first: 3, count: arguments) {
        case .failure(let error):
            return raise(L, ray, .serialization, "remote: \(error.message)")
        case .success(let (message, contained, topLevel)):
            let id = ActorID.next()
            var creation = TaskSpec(id: TaskID.next(), name: "\(className).init", kind: .actorCreation(id, classCode: classCode),
                                    arguments: message, argumentRefs: contained, topLevelRefs: topLevel, returnIDs: [], cpus: cpus)
            creation.resources = placement.resources
            creation.strategy = placement.strategy
            creation.environment = environment  // its calls run in it too (on the actor's own worker)
            creation.namespace = ray.namespace  // and in its creator's job namespace
            if let cluster = ray.runtime.cluster {
                let actor = ActorCreation(options: settings, className: className, methods: methods, creation: creation)
                do throws(ClusterLinkError) {
                    if let host = try cluster.placeActor(actor, classRefs: classRefs, restart: false) {
                        ray.runtime.actors.placedElsewhere(actor, classRefs: classRefs, host: host)
                        // Hosted elsewhere: the class's and the creation's
                        // refs are held here for the job (the host fetches them).
                        for ref in classRefs + contained { ray.runtime.store.addReference(ref) }
                        lua_pushstring(L, id.hex)
                        return 1
                    }
                } catch {
                    return fail(L, "remote: \(error.description)")
                }
            }
            do {
                try ray.runtime.actors.create(id, options: settings, className: className, methods: methods, creation: creation,
                                              classRefs: classRefs)
            } catch {
                return fail(L, "remote: an actor named '\(settings.name ?? "")' already exists in namespace '\(settings.namespace)'")
            }
            _ = expectReturns(ray, count: 0, of: creation.id, holding: contained)
            ray.runtime.submit(creation)
            lua_pushstring(L, id.hex)
            return 1
        }
    }

    /// `_ray.call_actor(actor_id, method, num_returns, ...)` -> ObjectRefs.
    static let callActor: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        guard let id = actorID(L, 1), let method = string(L, 2) else {
            return fail(L, "actor call: expected a method of an ActorHandle (call it as handle.method.remote(...))")
        }
        var read = TaskOptions.actorCall
        if lua_type(L, 3) == LUA_TNUMBER { read.numReturns = Int(clua_tointeger(L, 3)) }
        let numReturns = read.numReturns
        if let failure = reserveReturns(L, numReturns, what: "\(method).remote") { return failure }
        switch encodeArguments(L, ray, first: 4, count: lua_gettop(L) - 3) {
        case .failure(let error):
            return raise(L, ray, .serialization, "\(method).remote: \(error.message)")
        case .success(let (message, contained, topLevel)):
            let callID = TaskID.next()
            let returns = expectReturns(ray, count: numReturns, of: callID, holding: contained)
            // No namespace: a call runs in its actor's (its creator's), which the host knows.
            let call = TaskSpec(id: callID, name: method, kind: .actorMethod(id, method: method),
                                arguments: message, argumentRefs: contained, topLevelRefs: topLevel,
                                returnIDs: returns, cpus: read.numCPUs)
            ray.runtime.tasks.submit(call, parent: ray.worker?.current?.task.id, mayPlace: true)
            ray.recordSubmission(returns)
            return pushRefs(L, ray, returns)
        }
    }

    /// `_ray.get_actor(name [, namespace])` -> actor id, { methods } (or nothing).
    static let getActor: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        let namespace = string(L, 2) ?? ray.namespace
        guard let name = string(L, 1), let (id, methods) = ray.runtime.actors.lookup(name: name, namespace: namespace)
                ?? ray.runtime.cluster?.lookupActor(name: name, namespace: namespace) else { return 0 }
        lua_pushstring(L, id.hex)
        lua_createtable(L, Int32(methods.count), 0)
        for (i, method) in methods.enumerated() {
            lua_pushstring(L, method)
            lua_rawseti(L, -2, lua_Integer(i + 1))
        }
        return 2
    }

    /// `_ray.kill_actor(actor_id, no_restart)`.
    static let killActor: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        guard let hex = string(L, 1), let id = ActorID(hex: hex) else {
            return fail(L, "ray.kill: expected an ActorHandle")
        }
        let noRestart = lua_toboolean(L, 2) != 0
        ray.runtime.killActor(id, noRestart: noRestart)
        return 0
    }

    static let setActorHelpers: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        RayLuaState.from(L).setActorHelpers(newInstance: 1, callMethod: 2)
        return 0
    }
}
