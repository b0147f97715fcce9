import Foundation
import NIOCore
import NIOPosix
import RayCore

/// Messages from peers, handled on their connection's event loop: work
/// placed here, objects arriving or asked for, cancels and kills.
extension ClusterMember {
    /// Runs on the connection's event loop: nothing here waits.
    func handle(_ message: PeerMessage, from link: PeerLink) {
        switch message {
        case .function(let id, let code):
            runtime.setFunctionCode(id, code)
        case .submit(let tasks):
            for task in tasks { run(task, for: link) }
        case .createActor(let actor, let classRefs):
            do {
                try runtime.hostActorForPeer(actor, classRefs: classRefs)
                state.withLock { $0.actorCreators[actor.id] = link.owner }
                if link.isDriver && !actor.options.detached {
                    state.withLock { $0.actorsOfDriver[link.owner, default: []].append(actor.id) }
                }
            } catch {
                log("could not host actor \(actor.id.hex): \(error)")
            }
        case .finished(let id, let results):
            for piece in results {
                arrived(piece.id, StoredObject(bytes: Array(piece.data.readableBytesView), isError: piece.isError,
                                               contained: piece.contained))
            }
            if let (node, cpus) = runtime.tasks.placedFinished(id) {
                state.withLock { $0.inFlight[node, default: 0] -= cpus }
            }
        case .fetch(let ids):
            for id in ids {
                let known = runtime.objects.whenReady(id) { [self] object in
                    pin(object.contained)
                    link.send(object: object, as: id)
                }
                if !known { link.send(.lost(id, reason: "its owner freed it (no reference to it remained there)")) }
            }
        case .object(let piece):
            if piece.offset == 0 && piece.data.readableBytes == piece.total {
                arrived(piece.id, StoredObject(bytes: Array(piece.data.readableBytesView), isError: piece.isError,
                                               contained: piece.contained))
                return
            }
            let key = AssemblyKey(link: ObjectIdentifier(link), id: piece.id)
            let assembly = state.withLock { state -> ObjectAssembly? in
                if piece.offset == 0 {
                    state.assemblies[key] = ObjectAssembly(total: piece.total, isError: piece.isError, contained: piece.contained)
                }
                return state.assemblies[key]
            }
            guard let assembly else {
                let why = piece.offset == 0 ? "its \(piece.total) bytes could not be allocated here"
                                            : "a piece came without the ones before it"
                arrived(piece.id, StoredObject(error: .objectLost(piece.id, why)))
                return
            }
            switch assembly.add(piece.data, at: piece.offset) {
            case .partial:
                break
            case .whole(let object):
                state.withLock { _ = $0.assemblies.removeValue(forKey: key) }
                arrived(piece.id, object)
            case .outOfOrder:
                state.withLock { _ = $0.assemblies.removeValue(forKey: key) }
                arrived(piece.id, StoredObject(error: .objectLost(piece.id, "its pieces came out of order")))
            }
        case .lost(let id, let reason):
            arrived(id, StoredObject(error: .objectLost(id, reason)))
        case .cancel(let ref, let recursive):
            runtime.cancel(returning: ref, recursive: recursive)
        case .killActor(let id, let noRestart, let request):
            runtime.killActorForPeer(id, noRestart: noRestart)
            link.send(.done(request: request))
        case .done(let request):
            requests.withLock { $0[request] }?.answered.signal()
        case .actorRestarted(let id, let restarts):
            runtime.actors.remoteRestarted(id, restarts: restarts)
        case .output(let text):
            runtime.writeOutput(text)
        }
    }

    /// Runs work a peer placed here; its returns go back on the same link.
    private func run(_ task: TaskSpec, for link: PeerLink) {
        // A task with no returns gets one of its own here, kept from its
        // owner: `done` still comes when it ends, and cancel can name it.
        let own = task.returnIDs.isEmpty ? ObjectID.next() : nil
        let task = own.map { task.returning([$0]) } ?? task
        state.withLock { $0.hosted[task.id] = (link.owner, task.returnIDs.first) }
        runtime.runForPeer(task) { [self] results in
            state.withLock { _ = $0.hosted.removeValue(forKey: task.id) }
            var small: [PeerMessage.ObjectPiece] = []
            var smallBytes = 0
            var large: [EventLoopFuture<Void>] = []
            for (id, object) in results where id != own {
                pin(object.contained)
                if object.bytes.count > ObjectTransfer.chunkSize {
                    large.append(link.send(object: object, as: id))
                } else if smallBytes + object.bytes.count > ObjectTransfer.finishedLimit {
                    link.send(object: object, as: id)  // many small returns: not all in one message
                } else {
                    smallBytes += object.bytes.count
                    small.append(ObjectTransfer.piece(id, object))
                }
            }
            let finished = PeerMessage.finished(task.id, results: small)
            guard let first = large.first else { return link.send(finished) }
            // `finished` ends the task for its owner: only once every piece
            // of its large returns is out (a broken connection before then
            // makes the owner retry or fail the task).
            EventLoopFuture.whenAllSucceed(large, on: first.eventLoop).whenSuccess { _ in link.send(finished) }
        }
    }

    func arrived(_ id: ObjectID, _ object: StoredObject) {
        runtime.receive(id, object)
        // Only others' objects are requested; cleared after the store has
        // it, so that a fetch in between finds it there instead of asking again.
        if !id.isLocal { state.withLock { _ = $0.requested.remove(id) } }
    }

    /// Objects of this process whose refs leave it stay alive while a
    /// driver is attached (distributed reference counting comes later).
    func pin(_ ids: [ObjectID]) {
        let local = ids.filter(\.isLocal)
        guard !local.isEmpty else { return }
        for id in local { runtime.objects.addReference(id) }
        state.withLock { $0.pins += local }
    }
}
