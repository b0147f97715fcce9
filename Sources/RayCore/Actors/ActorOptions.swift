
/// What `ray.remote(opts, class)` fixed for an actor's whole life.
public struct ActorOptions: Sendable, Equatable {
    public var name: String?
    public var namespace: String
    public var maxConcurrency = 1
    /// Restarts allowed after `ray.kill(h, {no_restart = false})`; -1: unlimited.
    public var maxRestarts = 0
    /// Re-runs of a call cut short by a restart; -1: unlimited.
    public var maxTaskRetries = 0
    /// CPUs the actor holds while it lives (an explicit `num_cpus`, as in
    /// Ray); 0 when it needs a CPU only to be placed.
    public var lifetimeCPUs: Double = 0
    /// `lifetime = "detached"`: the actor outlives the job that made it.
    public var detached = false

    public init(namespace: String) { self.namespace = namespace }
}

/// An actor as the cluster moves it: its options, class name and methods,
/// and the task that creates it.
public struct ActorCreation: Sendable, Equatable {
    public var options: ActorOptions
    public var className: String
    public var methods: [String]
    public var creation: TaskSpec
    /// Restarts so far, of every kind and on every node: a new host goes on
    /// counting from here (`max_restarts` is a budget for the actor's life).
    public var restarts = 0

    public init(options: ActorOptions, className: String, methods: [String], creation: TaskSpec) {
        self.options = options
        self.className = className
        self.methods = methods
        self.creation = creation
    }

    public var id: ActorID { creation.actorID! }
}
