import Foundation

/// What `ray status` shows: every node the head knows, with its state and
/// resources.
public struct ClusterStatus: Sendable {
    public struct Node: Sendable {
        public let nodeID: String
        public let address: String
        public let isHead: Bool
        public let alive: Bool
        public let total: [String: Double]
        public let available: [String: Double]
        public let pendingTasks: Int
        public let secondsSinceHeartbeat: Double
    }

    /// A driver that attached to the cluster.
    public struct Job: Sendable {
        public let jobID: String
        public let running: Bool
        /// Seconds since it started.
        public let age: Double
    }

    public let headAddress: String
    public let nodes: [Node]
    public var jobs: [Job] = []

    /// The report, as `ray status` prints it.
    public var report: String {
        let alive = nodes.filter(\.alive)
        var lines = ["======== Cluster status (head \(headAddress)) ========",
                     "Nodes: \(alive.count) alive, \(nodes.count - alive.count) dead"]
        for node in nodes {
            let role = node.isHead ? "head" : "worker"
            let state = node.alive ? "alive" : "dead"
            let used = node.total.sorted { $0.key < $1.key }.map { name, total in
                "\(name) \(formatAmount(total - (node.available[name] ?? 0)))/\(formatAmount(total))"
            }.joined(separator: ", ")
            lines.append(" \(node.nodeID.prefix(12))  \(role)  \(node.address)  \(state)  \(used)  pending \(node.pendingTasks)")
        }
        var totals: [String: (used: Double, total: Double)] = [:]
        for node in alive {
            for (name, total) in node.total {
                let used = total - (node.available[name] ?? 0)
                totals[name, default: (0, 0)].used += used
                totals[name, default: (0, 0)].total += total
            }
        }
        lines.append("Resources (used/total):")
        for (name, sum) in totals.sorted(by: { $0.key < $1.key }) {
            lines.append(" \(formatAmount(sum.used))/\(formatAmount(sum.total)) \(name)")
        }
        lines.append("Pending tasks: \(alive.reduce(0) { $0 + $1.pendingTasks })")
        let running = jobs.filter(\.running)
        lines.append("Jobs: \(running.count) running, \(jobs.count - running.count) finished")
        for job in running {
            lines.append(" \(job.jobID.prefix(12))  running for \(formatAmount(job.age.rounded())) s")
        }
        return lines.joined(separator: "\n")
    }
}
