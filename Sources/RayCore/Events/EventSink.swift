import Synchronization

/// Where a runtime's events go: the listeners subscribed now. Emitting
/// with no listener costs one atomic load at the emitting site (callers
/// check `isListening` before they build an event), so the runtime pays
/// nothing measurable when no one observes it.
public final class EventSink: Sendable {
    public typealias Listener = @Sendable (RuntimeEvent) -> Void

    private let listeners = Locked<[UInt64: Listener]>([:])
    private let listening = Atomic<Bool>(false)
    private let nextToken = Atomic<UInt64>(0)
    /// Stamps each event's `time`.
    public let clock: any RuntimeClock
    /// The node the events happen on (hex).
    public let node: String

    public init(node: String, clock: any RuntimeClock = MonotonicClock()) {
        self.node = node
        self.clock = clock
    }

    /// Whether anyone listens: build an event only then.
    @inline(__always)
    public var isListening: Bool { listening.load(ordering: .relaxed) }

    /// Calls `listener` with every event from now on, on the thread that
    /// caused it (keep it short, and do not call into the runtime from it).
    /// Returns a token for `unsubscribe`.
    @discardableResult
    public func subscribe(_ listener: @escaping Listener) -> UInt64 {
        let token = nextToken.add(1, ordering: .relaxed).newValue
        listeners.withLock { table in
            table[token] = listener
            listening.store(true, ordering: .relaxed)
        }
        return token
    }

    public func unsubscribe(_ token: UInt64) {
        listeners.withLock { table in
            table[token] = nil
            listening.store(!table.isEmpty, ordering: .relaxed)
        }
    }

    /// Sends one event to every listener, stamped with the clock's time.
    public func emit(_ subject: RuntimeEvent.Subject) {
        let current = listeners.withLock { Array($0.values) }
        guard !current.isEmpty else { return }
        let event = RuntimeEvent(time: clock.now, node: node, subject: subject)
        for listener in current { listener(event) }
    }
}
