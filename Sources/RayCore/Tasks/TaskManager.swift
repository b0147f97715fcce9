/// The owner of every task's life on this node: the `TaskBook` behind one
/// lock, and the hands that carry out what its transitions call for (the
/// object store, the scheduler, the actor directory, the cluster, the
/// event sink). Workers, the Lua binding and the cluster report events
/// here; nothing else keeps a task's state.
///
/// Actions run after the lock is released, in order, on the reporting
/// thread; an action may report further events (a queued task taken out
/// by a cancel ends at once), which take the lock again.
package final class TaskManager: Sendable {
    private let book = Locked(TaskBook())
    private let store: ObjectStore
    private let scheduler: Scheduler
    private let events: EventSink
    /// For the actor directory, the cluster and the executors. Unsafe-unowned
    /// (no reference counting on each task's path): the runtime owns this
    /// manager and outlives it.
    private unowned(unsafe) let runtime: Runtime

    init(runtime: Runtime, store: ObjectStore, scheduler: Scheduler, events: EventSink) {
        self.runtime = runtime
        self.store = store
        self.scheduler = scheduler
        self.events = events
    }

    /// Runs `event` on the book under the lock, then carries out its actions.
    private func handle(_ event: (inout TaskBook) -> [TaskAction]) {
        let observed = events.isListening
        let actions = book.withLock { book in
            book.observed = observed
            return event(&book)
        }
        if !actions.isEmpty { perform(actions) }
    }

    // MARK: events

    /// A new task: placed by the cluster (`mayPlace`, a function task when
    /// this runtime is in one), sent to its actor, or run here once its
    /// ObjectRef arguments are ready. `parent` submitted it.
    package func submit(_ spec: TaskSpec, parent: TaskID? = nil, mayPlace: Bool = false) {
        let route: TaskRoute
        switch spec.kind {
        case .function:
            route = mayPlace && runtime.isClustered ? .cluster : .local
        case .actorCreation:
            route = .local
        case .actorMethod(let actor, _):
            route = mayPlace && runtime.isClustered && !runtime.actors.knows(actor) ? .remoteActor : .actor
        }
        let missing = route == .local ? missingArguments(spec) : []
        let observed = events.isListening
        if route == .local && missing.isEmpty && !observed {
            // The common case, without building actions: recorded, then queued.
            book.withLock { book in
                book.observed = false
                book.submitRunnable(spec, parent: parent)
            }
            scheduler.enqueue(spec)
            return
        }
        if route == .cluster && !observed {
            // Likewise: recorded, then placed.
            book.withLock { book in
                book.observed = false
                book.submitPlacing(spec, parent: parent)
            }
            place(spec, retry: false)
            return
        }
        handle { $0.submit(spec, parent: parent, route: route, missing: missing) }
    }

    /// A worker takes the task; returns why it must stop instead, if it must.
    package func start(_ spec: TaskSpec, worker: Int) -> TaskStop? {
        let observed = events.isListening
        let (stop, actions) = book.withLock { book in
            book.observed = observed
            return book.start(spec, worker: worker)
        }
        if !actions.isEmpty { perform(actions) }
        return stop
    }

    /// The running task suspends in `ray.get` (true) or resumes (false).
    package func suspended(_ spec: TaskSpec, _ suspended: Bool) {
        handle { $0.suspend(spec, suspended) }
    }

    /// A run ended (or could not start): the task ends, or runs again.
    /// Returns the stop mark it had, if any (which decided its end).
    @discardableResult
    package func end(_ spec: TaskSpec, _ outcome: TaskOutcome) -> TaskStop? {
        let observed = events.isListening
        let (stop, actions) = book.withLock { book in
            book.observed = observed
            return book.end(spec, outcome)
        }
        if !actions.isEmpty { perform(actions) }
        return stop
    }

    /// The cluster is sending the task to `node`: recorded now, under the
    /// cluster's own lock, so that a node death swept after it finds the
    /// task; what follows (its event, a cancel to forward) is for the
    /// caller to `perform` once the task is sent and its lock released.
    package func placed(_ id: TaskID, on node: UInt64) -> TaskFollowUp {
        let observed = events.isListening
        let actions = book.withLock { book in
            book.observed = observed
            return book.placed(id, on: node)
        }
        return TaskFollowUp(manager: self, actions: actions)
    }

    /// A task placed elsewhere finished there; the node it ran on and the
    /// CPUs it took there, if it was placed.
    package func placedFinished(_ id: TaskID) -> (node: UInt64, cpus: Double)? {
        let observed = events.isListening
        let ended = book.withLock { book in
            book.observed = observed
            return book.placedFinished(id)
        }
        guard let ended else { return nil }
        if !ended.actions.isEmpty { perform(ended.actions) }
        if let actor = ended.actor { runtime.actors.remoteCallFinished(actor) }
        return (ended.node, ended.cpus)
    }

    /// The connection to the node with this prefix ended (see `TaskBook.nodeDied`).
    package func nodeDied(_ node: UInt64, description: String, leaving: Bool) {
        nodeDiedFollowUp(node, description: description, leaving: leaving).perform()
    }

    /// `nodeDied`, swept now (under the caller's lock: the cluster drops
    /// the node's link and sweeps what was placed on it in one step, so no
    /// task recorded on a newer link to the same node is swept with it);
    /// the retries and failures it calls for are for the caller to
    /// `perform` once that lock is released.
    package func nodeDiedFollowUp(_ node: UInt64, description: String, leaving: Bool) -> TaskFollowUp {
        let observed = events.isListening
        let actions = book.withLock { book in
            book.observed = observed
            return book.nodeDied(node, description: description, leaving: leaving)
        }
        return TaskFollowUp(manager: self, actions: actions)
    }

    /// `ray.cancel` of the task that returns `ref`.
    package func cancel(returning ref: ObjectID, recursive: Bool) {
        handle { $0.cancel(returning: ref, recursive: recursive) }
    }

    /// Stops tasks for these reasons (an actor's calls and creation when it
    /// is killed or restarted).
    package func stop(_ reasons: [TaskID: TaskStop]) {
        handle { $0.stop(reasons) }
    }

    package func stopReason(_ id: TaskID) -> TaskStop? {
        book.withLock { $0.stopReason(id) }
    }

    /// Tasks waiting for their arguments.
    package var waitingForArguments: Int { book.withLock { $0.waitingForArguments } }

    // MARK: actions

    fileprivate func perform(_ actions: [TaskAction]) {
        for action in actions {
            switch action {
            case .place(let spec, let retry):
                place(spec, retry: retry)
            case .callActor(let spec):
                switch runtime.cluster?.callActor(spec) ?? .runHere {
                case .runHere: handle { $0.runsHere(spec.id, missing: []) }
                case .sent: break
                case .failed(let error): handle { $0.placementFailed(spec.id, error) }
                }
            case .awaitArguments(let task, let ids):
                // Another process's objects (a ref that came nested in a
                // value) are made known here and fetched from their owners.
                runtime.adoptForeign(ids)
                defer { runtime.fetchForeign(ids) }
                for id in ids {
                    let known = store.whenReady(id) { [self] _ in handle { $0.argumentArrived(task) } }
                    // An unknown object never comes: the task starts and
                    // its worker reports the argument lost.
                    if !known { handle { $0.argumentArrived(task) } }
                }
            case .enqueue(let spec):
                scheduler.enqueue(spec)
            case .enqueueAtActor(let spec, let front):
                runtime.actors.enqueue(spec, atFront: front)
            case .unqueue(let id):
                if let spec = scheduler.remove(id) { end(spec, .stopped) }
            case .unqueueAtActor(let id):
                if let spec = runtime.actors.removeQueued(id) { end(spec, .stopped) }
            case .interrupt(let id, let worker):
                runtime.executor(at: worker)?.interrupt(id)
            case .forwardCancel(let ref, let node, let recursive):
                runtime.cluster?.cancel(returning: ref, on: node, recursive: recursive)
            case .fail(let returns, let failure):
                let object: StoredObject
                switch failure {
                case .object(let error): object = error
                case .error(let error): object = StoredObject(error: error)
                case .actorStopped(let actor): object = runtime.actors.stoppedCallError(actor)
                }
                for id in returns { store.fulfill(id, with: object) }
            case .releaseArguments(let refs):
                for ref in refs { store.removeReference(ref) }
            case .actorCallEnded(let actor, let call):
                runtime.actors.callFinished(actor, call: call)
            case .emit(let transition):
                events.emit(.task(id: transition.task, name: transition.name, phase: transition.phase,
                                          attempt: transition.attempt, worker: transition.worker, placedOn: transition.node))
            }
        }
    }

    /// Asks the cluster to place the task: sent, run here after all, or failed.
    private func place(_ spec: TaskSpec, retry: Bool) {
        switch runtime.cluster?.place(spec, retry: retry) ?? .runHere {
        case .runHere:
            let missing = missingArguments(spec)
            handle { $0.runsHere(spec.id, missing: missing) }
        case .sent:
            break
        case .failed(let error):
            handle { $0.placementFailed(spec.id, error) }
        }
    }

    /// The task's ObjectRef arguments not ready in the store now.
    private func missingArguments(_ spec: TaskSpec) -> [ObjectID] {
        guard !spec.topLevelRefs.isEmpty else { return [] }
        let objects = store.objects(spec.topLevelRefs.map(\.id))
        return zip(spec.topLevelRefs, objects).compactMap { $1 == nil ? $0.id : nil }
    }
}

/// Actions of a transition recorded under another component's lock, to
/// carry out once that lock is released.
package struct TaskFollowUp {
    /// Unowned (no reference counting on each placed task's path): a
    /// follow-up is performed by the caller that got it, right after
    /// releasing its lock and before returning (the manager is alive:
    /// the runtime that owns it is running the call); it is never kept
    /// past that call.
    fileprivate unowned(unsafe) let manager: TaskManager
    fileprivate let actions: [TaskAction]

    package func perform() {
        if !actions.isEmpty { manager.perform(actions) }
    }
}
