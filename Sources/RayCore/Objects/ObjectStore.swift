import Dispatch

/// An object as the store keeps it: one encoded value (a codec message),
/// whether that value is an error raised by the task that made it, and the
/// objects it refers to, which stay alive as long as it does.
package struct StoredObject: Sendable {
    package var bytes: ObjectBytes
    package var isError: Bool
    package var contained: [ObjectID]

    package init(bytes: ObjectBytes, isError: Bool = false, contained: [ObjectID] = []) {
        self.bytes = bytes
        self.isError = isError
        self.contained = contained
    }

    package init(bytes: [UInt8], isError: Bool = false, contained: [ObjectID] = []) {
        self.init(bytes: ObjectBytes(bytes), isError: isError, contained: contained)
    }
}

/// The objects of one node: values put by the driver or returned by tasks,
/// with reference counts and readiness notifications.
///
/// Lifetime: an object lives while its count is above zero. References are
/// held by ObjectRefs in Lua (dropped by `__gc`), by pending tasks (their
/// arguments), and by other stored objects that contain them. An object
/// expected from a task whose count drops to zero before the task finishes
/// is dropped as soon as it arrives. Freeing an object releases what it
/// contains, transitively.
///
/// Thread-safe; callbacks run outside the lock, on the thread that made the
/// object ready (or the caller's, when it already was).
package final class ObjectStore: Sendable {
    package typealias Callback = @Sendable (StoredObject) -> Void

    private struct Entry {
        var object: StoredObject?
        var references: Int
        var waiters: [Callback] = []
    }

    private let entries = Locked<[ObjectID: Entry]>([:])
    /// Where objects' changes of phase go (expected, ready, freed), if anywhere.
    private let events: EventSink?

    package init(events: EventSink? = nil) {
        self.events = events
    }

    @inline(__always)
    private func emit(_ id: ObjectID, _ phase: ObjectPhase) {
        if let events, events.isListening { events.emit(.object(id: id, phase: phase)) }
    }

    /// Announces an object a task will produce, with `references` references
    /// (the ObjectRef handed to the submitter).
    package func expect(_ id: ObjectID, references: Int = 1) {
        entries.withLock { $0[id] = Entry(object: nil, references: references) }
        emit(id, .expected)
    }

    /// Makes `ids` known as expected objects with no references, unless
    /// known already; returns the ones that were not. (Another process's
    /// objects: a copy is fetched into this store while something here
    /// refers to them.)
    package func expectUnknown(_ ids: [ObjectID]) -> [ObjectID] {
        let added = entries.withLock { entries in
            ids.filter { id in
                guard entries[id] == nil else { return false }
                entries[id] = Entry(object: nil, references: 0)
                return true
            }
        }
        for id in added { emit(id, .expected) }
        return added
    }

    /// Stores a new object with one reference and returns its id.
    package func put(_ object: StoredObject) -> ObjectID {
        let id = ObjectID.next()
        entries.withLock { $0[id] = Entry(object: object, references: 1) }
        emit(id, .ready)
        return id
    }

    /// Makes an expected object ready and runs its waiters. An object nobody
    /// references any more is dropped (its contained references released).
    package func fulfill(_ id: ObjectID, with object: StoredObject) {
        let waiters: [Callback]? = entries.withLock { entries in
            guard var entry = entries[id], entry.object == nil else { return nil }
            entry.object = object
            let waiters = entry.waiters
            entry.waiters = []
            entries[id] = entry
            return waiters
        }
        guard let waiters else {
            release(object.contained)
            return
        }
        emit(id, .ready)
        for waiter in waiters { waiter(object) }
    }

    package func addReference(_ id: ObjectID) {
        entries.withLock { entries in
            if let index = entries.index(forKey: id) { entries.values[index].references += 1 }
        }
    }

    /// Drops one reference; the object is freed when none remain.
    package func removeReference(_ id: ObjectID) {
        release([id])
    }

    private func release(_ ids: [ObjectID]) {
        var pending = ids
        let observed = events?.isListening == true
        while !pending.isEmpty {
            var gone: [ObjectID] = []
            let freed: [ObjectID] = entries.withLock { entries in
                var freed: [ObjectID] = []
                for id in pending {
                    guard let index = entries.index(forKey: id) else { continue }
                    entries.values[index].references -= 1
                    if entries.values[index].references == 0 {
                        if observed { gone.append(id) }
                        if let object = entries.remove(at: index).value.object { freed += object.contained }
                    }
                }
                return freed
            }
            for id in gone { emit(id, .freed) }
            pending = freed
        }
    }

    /// The object if it is ready.
    package func object(_ id: ObjectID) -> StoredObject? {
        entries.withLock { $0[id]?.object }
    }

    /// The objects of `ids` that are ready (nil for the others), under one lock.
    package func objects(_ ids: [ObjectID]) -> [StoredObject?] {
        entries.withLock { entries in ids.map { entries[$0]?.object } }
    }

    /// The positions in `ids` of the first `limit` ready objects, in order,
    /// under one lock; the scan stops once it has them.
    package func readyPositions(_ ids: [ObjectID], limit: Int) -> [Int] {
        entries.withLock { entries in
            var ready: [Int] = []
            for (position, id) in ids.enumerated() {
                if ready.count == limit { break }
                if entries[id]?.object != nil { ready.append(position) }
            }
            return ready
        }
    }

    /// Whether the store knows the id (ready or expected).
    package func contains(_ id: ObjectID) -> Bool {
        entries.withLock { $0[id] != nil }
    }

    /// Calls `callback` once the object is ready: now, on this thread, if it
    /// already is. Returns false, without calling, for an unknown id.
    @discardableResult
    package func whenReady(_ id: ObjectID, _ callback: @escaping Callback) -> Bool {
        enum Outcome { case unknown, ready(StoredObject), registered }
        let outcome: Outcome = entries.withLock { entries in
            guard let index = entries.index(forKey: id) else { return .unknown }
            if let object = entries.values[index].object { return .ready(object) }
            // In place: appending to a copy of the entry copied its waiter list.
            entries.values[index].waiters.append(callback)
            return .registered
        }
        switch outcome {
        case .unknown: return false
        case .ready(let object): callback(object); return true
        case .registered: return true
        }
    }

    /// Blocks the calling thread until the object is ready or `timeout`
    /// seconds pass (nil: no limit). Returns nil on timeout or unknown id.
    package func wait(_ id: ObjectID, timeout: Double? = nil) -> StoredObject? {
        if let ready = object(id) { return ready }
        let box = Locked<StoredObject?>(nil)
        let signal = DispatchSemaphore(value: 0)
        guard whenReady(id, { object in
            box.withLock { $0 = object }
            signal.signal()
        }) else { return nil }
        if let timeout {
            guard signal.wait(timeout: .now() + timeout) == .success else { return nil }
        } else {
            signal.wait()
        }
        return box.withLock { $0 }
    }

    /// The number of objects alive (ready or expected).
    package var count: Int { entries.withLock { $0.count } }
}
