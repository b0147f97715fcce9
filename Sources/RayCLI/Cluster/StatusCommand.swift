import ArgumentParser
import Foundation
import RayCluster

/// `ray status`: the nodes of the cluster, their state, resources and
/// pending tasks, as the head knows them.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the cluster's nodes, their resources and pending tasks.")

    @Option(help: "The head (HOST:PORT); default: RAY_ADDRESS, else the head started on this machine.")
    var address: String?

    @Option(help: "The cluster token; default: RAY_TOKEN, else this machine's session files.")
    var token: String?

    func run() throws {
        let session = SessionFiles()
        let environment = ProcessInfo.processInfo.environment
        guard let head = address ?? environment["RAY_ADDRESS"].flatMap({ $0.isEmpty || $0 == "auto" ? nil : $0 }) ?? session.headAddress else {
            throw ClusterError("no cluster found: no head node runs on this machine (start one with `ray start --head`) and neither --address nor RAY_ADDRESS is set")
        }
        guard let token = token ?? environment["RAY_TOKEN"].flatMap({ $0.isEmpty ? nil : $0 }) ?? session.token else {
            throw ClusterError("no cluster token for \(head): pass --token or set RAY_TOKEN")
        }
        print(try NodeProcess.status(headAddress: head, token: token).report)
    }
}
