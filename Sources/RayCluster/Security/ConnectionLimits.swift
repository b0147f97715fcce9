import Foundation

/// What a listening server (the head's, or a node's peer port) allows a
/// connection that has not yet shown the cluster token (docs/cluster.md,
/// "Connections before the token").
public struct ConnectionLimits: Sendable, Equatable {
    /// Seconds a connection has, from its accept, to complete its hello
    /// (and its TLS handshake, with TLS); then it is closed.
    public var handshakeTimeout: Double
    /// Unauthenticated connections open at once; one more is closed at accept.
    public var maxUnauthenticated: Int

    public init(handshakeTimeout: Double = 10, maxUnauthenticated: Int = 64) {
        self.handshakeTimeout = handshakeTimeout
        self.maxUnauthenticated = maxUnauthenticated
    }

    /// 10 s and 64 connections.
    public static let standard = ConnectionLimits()

    /// "10" for 10 s, "0.3" for 0.3 s (in log lines).
    static func text(seconds: Double) -> String {
        seconds == seconds.rounded() && seconds < 1e9 ? String(Int(seconds)) : String(seconds)
    }

    /// The variable that shortens (or lengthens) the handshake timeout, in seconds.
    static let timeoutVariable = "RAY_HANDSHAKE_TIMEOUT"

    /// The standard limits, with `RAY_HANDSHAKE_TIMEOUT` seconds when set.
    /// Throws, naming the variable, when its value is not a positive number.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ConnectionLimits {
        var limits = ConnectionLimits.standard
        if let text = environment[timeoutVariable], !text.isEmpty {
            guard let seconds = Double(text), seconds > 0, seconds <= 3600 else {
                throw ClusterError("\(timeoutVariable) must be a number of seconds between 0 and 3600, got '\(text)'")
            }
            limits.handshakeTimeout = seconds
        }
        return limits
    }
}
