/// The actors this process created on other nodes, as their owner keeps
/// them: where each lives, its restarts so far (the one counter, carried to
/// each new host in `ActorCreation.restarts`), and the nodes that died
/// under it since a call to it last finished. A plain value like
/// `TaskBook`: when a host dies it answers what to do, and the actor
/// directory does it.
package struct RemoteActorBook: Sendable {
    struct Entry: Sendable {
        var actor: ActorCreation
        let classRefs: [ObjectID]
        var host: UInt64
        var deaths: [String] = []
    }

    /// What becomes of an actor whose host died.
    package enum Decision: Sendable, Equatable {
        /// Create it again elsewhere (a new creation task, one more restart).
        case restart(ActorCreation, classRefs: [ObjectID])
        /// Not again: its calls fail with ActorDiedError; `reason` says why.
        case notRestarted(ActorID, reason: String)
    }

    private var entries: [ActorID: Entry] = [:]

    package init() {}

    package var count: Int { entries.count }

    package func restarts(of id: ActorID) -> Int? { entries[id]?.actor.restarts }

    /// An actor placed on `host`; kept only when it may restart.
    package mutating func created(_ actor: ActorCreation, classRefs: [ObjectID], host: UInt64) {
        guard actor.options.maxRestarts != 0 else { return }
        entries[actor.id] = Entry(actor: actor, classRefs: classRefs, host: host)
    }

    /// It was created again on `host`.
    package mutating func moved(_ id: ActorID, to host: UInt64) {
        entries[id]?.host = host
    }

    /// A call to it finished: the nodes that died before do not count against it any more.
    package mutating func callFinished(_ id: ActorID) {
        if entries[id]?.deaths.isEmpty == false { entries[id]?.deaths = [] }
    }

    /// Its host restarted it (`ray.kill` without `no_restart`): `restarts` so far.
    package mutating func restarted(_ id: ActorID, restarts: Int) {
        guard let known = entries[id]?.actor.restarts, restarts > known else { return }
        entries[id]?.actor.restarts = restarts
    }

    /// `ray.kill(h)` without a restart: it is not created again.
    package mutating func forget(_ id: ActorID) {
        entries[id] = nil
    }

    /// The node with this prefix died (`leaving`: this process closed the
    /// connection on its way out, and nothing is restarted). An actor whose
    /// nodes died `TaskBook.crashLimit` times with no call finished in
    /// between is taken to crash them and not created again, whatever
    /// `max_restarts` says.
    package mutating func hostDied(_ node: UInt64, description: String, leaving: Bool) -> [Decision] {
        var decisions: [Decision] = []
        for (id, var entry) in entries where entry.host == node {
            if leaving {
                entries[id] = nil
                continue
            }
            entry.deaths.append(description)
            let limit = entry.actor.options.maxRestarts
            if entry.deaths.count >= TaskBook.crashLimit {
                entries[id] = nil
                decisions.append(.notRestarted(id, reason: "\(entry.deaths.count) nodes died under it with no call finished in between (\(entry.deaths.joined(separator: ", ")))"))
            } else if limit >= 0 && entry.actor.restarts >= limit {
                entries[id] = nil
                decisions.append(.notRestarted(id, reason: "its node died and max_restarts = \(limit) allows no more restarts"))
            } else {
                entry.actor.creation = entry.actor.creation.rerun(as: TaskID.next())
                entry.actor.restarts += 1
                entries[id] = entry
                decisions.append(.restart(entry.actor, classRefs: entry.classRefs))
            }
        }
        return decisions
    }
}
