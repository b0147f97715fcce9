import RayCore

/// The tasks of this node that have not finished: where each is, which
/// tasks it submitted, and whether it was cancelled — what `ray.cancel`
/// needs. An entry is removed when its task ends, so the table stays as
/// small as the work in flight.
final class TaskTable: Sendable {
    enum Place: Sendable {
        /// Waiting for its ObjectRef arguments, or queued for a CPU.
        case pending
        /// Started on this worker.
        case running(worker: Int)
    }

    struct Entry: Sendable {
        var place: Place = .pending
        var cancelled = false
        var children: [TaskID] = []
        let returns: [ObjectID]
    }

    private let table = Locked<(tasks: [TaskID: Entry], byReturn: [ObjectID: TaskID])>(([:], [:]))

    func add(_ task: TaskSpec, parent: TaskID?) {
        table.withLock { table in
            table.tasks[task.id] = Entry(returns: task.returnIDs)
            for id in task.returnIDs { table.byReturn[id] = task.id }
            if let parent { table.tasks[parent]?.children.append(task.id) }
        }
    }

    /// Marks the task started on `worker`; false if it was cancelled meanwhile.
    /// (Actor calls are not in the table: always true.)
    func start(_ id: TaskID, on worker: Int) -> Bool {
        table.withLock { table in
            guard let entry = table.tasks[id] else { return true }
            if entry.cancelled { return false }
            table.tasks[id]?.place = .running(worker: worker)
            return true
        }
    }

    /// The task goes back to the queue for another attempt.
    func requeue(_ id: TaskID) {
        table.withLock { $0.tasks[id]?.place = .pending }
    }

    func isCancelled(_ id: TaskID) -> Bool {
        table.withLock { $0.tasks[id]?.cancelled ?? false }
    }

    func finish(_ id: TaskID) {
        table.withLock { table in
            if let entry = table.tasks.removeValue(forKey: id) {
                for ref in entry.returns { table.byReturn[ref] = nil }
            }
        }
    }

    /// Marks the task that returns `ref` cancelled (and, when `recursive`, the
    /// tasks it submitted, transitively); returns what was marked, with where
    /// each is. Tasks that already finished are not there any more.
    func cancel(returning ref: ObjectID, recursive: Bool) -> [(id: TaskID, place: Place)] {
        table.withLock { table in
            guard let root = table.byReturn[ref] else { return [] }
            var marked: [(TaskID, Place)] = []
            var pending = [root]
            while let id = pending.popLast() {
                guard var entry = table.tasks[id], !entry.cancelled else { continue }
                entry.cancelled = true
                table.tasks[id] = entry
                marked.append((id, entry.place))
                if recursive { pending += entry.children }
            }
            return marked
        }
    }
}
