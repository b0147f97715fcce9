import CLua
import CLuaShims
import Foundation
import LuaCodec
import RayCore
import Synchronization

/// The object primitives: get, wait (suspending the task or blocking the thread), put.
extension Primitives {
    // MARK: get, wait

    /// The ids in argument 1: an ObjectRef, or an array of them; else what
    /// is wrong with it (naming the first element that is not an ObjectRef).
    static func refs(_ L: OpaquePointer, _ ray: RayLuaState, allowSingle: Bool) -> Result<(ids: [ObjectID], single: Bool), ArgumentProblem> {
        if allowSingle, let id = ObjectRefs.id(at: 1, on: L, metatable: ray.objectRefMetatable) { return .success(([id], true)) }
        guard lua_type(L, 1) == LUA_TTABLE else {
            return .failure(ArgumentProblem(allowSingle ? "expected an ObjectRef or an array of ObjectRefs, got \(describeType(L, 1))"
                                                         : "expected an array of ObjectRefs, got \(describeType(L, 1))"))
        }
        var ids: [ObjectID] = []
        let count = lua_rawlen(L, 1)
        ids.reserveCapacity(Int(count))
        for i in stride(from: 1, through: Int(count), by: 1) {
            lua_rawgeti(L, 1, lua_Integer(i))
            defer { clua_pop(L, 1) }
            guard let id = ObjectRefs.id(at: -1, on: L, metatable: ray.objectRefMetatable) else {
                return .failure(ArgumentProblem("element \(i) of the array is \(describeValue(L, -1)), not an ObjectRef"))
            }
            ids.append(id)
        }
        return .success((ids, false))
    }

    /// A value's type for an error message, with the value itself when short (`a number (2)`).
    static func describeValue(_ L: OpaquePointer, _ index: Int32) -> String {
        let type = describeType(L, index)
        let article = type.first.map { "aeiou".contains($0) } == true ? "an" : "a"
        switch lua_type(L, index) {
        case LUA_TNUMBER, LUA_TBOOLEAN:
            var length = 0
            let text = clua_tolstring_safe(L, index, &length).map { String(cString: $0) } ?? "?"
            clua_pop(L, 1)
            return "\(article) \(type) (\(text))"
        case LUA_TSTRING:
            let text = string(L, index) ?? ""
            return text.count <= 20 ? "a string (\"\(text)\")" : "a string"
        case LUA_TNIL:
            return "nil"
        default:
            return "\(article) \(type)"
        }
    }

    static let get: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        let ids: [ObjectID], single: Bool
        switch refs(L, ray, allowSingle: true) {
        case .failure(let problem): return fail(L, "ray.get: \(problem.description)")
        case .success(let read): (ids, single) = read
        }
        let timeout = lua_type(L, 2) == LUA_TNUMBER ? clua_tonumber(L, 2) : nil
        let store = ray.runtime.store
        var objects = store.objects(ids)  // one lock for all
        let missingIDs = ids.indices.filter { objects[$0] == nil }.map { ids[$0] }
        if let missing = missingIDs.first {
            // Wait for all of them at once: one wake-up, not one per object.
            switch await_(L, ray, on: missingIDs, until: .all, timeout: timeout) {
            case .yield: return CLUA_YIELD
            case .cancelled: return raise(L, ray, .taskCancelled, "this task was cancelled")
            case .lost(let id): return raise(L, ray, .objectLost, "object \(id.hex) was freed: no reference to it remained")
            case .interrupted:
                // Ctrl-C in an interactive session: the tasks it waited for
                // are cancelled too, or a runaway one would hold its CPU.
                for id in missingIDs { ray.runtime.cancel(returning: id, recursive: true) }
                return fail(L, "interrupted!")
            case .timedOut:
                return raise(L, ray, .getTimeout, "ray.get timed out after \(format(timeout ?? 0)) s waiting for \(missing.hex)")
            case .ready:
                objects = store.objects(ids)
            }
        }
        // All ready: push the values (raise the first error among them).
        ray.worker?.current?.waiting = false
        if !single {
            lua_createtable(L, Int32(ids.count), 0)
        }
        for (i, id) in ids.enumerated() {
            guard let object = objects[i] else {
                return raise(L, ray, .objectLost, "object \(id.hex) was freed")
            }
            do throws(LuaCodecError) {
                try ray.push(object, on: L)
            } catch {
                return raise(L, ray, .serialization, "ray.get: \(error.message)")
            }
            if object.isError { return CLUA_RAISE }
            if !single { lua_rawseti(L, -2, lua_Integer(i + 1)) }
        }
        return 1
    }

    enum Await { case ready, yield, timedOut, cancelled, interrupted, lost(ObjectID) }
    enum Until { case any, all }

    /// Waits until any or all of `ids` are ready: by suspending the task's
    /// coroutine when it can yield (the worker runs other work meanwhile),
    /// else by blocking the thread. Timeouts count from the first call of a
    /// `get`. The caller re-checks readiness afterwards.
    static func await_(_ L: OpaquePointer, _ ray: RayLuaState, on ids: [ObjectID], until: Until,
                       timeout: Double?) -> Await {
        let store = ray.runtime.store
        ray.runtime.fetchForeign(ids)
        if let worker = ray.worker, worker.currentMustStop {
            worker.current?.waiting = false
            return .cancelled
        }
        if let lost = ids.first(where: { !store.contains($0) }) {  // freed: it will never be ready
            ray.worker?.current?.waiting = false
            return .lost(lost)
        }
        if let worker = ray.worker, worker.canYield(L), let run = worker.current {
            if !run.waiting {
                run.waiting = true
                run.deadline = timeout.map { monotonicSeconds() + $0 }
            } else if let deadline = run.deadline, monotonicSeconds() >= deadline {
                run.waiting = false
                return .timedOut
            }
            let (key, token) = worker.suspendCurrent()
            let scheduler = ray.runtime.scheduler
            let index = worker.index
            let arrived = countdown(ids.count, until) { scheduler.resume(worker: index, key: key, token: token) }
            for id in ids where !store.whenReady(id, { _ in arrived() }) { arrived() }  // freed meanwhile: look again
            if let deadline = run.deadline {
                let delay = max(0, deadline - monotonicSeconds())
                DispatchQueue.global().asyncAfter(deadline: .now() + delay) {
                    scheduler.resume(worker: index, key: key, token: token)
                }
            }
            return .yield
        }
        // The driver, or a context that cannot yield (a sort comparator, a
        // user's own coroutine, a metamethod called from C): block this thread.
        let cpus = ray.worker?.current?.task.cpus ?? 0
        ray.runtime.scheduler.release(cpus: cpus)
        let standIn = ray.worker.map { $0.role != .actor } ?? false
        if standIn { ray.runtime.beginBlocking() }
        defer {
            if standIn { ray.runtime.endBlocking() }
            ray.runtime.scheduler.reacquire(cpus: cpus)
        }
        let signal = DispatchSemaphore(value: 0)
        let fired = Atomic(false)
        let arrived = countdown(ids.count, until) {
            fired.store(true, ordering: .releasing)
            signal.signal()
        }
        for id in ids where !store.whenReady(id, { _ in arrived() }) { arrived() }  // freed meanwhile: look again
        // A result that comes within a moment is taken without a wake-up.
        // A driver attached to a cluster waits longer: a result from another
        // node takes a few wake-ups to come, and the driver has nothing else
        // to do (it spins only while it waits, in a get or wait).
        let spin = ray.worker == nil && ray.runtime.cluster != nil ? Scheduler.remoteSpin : Scheduler.spin
        if Scheduler.spin(for: spin, until: { fired.load(ordering: .acquiring) }) { return .ready }
        // Waits in slices so that Ctrl-C in an interactive session (the
        // driver's only) can end the wait.
        let deadline = timeout.map { DispatchTime.now() + $0 }
        while true {
            if ray.worker == nil && clua_sigint_pending() != 0 { return .interrupted }
            let slice = DispatchTime.now() + 0.05
            if signal.wait(timeout: deadline.map { min($0, slice) } ?? slice) == .success { return .ready }
            if let deadline, DispatchTime.now() >= deadline { return .timedOut }
        }
    }

    /// A callback to call once per arrival; it runs `action` once: at the
    /// first arrival (`any`) or the last (`all`).
    static func countdown(_ count: Int, _ until: Until, _ action: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        let remaining = Locked(until == .any ? 1 : count)
        return {
            let fire = remaining.withLock { left in
                left -= 1
                return left == 0
            }
            if fire { action() }
        }
    }

    static let wait: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        let ids: [ObjectID]
        switch refs(L, ray, allowSingle: false) {
        case .failure(let problem): return fail(L, "ray.wait: \(problem.description)")
        case .success(let read): ids = read.ids
        }
        let wanted = Int(clua_tointeger(L, 2))
        let timeout = lua_type(L, 3) == LUA_TNUMBER ? clua_tonumber(L, 3) : nil
        let store = ray.runtime.store
        while true {
            // The first `wanted` ready refs in order: the scan stops there.
            let ready = store.readyPositions(ids, limit: wanted)
            if ready.count >= wanted || timeout == 0 {
                ray.worker?.current?.waiting = false
                return pushWaitResult(L, ready, count: ids.count)
            }
            // Fewer than `wanted` ready: the scan saw every ref, so the rest are missing.
            let readySet = Set(ready)
            let missing = ids.indices.filter { !readySet.contains($0) }.map { ids[$0] }
            switch await_(L, ray, on: missing, until: .any, timeout: timeout) {
            case .yield: return CLUA_YIELD
            case .cancelled: return raise(L, ray, .taskCancelled, "this task was cancelled")
            case .lost(let id): return raise(L, ray, .objectLost, "object \(id.hex) was freed: no reference to it remained")
            case .interrupted: return fail(L, "interrupted!")
            case .timedOut:
                return pushWaitResult(L, store.readyPositions(ids, limit: wanted), count: ids.count)
            case .ready: continue
            }
        }
    }

    /// Pushes `ready, not_ready`: the refs of argument 1 split, each in input order.
    static func pushWaitResult(_ L: OpaquePointer, _ ready: [Int], count: Int) -> Int32 {
        let readySet = Set(ready)
        lua_createtable(L, Int32(ready.count), 0)
        lua_createtable(L, Int32(count - ready.count), 0)
        var r: lua_Integer = 0, n: lua_Integer = 0
        for i in 0..<count {
            lua_rawgeti(L, 1, lua_Integer(i + 1))
            if readySet.contains(i) {
                r += 1
                lua_rawseti(L, -3, r)
            } else {
                n += 1
                lua_rawseti(L, -2, n)
            }
        }
        return 2
    }

    static func describeType(_ L: OpaquePointer, _ index: Int32) -> String {
        String(cString: lua_typename(L, lua_type(L, index)))
    }

    // MARK: put

    static let put: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        if lua_gettop(L) < 1 { lua_pushnil(L) }
        let made = onMainStack(ray, copying: 1, count: 1, from: L) { at throws(LuaCodecError) in
            try ray.makeObject(valueAt: at, label: "the value")
        }
        guard case .success(let object) = made else {
            if case .failure(let error) = made { return raise(L, ray, .serialization, "ray.put: \(error.message)") }
            return CLUA_RAISE
        }
        let id = ray.runtime.store.put(object)
        ObjectRefs.push(id, owned: true, on: L, store: ray.runtime.store)
        return 1
    }
}
