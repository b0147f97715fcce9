import RayCore

/// Where work goes: the scheduling policies over the cluster's nodes, as
/// pure functions of what the submitter knows (tested on their own).
///
/// - `DEFAULT`: the local node while its CPU use is below half; else a
///   node holding a large argument while it is not full; else the
///   least-used feasible node (the local one on a tie).
/// - `SPREAD`: round-robin over the feasible nodes, in node-id order.
/// - Node affinity: that node if it is alive and feasible; else an error
///   (hard) or `DEFAULT` (soft).
/// Resources a node does not have at all make it infeasible; resources it
/// has but are busy make the task wait there.
///
/// `choose` runs for every task a process places: it allocates nothing.
enum Placement {
    /// A node as the submitter sees it.
    struct Node: Equatable {
        var nodeID: String
        /// The node process's id prefix: how its link is found.
        var owner: UInt64
        var alive: Bool
        var total: [String: Double] {
            didSet { cpus = total["CPU"] ?? 0 }
        }
        /// CPUs in use at the node's last report.
        var reportedCPUs: Double = 0
        /// `total["CPU"]`, looked up once.
        private(set) var cpus: Double

        init(nodeID: String, owner: UInt64, alive: Bool, total: [String: Double], reportedCPUs: Double = 0) {
            self.nodeID = nodeID
            self.owner = owner
            self.alive = alive
            self.total = total
            self.reportedCPUs = reportedCPUs
            cpus = total["CPU"] ?? 0
        }

        func offers(cpus needed: Double, _ resources: [String: Double]) -> Bool {
            guard needed <= cpus + 1e-9 else { return false }
            if resources.isEmpty { return true }
            return resources.allSatisfy { name, amount in amount <= (total[name] ?? 0) + 1e-9 }
        }
    }

    enum Decision: Equatable {
        case node(UInt64)
        case infeasible(Infeasibility)
    }

    /// The half-busy line of `DEFAULT`, as in Ray.
    static let spillThreshold = 0.5

    /// Picks a node. `nodes` must be sorted by node id; `used` gives a
    /// node's CPUs in use as the submitter counts them now.
    static func choose(cpus: Double, resources: [String: Double], strategy: SchedulingStrategy,
                       nodes: [Node], used: (Node) -> Double, local: UInt64?, largeArgumentsOn: UInt64? = nil,
                       spreadCounter: inout Int) -> Decision {
        func feasible(_ node: Node) -> Bool { node.alive && node.offers(cpus: cpus, resources) }
        func utilization(_ node: Node) -> Double { node.cpus > 0 ? used(node) / node.cpus : 1 }

        if case .node(let wanted, let soft) = strategy {
            if let node = nodes.first(where: { $0.nodeID == wanted }), feasible(node) { return .node(node.owner) }
            if !soft {
                let known = nodes.first { $0.nodeID == wanted }
                return .infeasible(.affinity(wanted, known: known != nil, alive: known?.alive ?? false))
            }
        }
        var count = 0
        for node in nodes where feasible(node) { count += 1 }
        guard count > 0 else { return .infeasible(missing(cpus: cpus, resources, nodes: nodes, local: local)) }
        if strategy == .spread {
            var pick = Int(UInt(bitPattern: spreadCounter) % UInt(count))
            spreadCounter &+= 1
            for node in nodes where feasible(node) {
                if pick == 0 { return .node(node.owner) }
                pick -= 1
            }
        }
        if let local, let here = nodes.first(where: { $0.owner == local }), feasible(here),
           utilization(here) < spillThreshold {
            return .node(here.owner)
        }
        if let holder = largeArgumentsOn, let node = nodes.first(where: { $0.owner == holder }), feasible(node),
           utilization(node) < 1 {
            return .node(node.owner)
        }
        var best: (owner: UInt64, key: (Double, Int))?
        for node in nodes where feasible(node) {
            let key = (utilization(node), node.owner == local ? 0 : 1)
            if best == nil || key < best!.key { best = (node.owner, key) }
        }
        return .node(best!.owner)
    }

    /// The first resource no alive node offers enough of.
    private static func missing(cpus: Double, _ resources: [String: Double], nodes: [Node], local: UInt64?) -> Infeasibility {
        let alive = nodes.filter(\.alive)
        let wanted = [("CPU", cpus)] + resources.sorted { $0.key < $1.key }.filter { $0.key != "CPU" }
        let here = alive.first { $0.owner == local }
        func most(_ name: String) -> Double { alive.map { $0.total[name] ?? 0 }.max() ?? 0 }
        for (name, amount) in wanted where amount > most(name) + 1e-9 {
            return .resource(name, amount: amount, localHas: here?.total[name] ?? 0, mostHas: most(name))
        }
        // Each resource exists somewhere, but no node has all of them.
        let (name, amount) = wanted.last!
        return .resource(name, amount: amount, localHas: here?.total[name] ?? 0, mostHas: most(name))
    }
}
