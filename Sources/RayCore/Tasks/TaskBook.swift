/// Every task record of a node and the rules of a task's life, as a plain
/// value: each event changes the records and returns the actions it calls
/// for (`TaskAction`), which `TaskManager` carries out outside its lock.
/// No threads, clocks or I/O here, so every transition is unit-tested
/// directly (Tests/RayCoreTests/TaskBookTests.swift).
///
/// There is one way a task ends (`finish`) and one way it runs again
/// (`retry`), whatever ended it: its worker, a cancel, its actor's death,
/// or the death of the node it was placed on.
///
/// Records are small (see `TaskRecord`): events that come from where the
/// task is (a worker's `start` and `end`) bring its spec with them.
package struct TaskBook: Sendable {
    private var records: [TaskID: TaskRecord] = [:]
    /// The specs of the tasks the book must hand on (`TaskState.holdsSpec`),
    /// apart from their records: a record moves in and out of `records` on
    /// most events, and stays small to move without them.
    private var specs: [TaskID: TaskSpec] = [:]
    /// Tasks by a first return not derived from their id (work a peer placed
    /// here without returns gets one of its own); others are found from the
    /// ref itself (`ObjectID.task`).
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

    /// The spec the book holds for the task, while it holds one.
    package func heldSpec(_ id: TaskID) -> TaskSpec? { specs[id] }

    /// Whether the book's indexes agree with its records: a spec for each
    /// record in a state that holds one and for no other, and the count of
    /// records waiting for arguments (checked by the tests after each step).
    package var isConsistent: Bool {
        let holding = records.values.filter(\.state.holdsSpec).map(\.id)
        let waiting = records.values.count(where: { if case .waitingForArguments = $0.state { true } else { false } })
        return holding.count == specs.count && holding.allSatisfy { specs[$0] != nil } && waiting == waitingForArguments
    }

    /// Read from the record in place (`records[id]?.stop` would copy it).
    package func stopReason(_ id: TaskID) -> TaskStop? {
        guard let index = records.index(forKey: id) else { return nil }
        return records.values[index].stop
    }

    // MARK: submission

    /// A new task. `missing` are its ObjectRef arguments not ready here (a
    /// local task waits for them; a placed one fetches them where it runs).
    package mutating func submit(_ spec: TaskSpec, parent: TaskID?, route: TaskRoute, missing: [ObjectID]) -> [TaskAction] {
        var record = TaskRecord(spec: spec, state: .placing, route: route, parent: parent)
        var actions = emitted(record, spec, .submitted)
        switch route {
        case .cluster:
            actions.append(.place(spec, retry: false))
        case .remoteActor:
            actions.append(.callActor(spec))
        case .actor:
            record.state = .queuedAtActor  // the actor's queue has it
            actions.append(.enqueueAtActor(spec, front: false))
        case .local:
            actions += runHere(&record, spec, missing: missing)
        }
        add(record, spec)
        return actions
    }

    /// A task the cluster places, when no one observes: the same transition
    /// as `submit`, whose one action (place) the caller carries out itself.
    package mutating func submitPlacing(_ spec: TaskSpec, parent: TaskID?) {
        add(TaskRecord(spec: spec, state: .placing, route: .cluster, parent: parent), spec)
    }

    /// A local task whose arguments are ready, when no one observes: the
    /// same transition as `submit`, whose one action (enqueue) the caller
    /// carries out itself.
    package mutating func submitRunnable(_ spec: TaskSpec, parent: TaskID?) {
        add(TaskRecord(spec: spec, state: .queued, route: .local, parent: parent), nil)
    }

    /// The cluster chose this node for a task it was asked to place (or an
    /// actor's call whose actor is not elsewhere): it runs here after all.
    package mutating func runsHere(_ id: TaskID, missing: [ObjectID]) -> [TaskAction] {
        guard let taken = take(id) else { return [] }
        var record = taken.record
        guard record.state == .placing, let spec = taken.spec else {
            add(record, taken.spec)
            return []
        }
        let actions: [TaskAction]
        if record.route == .remoteActor {
            record.route = .actor  // not hosted elsewhere: this node's actor queue
            record.state = .queuedAtActor
            actions = [.enqueueAtActor(spec, front: false)]
        } else {
            actions = runHere(&record, spec, missing: missing)
        }
        add(record, spec)
        return actions
    }

    private func runHere(_ record: inout TaskRecord, _ spec: TaskSpec, missing: [ObjectID]) -> [TaskAction] {
        if missing.isEmpty {
            record.state = .queued  // the runnable queue has it
            return emitted(record, spec, .queued) + [.enqueue(spec)]
        }
        record.state = .waitingForArguments(missing: missing.count)
        return emitted(record, spec, .waitingForArguments) + [.awaitArguments(spec.id, missing)]
    }

    /// One awaited argument is ready.
    package mutating func argumentArrived(_ id: TaskID) -> [TaskAction] {
        let missing = update(id) { record -> Int? in
            guard case .waitingForArguments(let missing) = record.state else { return nil }
            if missing > 1 { record.state = .waitingForArguments(missing: missing - 1) }
            return missing
        }
        guard let missing = missing ?? nil, missing <= 1, let taken = take(id) else { return [] }
        var record = taken.record
        guard let spec = taken.spec else { add(record, nil); return [] }
        // Marked while it waited and not ended then: it ends now.
        if record.stop != nil { return finish(record, spec, failing: stopFailure(record, spec)) }
        record.state = .queued
        let actions = emitted(record, spec, .queued) + [.enqueue(spec)]
        add(record, nil)
        return actions
    }

    /// The cluster sent it to `node`. A cancel that came while it was being
    /// placed follows it there.
    package mutating func placed(_ id: TaskID, on node: UInt64) -> [TaskAction] {
        // In place: this runs under the cluster's lock, for every placed task.
        let spec = observed ? specs[id] : nil
        return update(id) { record in
            record.state = .placed(node: node)
            var actions: [TaskAction] = []
            if let spec { actions.append(Self.event(record, spec, .placed)) }
            if record.stop == .cancelled, let first = record.firstReturn {
                actions.append(.forwardCancel(returning: first, node: node, recursive: true))
            }
            return actions
        } ?? []
    }

    // MARK: running

    /// A worker takes the task: marked running there, unless it must stop
    /// (then the worker ends it at once with `.stopped`).
    package mutating func start(_ spec: TaskSpec, worker: Int) -> (stop: TaskStop?, actions: [TaskAction]) {
        let observed = observed
        return update(spec.id) { record in
            if let stop = record.stop { return (stop, []) }
            record.state = .running(worker: worker)
            record.started = true
            return (nil, observed ? [Self.event(record, spec, .running)] : [])
        } ?? (nil, [])
    }

    /// It waits in `ray.get` (`suspended`), or runs again after it.
    package mutating func suspend(_ spec: TaskSpec, _ suspended: Bool) -> [TaskAction] {
        let observed = observed
        return update(spec.id) { record in
            switch record.state {
            case .running(let worker) where suspended: record.state = .suspended(worker: worker)
            case .suspended(let worker) where !suspended: record.state = .running(worker: worker)
            default: return []
            }
            return observed ? [Self.event(record, spec, suspended ? .suspended : .resumed)] : []
        } ?? []
    }

    // MARK: the end of a run

    /// A run ended on its worker (or could not start). A run that succeeded
    /// is done; otherwise its stop mark, if any, decides; then a failure
    /// with `mayRetry` runs again while `max_retries` allows; otherwise the
    /// task ends.
    /// Returns the stop mark it had too (which decided how it ended).
    package mutating func end(_ spec: TaskSpec, _ outcome: TaskOutcome) -> (stop: TaskStop?, actions: [TaskAction]) {
        let record = take(spec.id)?.record
            ?? TaskRecord(spec: spec, state: .queued, route: spec.actorID == nil ? .local : .actor, parent: nil)
        return (record.stop, ending(record, spec, outcome))
    }

    private mutating func ending(_ record: TaskRecord, _ spec: TaskSpec, _ outcome: TaskOutcome) -> [TaskAction] {
        // A run that succeeded is done, whatever mark came after its results
        // were stored (a kill or cancel that came too late changes nothing).
        if case .succeeded = outcome { return finish(record, spec, failing: nil) }
        switch record.stop {
        case .actorDied(retry: true)?:
            return retry(record, spec)
        case .some:
            return finish(record, spec, failing: stopFailure(record, spec))
        case nil:
            break
        }
        switch outcome {
        case .succeeded, .stopped:
            return finish(record, spec, failing: nil)
        case .failed(let error, let mayRetry):
            if mayRetry && spec.attempt < spec.maxRetries { return retry(record, spec) }
            return finish(record, spec, failing: .object(error))
        }
    }

    /// A task placed on another node finished there (its returns came back
    /// first). Returns the node and the CPUs the task took there (for the
    /// cluster's accounting) and what finishing it takes; the spec stays
    /// here (copying it out costs a retain of each of its fields).
    package mutating func placedFinished(_ id: TaskID) -> (node: UInt64, cpus: Double, actor: ActorID?, actions: [TaskAction])? {
        // Taken out first, and put back if it is not placed: reading
        // `records[id]` would copy the record, on every placed task.
        guard case let (record, held)? = take(id) else { return nil }
        guard case .placed(let node) = record.state, let spec = held else {
            add(record, held)
            return nil
        }
        return (node, spec.cpus, spec.actorID, finish(record, spec, failing: nil))
    }

    /// The connection to `node` ended: what was placed there runs again
    /// elsewhere while `max_retries` allows and it has not taken
    /// `crashLimit` nodes down, else fails. `leaving`: this process closed
    /// it on its way out, and nothing is retried.
    package mutating func nodeDied(_ node: UInt64, description: String, leaving: Bool) -> [TaskAction] {
        var actions: [TaskAction] = []
        let lost = records.values.filter { $0.state == .placed(node: node) }.map(\.id)
        for id in lost {
            guard let taken = take(id), let spec = taken.spec else { continue }
            var record = taken.record
            record.nodeDeaths.append(description)
            if leaving {
                actions += finish(record, spec, failing: .error(.nodeDied(spec, "this process left the cluster before it finished")))
            } else if record.stop == .cancelled {
                actions += finish(record, spec, failing: stopFailure(record, spec))
            } else if spec.actorID == nil && record.nodeDeaths.count >= Self.crashLimit {
                actions += finish(record, spec, failing: .error(RayError(.workerCrashed, of: spec,
                    "not retried: each node it ran on died while it ran (\(record.nodeDeaths.joined(separator: ", "))); "
                    + "it is taken to have crashed them")))
            } else if spec.actorID == nil && spec.attempt < spec.maxRetries {
                actions += retry(record, spec)
            } else {
                actions += finish(record, spec, failing: .error(.nodeDied(spec, "the node that ran it went away")))
            }
        }
        return actions
    }

    /// Placing it failed for good (its node cannot be reached, its
    /// arguments cannot travel): it ends with `error`.
    package mutating func placementFailed(_ id: TaskID, _ error: RayError) -> [TaskAction] {
        guard let taken = take(id), let spec = taken.spec else { return [] }
        return finish(taken.record, spec, failing: .error(error))
    }

    /// The one retry path, for a record already taken out: the same task,
    /// next attempt, back the way it came.
    private mutating func retry(_ record: TaskRecord, _ spec: TaskSpec) -> [TaskAction] {
        var record = record
        var again = spec
        again.attempt += 1
        record.stop = nil
        var actions = emitted(record, again, .retrying)
        switch record.route {
        case .cluster:
            record.state = .placing
            actions.append(.place(again, retry: true))
        case .actor, .remoteActor:
            record.state = .queuedAtActor
            actions.append(.enqueueAtActor(again, front: true))
        case .local:
            // Its arguments were ready when it first ran, and it still holds them.
            record.state = .queued
            actions.append(.enqueue(again))
        }
        add(record, again)
        return actions
    }

    /// The one end path, for a record already taken out: its returns get
    /// `failing` (a success stored its own), its argument references go,
    /// its actor may run the next call.
    private func finish(_ record: TaskRecord, _ spec: TaskSpec, failing: ReturnFailure?) -> [TaskAction] {
        var actions: [TaskAction] = []
        if let failing, !spec.returnIDs.isEmpty { actions.append(.fail(spec.returnIDs, failing)) }
        if !spec.argumentRefs.isEmpty { actions.append(.releaseArguments(spec.argumentRefs)) }
        if record.route == .actor, case .actorMethod(let actor, _) = spec.kind {
            actions.append(.actorCallEnded(actor, spec.id))
        }
        guard observed else { return actions }
        let phase: TaskPhase = failing == nil ? .finished : record.stop == .cancelled ? .cancelled : .failed
        return actions + emitted(record, spec, phase)
    }

    private func stopFailure(_ record: TaskRecord, _ spec: TaskSpec) -> ReturnFailure {
        switch record.stop {
        case .actorDied?:
            return .actorStopped(spec.actorID!)
        case .cancelled?, nil:
            return .error(record.started ? RayError(.taskCancelled, "task '\(spec.name)' was cancelled", task: spec.name)
                                         : .cancelledBeforeStart(spec))
        }
    }

    // MARK: stopping

    /// `ray.cancel` of the task that returns `ref` (and, `recursive`, of the
    /// tasks it submitted, transitively). Tasks that ended are not here any more.
    package mutating func cancel(returning ref: ObjectID, recursive: Bool) -> [TaskAction] {
        guard let root = ref.task.flatMap({ records[$0] == nil ? nil : $0 }) ?? byReturn[ref] else { return [] }
        // Who submitted what, gathered now (a cancel is rare; keeping it up
        // to date cost every nested submission and end a set update).
        var children: [TaskID: [TaskID]] = [:]
        if recursive {
            for record in records.values { if let parent = record.parent { children[parent, default: []].append(record.id) } }
        }
        var actions: [TaskAction] = []
        var pending = [root]
        while let id = pending.popLast() {
            guard var record = records[id] else { continue }
            // Its children are reached even when it was marked already (a
            // recursive cancel after a plain one).
            if recursive { pending += children[id] ?? [] }
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
            guard let taken = take(record.id) else { return [] }
            guard let spec = taken.spec else { add(taken.record, nil); return [] }
            return finish(record, spec, failing: stopFailure(record, spec))
        case .queued:
            return [.unqueue(record.id)]
        case .queuedAtActor:
            return [.unqueueAtActor(record.id)]
        case .running(let worker), .suspended(let worker):
            return [.interrupt(record.id, worker: worker)]
        case .placed(let node):
            guard let first = record.firstReturn else { return [] }
            return [.forwardCancel(returning: first, node: node, recursive: recursive)]
        case .placing:
            return []  // `placed` forwards it, or the worker here sees the mark
        }
    }

    // MARK: records

    /// Runs `body` on the record of `id` in place: no copy of the record
    /// (or of the spec it may hold) is made, as reading `records[id]` would.
    /// The change must not move the record in or out of the states that
    /// hold a spec (`add` and `take` keep `specs` for those).
    private mutating func update<R>(_ id: TaskID, _ body: (inout TaskRecord) -> R) -> R? {
        guard let index = records.index(forKey: id) else { return nil }
        #if DEBUG
        let held = records.values[index].state.holdsSpec
        defer { assert(records.values[index].state.holdsSpec == held, "an in-place change moved a task's spec ownership") }
        #endif
        return body(&records.values[index])
    }

    /// Adds the record (consumed: moved in, not copied), and its spec when
    /// its state is one where the book holds it.
    private mutating func add(_ record: consuming TaskRecord, _ spec: TaskSpec?) {
        let id = record.id, first = record.firstReturn, state = record.state
        records[id] = record
        if let first, first.task != id { byReturn[first] = id }
        if state.holdsSpec, let spec { specs[id] = spec }
        if case .waitingForArguments = state { waitingForArguments += 1 }
    }

    /// Removes the record (and its spec, and what indexes it); returns them.
    @discardableResult
    private mutating func take(_ id: TaskID) -> (record: TaskRecord, spec: TaskSpec?)? {
        guard let record = records.removeValue(forKey: id) else { return nil }
        if let first = record.firstReturn, first.task != id, byReturn[first] == id { byReturn[first] = nil }
        if case .waitingForArguments = record.state { waitingForArguments -= 1 }
        return (record, record.state.holdsSpec ? specs.removeValue(forKey: id) : nil)
    }

    /// The event of a change of phase, when someone listens (`observed`).
    private func emitted(_ record: TaskRecord, _ spec: TaskSpec, _ phase: TaskPhase) -> [TaskAction] {
        observed ? [Self.event(record, spec, phase)] : []
    }

    private static func event(_ record: TaskRecord, _ spec: TaskSpec, _ phase: TaskPhase) -> TaskAction {
        var worker: Int?
        var node: UInt64?
        switch record.state {
        case .running(let at), .suspended(let at): worker = at
        case .placed(let at): node = at
        default: break
        }
        return .emit(TaskTransition(task: spec.id, name: spec.name, phase: phase,
                                    attempt: spec.attempt, worker: worker, node: node))
    }
}
