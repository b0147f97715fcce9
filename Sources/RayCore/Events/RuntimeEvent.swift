/// A phase of a task's life, as the event stream names it.
public enum TaskPhase: String, Sendable, Equatable {
    case submitted, waitingForArguments, queued, placed, running, suspended, resumed, retrying
    case finished, failed, cancelled
}

/// A phase of an actor's life.
public enum ActorPhase: String, Sendable, Equatable {
    /// Registered here; its creation task is submitted.
    case created
    /// Its `init` returned: it takes calls.
    case ready
    /// A new incarnation is starting (`ray.kill` with restarts left).
    case restarting
    /// Gone for good; its calls fail with ActorDiedError.
    case died
}

/// What happened to an object in this node's store.
public enum ObjectPhase: String, Sendable, Equatable {
    /// Expected: a task will make it, or another process owns it.
    case expected
    /// Its value is here (put, returned, or fetched).
    case ready
    /// No reference is left: freed.
    case freed
}

/// One state transition in the runtime, with when and where it happened.
/// The runtime emits one for every change of phase of its tasks, actors
/// and objects (`Runtime.events`); nothing is built when no one listens.
public struct RuntimeEvent: Sendable, Equatable {
    public enum Subject: Sendable, Equatable {
        /// `attempt` is 0 for the first run; `worker` is the slot it runs
        /// in, `placedOn` the node prefix it was sent to.
        case task(id: TaskID, name: String, phase: TaskPhase, attempt: Int, worker: Int?, placedOn: UInt64?)
        case actor(id: ActorID, name: String, phase: ActorPhase, restarts: Int, reason: String?)
        case object(id: ObjectID, phase: ObjectPhase)
    }

    /// Seconds since the runtime's clock began (`RuntimeClock`).
    public var time: Double
    /// The node (runtime) it happened on, as hex.
    public var node: String
    public var subject: Subject

    public init(time: Double, node: String, subject: Subject) {
        self.time = time
        self.node = node
        self.subject = subject
    }
}
