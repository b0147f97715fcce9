import Foundation
import NIOCore
import NIOPosix
import RayCore

/// When a connection ends: work placed on that process is retried or
/// fails, objects asked of it are lost, and a driver's job ends here.
extension ClusterMember {
    /// A connection ended: its process's work placed from here is retried
    /// elsewhere or fails; a driver's actors end with it.
    /// What a closed connection leaves to do, gathered under the lock.
    struct Departure {
        /// That process, as messages name it.
        var description = ""
        var unanswered: [ObjectID] = []
        var abandoned: [ObjectID] = []
        var actors: [ActorID] = []
        var pins: [ObjectID] = []
        var lastDriver = false
        /// This process closed the link as it leaves the cluster: nothing is
        /// retried or restarted elsewhere.
        var leaving = false
        /// The link was the one in use: its process's placed work was swept
        /// (to retry or fail once the lock is released). A link already
        /// superseded by a newer one to the same process sweeps nothing.
        var sweep: TaskFollowUp?
    }

    func closed(_ link: PeerLink) {
        let departure: Departure = state.withLock { state in
            var departure = Departure()
            guard state.links[link.owner] === link || state.links[link.owner] == nil else { return departure }
            state.links[link.owner] = nil
            departure.leaving = state.stopping
            // A node whose connection broke takes no more work from here
            // until the head's list says it is back.
            for i in state.placementNodes.indices where state.placementNodes[i].owner == link.owner {
                state.placementNodes[i].alive = false
            }
            let node = state.nodes.first { $0.owner == link.owner }
            let gone = node.map { "node \($0.nodeID.prefix(12)) at \($0.address)" } ?? "the process \(String(link.owner, radix: 16))"
            departure.description = gone
            state.inFlight[link.owner] = nil
            // In the same step as the link goes: a task placed on that
            // process from now on goes over a new link, and is not swept.
            departure.sweep = runtime.tasks.nodeDiedFollowUp(link.owner, description: gone, leaving: departure.leaving)
            // Objects asked of that process will not come; pieces from it are dropped.
            let unanswered = state.requested.filter { $0.high == link.owner }
            state.requested.subtract(unanswered)
            departure.unanswered = Array(unanswered)
            state.assemblies = state.assemblies.filter { $0.key.link != ObjectIdentifier(link) }
            guard link.isDriver else { return departure }
            // A driver's job ended: what it placed here stops, as in Ray;
            // when no driver is left, so does all other work and every
            // actor that is not detached.
            departure.actors = state.actorsOfDriver.removeValue(forKey: link.owner) ?? []
            departure.lastDriver = !state.links.values.contains(where: \.isDriver)
            for (id, entry) in state.hosted where departure.lastDriver || entry.owner == link.owner {
                state.hosted[id] = nil
                if let ref = entry.firstReturn { departure.abandoned.append(ref) }
            }
            if departure.lastDriver {
                swap(&departure.pins, &state.pins)
                state.actorsOfDriver = [:]
            }
            return departure
        }
        // Requests to that process will not be answered: their waiters go on.
        for waiting in requests.withLock({ $0.values.filter { $0.owner == link.owner } }) { waiting.answered.signal() }
        // Work placed there is retried elsewhere or fails (the task manager decided).
        guard let sweep = departure.sweep else { return }  // a superseded link: its process is still connected
        sweep.perform()
        // So are the actors this process created there (the actor directory decides).
        runtime.actors.hostDied(link.owner, description: departure.description, leaving: departure.leaving)
        for id in departure.unanswered {
            runtime.receive(id, StoredObject(error: .objectLost(id, "the process that owned it went away")))
        }
        for ref in departure.abandoned { runtime.cancel(returning: ref, recursive: true) }
        var ended = departure.actors
        for id in ended { runtime.killActorForPeer(id, noRestart: true) }
        if departure.lastDriver { ended += runtime.endJobActors() }
        for id in ended { head.send(.actorGone(id)) }
        for id in departure.pins { runtime.objects.removeReference(id) }
    }

    /// Sends what a task printed to the driver that placed it; output of
    /// other work (a node's own nested tasks) goes to every attached driver.
    func forward(_ text: String, of task: TaskID?) {
        let links: [PeerLink] = state.withLock { state in
            if let task, let owner = state.hosted[task]?.owner, let link = state.links[owner], link.isDriver { return [link] }
            return state.links.values.filter(\.isDriver)
        }
        if links.isEmpty {
            runtime.writeOutput(text)  // no driver: the node's own log
        }
        for link in links { link.send(.output(text)) }
    }
}
