import Testing
@testable import RayCore

/// The task life cycle as pure transitions: each event's actions, with no
/// threads, store or scheduler (TaskBook is a value).
@Suite("Task book: a task's life, event by event")
struct TaskBookTests {
    static func task(_ name: String = "f", returns: Int = 1, arguments: [ObjectID] = [], maxRetries: Int = 0,
                     actor: ActorID? = nil) -> TaskSpec {
        let kind: TaskSpec.Kind = actor.map { .actorMethod($0, method: name) } ?? .function(UniqueID.next())
        var spec = TaskSpec(id: .next(), name: name, kind: kind, arguments: [], argumentRefs: arguments,
                            topLevelRefs: arguments.enumerated().map { ($0.offset + 1, $0.element) },
                            returnIDs: (0..<returns).map { _ in ObjectID.next() }, cpus: 1)
        spec.maxRetries = maxRetries
        return spec
    }

    /// The actions' kinds, in order, for readable expectations.
    static func kinds(_ actions: [TaskAction]) -> [String] {
        actions.map { action in
            switch action {
            case .place(_, let retry): retry ? "place(retry)" : "place"
            case .callActor: "callActor"
            case .awaitArguments(_, let ids): "await(\(ids.count))"
            case .enqueue(let spec): "enqueue#\(spec.attempt)"
            case .enqueueAtActor(_, let front): front ? "actorQueueFront" : "actorQueue"
            case .unqueue: "unqueue"
            case .unqueueAtActor: "unqueueAtActor"
            case .interrupt(_, let worker): "interrupt@\(worker)"
            case .forwardCancel(_, let node, _): "forwardCancel@\(node)"
            case .fail(_, let failure):
                switch failure {
                case .object: "fail(object)"
                case .error(let error): "fail(\(error.code.name))"
                case .actorStopped: "fail(actorStopped)"
                }
            case .releaseArguments: "release"
            case .actorCallEnded: "actorCallEnded"
            case .emit(let transition): transition.phase.rawValue
            }
        }
    }

    let error = StoredObject(bytes: [0x52, 0x56, 1, 1, 0], isError: true)

    @Test func aLocalTaskWithReadyArgumentsIsQueuedRunsAndFinishes() {
        var book = TaskBook()
        let spec = Self.task(arguments: [.next()])
        #expect(Self.kinds(book.submit(spec, parent: nil, route: .local, missing: [])) == ["enqueue#0"])
        #expect(book.record(spec.id)?.state == .queued)
        let (stop, started) = book.start(spec, worker: 3)
        #expect(stop == nil && started.isEmpty)
        #expect(book.record(spec.id)?.state == .running(worker: 3))
        #expect(Self.kinds(book.suspend(spec, true)).isEmpty)
        #expect(book.record(spec.id)?.state == .suspended(worker: 3))
        _ = book.suspend(spec, false)
        #expect(Self.kinds(book.end(spec, .succeeded).actions) == ["release"])
        #expect(book.count == 0)
    }

    @Test func transitionsAreEmittedOnlyWhenObserved() {
        var book = TaskBook()
        book.observed = true
        let spec = Self.task()
        #expect(Self.kinds(book.submit(spec, parent: nil, route: .local, missing: [])) == ["submitted", "queued", "enqueue#0"])
        #expect(Self.kinds(book.start(spec, worker: 0).actions) == ["running"])
        #expect(Self.kinds(book.suspend(spec, true)) == ["suspended"])
        #expect(Self.kinds(book.suspend(spec, false)) == ["resumed"])
        #expect(Self.kinds(book.end(spec, .failed(error, mayRetry: false)).actions) == ["fail(object)", "failed"])
    }

    @Test func aTaskWaitsForEachMissingArgumentThenIsQueued() {
        var book = TaskBook()
        let a = ObjectID.next(), b = ObjectID.next()
        let spec = Self.task(arguments: [a, b])
        #expect(Self.kinds(book.submit(spec, parent: nil, route: .local, missing: [a, b])) == ["await(2)"])
        #expect(book.waitingForArguments == 1)
        #expect(book.argumentArrived(spec.id).isEmpty)
        #expect(Self.kinds(book.argumentArrived(spec.id)) == ["enqueue#0"])
        #expect(book.waitingForArguments == 0)
        #expect(book.argumentArrived(spec.id).isEmpty, "a late callback changes nothing")
    }

    @Test func cancellingAWaitingTaskEndsItAtOnceAndItsArgumentsChangeNothingLater() {
        var book = TaskBook()
        let a = ObjectID.next()
        let spec = Self.task(arguments: [a])
        _ = book.submit(spec, parent: nil, route: .local, missing: [a])
        #expect(Self.kinds(book.cancel(returning: spec.returnIDs[0], recursive: false)) == ["fail(TaskCancelledError)", "release"])
        #expect(book.count == 0 && book.waitingForArguments == 0)
        #expect(book.argumentArrived(spec.id).isEmpty)
    }

    @Test func cancellingByWhereTheTaskIs() {
        var book = TaskBook()
        let queued = Self.task(), running = Self.task(), placed = Self.task()
        _ = book.submit(queued, parent: nil, route: .local, missing: [])
        _ = book.submit(running, parent: nil, route: .local, missing: [])
        _ = book.start(running, worker: 5)
        _ = book.submit(placed, parent: nil, route: .cluster, missing: [])
        _ = book.placed(placed.id, on: 42)
        #expect(Self.kinds(book.cancel(returning: queued.returnIDs[0], recursive: false)) == ["unqueue"])
        #expect(Self.kinds(book.cancel(returning: running.returnIDs[0], recursive: false)) == ["interrupt@5"])
        #expect(Self.kinds(book.cancel(returning: placed.returnIDs[0], recursive: false)) == ["forwardCancel@42"])
        #expect(book.cancel(returning: queued.returnIDs[0], recursive: false).isEmpty, "marked once")
        // The queued one taken out of its queue ends as cancelled before it started.
        let ended = book.end(queued, .stopped).actions
        guard case .fail(_, .error(let error)) = ended.first else { Issue.record("\(ended)"); return }
        #expect(error.code == .taskCancelled && error.message.contains("before it started"))
        // The running one, interrupted, says it was cancelled (it had started).
        guard case .fail(_, .error(let runningError)) = book.end(running, .stopped).actions.first else { Issue.record("no failure"); return }
        #expect(runningError.message == "task 'f' was cancelled")
    }

    @Test func aRecursiveCancelReachesChildrenAndGrandchildren() {
        var book = TaskBook()
        let parent = Self.task("parent"), child = Self.task("child"), grandchild = Self.task("grandchild")
        _ = book.submit(parent, parent: nil, route: .local, missing: [])
        _ = book.start(parent, worker: 0)
        _ = book.submit(child, parent: parent.id, route: .local, missing: [])
        _ = book.submit(grandchild, parent: child.id, route: .cluster, missing: [])
        _ = book.placed(grandchild.id, on: 9)
        let actions = Self.kinds(book.cancel(returning: parent.returnIDs[0], recursive: true))
        #expect(actions.sorted() == ["forwardCancel@9", "interrupt@0", "unqueue"])
        #expect(book.stopReason(child.id) == .cancelled)
    }

    @Test func aCancelWhileBeingPlacedFollowsTheTaskToItsNode() {
        var book = TaskBook()
        let spec = Self.task()
        #expect(Self.kinds(book.submit(spec, parent: nil, route: .cluster, missing: [])) == ["place"])
        #expect(book.cancel(returning: spec.returnIDs[0], recursive: true).isEmpty)
        #expect(Self.kinds(book.placed(spec.id, on: 7)) == ["forwardCancel@7"])
    }

    @Test func aStoppedMarkWinsAtStart() {
        var book = TaskBook()
        let spec = Self.task()
        _ = book.submit(spec, parent: nil, route: .local, missing: [])
        _ = book.cancel(returning: spec.returnIDs[0], recursive: false)
        #expect(book.start(spec, worker: 1).stop == .cancelled)
    }

    @Test func retryExceptionsRunsAgainUntilMaxRetriesThenFails() {
        var book = TaskBook()
        let spec = Self.task(arguments: [.next()], maxRetries: 2)
        _ = book.submit(spec, parent: nil, route: .local, missing: [])
        var current = spec
        for attempt in 1...2 {
            _ = book.start(current, worker: 0)
            let actions = book.end(current, .failed(error, mayRetry: true)).actions
            #expect(Self.kinds(actions) == ["enqueue#\(attempt)"], "attempt \(attempt) keeps its arguments")
            guard case .enqueue(let again) = actions.last else { return }
            current = again
        }
        _ = book.start(current, worker: 0)
        #expect(Self.kinds(book.end(current, .failed(error, mayRetry: true)).actions) == ["fail(object)", "release"])
        #expect(book.count == 0)
    }

    @Test func aFailureThatMayNotRetryEndsAtOnce() {
        var book = TaskBook()
        let spec = Self.task(maxRetries: 5)
        _ = book.submit(spec, parent: nil, route: .local, missing: [])
        #expect(Self.kinds(book.end(spec, .failed(error, mayRetry: false)).actions) == ["fail(object)"])
    }

    @Test func aPlacedTaskIsRetriedElsewhereAfterItsNodeDiesThenContained() {
        var book = TaskBook()
        let spec = Self.task(maxRetries: 5)
        _ = book.submit(spec, parent: nil, route: .cluster, missing: [])
        _ = book.placed(spec.id, on: 1)
        #expect(Self.kinds(book.nodeDied(2, description: "another", leaving: false)).isEmpty, "only the node it is on counts")
        #expect(Self.kinds(book.nodeDied(1, description: "node one", leaving: false)) == ["place(retry)"])
        #expect(book.heldSpec(spec.id)?.attempt == 1)
        _ = book.placed(spec.id, on: 3)
        let actions = book.nodeDied(3, description: "node three", leaving: false)
        guard case .fail(_, .error(let error)) = actions.first else { Issue.record("\(actions)"); return }
        #expect(error.code == .workerCrashed)
        #expect(error.message.contains("node one") && error.message.contains("node three"))
        #expect(book.count == 0 && book.isConsistent)
    }

    @Test func aPlacedTaskWithoutRetriesOrOnTheWayOutFailsWithNodeDied() {
        for leaving in [false, true] {
            var book = TaskBook()
            let spec = Self.task(maxRetries: leaving ? 3 : 0)
            _ = book.submit(spec, parent: nil, route: .cluster, missing: [])
            _ = book.placed(spec.id, on: 1)
            let actions = book.nodeDied(1, description: "n", leaving: leaving)
            guard case .fail(_, .error(let error)) = actions.first else { Issue.record("\(actions)"); return }
            #expect(error.code == .nodeDied)
            #expect(error.message.contains(leaving ? "left the cluster" : "went away"))
        }
    }

    @Test func aPlacedTaskFinishesWhenItsNodeSaysSo() {
        var book = TaskBook()
        let spec = Self.task(arguments: [.next()])
        _ = book.submit(spec, parent: nil, route: .cluster, missing: [])
        _ = book.placed(spec.id, on: 4)
        let finished = book.placedFinished(spec.id)
        #expect(finished?.node == 4)
        #expect(Self.kinds(finished?.actions ?? []) == ["release"])
        #expect(book.placedFinished(spec.id) == nil)
    }

    @Test func aTaskTheClusterKeepsHereWaitsForItsArgumentsLikeALocalOne() {
        var book = TaskBook()
        let a = ObjectID.next()
        let spec = Self.task(arguments: [a])
        _ = book.submit(spec, parent: nil, route: .cluster, missing: [])
        #expect(Self.kinds(book.runsHere(spec.id, missing: [a])) == ["await(1)"])
        #expect(Self.kinds(book.argumentArrived(spec.id)) == ["enqueue#0"])
        // A failure there retries through the cluster again.
        _ = book.start(spec, worker: 0)
        var retrying = spec
        retrying.maxRetries = 1
        #expect(Self.kinds(book.end(retrying, .failed(error, mayRetry: true)).actions) == ["place(retry)"])
    }

    @Test func theBookHoldsASpecExactlyWhileItMustHandTheTaskOn() {
        var book = TaskBook()
        let a = ObjectID.next()
        var spec = Self.task(arguments: [a])
        spec.maxRetries = 1
        _ = book.submit(spec, parent: nil, route: .cluster, missing: [])
        #expect(book.heldSpec(spec.id) != nil, "being placed")
        _ = book.runsHere(spec.id, missing: [a])
        #expect(book.heldSpec(spec.id) != nil && book.waitingForArguments == 1, "waiting for its argument")
        _ = book.argumentArrived(spec.id)
        #expect(book.heldSpec(spec.id) == nil && book.waitingForArguments == 0, "the queue has it")
        _ = book.start(spec, worker: 0)
        #expect(book.heldSpec(spec.id) == nil)
        _ = book.end(spec, .failed(error, mayRetry: true))
        #expect(book.heldSpec(spec.id)?.attempt == 1, "placed again")
        _ = book.placed(spec.id, on: 7)
        #expect(book.heldSpec(spec.id) != nil, "placed on another node")
        #expect(book.placedFinished(spec.id)?.node == 7)
        #expect(book.heldSpec(spec.id) == nil && book.count == 0 && book.isConsistent)

        let local = Self.task()
        _ = book.submit(local, parent: nil, route: .local, missing: [])
        #expect(book.heldSpec(local.id) == nil, "a runnable task's spec is in the queue, not the book")
        #expect(book.end(local, .succeeded).stop == nil && book.count == 0)
    }

    @Test func eventsForAnotherStateLeaveTheRecordAsItWas() {
        var book = TaskBook()
        let a = ObjectID.next()
        let spec = Self.task(arguments: [a])
        _ = book.submit(spec, parent: nil, route: .cluster, missing: [])
        #expect(book.placedFinished(spec.id) == nil, "not placed yet")
        #expect(book.heldSpec(spec.id) != nil && book.count == 1 && book.isConsistent)
        #expect(Self.kinds(book.runsHere(spec.id, missing: [a])) == ["await(1)"])
        #expect(book.placedFinished(spec.id) == nil)
        #expect(book.runsHere(spec.id, missing: []).isEmpty, "only a task being placed can be kept here")
        #expect(book.waitingForArguments == 1 && book.heldSpec(spec.id) != nil && book.isConsistent)
        #expect(Self.kinds(book.argumentArrived(spec.id)) == ["enqueue#0"])
        // Its first return is not derived from its id here: found by the index, after every move.
        #expect(Self.kinds(book.cancel(returning: spec.returnIDs[0], recursive: false)) == ["unqueue"])
        #expect(book.isConsistent)
    }

    @Test func stoppingAnActorCreationThatWaitsForItsArgumentsEndsIt() {
        var book = TaskBook()
        let a = ObjectID.next(), actor = ActorID.next()
        let creation = TaskSpec(id: .next(), name: "A", kind: .actorCreation(actor, classCode: []), arguments: [],
                                argumentRefs: [a], topLevelRefs: [(1, a)], returnIDs: [], cpus: 0)
        #expect(Self.kinds(book.submit(creation, parent: nil, route: .local, missing: [a])) == ["await(1)"])
        #expect(Self.kinds(book.stop([creation.id: .actorDied(retry: false)])) == ["release"])
        #expect(book.count == 0 && book.waitingForArguments == 0 && book.heldSpec(creation.id) == nil && book.isConsistent)
        #expect(book.argumentArrived(creation.id).isEmpty)
    }

    @Test func noSpecIsLeftBehindWhenPlacementFailsOrItsNodeDies() {
        var book = TaskBook()
        let failing = Self.task(), lost = Self.task()
        _ = book.submit(failing, parent: nil, route: .cluster, missing: [])
        _ = book.submit(lost, parent: nil, route: .cluster, missing: [])
        _ = book.placed(lost.id, on: 9)
        #expect(Self.kinds(book.placementFailed(failing.id, RayError(.taskError, "no"))) == ["fail(RayTaskError)"])
        #expect(Self.kinds(book.nodeDied(9, description: "n", leaving: false)) == ["fail(NodeDiedError)"])
        #expect(book.heldSpec(failing.id) == nil && book.heldSpec(lost.id) == nil)
        #expect(book.count == 0 && book.isConsistent)
    }

    @Test func endReportsTheStopMarkThatDecidedIt() {
        var book = TaskBook()
        let spec = Self.task()
        _ = book.submit(spec, parent: nil, route: .local, missing: [])
        _ = book.start(spec, worker: 1)
        _ = book.cancel(returning: spec.returnIDs[0], recursive: false)
        #expect(book.stopReason(spec.id) == .cancelled)
        let ended = book.end(spec, .stopped)
        #expect(ended.stop == .cancelled)
        #expect(Self.kinds(ended.actions) == ["fail(TaskCancelledError)"])
        #expect(book.stopReason(spec.id) == nil && book.count == 0)
    }

    @Test func actorCallsEndAtTheirActorAndRestartsRequeueThemFirst() {
        var book = TaskBook()
        let actor = ActorID.next()
        let call = Self.task("incr", actor: actor)
        #expect(Self.kinds(book.submit(call, parent: nil, route: .actor, missing: [])) == ["actorQueue"])
        _ = book.start(call, worker: 2)
        #expect(Self.kinds(book.stop([call.id: .actorDied(retry: true)])) == ["interrupt@2"])
        let requeued = book.end(call, .stopped).actions
        #expect(Self.kinds(requeued) == ["actorQueueFront"])
        guard case .enqueueAtActor(let again, front: true)? = requeued.first else { return }
        #expect(again.attempt == 1)
        #expect(book.record(call.id)?.state == .queuedAtActor)
        _ = book.start(again, worker: 2)
        #expect(Self.kinds(book.stop([call.id: .actorDied(retry: false)])) == ["interrupt@2"])
        #expect(Self.kinds(book.end(call, .stopped).actions) == ["fail(actorStopped)", "actorCallEnded"])
    }

    @Test func aRemoteActorCallWhoseActorIsHereJoinsTheLocalQueue() {
        var book = TaskBook()
        let call = Self.task("get", actor: .next())
        #expect(Self.kinds(book.submit(call, parent: nil, route: .remoteActor, missing: [])) == ["callActor"])
        #expect(Self.kinds(book.runsHere(call.id, missing: [])) == ["actorQueue"])
        _ = book.start(call, worker: 0)
        #expect(Self.kinds(book.end(call, .succeeded).actions) == ["actorCallEnded"])
    }

    @Test func placementFailureEndsTheTaskWithItsError() {
        var book = TaskBook()
        let spec = Self.task()
        _ = book.submit(spec, parent: nil, route: .cluster, missing: [])
        let actions = book.placementFailed(spec.id, RayError(.serialization, of: spec, "too big"))
        guard case .fail(let returns, .error(let error)) = actions.first else { Issue.record("\(actions)"); return }
        #expect(returns == spec.returnIDs && error.code == .serialization)
    }

    @Test func aRecursiveCancelAfterAPlainOneStillReachesTheChildren() {
        var book = TaskBook()
        let parent = Self.task("parent"), child = Self.task("child")
        _ = book.submit(parent, parent: nil, route: .local, missing: [])
        _ = book.start(parent, worker: 0)
        _ = book.submit(child, parent: parent.id, route: .local, missing: [])
        #expect(Self.kinds(book.cancel(returning: parent.returnIDs[0], recursive: false)) == ["interrupt@0"])
        #expect(book.stopReason(child.id) == nil)
        #expect(Self.kinds(book.cancel(returning: parent.returnIDs[0], recursive: true)) == ["unqueue"])
        #expect(book.stopReason(child.id) == .cancelled)
    }

    @Test func aRecursiveCancelReachesAChildRetriedAfterItsFailure() {
        var book = TaskBook()
        let parent = Self.task("parent")
        _ = book.submit(parent, parent: nil, route: .local, missing: [])
        _ = book.start(parent, worker: 0)
        for _ in 0..<100 {
            let child = Self.task("child")
            _ = book.submit(child, parent: parent.id, route: .local, missing: [])
            _ = book.end(child, .succeeded).actions
        }
        let flaky = Self.task("flaky", maxRetries: 1)
        _ = book.submit(flaky, parent: parent.id, route: .local, missing: [])
        _ = book.start(flaky, worker: 1)
        _ = book.end(flaky, .failed(error, mayRetry: true)).actions
        #expect(book.count == 2, "ended children leave no record")
        #expect(Self.kinds(book.cancel(returning: parent.returnIDs[0], recursive: true)).sorted() == ["interrupt@0", "unqueue"])
        #expect(book.stopReason(flaky.id) == .cancelled)
    }

    /// A run whose results were stored is done, even when a kill or cancel
    /// marked it after that (it is not run again, its value stands).
    @Test func aSuccessIsFinalWhateverMarkCameLate() {
        for stop in [TaskStop.actorDied(retry: true), .actorDied(retry: false), .cancelled] {
            var book = TaskBook()
            let call = Self.task("incr", actor: .next())
            _ = book.submit(call, parent: nil, route: .actor, missing: [])
            _ = book.start(call, worker: 1)
            _ = book.stop([call.id: stop])
            #expect(Self.kinds(book.end(call, .succeeded).actions) == ["actorCallEnded"], "\(stop)")
            #expect(book.count == 0)
        }
    }
}
