import Synchronization

/// The runtime's sense of time, injected so that time-dependent behaviour
/// can be tested with a clock the test moves by hand.
public protocol RuntimeClock: Sendable {
    /// Seconds since some fixed start, never decreasing.
    var now: Double { get }
}

/// Real time: the monotonic clock, from when this clock was made.
public struct MonotonicClock: RuntimeClock {
    private let start = ContinuousClock.now

    public init() {}

    public var now: Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}

/// A clock that moves only when told to, for deterministic tests.
public final class ManualClock: RuntimeClock {
    private let seconds = Mutex<Double>(0)

    public init(at start: Double = 0) { seconds.withLock { $0 = start } }

    public var now: Double { seconds.withLock { $0 } }

    public func advance(by delta: Double) {
        seconds.withLock { $0 += max(0, delta) }
    }
}
