import NIOCore
import NIOSSL

extension Channel {
    /// The start of every accepted cluster connection's pipeline: its place
    /// among the server's unauthenticated connections (none left: the
    /// connection is closed at once), TLS first when this process uses it,
    /// then what `rest` adds (framing and the connection's handler), given
    /// the `Admission` that handler sets once the peer shows the token.
    func setUpAccepted(_ connections: UnauthenticatedConnections, log: @escaping @Sendable (String) -> Void,
                       rest: (Admission) throws -> Void) -> EventLoopFuture<Void> {
        let admitted = eventLoop.makeCompletedFuture { () throws -> Bool in
            let admission = Admission()
            let pipeline = self.pipeline.syncOperations
            guard try pipeline.addHandshakeGuard(connections, admission: admission, peer: peerDescription, log: log) else {
                return false
            }
            if let tls = try ClusterTLS.configured() {
                try pipeline.addHandler(NIOSSLServerHandler(context: tls.server), position: .first)
            }
            try rest(admission)
            return true
        }
        return admitted.flatMap { admitted in admitted ? self.eventLoop.makeSucceededVoidFuture() : self.close() }
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// TLS at the front of a connection this process dials, when it uses TLS.
    /// No server name is sent or checked: nodes are addressed by IP (`ClusterTLS`).
    func addClientTLS() throws {
        guard let tls = try ClusterTLS.configured() else { return }
        try addHandler(try NIOSSLClientHandler(context: tls.client, serverHostname: nil), position: .first)
    }
}

extension Channel {
    /// "ip:port" of the other end, for logs.
    var peerDescription: String {
        guard let address = remoteAddress else { return "?" }
        return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
    }
}
