
/// What a runtime needs from the cluster it belongs to: where work goes,
/// where foreign objects come from, and the cluster's directory. RayCluster
/// implements it; a runtime without one is a cluster of one node.
///
/// The calls come from Lua threads (the driver's, a worker's) and must not
/// wait on anything those threads run; they may wait on the network.
package protocol ClusterLink: AnyObject, Sendable {
    /// The hex id of the node this process counts as (a driver: the node
    /// it attached to).
    var nodeID: String { get }

    /// Why no node of the cluster could ever give `cpus` and `resources`
    /// under `strategy`, or nil when one can.
    func infeasibility(cpus: Double, resources: [String: Double], strategy: SchedulingStrategy) -> Infeasibility?

    /// Places a task (`retry`: again, after the node it ran on died; the
    /// caller may be an event loop and must not wait). When it goes to
    /// another node, the link calls `runtime.tasks.placed(_:on:)` before
    /// sending it, then delivers its returns to this store and reports
    /// `placedFinished` (or `nodeDied`) to the task manager.
    func place(_ task: TaskSpec, retry: Bool) -> ClusterPlacement

    /// Registers an actor with the cluster (its name, where it lives) and
    /// places it: nil to host it on this node, else the node (prefix) that
    /// hosts it. Throws a message when its name is taken or no node can
    /// host it. `restart`: created again after its node died; the caller
    /// may be an event loop and must not wait.
    func placeActor(_ actor: ActorCreation, classRefs: [ObjectID], restart: Bool) throws(ClusterLinkError) -> UInt64?

    /// Sends a call to an actor hosted elsewhere (recorded as `place` does);
    /// `.runHere` when no node hosts it.
    func callActor(_ call: TaskSpec) -> ClusterPlacement

    /// Forwards `ray.kill` to the actor's node; false when no node hosts it.
    func killActor(_ id: ActorID, noRestart: Bool) -> Bool

    /// A named actor anywhere in the cluster: its id and methods.
    func lookupActor(name: String, namespace: String) -> (id: ActorID, methods: [String])?

    /// Asks the owners of these objects (made by other processes) to send
    /// them; each is asked for once until it arrives.
    func fetch(_ ids: [ObjectID])

    /// Forwards `ray.cancel` to the node a task was placed on.
    func cancel(returning ref: ObjectID, on node: UInt64, recursive: Bool)

    /// An actor hosted here was restarted by `ray.kill` (its restarts so
    /// far): its creator, if another process, is told, so that it counts
    /// the restart too.
    func actorRestarted(_ id: ActorID, restarts: Int)

    /// A line for this process's cluster log (what the runtime decided on
    /// its own, e.g. an actor not restarted).
    func note(_ message: String)

    /// Every node the head knows, alive or not.
    func nodes() -> [ClusterNode]

    /// The runtime shuts down: close every connection (its job ends for
    /// the cluster) and stop what runs in the background.
    func leave()
}

/// Where the cluster put a task.
package enum ClusterPlacement: Sendable {
    /// On this node (the task manager runs it here).
    case runHere
    /// On another node; the task manager was told which.
    case sent
    /// Nowhere, for good: the task fails with this error.
    case failed(RayError)
}

/// Why no node could ever run a task or host an actor.
package enum Infeasibility: Sendable, Equatable {
    /// `amount` of `resource`, which the local node has `localHas` of and
    /// the best alive node `mostHas`.
    case resource(String, amount: Double, localHas: Double, mostHas: Double)
    /// A hard affinity to a node that is unknown, dead, or too small.
    case affinity(String, known: Bool, alive: Bool)
}

/// One node as `ray.nodes()` shows it.
package struct ClusterNode: Sendable {
    package var nodeID: String
    package var address: String
    package var alive: Bool
    package var total: [String: Double]
    package var available: [String: Double]

    package init(nodeID: String, address: String, alive: Bool, total: [String: Double], available: [String: Double]) {
        self.nodeID = nodeID
        self.address = address
        self.alive = alive
        self.total = total
        self.available = available
    }
}

/// A cluster request that failed; the message says why, for the user.
package struct ClusterLinkError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
