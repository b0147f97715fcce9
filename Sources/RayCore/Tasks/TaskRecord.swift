/// Where a task is in its life, while it has one (a record ends when the
/// task finishes, fails or is cancelled; `TaskPhase` names those ends):
///
///     placing ─▶ placed(node) ───────────────────────────────┐
///        │                                                   │
///        ▼                                                   ▼
///     waitingForArguments ─▶ queued ─▶ running ⇄ suspended ─▶ ended
///                            queuedAtActor ─┘   (retry: back to queued,
///                                                queuedAtActor or placing)
package enum TaskState: Sendable, Equatable {
    /// Asked the cluster where to run it; no answer yet.
    case placing
    /// Sent to another node (its prefix), which runs it and sends its returns back.
    case placed(node: UInt64)
    /// Waiting for this many of its ObjectRef arguments.
    case waitingForArguments(missing: Int)
    /// In the scheduler's runnable queue.
    case queued
    /// In its actor's queue of calls (or the actor's creation, waiting for the actor's worker).
    case queuedAtActor
    /// Started on this worker.
    case running(worker: Int)
    /// Started, now waiting in `ray.get` with its CPUs given back.
    case suspended(worker: Int)

    /// Whether the book holds the task's spec in this state: it must hand
    /// the task on from here (to a node, or to the queue once its
    /// arguments are ready). Otherwise the queue or worker holds it.
    package var holdsSpec: Bool {
        switch self {
        case .placing, .placed, .waitingForArguments: true
        case .queued, .queuedAtActor, .running, .suspended: false
        }
    }
}

/// Why a task must stop before it finishes on its own.
package enum TaskStop: Sendable, Equatable {
    /// `ray.cancel`: its returns fail with TaskCancelledError.
    case cancelled
    /// Its actor was killed or is restarting: the call fails with
    /// ActorDiedError, or (`retry`) goes back to the actor's queue to run
    /// on the next incarnation (`max_task_retries`).
    case actorDied(retry: Bool)
}

/// How a task reaches the worker that runs it, fixed at submission.
package enum TaskRoute: Sendable, Equatable {
    /// Runs on this node: waits for its arguments, then the runnable queue.
    case local
    /// The cluster chooses the node (this one included); retries choose again.
    case cluster
    /// An actor's call on this node: the actor's queue.
    case actor
    /// An actor's call the cluster sends to the actor's node.
    case remoteActor
}

/// One task this node owns or runs, from submission to its end. Small on
/// purpose, since it moves on most events: the book keeps the task's spec
/// apart, and only while it must hand the task on (`TaskState.holdsSpec`);
/// while it is queued or runs, the queue or worker holds the spec and
/// gives it back with the next event (`start`, `end`).
package struct TaskRecord: Sendable {
    package let id: TaskID
    package var state: TaskState
    package var route: TaskRoute
    package var stop: TaskStop?
    package let parent: TaskID?
    /// The first return, by which `cancel` names it and `take` forgets it.
    package let firstReturn: ObjectID?
    /// Nodes that died while attempts of it were placed on them.
    package var nodeDeaths: [String] = []
    /// Whether it ever started on a worker here (its cancel error says so).
    package var started = false

    package init(spec: TaskSpec, state: TaskState, route: TaskRoute, parent: TaskID?) {
        id = spec.id
        self.state = state
        self.route = route
        self.parent = parent
        firstReturn = spec.returnIDs.first
    }
}

/// How a task's run ended, as its worker (or the cluster) reports it.
package enum TaskOutcome: Sendable {
    /// Its returns are stored.
    case succeeded
    /// It raised or could not run: `error` goes to its returns unless it is
    /// retried (`mayRetry`: a Lua error with `retry_exceptions` and attempts left).
    case failed(StoredObject, mayRetry: Bool)
    /// It saw its stop mark (at start, or interrupted): the mark decides.
    case stopped
}

/// What a failed task's returns get.
package enum ReturnFailure: Sendable {
    case object(StoredObject)
    case error(RayError)
    /// The error of an actor call stopped by its actor's death or restart
    /// (the actor directory knows which).
    case actorStopped(ActorID)
}
