import RayCore
import RayLua

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
enum Placement {
    /// A node as the submitter sees it.
    struct Node: Equatable {
        var nodeID: String
        /// The node process's id prefix: how its link is found.
        var owner: UInt64
        var alive: Bool
        var total: [String: Double]
        /// CPUs in use: the node's last report, or what this submitter has
        /// placed there and not seen finish, whichever is larger.
        var usedCPUs: Double

        var utilization: Double {
            let cpus = total["CPU"] ?? 0
            return cpus > 0 ? usedCPUs / cpus : 1
        }

        func offers(cpus: Double, _ resources: [String: Double]) -> Bool {
            guard cpus <= (total["CPU"] ?? 0) + 1e-9 else { return false }
            return resources.allSatisfy { name, amount in amount <= (total[name] ?? 0) + 1e-9 }
        }
    }

    enum Decision: Equatable {
        case node(UInt64)
        case infeasible(Infeasibility)
    }

    /// The half-busy line of `DEFAULT`, as in Ray.
    static let spillThreshold = 0.5

    static func choose(cpus: Double, resources: [String: Double], strategy: SchedulingStrategy,
                       nodes: [Node], local: UInt64?, largeArgumentsOn: UInt64? = nil,
                       spreadCounter: inout Int) -> Decision {
        let alive = nodes.filter(\.alive)
        let feasible = alive.filter { $0.offers(cpus: cpus, resources) }
        if case .node(let wanted, let soft) = strategy {
            if let node = feasible.first(where: { $0.nodeID == wanted }) { return .node(node.owner) }
            if !soft {
                let known = nodes.first { $0.nodeID == wanted }
                return .infeasible(.affinity(wanted, known: known != nil, alive: known?.alive ?? false))
            }
        }
        guard !feasible.isEmpty else { return .infeasible(missing(cpus: cpus, resources, nodes: alive, local: local)) }
        if strategy == .spread {
            let ordered = feasible.sorted { $0.nodeID < $1.nodeID }
            defer { spreadCounter &+= 1 }
            return .node(ordered[Int(UInt(bitPattern: spreadCounter) % UInt(ordered.count))].owner)
        }
        if let here = feasible.first(where: { $0.owner == local }), here.utilization < spillThreshold {
            return .node(here.owner)
        }
        if let holder = feasible.first(where: { $0.owner == largeArgumentsOn }), holder.utilization < 1 {
            return .node(holder.owner)
        }
        let best = feasible.min { a, b in
            (a.utilization, a.owner == local ? 0 : 1, a.nodeID) < (b.utilization, b.owner == local ? 0 : 1, b.nodeID)
        }!
        return .node(best.owner)
    }

    /// The first resource no alive node offers enough of.
    private static func missing(cpus: Double, _ resources: [String: Double], nodes: [Node], local: UInt64?) -> Infeasibility {
        let wanted = [("CPU", cpus)] + resources.sorted { $0.key < $1.key }.filter { $0.key != "CPU" }
        let here = nodes.first { $0.owner == local }
        for (name, amount) in wanted {
            let most = nodes.map { $0.total[name] ?? 0 }.max() ?? 0
            if amount > most + 1e-9 {
                return .resource(name, amount: amount, localHas: here?.total[name] ?? 0, mostHas: most)
            }
        }
        // Each resource exists somewhere, but no node has all of them.
        let (name, amount) = wanted.last!
        return .resource(name, amount: amount, localHas: here?.total[name] ?? 0, mostHas: nodes.map { $0.total[name] ?? 0 }.max() ?? 0)
    }
}
