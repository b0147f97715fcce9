/// Everything a worker needs to run one task; values are codec messages.
package struct TaskSpec: Sendable {
    /// What the task runs.
    package enum Kind: Sendable, Equatable {
        /// A remote function, by id (its code is in the runtime's function table).
        case function(UniqueID)
        /// Creating an actor: its class (a codec message) and the arguments of `init`.
        case actorCreation(ActorID, classCode: [UInt8])
        /// Calling a method of an actor.
        case actorMethod(ActorID, method: String)
    }

    package let id: TaskID
    /// For messages and errors: the remote function's `name` option, or `where` it was defined.
    package let name: String
    package let kind: Kind
    /// The arguments, one codec message (arity with nils kept).
    package let arguments: [UInt8]
    /// Every ObjectRef inside `arguments`; the task holds a reference to each until it starts.
    package let argumentRefs: [ObjectID]
    /// Arguments that are themselves ObjectRefs (1-based position, id): resolved to values before the task runs.
    package let topLevelRefs: [(position: Int, id: ObjectID)]
    /// One per declared return value.
    package let returnIDs: [ObjectID]
    package let cpus: Double
    /// Custom resources the task needs (name -> amount), besides `cpus`.
    package var resources: [String: Double] = [:]
    /// Where the submitter wants it to run (used when it is placed).
    package var strategy: SchedulingStrategy = .default
    /// Re-runs allowed (`max_retries`); Lua errors count only with `retryExceptions`.
    package var maxRetries: Int = 0
    package var retryExceptions = false
    /// 0 for the first run.
    package var attempt = 0
    /// The code environment the task runs in. Empty: the worker's own.
    package var environment = TaskEnvironment()
    /// The namespace of named actors where it runs: its job's (a task
    /// inherits its submitter's, as in Ray), on whichever node. Empty: the
    /// runtime's own. Short on purpose (see `Runtime.namespace`): a string
    /// of at most 15 bytes is stored inline, with no reference to count.
    package var namespace = ""

    package init(id: TaskID, name: String, kind: Kind, arguments: [UInt8], argumentRefs: [ObjectID],
                topLevelRefs: [(position: Int, id: ObjectID)], returnIDs: [ObjectID], cpus: Double) {
        self.id = id
        self.name = name
        self.kind = kind
        self.arguments = arguments
        self.argumentRefs = argumentRefs
        self.topLevelRefs = topLevelRefs
        self.returnIDs = returnIDs
        self.cpus = cpus
    }
}

/// Field by field; by hand only because `topLevelRefs` holds tuples.
/// RayClusterTests' wire struct tests check that every field counts.
extension TaskSpec: Equatable {
    package static func == (a: TaskSpec, b: TaskSpec) -> Bool {
        a.id == b.id && a.name == b.name && a.kind == b.kind && a.arguments == b.arguments
            && a.argumentRefs == b.argumentRefs
            && a.topLevelRefs.elementsEqual(b.topLevelRefs, by: { $0.position == $1.position && $0.id == $1.id })
            && a.returnIDs == b.returnIDs && a.cpus == b.cpus && a.resources == b.resources && a.strategy == b.strategy
            && a.maxRetries == b.maxRetries && a.retryExceptions == b.retryExceptions && a.attempt == b.attempt
            && a.environment == b.environment && a.namespace == b.namespace
    }
}

extension TaskSpec {
    /// The same work as a new task (a restarted actor's creation): first attempt, new id.
    package func rerun(as id: TaskID) -> TaskSpec {
        copy(id: id, returnIDs: returnIDs, attempt: 0)
    }

    /// The same task with other return ids.
    package func returning(_ ids: [ObjectID]) -> TaskSpec {
        copy(id: id, returnIDs: ids, attempt: attempt)
    }

    private func copy(id: TaskID, returnIDs: [ObjectID], attempt: Int) -> TaskSpec {
        var copy = TaskSpec(id: id, name: name, kind: kind, arguments: arguments, argumentRefs: argumentRefs,
                            topLevelRefs: topLevelRefs, returnIDs: returnIDs, cpus: cpus)
        copy.maxRetries = maxRetries
        copy.retryExceptions = retryExceptions
        copy.resources = resources
        copy.strategy = strategy
        copy.attempt = attempt
        copy.environment = environment
        copy.namespace = namespace
        return copy
    }

    /// The actor this task belongs to, if any.
    package var actorID: ActorID? {
        switch kind {
        case .function: nil
        case .actorCreation(let id, _), .actorMethod(let id, _): id
        }
    }
}

/// The `scheduling_strategy` option: which node runs a task or hosts an actor.
package enum SchedulingStrategy: Sendable, Equatable {
    /// Least-loaded: stay on the local node until it is half busy, then the
    /// least-loaded feasible node, preferring one that holds large arguments.
    case `default`
    /// Round-robin over the feasible nodes.
    case spread
    /// This node (hex id): only there (`soft` false), or there when it can
    /// (`soft` true), else as `default`.
    case node(String, soft: Bool)
}

/// The code environment of a task, as blobs registered next to the
/// functions' code (they travel to other nodes the same way, once per
/// link): the environment (the submitter's `package.path` and
/// `package.cpath`, its `runtime_env`'s variables), and the working
/// directory's files when it has one. Inline ids: copying a TaskSpec costs
/// no reference count for it.
package struct TaskEnvironment: Sendable, Equatable {
    package var blob: UniqueID?
    package var workingDirectory: UniqueID?

    package init(blob: UniqueID? = nil, workingDirectory: UniqueID? = nil) {
        self.blob = blob
        self.workingDirectory = workingDirectory
    }

    /// The blobs, the environment's first (what a link sends ahead of the task).
    package var ids: [UniqueID] { [blob, workingDirectory].compactMap { $0 } }
}
