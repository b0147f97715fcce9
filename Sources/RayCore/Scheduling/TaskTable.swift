
/// The tasks and actor calls of this node that have not finished: where
/// each is, which tasks it submitted, and whether it must stop — what
/// `ray.cancel` and `ray.kill` need. An entry is removed when its task ends,
/// so the table stays as small as the work in flight.
package final class TaskTable: Sendable {
    package enum Place: Sendable {
        /// Waiting for its ObjectRef arguments, queued for a CPU, or queued at its actor.
        case pending
        /// Started on this worker.
        case running(worker: Int)
    }

    /// Why a task must stop before it finishes on its own.
    package enum Stop: Sendable, Equatable {
        /// `ray.cancel`: its returns fail with TaskCancelledError.
        case cancelled
        /// Its actor was killed or is restarting: the call fails with
        /// ActorDiedError, or (`retry`) goes back to the actor's queue to run
        /// on the next incarnation (`max_task_retries`).
        case actorDied(retry: Bool)
    }

    package struct Entry: Sendable {
        var place: Place = .pending
        var stop: Stop?
        var children: [TaskID] = []
        /// Tasks it submitted that run on other nodes, by their first return.
        var remoteChildren: [ObjectID] = []
        let returns: [ObjectID]
    }

    private let table = Locked<(tasks: [TaskID: Entry], byReturn: [ObjectID: TaskID])>(([:], [:]))

    package func add(_ task: TaskSpec, parent: TaskID?) {
        table.withLock { table in
            table.tasks[task.id] = Entry(returns: task.returnIDs)
            for id in task.returnIDs { table.byReturn[id] = task.id }
            if let parent { table.tasks[parent]?.children.append(task.id) }
        }
    }

    /// `parent` submitted a task that was placed on another node.
    package func addRemoteChild(returning ref: ObjectID, parent: TaskID) {
        table.withLock { $0.tasks[parent]?.remoteChildren.append(ref) }
    }

    /// Marks the task started on `worker`, unless it must stop: then returns why.
    package func start(_ id: TaskID, on worker: Int) -> Stop? {
        table.withLock { table in
            guard let entry = table.tasks[id] else { return nil }
            if let stop = entry.stop { return stop }
            table.tasks[id]?.place = .running(worker: worker)
            return nil
        }
    }

    /// The task goes back to a queue for another attempt, with no stop mark.
    package func requeue(_ id: TaskID) {
        table.withLock { table in
            table.tasks[id]?.place = .pending
            table.tasks[id]?.stop = nil
        }
    }

    package func stopReason(_ id: TaskID) -> Stop? {
        table.withLock { $0.tasks[id]?.stop }
    }

    package func finish(_ id: TaskID) {
        table.withLock { table in
            if let entry = table.tasks.removeValue(forKey: id) {
                for ref in entry.returns { table.byReturn[ref] = nil }
            }
        }
    }

    /// Marks the task that returns `ref` cancelled (and, when `recursive`, the
    /// tasks it submitted, transitively); returns what was marked, with where
    /// each is, and (recursive) the first returns of the tasks they placed on
    /// other nodes. Tasks that already finished are not there any more.
    package func cancel(returning ref: ObjectID, recursive: Bool) -> (marked: [(id: TaskID, place: Place)], remote: [ObjectID]) {
        table.withLock { table in
            guard let root = table.byReturn[ref] else { return ([], []) }
            var marked: [(TaskID, Place)] = []
            var remote: [ObjectID] = []
            var pending = [root]
            while let id = pending.popLast() {
                // A cancel also overrides a pending retry after an actor restart.
                guard var entry = table.tasks[id], entry.stop == nil || entry.stop == .actorDied(retry: true) else { continue }
                entry.stop = .cancelled
                table.tasks[id] = entry
                marked.append((id, entry.place))
                if recursive {
                    pending += entry.children
                    remote += entry.remoteChildren
                }
            }
            return (marked, remote)
        }
    }

    /// Marks each of `ids` to stop for `reason` (unless already marked);
    /// returns the marked ones with where each is.
    package func stop(_ ids: [TaskID], _ reason: (TaskID) -> Stop) -> [(id: TaskID, place: Place)] {
        table.withLock { table in
            var marked: [(TaskID, Place)] = []
            for id in ids {
                guard var entry = table.tasks[id], entry.stop == nil else { continue }
                entry.stop = reason(id)
                table.tasks[id] = entry
                marked.append((id, entry.place))
            }
            return marked
        }
    }
}
