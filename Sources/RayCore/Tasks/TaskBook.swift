/// Every task record of a node and the rules of a task's life, as a plain
/// value: each event changes the records and returns the actions it calls
/// for (`TaskAction`), which `TaskManager` carries out outside its lock.
/// No threads, clocks or I/O here, so every transition is unit-tested
/// directly (Tests/RayCoreTests/TaskBookTests.swift).
///
/// There is one way a task ends (`finish`) and one way it runs again
/// (`retry`), whatever ended it: its worker, a cancel, its actor's death,
/// or the death of the node it was placed on.
package struct TaskBook: Sendable {
    private var records: [TaskID: TaskRecord] = [:]
    private var byReturn: [ObjectID: TaskID] = [:]
    /// Records waiting for their arguments (for `pendingTasks`).
    package private(set) var waitingForArguments = 0

    /// Node deaths under one task after which it is taken for their cause
    /// and not retried again, whatever `max_retries` says: one death can be
    /// bad luck, two in a row on different nodes are the task's doing (a
    /// crash in C code, memory exhausted), and retrying would take the
    /// cluster down node by node.
    package static let crashLimit = 2

    /// Whether transitions are emitted (someone listens to the event sink):
    /// set by the manager before each event.
    package var observed = false

    package init() {}

    package var count: Int { records.count }

    package func record(_ id: TaskID) -> TaskRecord? { records[id] }

    package func stopReason(_ id: TaskID) -> TaskStop? { records[id]?.stop }

    // MARK: submission

    /// A new task. `missing` are its ObjectRef arguments not ready here (a
    /// local task waits for them; a placed one fetches them where it runs).
    package mutating func submit(_ spec: TaskSpec, parent: TaskID?, route: TaskRoute, missing: [ObjectID]) -> [TaskAction] {
        var record = TaskRecord(spec: spec, state: .placing, route: route, parent: parent)
        var actions = emitted(record, .submitted)
        switch route {
        case .cluster:
            actions.append(.place(spec, retry: false))
        case .remoteActor:
            actions.append(.callActor(spec))
        case .actor:
            record.state = .queuedAtActor
            actions.append(.enqueueAtActor(spec, front: false))
        case .local:
            actions += runHere(&record, missing: missing)
        }
        add(record)
        return actions
    }

    /// A local task whose arguments are ready, when no one observes: the
    /// same transition as `submit`, whose one action (enqueue) the caller
    /// carries out itself.
    package mutating func submitRunnable(_ spec: TaskSpec, parent: TaskID?) {
        var record = TaskRecord(spec: spec, state: .queued, route: .local, parent: parent)
        record.state = .queued
        add(record)
    }

    /// The cluster chose this node for a task it was asked to place (or an
    /// actor's call whose actor is not elsewhere): it runs here after all.
    package mutating func runsHere(_ id: TaskID, missing: [ObjectID]) -> [TaskAction] {
        guard var record = records[id], record.state == .placing else { return [] }
        let actions: [TaskAction]
        if record.route == .remoteActor {
            record.route = .actor  // not hosted elsewhere: this node's actor queue
            record.state = .queuedAtActor
            actions = [.enqueueAtActor(record.spec, front: false)]
        } else {
            actions = runHere(&record, missing: missing)
        }
        records[id] = record
        return actions
    }

    private mutating func runHere(_ record: inout TaskRecord, missing: [ObjectID]) -> [TaskAction] {
        if missing.isEmpty {
            record.state = .queued
            return emitted(record, .queued) + [.enqueue(record.spec)]
        }
        record.state = .waitingForArguments(missing: missing.count)
        waitingForArguments += 1
        return emitted(record, .waitingForArguments) + [.awaitArguments(record.spec.id, missing)]
    }

    /// One awaited argument is ready.
    package mutating func argumentArrived(_ id: TaskID) -> [TaskAction] {
        guard var record = records[id], case .waitingForArguments(let missing) = record.state else { return [] }
        guard missing <= 1 else {
            records[id]?.state = .waitingForArguments(missing: missing - 1)
            return []
        }
        if record.stop != nil {
            // Marked while it waited and not ended then: it ends now.
            take(id)
            return finish(record, failing: stopFailure(record))
        }
        waitingForArguments -= 1
        record.state = .queued
        records[id] = record
        return emitted(record, .queued) + [.enqueue(record.spec)]
    }

    /// The cluster sent it to `node`. A cancel that came while it was being
    /// placed follows it there.
    package mutating func placed(_ id: TaskID, on node: UInt64) -> [TaskAction] {
        guard var record = records[id] else { return [] }
        record.state = .placed(node: node)
        records[id] = record
        var actions = emitted(record, .placed)
        if record.stop == .cancelled, let first = record.spec.returnIDs.first {
            actions.append(.forwardCancel(returning: first, node: node, recursive: true))
        }
        return actions
    }

    // MARK: running

    /// A worker takes the task: marked running there, unless it must stop
    /// (then the worker ends it at once with `.stopped`).
    package mutating func start(_ id: TaskID, worker: Int) -> (stop: TaskStop?, actions: [TaskAction]) {
        // In place: copying the record out and back costs a retain and a
        // release of every field of its spec, on every task's path.
        guard let index = records.index(forKey: id) else { return (nil, []) }
        if let stop = records.values[index].stop { return (stop, []) }
        records.values[index].state = .running(worker: worker)
        records.values[index].started = true
        return (nil, observed ? emitted(records.values[index], .running) : [])
    }

    /// It waits in `ray.get` (`suspended`), or runs again after it.
    package mutating func suspend(_ id: TaskID, _ suspended: Bool) -> [TaskAction] {
        guard let index = records.index(forKey: id) else { return [] }
        switch records.values[index].state {
        case .running(let worker) where suspended: records.values[index].state = .suspended(worker: worker)
        case .suspended(let worker) where !suspended: records.values[index].state = .running(worker: worker)
        default: return []
        }
        return observed ? emitted(records.values[index], suspended ? .suspended : .resumed) : []
    }

    // MARK: the end of a run

    /// A run ended on its worker (or could not start). Its stop mark, if
    /// any, decides first; then a failure with `mayRetry` runs again while
    /// `max_retries` allows; otherwise the task ends.
    package mutating func end(_ spec: TaskSpec, _ outcome: TaskOutcome) -> [TaskAction] {
        // Taken out (moved, not copied); a retry puts it back.
        let record = take(spec.id) ?? TaskRecord(spec: spec, state: .queued, route: spec.actorID == nil ? .local : .actor, parent: nil)
        // A run that succeeded is done, whatever mark came after its results
        // were stored (a kill or cancel that came too late changes nothing).
        if case .succeeded = outcome { return finish(record, failing: nil) }
        switch record.stop {
        case .actorDied(retry: true)?:
            return retry(record)
        case .some:
            return finish(record, failing: stopFailure(record))
        case nil:
            break
        }
        switch outcome {
        case .succeeded, .stopped:
            return finish(record, failing: nil)
        case .failed(let error, let mayRetry):
            if mayRetry && spec.attempt < spec.maxRetries { return retry(record) }
            return finish(record, failing: .object(error))
        }
    }

    /// A task placed on another node finished there (its returns came back
    /// first). Returns the task and the node, for the cluster's accounting.
    package mutating func placedFinished(_ id: TaskID) -> (spec: TaskSpec, node: UInt64, actions: [TaskAction])? {
        guard case .placed(let node)? = records[id]?.state, let record = take(id) else { return nil }
        return (record.spec, node, finish(record, failing: nil))
    }

    /// The connection to `node` ended: what was placed there runs again
    /// elsewhere while `max_retries` allows and it has not taken
    /// `crashLimit` nodes down, else fails. `leaving`: this process closed
    /// it on its way out, and nothing is retried.
    package mutating func nodeDied(_ node: UInt64, description: String, leaving: Bool) -> [TaskAction] {
        var actions: [TaskAction] = []
        for (id, record) in records {
            guard case .placed(node) = record.state else { continue }
            var record = record
            record.nodeDeaths.append(description)
            take(id)
            let spec = record.spec
            if leaving {
                actions += finish(record, failing: .error(.nodeDied(spec, "this process left the cluster before it finished")))
            } else if record.stop == .cancelled {
                actions += finish(record, failing: stopFailure(record))
            } else if spec.actorID == nil && record.nodeDeaths.count >= Self.crashLimit {
                actions += finish(record, failing: .error(RayError(.workerCrashed, of: spec,
                    "not retried: each node it ran on died while it ran (\(record.nodeDeaths.joined(separator: ", "))); "
                    + "it is taken to have crashed them")))
            } else if spec.actorID == nil && spec.attempt < spec.maxRetries {
                actions += retry(record)
            } else {
                actions += finish(record, failing: .error(.nodeDied(spec, "the node that ran it went away")))
            }
        }
        return actions
    }

    /// Placing it failed for good (its node cannot be reached, its
    /// arguments cannot travel): it ends with `error`.
    package mutating func placementFailed(_ id: TaskID, _ error: RayError) -> [TaskAction] {
        guard let record = take(id) else { return [] }
        return finish(record, failing: .error(error))
    }

    /// The one retry path: the same task, next attempt, back the way it came.
    private mutating func retry(_ record: TaskRecord) -> [TaskAction] {
        var record = record
        record.spec.attempt += 1
        record.stop = nil
        var actions = emitted(record, .retrying)
        switch record.route {
        case .cluster:
            record.state = .placing
            actions.append(.place(record.spec, retry: true))
        case .actor, .remoteActor:
            record.state = .queuedAtActor
            actions.append(.enqueueAtActor(record.spec, front: true))
        case .local:
            // Its arguments were ready when it first ran, and it still holds them.
            record.state = .queued
            actions.append(.enqueue(record.spec))
        }
        add(record)
        return actions
    }

    /// The one end path, for a record already taken out: its returns get
    /// `failing` (a success stored its own), its argument references go,
    /// its actor may run the next call.
    private func finish(_ record: TaskRecord, failing: ReturnFailure?) -> [TaskAction] {
        let spec = record.spec
        var actions: [TaskAction] = []
        if let failing, !spec.returnIDs.isEmpty { actions.append(.fail(spec.returnIDs, failing)) }
        if !spec.argumentRefs.isEmpty { actions.append(.releaseArguments(spec.argumentRefs)) }
        if record.route == .actor, case .actorMethod(let actor, _) = spec.kind {
            actions.append(.actorCallEnded(actor, spec.id))
        }
        let phase: TaskPhase = failing == nil ? .finished : record.stop == .cancelled ? .cancelled : .failed
        return actions + emitted(record, phase)
    }

    private func stopFailure(_ record: TaskRecord) -> ReturnFailure {
        switch record.stop {
        case .actorDied?:
            return .actorStopped(record.spec.actorID!)
        case .cancelled?, nil:
            let name = record.spec.name
            return .error(record.started ? RayError(.taskCancelled, "task '\(name)' was cancelled", task: name)
                                         : .cancelledBeforeStart(record.spec))
        }
    }

    // MARK: stopping

    /// `ray.cancel` of the task that returns `ref` (and, `recursive`, of the
    /// tasks it submitted, transitively). Tasks that ended are not here any more.
    package mutating func cancel(returning ref: ObjectID, recursive: Bool) -> [TaskAction] {
        guard let root = byReturn[ref] else { return [] }
        var actions: [TaskAction] = []
        var pending = [root]
        while let id = pending.popLast() {
            guard var record = records[id] else { continue }
            // Its children are reached even when it was marked already (a
            // recursive cancel after a plain one).
            if recursive { pending += record.children }
            // A cancel also overrides a pending retry after an actor restart.
            guard record.stop == nil || record.stop == .actorDied(retry: true) else { continue }
            record.stop = .cancelled
            records[id] = record
            actions += stopNow(record, recursive: recursive)
        }
        return actions
    }

    /// Marks each task to stop for its reason (its actor was killed or
    /// restarted), unless it is marked already.
    package mutating func stop(_ reasons: [TaskID: TaskStop]) -> [TaskAction] {
        var actions: [TaskAction] = []
        for (id, reason) in reasons {
            guard var record = records[id], record.stop == nil else { continue }
            record.stop = reason
            records[id] = record
            actions += stopNow(record, recursive: false)
        }
        return actions
    }

    /// What stopping a marked task takes where it is now.
    private mutating func stopNow(_ record: TaskRecord, recursive: Bool) -> [TaskAction] {
        switch record.state {
        case .waitingForArguments:
            take(record.spec.id)
            return finish(record, failing: stopFailure(record))
        case .queued:
            return [.unqueue(record.spec.id)]
        case .queuedAtActor:
            return [.unqueueAtActor(record.spec.id)]
        case .running(let worker), .suspended(let worker):
            return [.interrupt(record.spec.id, worker: worker)]
        case .placed(let node):
            guard let first = record.spec.returnIDs.first else { return [] }
            return [.forwardCancel(returning: first, node: node, recursive: recursive)]
        case .placing:
            return []  // `placed` forwards it, or the worker here sees the mark
        }
    }

    // MARK: records

    private mutating func add(_ record: TaskRecord) {
        records[record.spec.id] = record
        for ref in record.spec.returnIDs { byReturn[ref] = record.spec.id }
        if let parent = record.parent { records[parent]?.children.insert(record.spec.id) }
    }

    /// Removes the record (and its returns' entries); returns it.
    @discardableResult
    private mutating func take(_ id: TaskID) -> TaskRecord? {
        guard let record = records.removeValue(forKey: id) else { return nil }
        if let parent = record.parent { records[parent]?.children.remove(id) }
        for ref in record.spec.returnIDs where byReturn[ref] == id { byReturn[ref] = nil }
        if case .waitingForArguments = record.state { waitingForArguments -= 1 }
        return record
    }

    /// The event of a change of phase, when someone listens (`observed`).
    private func emitted(_ record: TaskRecord, _ phase: TaskPhase) -> [TaskAction] {
        guard observed else { return [] }
        var worker: Int?
        var node: UInt64?
        switch record.state {
        case .running(let at), .suspended(let at): worker = at
        case .placed(let at): node = at
        default: break
        }
        return [.emit(TaskTransition(task: record.spec.id, name: record.spec.name, phase: phase,
                                     attempt: record.spec.attempt, worker: worker, node: node))]
    }
}
