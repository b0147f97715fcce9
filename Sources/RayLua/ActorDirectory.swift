import LuaCodec
import RayCore

/// The node's actors: where each lives, its queue of calls, its name.
///
/// Ordering: calls are queued in submission order and dispatched to the
/// actor's home worker only after `init` finished, when the head call's
/// ObjectRef arguments are ready, and while fewer than `max_concurrency`
/// calls run — so with the default of 1, calls from one caller run in order,
/// one at a time, even across `ray.get` inside a method.
final class ActorDirectory: Sendable {
    struct Actor {
        var name: String?
        var className: String
        var methods: [String]
        var maxConcurrency: Int
        /// The worker that ran the creation and holds the instance.
        var home: Int?
        var ready = false
        /// Set when the actor died: the error its calls fail with.
        var death: StoredObject?
        var queue: [TaskSpec] = []
        var running = 0
        var waitingForArguments = false
    }

    private let actors = Locked<(byID: [ActorID: Actor], byName: [String: ActorID])>(([:], [:]))
    private unowned let runtime: Runtime

    init(runtime: Runtime) { self.runtime = runtime }

    enum CreationError: Error { case nameTaken(String) }

    func create(_ id: ActorID, name: String?, className: String, methods: [String], maxConcurrency: Int) throws {
        try actors.withLock { table in
            if let name {
                if let existing = table.byName[name], table.byID[existing]?.death == nil { throw CreationError.nameTaken(name) }
                table.byName[name] = id
            }
            table.byID[id] = Actor(name: name, className: className, methods: methods, maxConcurrency: max(1, maxConcurrency))
        }
    }

    func lookup(name: String) -> (id: ActorID, methods: [String])? {
        actors.withLock { table in
            guard let id = table.byName[name], let actor = table.byID[id], actor.death == nil else { return nil }
            return (id, actor.methods)
        }
    }

    /// The creation started on `worker`: the actor lives there from now on.
    func started(_ id: ActorID, on worker: Int) {
        actors.withLock { $0.byID[id]?.home = worker }
    }

    func initialized(_ id: ActorID) {
        actors.withLock { $0.byID[id]?.ready = true }
        dispatch(id)
    }

    /// The actor is gone (its init failed, or ray.kill): queued and future calls fail with `reason`.
    func died(_ id: ActorID, reason: String, cause: String? = nil) {
        let failed: [TaskSpec]? = actors.withLock { table in
            guard var actor = table.byID[id], actor.death == nil else { return nil }
            var fields = [("type", "ActorDiedError"), ("message", "actor \(actor.name.map { "'\($0)'" } ?? actor.className) (\(id.hex)) died: \(reason)")]
            if let cause { fields.append(("cause", cause)) }
            actor.death = StoredObject(bytes: LuaCodec.message(stringTable: fields), isError: true)
            let queued = actor.queue
            actor.queue = []
            if let name = actor.name, table.byName[name] == id { table.byName[name] = nil }
            table.byID[id] = actor
            return queued
        }
        guard let failed, let death = actors.withLock({ $0.byID[id]?.death }) else { return }
        for call in failed { fail(call, with: death) }
    }

    func isAlive(_ id: ActorID) -> Bool {
        actors.withLock { $0.byID[id].map { $0.death == nil } ?? false }
    }

    /// Queues a method call (or fails it at once when the actor is dead).
    func submit(_ call: TaskSpec) {
        guard let id = call.actorID else { return }
        let death: StoredObject? = actors.withLock { table in
            guard var actor = table.byID[id] else {
                return StoredObject(bytes: LuaCodec.message(stringTable: [("type", "ActorDiedError"), ("message", "no actor \(id.hex) on this node")]), isError: true)
            }
            if let death = actor.death { return death }
            actor.queue.append(call)
            table.byID[id] = actor
            return nil
        }
        if let death { fail(call, with: death) } else { dispatch(id) }
    }

    func callFinished(_ id: ActorID) {
        actors.withLock { $0.byID[id]?.running -= 1 }
        dispatch(id)
    }

    /// Posts what may run now to the actor's home worker.
    private func dispatch(_ id: ActorID) {
        let store = runtime.store
        var waitOn: ObjectID?
        let (home, calls): (Int?, [TaskSpec]) = actors.withLock { table in
            guard var actor = table.byID[id], actor.ready, actor.death == nil, let home = actor.home else { return (nil, []) }
            var calls: [TaskSpec] = []
            while actor.running < actor.maxConcurrency, let head = actor.queue.first {
                if let missing = head.topLevelRefs.first(where: { store.object($0.id) == nil }) {
                    if !actor.waitingForArguments {
                        actor.waitingForArguments = true
                        waitOn = missing.id
                    }
                    break
                }
                actor.queue.removeFirst()
                actor.running += 1
                calls.append(head)
            }
            table.byID[id] = actor
            return (home, calls)
        }
        if let home {
            for call in calls { runtime.scheduler.post(.start(call), to: home) }
        }
        if let waitOn {
            store.whenReady(waitOn) { [self] _ in
                actors.withLock { $0.byID[id]?.waitingForArguments = false }
                dispatch(id)
            }
        }
    }

    private func fail(_ call: TaskSpec, with error: StoredObject) {
        for id in call.returnIDs { runtime.store.fulfill(id, with: error) }
        for ref in call.argumentRefs { runtime.store.removeReference(ref) }
    }
}
