import Foundation
import NIOCore
import NIOPosix
import RayCore

/// Attaches a driver's runtime to a running cluster (`ray run --address`,
/// `ray.init{address = ...}`): from then on its tasks and actors run on
/// the cluster's nodes, and its objects are fetched from it by them.
public enum DriverAttach {
    /// Connects `runtime` to the head at `address` ("HOST:PORT", or "auto":
    /// `RAY_ADDRESS`, else the head started on this machine). The token is
    /// `token`, else `RAY_TOKEN`, else the one in this machine's session files.
    public static func attach(_ runtime: Runtime, to address: String, token: String? = nil,
                              session: SessionFiles = SessionFiles()) throws {
        let headAddress = try resolve(address, session: session)
        _ = try ClusterTLS.configured()  // a configuration error says so, before any connection
        let fromEnvironment = ProcessInfo.processInfo.environment["RAY_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        guard let token = token ?? fromEnvironment ?? session.token else {
            throw ClusterError("no cluster token: set RAY_TOKEN to the token `ray start --head` printed (on the head's machine it is found in \(session.tokenFile.path))")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let hello = Message.Hello(token: token, role: .driver, nodeID: runtime.nodeID.hex, incarnation: 0,
                                  address: "", resources: [:], owner: UniqueID.localPrefix)
        let head: HeadClient
        do {
            head = try HeadClient.connect(to: headAddress, hello: hello, group: group)
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        let member = ClusterMember(runtime: runtime, token: token, nodeID: head.welcome.headNodeID, isNode: false,
                                   head: head, group: group, ownsGroup: true, log: { message in
                                       FileHandle.standardError.write(Data("ray: \(message)\n".utf8))
                                   })
        try member.start(refreshEvery: 0.5)
        runtime.attach(member)
    }

    /// Lets `ray.init{address = ...}` attach through this module.
    public static func install() {
        Runtime.clusterConnector.withLock { $0 = { runtime, address in try attach(runtime, to: address) } }
    }

    static func resolve(_ address: String, session: SessionFiles) throws -> String {
        guard address == "auto" else {
            _ = try parseAddress(address)
            return address
        }
        if let fromEnvironment = ProcessInfo.processInfo.environment["RAY_ADDRESS"], !fromEnvironment.isEmpty {
            _ = try parseAddress(fromEnvironment)
            return fromEnvironment
        }
        guard let local = session.headAddress else {
            throw ClusterError("--address auto: RAY_ADDRESS is not set and no head runs on this machine (start one with `ray start --head`)")
        }
        return local
    }
}
