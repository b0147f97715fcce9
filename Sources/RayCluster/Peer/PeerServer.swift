import NIOCore
import NIOPosix
import RayCore

/// The port a node listens on for other processes of the cluster (its
/// address in `ray.nodes()`): drivers and nodes place work and fetch
/// objects through it. `member` is asked for at each connection; a
/// connection that comes before the node is ready is closed.
enum PeerServer {
    /// `unauthenticated`: this port's connections that have not shown the
    /// token yet, and their limits (docs/cluster.md).
    static func bind(host: String, port: Int, group: EventLoopGroup,
                     unauthenticated: UnauthenticatedConnections = UnauthenticatedConnections(),
                     member: @escaping @Sendable () -> ClusterMember?) throws -> Channel {
        try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard let member = member() else { return channel.close() }
                return channel.setUpAccepted(unauthenticated, log: member.log) { admission in
                    try channel.pipeline.syncOperations.addPeerFraming(admission: admission)
                    try channel.pipeline.syncOperations.addHandler(PeerHandler(member: member, admission: admission))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: PeerServer.waterMark)
            .bind(host: host, port: port).wait()
    }

    /// Large objects go out while less than this is buffered (`ObjectTransfer`).
    static let waterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 1 << 20, high: 4 << 20)

    /// "host:port" of a bound channel, the host bracketed when it is IPv6.
    static func address(of channel: Channel, host: String) -> String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return "\(shown):\(channel.localAddress?.port ?? 0)"
    }
}
