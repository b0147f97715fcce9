/// An error of the runtime's own making (a task cancelled, an actor or node
/// that died, an object lost), as opposed to a value a task raised. It stays
/// a typed Swift value through the runtime, the object store and the wire,
/// and becomes a Lua error table only at the Lua boundary (RayLua's
/// `RayLuaState.push`), as `{type = code.name, message, task, traceback, cause}`.
public struct RayError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The contract's error types (`err.type` in Lua, docs: lua-api.md "Errors").
    /// Raw values are their wire numbers: never renumber one.
    public enum Code: UInt8, Sendable, CaseIterable {
        case taskError = 1
        case actorDied
        case getTimeout
        case taskCancelled
        case taskTimeout
        case objectLost
        case objectReconstructionFailed
        case ownerDied
        case workerCrashed
        case nodeDied
        case serialization
        case outOfMemory
        case objectStoreFull
        case pendingCallsLimitExceeded
        case placementGroup

        /// The name scripts see as `err.type`.
        public var name: String {
            switch self {
            case .taskError: "RayTaskError"
            case .actorDied: "ActorDiedError"
            case .getTimeout: "GetTimeoutError"
            case .taskCancelled: "TaskCancelledError"
            case .taskTimeout: "TaskTimeoutError"
            case .objectLost: "ObjectLostError"
            case .objectReconstructionFailed: "ObjectReconstructionFailedError"
            case .ownerDied: "OwnerDiedError"
            case .workerCrashed: "WorkerCrashedError"
            case .nodeDied: "NodeDiedError"
            case .serialization: "SerializationError"
            case .outOfMemory: "OutOfMemoryError"
            case .objectStoreFull: "ObjectStoreFullError"
            case .pendingCallsLimitExceeded: "PendingCallsLimitExceeded"
            case .placementGroup: "PlacementGroupError"
            }
        }

        /// The code named `name` (as a script writes it), if there is one.
        public init?(name: String) {
            guard let code = Self.allCases.first(where: { $0.name == name }) else { return nil }
            self = code
        }
    }

    public var code: Code
    public var message: String
    /// The task it concerns (its `name` option, or where it was defined).
    public var task: String?
    /// The remote Lua traceback, for a task that failed.
    public var traceback: String?
    /// What caused it, as text (an actor's failed `init`: that error's message).
    public var cause: String?

    public init(_ code: Code, _ message: String, task: String? = nil, traceback: String? = nil, cause: String? = nil) {
        self.code = code
        self.message = message
        self.task = task
        self.traceback = traceback
        self.cause = cause
    }

    /// An error about `task`: its message starts with the task's name.
    package init(_ code: Code, of task: TaskSpec, _ message: String) {
        self.init(code, "\(task.name): \(message)", task: task.name)
    }

    public var description: String { "\(code.name): \(message)" }
}

extension RayError {
    /// Work lost with the node that ran it: `NodeDiedError`, or for an actor's call `ActorDiedError`.
    package static func nodeDied(_ task: TaskSpec, _ reason: String) -> RayError {
        RayError(task.actorID == nil ? .nodeDied : .actorDied, of: task, reason)
    }

    /// An object that cannot be had any more.
    public static func objectLost(_ id: ObjectID, _ reason: String) -> RayError {
        RayError(.objectLost, "object \(id.hex) is lost: \(reason)")
    }

    /// A task stopped by `ray.cancel` before it started.
    package static func cancelledBeforeStart(_ task: TaskSpec) -> RayError {
        RayError(.taskCancelled, "task '\(task.name)' was cancelled before it started", task: task.name)
    }
}
