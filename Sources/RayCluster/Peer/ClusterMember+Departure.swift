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
        /// Work placed on that process, with the nodes that died under it (that one included).
        var lost: [(task: TaskSpec, nodeDeaths: [String])] = []
        var unanswered: [ObjectID] = []
        var abandoned: [ObjectID] = []
        var actors: [ActorID] = []
        var pins: [ObjectID] = []
        var lastDriver = false
        /// Actors this process created on that node, to create again elsewhere.
        var orphans: [ActorID] = []
        /// This process closed the link as it leaves the cluster: nothing is
        /// retried or restarted elsewhere.
        var leaving = false
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
            for (id, entry) in state.placed where entry.owner == link.owner {
                state.placed[id] = nil
                for ref in entry.task.returnIDs { state.placedByReturn[ref] = nil }
                departure.lost.append((entry.task, entry.nodeDeaths + [gone]))
            }
            state.inFlight[link.owner] = nil
            departure.orphans = state.created.keys.filter { state.actorHosts[$0] == link.owner }
            for id in departure.orphans where !state.stopping { state.actorDeaths[id, default: []].append(gone) }
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
        if departure.leaving {
            for (task, _) in departure.lost {
                runtime.endPlaced(task, failing: .nodeDied(task, "this process left the cluster before it finished"))
            }
        } else {
            for (task, deaths) in departure.lost { retryOrFail(task, because: "the node that ran it went away", nodeDeaths: deaths) }
            for id in departure.orphans { restartElsewhere(id) }
        }
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

    /// Node deaths under one task after which it is taken for their cause
    /// and not retried again, whatever `max_retries` says: one death can be
    /// bad luck, two in a row on different nodes are the task's doing (a
    /// crash in C code, memory exhausted), and retrying would take the
    /// cluster down node by node.
    static let crashLimit = 2

    /// Work lost with its node: retried elsewhere while `max_retries`
    /// allows and it has not taken `crashLimit` nodes down, else failed
    /// (`WorkerCrashedError` naming the nodes, or `NodeDiedError`).
    func retryOrFail(_ task: TaskSpec, because reason: String, nodeDeaths: [String] = []) {
        if task.actorID == nil && nodeDeaths.count >= Self.crashLimit {
            if isNode {
                log("task '\(task.name)' is not retried: \(nodeDeaths.count) nodes died while it ran on them (\(nodeDeaths.joined(separator: ", ")))")
            }
            runtime.endPlaced(task, failing: RayError(.workerCrashed, of: task,
                "not retried: each node it ran on died while it ran (\(nodeDeaths.joined(separator: ", "))); "
                + "it is taken to have crashed them"))
            return
        }
        if task.actorID == nil && task.attempt < task.maxRetries {
            var again = task
            again.attempt += 1
            if send(again, nodeDeaths: nodeDeaths) { return }
        }
        runtime.endPlaced(task, failing: .nodeDied(task, reason))
    }
}
