/// What the task manager must do after a transition, carried out in order
/// and outside its lock (see `TaskBook` for which event yields which).
package enum TaskAction: Sendable {
    /// Ask the cluster where to run it (`retry`: it was placed before and
    /// its node died; the caller may not wait on the network).
    case place(TaskSpec, retry: Bool)
    /// Send an actor's call to the node that hosts the actor.
    case callActor(TaskSpec)
    /// Call back `argumentArrived` once each of these objects is ready.
    case awaitArguments(TaskID, [ObjectID])
    /// The runnable queue.
    case enqueue(TaskSpec)
    /// Its actor's queue (`front`: a call retried after a restart).
    case enqueueAtActor(TaskSpec, front: Bool)
    /// Take it out of the runnable queue / its actor's queue if it is still
    /// there, and end it as stopped; if not, its worker sees the stop mark.
    case unqueue(TaskID)
    case unqueueAtActor(TaskID)
    /// Stop it on the worker that runs it.
    case interrupt(TaskID, worker: Int)
    /// Forward a cancel to the node it was placed on.
    case forwardCancel(returning: ObjectID, node: UInt64, recursive: Bool)
    /// Store the failure in each of its returns.
    case fail([ObjectID], ReturnFailure)
    /// Drop the references it held on its arguments.
    case releaseArguments([ObjectID])
    /// An actor's call ended: the actor may run its next one.
    case actorCallEnded(ActorID, TaskID)
    /// Tell the event sink.
    case emit(TaskTransition)
}

/// A task's change of phase, for the event sink.
package struct TaskTransition: Sendable, Equatable {
    package var task: TaskID
    package var name: String
    package var phase: TaskPhase
    package var attempt: Int
    package var worker: Int?
    package var node: UInt64?
}
