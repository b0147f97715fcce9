import CLua
import CLuaShims
import Foundation
import LuaCodec
import RayCore
import Synchronization

/// The runtime primitives: init, shutdown, context, resources, nodes, time and sleep.
extension Primitives {
    // MARK: runtime

    static let initialize: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        if lua_type(L, 1) == LUA_TTABLE {
            if lua_getfield(L, 1, "num_cpus") == LUA_TNUMBER {
                let asked = clua_tonumber(L, -1), running = ray.runtime.settings.numCPUs
                if asked != running {
                    return fail(L, "ray.init: a runtime is already running with num_cpus = \(format(running)) (asked for \(format(asked)))")
                }
            }
            if lua_getfield(L, 1, "resources") == LUA_TTABLE {
                // As in Ray: a driver that attaches to a cluster does not declare resources.
                lua_getfield(L, 1, "address")
                if ray.runtime.cluster != nil || lua_type(L, -1) != LUA_TNIL {
                    return fail(L, "ray.init: resources cannot be given when attaching to a cluster (its nodes declare theirs: ray start --resources)")
                }
                clua_pop(L, 1)
                var asked: [String: Double]
                switch readResources(L, at: lua_gettop(L)) {
                case .failure(let problem): return fail(L, "ray.init: \(problem.description)")
                case .success(let resources): asked = resources
                }
                if let cpus = asked.removeValue(forKey: "CPU"), cpus != ray.runtime.settings.numCPUs {
                    return fail(L, "ray.init: a runtime is already running with num_cpus = \(format(ray.runtime.settings.numCPUs)) (resources ask for CPU = \(format(cpus)))")
                }
                if let conflict = ray.runtime.addResources(asked) { return fail(L, "ray.init: \(conflict)") }
            }
            if lua_getfield(L, 1, "runtime_env") == LUA_TTABLE {
                // The job's: every submission from this state runs in it unless it says otherwise.
                let env = RuntimeEnv.read(L, at: -1)
                if let dir = env.workingDir {
                    do throws(WorkingDirectory.Problem) {
                        _ = try ray.environment.workingDirectory(dir, runtime: ray.runtime)  // packed now, as Ray uploads it at init
                    } catch {
                        return fail(L, "ray.init: runtime_env: \(error.description)")
                    }
                }
                ray.environment.inherited = ray.environment.inherited.merged(under: env)
            }
            if lua_getfield(L, 1, "namespace") == LUA_TSTRING, let namespace = string(L, -1) {
                // Inside a task the job's namespace is the task's (it came
                // with it, maybe from another node): it can only be agreed
                // with, never set for the node's runtime.
                let agrees = ray.worker?.current == nil ? ray.runtime.setNamespace(namespace) : ray.namespace == namespace
                if !agrees {
                    return fail(L, "ray.init: the job's namespace is already '\(ray.namespace)' (asked for '\(namespace)')")
                }
            }
            if lua_getfield(L, 1, "address") == LUA_TSTRING, let address = string(L, -1) {
                if ray.runtime.cluster == nil {
                    guard let connect = Runtime.clusterConnector.withLock({ $0 }) else {
                        return fail(L, "ray.init: this program cannot join a cluster (no cluster support linked in)")
                    }
                    do {
                        try connect(ray.runtime, address)
                    } catch {
                        return fail(L, "ray.init: \(error)")
                    }
                }
            } else if lua_type(L, -1) != LUA_TNIL {
                return fail(L, "ray.init: address must be \"HOST:PORT\" or \"auto\", got \(describeType(L, -1))")
            }
        } else if lua_type(L, 1) != LUA_TNIL && lua_type(L, 1) != LUA_TNONE {
            return fail(L, "ray.init: options must be a table, got \(describeType(L, 1))")
        }
        ray.initialized = true
        return 0
    }

    static let isInitialized: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        lua_pushboolean(L, RayLuaState.from(L).initialized ? 1 : 0)
        return 1
    }

    static let shutdown: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        RayLuaState.from(L).initialized = false
        return 0
    }

    static let context: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        lua_createtable(L, 0, 6)
        let fields: [(String, String?)] = [
            ("job_id", ray.runtime.jobID.hex), ("node_id", ray.runtime.nodeIDHex),
            ("worker_id", ray.worker?.id.hex ?? ray.driverID.hex),
            ("task_id", ray.worker?.current?.task.id.hex),
            ("actor_id", ray.worker?.current?.task.actorID?.hex),
            ("namespace", ray.namespace),
        ]
        for case let (key, value?) in fields {
            lua_pushstring(L, value)
            lua_setfield(L, -2, key)
        }
        return 1
    }

    /// Pushes `{ CPU = n, <custom> = n }`.
    static func pushResources(_ L: OpaquePointer, cpus: Double, custom: [String: Double]) {
        lua_createtable(L, 0, Int32(custom.count + 1))
        lua_pushnumber(L, cpus)
        lua_setfield(L, -2, "CPU")
        for (name, amount) in custom {
            lua_pushnumber(L, amount)
            lua_setfield(L, -2, name)
        }
    }

    static let resources: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        let available = lua_toboolean(L, 1) != 0
        if let cluster = ray.runtime.cluster {
            var sum: [String: Double] = [:]
            for node in cluster.nodes() where node.alive {
                sum.merge(available ? node.available : node.total, uniquingKeysWith: +)
            }
            pushResources(L, cpus: sum.removeValue(forKey: "CPU") ?? 0, custom: sum)
            return 1
        }
        let cpus = available ? max(0, ray.runtime.scheduler.availableCPUs) : ray.runtime.settings.numCPUs
        pushResources(L, cpus: cpus, custom: ray.runtime.resources)
        return 1
    }

    static let nodes: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        let runtime = ray.runtime
        let nodes = runtime.cluster?.nodes() ?? [
            ClusterNode(nodeID: runtime.nodeID.hex, address: "local", alive: true,
                        total: runtime.resources.merging(["CPU": runtime.settings.numCPUs]) { $1 }, available: [:]),
        ]
        lua_createtable(L, Int32(nodes.count), 0)
        for (i, node) in nodes.enumerated() {
            lua_createtable(L, 0, 4)
            lua_pushstring(L, node.nodeID)
            lua_setfield(L, -2, "node_id")
            lua_pushstring(L, node.address)
            lua_setfield(L, -2, "address")
            lua_pushboolean(L, node.alive ? 1 : 0)
            lua_setfield(L, -2, "alive")
            var total = node.total
            pushResources(L, cpus: total.removeValue(forKey: "CPU") ?? 0, custom: total)
            lua_setfield(L, -2, "resources")
            lua_rawseti(L, -2, lua_Integer(i + 1))
        }
        return 1
    }

    /// `print` on a node whose output goes to the drivers: the standard
    /// print's text (tostring of each value, tabs, newline), one line per call.
    /// Where `print` puts a line: on a cluster node, a task's lines go to
    /// the driver that placed it (`outputSink`); everywhere else to this
    /// process's stdout, flushed, as lua.c does.
    static let printSink: clua_LineSink = { L, line, length in
        guard let L, let line else { return }
        let ray = RayLuaState.from(L)
        if ray.worker != nil, ray.runtime.settings.forwardsOutput, let sink = ray.runtime.outputSink.withLock({ $0 }) {
            let text = String(decoding: UnsafeRawBufferPointer(start: line, count: length), as: UTF8.self)
            sink(ray.worker?.current?.task.id, text)
        } else {
            clua_stdout_line(line, length)
        }
    }

    static let now: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        lua_pushnumber(L, monotonicSeconds())
        return 1
    }

    /// Whether the caller may draw on stderr as on a terminal (progress
    /// bars): the driver's stderr is one; a task's never counts as one, as
    /// the node's stderr is shared by every task it runs and by its log.
    static let stderrIsTTY: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        lua_pushboolean(L, RayLuaState.from(L).worker == nil && isatty(STDERR_FILENO) == 1 ? 1 : 0)
        return 1
    }

    static let sleep: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        guard lua_type(L, 1) == LUA_TNUMBER, clua_tonumber(L, 1) >= 0 else {
            return fail(L, "ray.sleep: expected a non-negative number of seconds, got \(describeType(L, 1))")
        }
        let seconds = clua_tonumber(L, 1)
        if let worker = ray.worker, worker.currentMustStop {
            worker.current?.waiting = false
            return raise(L, ray, .taskCancelled, "this task was cancelled")
        }
        if let worker = ray.worker, worker.canYield(L), let run = worker.current {
            if !run.waiting {
                run.waiting = true
                run.deadline = monotonicSeconds() + seconds
            }
            if let deadline = run.deadline, monotonicSeconds() < deadline {
                let (key, token) = worker.suspendCurrent()
                let scheduler = ray.runtime.scheduler, index = worker.index
                DispatchQueue.global().asyncAfter(deadline: .now() + (deadline - monotonicSeconds())) {
                    scheduler.resume(worker: index, key: key, token: token)
                }
                return CLUA_YIELD
            }
            run.waiting = false
            return 0
        }
        // In slices, so that Ctrl-C in an interactive session ends it.
        let end = monotonicSeconds() + seconds
        while monotonicSeconds() < end {
            if ray.worker == nil && clua_sigint_pending() != 0 { return fail(L, "interrupted!") }
            Thread.sleep(forTimeInterval: min(0.05, max(0, end - monotonicSeconds())))
        }
        return 0
    }

    static let setErrorMetatable: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        RayLuaState.from(L).setErrorMetatable(at: 1)
        return 0
    }
}
