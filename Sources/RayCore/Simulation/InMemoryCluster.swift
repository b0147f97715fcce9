/// Several runtimes of this process joined as one cluster with no sockets:
/// each gets a `ClusterLink` that hands work, objects, kills and cancels to
/// the others directly. It is the cluster port's in-memory transport: with
/// it (and a `ManualClock`) multi-node behaviour — placement, node death,
/// retries, actor restarts — is tested in one process, with the test
/// deciding when a node's messages arrive (`hold`, `release`) and when a
/// node dies (`kill`), next to the real-process cluster tests.
///
/// Nodes are numbered from 1 in the order they join; that number is the
/// node id the task manager and the actor directory see. Every id of this
/// process shares one owner prefix, so objects move between the members'
/// stores explicitly: a placed task carries its ready ObjectRef arguments
/// (and waits for the others), and `fetch` copies an object from whichever
/// member has it.
package final class InMemoryCluster: Sendable {
    /// Which node runs a task: given the task, the node that asks, and the
    /// alive nodes in join order. The default keeps a task on the node that
    /// asks unless its strategy says otherwise (SPREAD: round-robin over the
    /// alive nodes; a node affinity: that node, or with `soft` the asking
    /// one when it is dead).
    package typealias Policy = @Sendable (_ task: TaskSpec, _ from: UInt64, _ alive: [UInt64]) -> UInt64?

    /// A member's runtime is held strongly: the cycle through its link
    /// ends when the runtime shuts down (it drops its link).
    private struct Member {
        let runtime: Runtime
        var alive = true
        /// Deliveries from this node wait here while it is held.
        var held: [@Sendable () -> Void]?
    }

    private struct State {
        var members: [UInt64: Member] = [:]
        var order: [UInt64] = []
        var actorHosts: [ActorID: UInt64] = [:]
        var actorCreators: [ActorID: UInt64] = [:]
        var spread = 0
        var policy: Policy?
        var notes: [String] = []
    }

    private let state = Locked(State())

    package init() {}

    /// Joins `runtime` to the cluster (attaches its link); returns its node id.
    @discardableResult
    package func join(_ runtime: Runtime) -> UInt64 {
        let node = state.withLock { state -> UInt64 in
            let node = UInt64(state.order.count + 1)
            state.members[node] = Member(runtime: runtime)
            state.order.append(node)
            return node
        }
        runtime.attach(MemberLink(cluster: self, node: node))
        return node
    }

    /// Replaces the placement policy (nil: the default).
    package func setPolicy(_ policy: Policy?) {
        state.withLock { $0.policy = policy }
    }

    /// What the members' links noted (an actor not restarted, ...).
    package var notes: [String] { state.withLock { $0.notes } }

    /// From now on, what `node` sends (results, finished tasks) waits until
    /// `release` — or is lost with it, if it is killed first.
    package func hold(_ node: UInt64) {
        state.withLock { state in
            if state.members[node]?.held == nil { state.members[node]?.held = [] }
        }
    }

    /// Delivers what `node` sent while held, in order, and stops holding it.
    package func release(_ node: UInt64) {
        let pending = state.withLock { state -> [@Sendable () -> Void] in
            defer { state.members[node]?.held = nil }
            return state.members[node]?.held ?? []
        }
        for delivery in pending { delivery() }
    }

    /// The node dies: what it holds is lost, and every other node's task
    /// manager and actor directory learn it (retries, restarts elsewhere),
    /// as when a real node's connection breaks. Its runtime keeps its
    /// threads until the test shuts it down; nothing it sends arrives.
    package func kill(_ node: UInt64) {
        let others = state.withLock { state -> [Runtime] in
            guard state.members[node]?.alive == true else { return [] }
            state.members[node]?.alive = false
            state.members[node]?.held = nil
            return state.order.compactMap { state.members[$0].flatMap { $0.alive ? $0.runtime : nil } }
        }
        for runtime in others {
            runtime.tasks.nodeDied(node, description: "node \(node)", leaving: false)
            runtime.actors.hostDied(node, description: "node \(node)", leaving: false)
        }
    }

    // MARK: what the links use

    fileprivate func runtime(_ node: UInt64) -> Runtime? {
        state.withLock { state in state.members[node].flatMap { $0.alive ? $0.runtime : nil } }
    }

    fileprivate func alive() -> [(node: UInt64, runtime: Runtime)] {
        state.withLock { state in
            state.order.compactMap { node in state.members[node].flatMap { $0.alive ? (node, $0.runtime) : nil } }
        }
    }

    /// Runs `body` now, or later when `from` is held; never when either end is dead.
    fileprivate func deliver(from: UInt64, to: UInt64, _ body: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            guard state.members[from]?.alive == true, state.members[to]?.alive == true else { return false }
            if state.members[from]?.held != nil {
                state.members[from]?.held?.append { [self] in
                    // Delivered later: only if both ends still live then.
                    if self.runtime(from) != nil && self.runtime(to) != nil { body() }
                }
                return false
            }
            return true
        }
        if now { body() }
    }

    fileprivate func choose(_ task: TaskSpec, from: UInt64) -> UInt64? {
        let alive = alive().map(\.node)
        let (policy, spread) = state.withLock { state -> (Policy?, Int) in
            defer { state.spread += 1 }
            return (state.policy, state.spread)
        }
        if let policy { return policy(task, from, alive) }
        switch task.strategy {
        case .default:
            return alive.contains(from) ? from : alive.first
        case .spread:
            return alive.isEmpty ? nil : alive[spread % alive.count]
        case .node(let hex, let soft):
            if let node = self.alive().first(where: { $0.runtime.nodeID.hex == hex })?.node { return node }
            return soft ? (alive.contains(from) ? from : alive.first) : nil
        }
    }

    fileprivate func hostOf(_ actor: ActorID) -> UInt64? {
        state.withLock { $0.actorHosts[actor] }
    }

    fileprivate func setHost(_ actor: ActorID, _ node: UInt64, creator: UInt64) {
        state.withLock { state in
            state.actorHosts[actor] = node
            state.actorCreators[actor] = creator
        }
    }

    fileprivate func creatorOf(_ actor: ActorID) -> UInt64? {
        state.withLock { $0.actorCreators[actor] }
    }

    fileprivate func note(_ message: String) {
        state.withLock { $0.notes.append(message) }
    }
}

/// One member's side of an `InMemoryCluster`.
private final class MemberLink: ClusterLink {
    let cluster: InMemoryCluster
    let node: UInt64

    init(cluster: InMemoryCluster, node: UInt64) {
        self.cluster = cluster
        self.node = node
    }

    private var me: Runtime? { cluster.runtime(node) }

    var nodeID: String { me?.nodeID.hex ?? "" }

    func infeasibility(cpus: Double, resources: [String: Double], strategy: SchedulingStrategy) -> Infeasibility? {
        let alive = cluster.alive().map(\.runtime)
        if case .node(let hex, soft: false) = strategy, !alive.contains(where: { $0.nodeID.hex == hex }) {
            return .affinity(hex, known: false, alive: false)
        }
        let most = alive.map(\.settings.numCPUs).max() ?? 0
        if cpus > most + 1e-9 { return .resource("CPU", amount: cpus, localHas: me?.settings.numCPUs ?? 0, mostHas: most) }
        for (name, amount) in resources.sorted(by: { $0.key < $1.key }) {
            let best = alive.map { $0.resources[name] ?? 0 }.max() ?? 0
            if amount > best + 1e-9 { return .resource(name, amount: amount, localHas: me?.resources[name] ?? 0, mostHas: best) }
        }
        return nil
    }

    func place(_ task: TaskSpec, retry: Bool) -> ClusterPlacement {
        guard let target = cluster.choose(task, from: node) else {
            return retry ? .failed(.nodeDied(task, "the node that ran it went away, and no other node can run it now")) : .runHere
        }
        if target == node { return .runHere }
        return send(task, to: target) ?? .failed(.nodeDied(task, "the node chosen to run it cannot be reached"))
    }

    func callActor(_ call: TaskSpec) -> ClusterPlacement {
        guard let actor = call.actorID, let host = cluster.hostOf(actor), host != node else { return .runHere }
        return send(call, to: host) ?? .failed(.nodeDied(call, "the node that hosts its actor went away"))
    }

    /// Hands a task to `target`'s runtime (as work a peer placed there);
    /// its results come back to this node's store. Nil when `target` is dead.
    private func send(_ task: TaskSpec, to target: UInt64) -> ClusterPlacement? {
        guard let me, let there = cluster.runtime(target) else { return nil }
        let followUp = me.tasks.placed(task.id, on: target)
        let origin = node
        cluster.deliver(from: origin, to: target) { [cluster] in
            Self.copyCode(of: task, from: me, to: there)
            Self.copyArguments(task.topLevelRefs.map(\.id), from: me, to: there)
            there.runForPeer(task) { results in
                cluster.deliver(from: target, to: origin) {
                    for (id, object) in results { me.receive(id, object) }
                    _ = me.tasks.placedFinished(task.id)
                }
            }
        }
        followUp.perform()
        return .sent
    }

    func placeActor(_ actor: ActorCreation, classRefs: [ObjectID], restart: Bool) throws(ClusterLinkError) -> UInt64? {
        guard let me, let host = cluster.choose(actor.creation, from: node) else {
            throw ClusterLinkError("no node of the cluster can host the actor now")
        }
        cluster.setHost(actor.id, host, creator: node)
        if host == node { return nil }
        guard let there = cluster.runtime(host) else { throw ClusterLinkError("the node chosen to host the actor went away") }
        let failure = Locked<ClusterLinkError?>(nil)
        cluster.deliver(from: node, to: host) {
            Self.copyCode(of: actor.creation, from: me, to: there)
            Self.copyArguments(actor.creation.topLevelRefs.map(\.id) + classRefs, from: me, to: there)
            do throws(ClusterLinkError) {
                try there.hostActorForPeer(actor, classRefs: classRefs)
            } catch {
                failure.withLock { $0 = error }
            }
        }
        if let failure = failure.withLock({ $0 }) { throw failure }
        return host
    }

    func killActor(_ id: ActorID, noRestart: Bool) -> Bool {
        guard let host = cluster.hostOf(id), host != node else { return false }
        cluster.runtime(host)?.killActorForPeer(id, noRestart: noRestart)
        return true
    }

    func lookupActor(name: String, namespace: String) -> (id: ActorID, methods: [String])? {
        for (_, runtime) in cluster.alive() {
            if let found = runtime.actors.lookup(name: name, namespace: namespace) { return found }
        }
        return nil
    }

    func fetch(_ ids: [ObjectID]) {
        guard let me else { return }
        for (node, runtime) in cluster.alive() where node != self.node {
            let here = ids.filter { runtime.objects.contains($0) }
            if !here.isEmpty { Self.copyArguments(here, from: runtime, to: me) }
        }
    }

    func cancel(returning ref: ObjectID, on node: UInt64, recursive: Bool) {
        cluster.deliver(from: self.node, to: node) { [cluster] in
            cluster.runtime(node)?.cancel(returning: ref, recursive: recursive)
        }
    }

    func nodes() -> [ClusterNode] {
        cluster.alive().map { node, runtime in
            ClusterNode(nodeID: runtime.nodeID.hex, address: "memory:\(node)", alive: true,
                        total: runtime.resources.merging(["CPU": runtime.settings.numCPUs]) { $1 },
                        available: runtime.availableResources)
        }
    }

    func note(_ message: String) {
        cluster.note("node \(node): \(message)")
    }

    func actorRestarted(_ id: ActorID, restarts: Int) {
        guard let creator = cluster.creatorOf(id), creator != node else { return }
        cluster.deliver(from: node, to: creator) { [cluster] in
            cluster.runtime(creator)?.actors.remoteRestarted(id, restarts: restarts)
        }
    }

    func leave() {}

    /// What a worker there needs to run the task: its function's code and its environment's blobs.
    private static func copyCode(of task: TaskSpec, from: Runtime, to: Runtime) {
        var ids = task.environment.ids
        if case .function(let function) = task.kind { ids.append(function) }
        for id in ids {
            if to.functionCode(id) == nil, let code = from.functionCode(id) { to.setFunctionCode(id, code) }
        }
    }

    /// Makes each object known in `to`'s store and copies it there once it
    /// is ready in `from`'s (what a fetch from its owner does).
    private static func copyArguments(_ ids: [ObjectID], from: Runtime, to: Runtime) {
        guard !ids.isEmpty else { return }
        _ = to.objects.expectUnknown(ids)
        for id in ids {
            from.objects.whenReady(id) { object in
                for ref in object.contained { _ = to.objects.expectUnknown([ref]) }
                to.receive(id, object)
            }
        }
    }
}
