
/// What `ray.remote(opts, class)` fixed for an actor's whole life.
package struct ActorOptions: Sendable, Equatable {
    package var name: String?
    package var namespace: String
    package var maxConcurrency = 1
    /// Restarts allowed after `ray.kill(h, {no_restart = false})`; -1: unlimited.
    package var maxRestarts = 0
    /// Re-runs of a call cut short by a restart; -1: unlimited.
    package var maxTaskRetries = 0
    /// CPUs the actor holds while it lives (an explicit `num_cpus`, as in
    /// Ray); 0 when it needs a CPU only to be placed.
    package var lifetimeCPUs: Double = 0
    /// `lifetime = "detached"`: the actor outlives the job that made it.
    package var detached = false

    package init(namespace: String) { self.namespace = namespace }
}

/// An actor as the cluster moves it: its options, class name and methods,
/// and the task that creates it.
package struct ActorCreation: Sendable, Equatable {
    package var options: ActorOptions
    package var className: String
    package var methods: [String]
    package var creation: TaskSpec
    /// Restarts so far, of every kind and on every node: a new host goes on
    /// counting from here (`max_restarts` is a budget for the actor's life).
    package var restarts = 0

    package init(options: ActorOptions, className: String, methods: [String], creation: TaskSpec) {
        self.options = options
        self.className = className
        self.methods = methods
        self.creation = creation
    }

    package var id: ActorID { creation.actorID! }
}
