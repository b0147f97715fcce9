import Dispatch
import RayCore

/// The connections of one listening server that have not shown the cluster
/// token yet: how many are open and how many bytes they sent, which is
/// what the server may be holding for them (their partial first frames).
/// At most `limits.maxUnauthenticated` are admitted at once.
public final class UnauthenticatedConnections: Sendable {
    let limits: ConnectionLimits
    private struct State {
        var open = 0
        var bytes = 0
        /// Refusals not logged yet, and when the last refusal line was written.
        var unlogged = 0
        var lastLogged: UInt64 = 0
    }
    private let state = Locked(State())

    public init(limits: ConnectionLimits = .standard) {
        self.limits = limits
    }

    /// Unauthenticated connections open now.
    public var open: Int { state.withLock { $0.open } }
    /// Bytes those connections sent (and the server may buffer) so far.
    public var bytes: Int { state.withLock { $0.bytes } }

    /// A place for one more connection, or nil when `maxUnauthenticated`
    /// are open. Refusals are logged at most once a second (a flood would
    /// otherwise fill the log), with how many there were.
    func admit(peer: String, log: (String) -> Void) -> Ticket? {
        let now = DispatchTime.now().uptimeNanoseconds
        let (admitted, toLog) = state.withLock { state -> (Bool, Int) in
            if state.open < limits.maxUnauthenticated {
                state.open += 1
                return (true, 0)
            }
            state.unlogged += 1
            guard now - state.lastLogged >= 1_000_000_000 else { return (false, 0) }
            defer {
                state.unlogged = 0
                state.lastLogged = now
            }
            return (false, state.unlogged)
        }
        if admitted { return Ticket(self) }
        if toLog > 0 {
            log("refused \(toLog == 1 ? "a connection from \(peer)" : "\(toLog) connections (the last from \(peer))"): "
                + "\(limits.maxUnauthenticated) connections without the cluster token are open already")
        }
        return nil
    }

    fileprivate func add(_ count: Int) {
        state.withLock { $0.bytes += count }
    }

    fileprivate func release(bytes: Int) {
        state.withLock {
            $0.open -= 1
            $0.bytes -= bytes
        }
    }

    /// One admitted connection's place and the bytes counted for it; given
    /// back once (when the peer is authenticated, or the connection ends,
    /// at the latest when the ticket goes away). Confined to the connection's event loop.
    final class Ticket {
        private let owner: UnauthenticatedConnections
        private(set) var bytes = 0
        private var held = true

        fileprivate init(_ owner: UnauthenticatedConnections) { self.owner = owner }

        func received(_ count: Int) {
            guard held else { return }
            bytes += count
            owner.add(count)
        }

        func release() {
            guard held else { return }
            held = false
            owner.release(bytes: bytes)
        }

        deinit { release() }
    }
}
