#if canImport(Glibc)
import Glibc
#endif

/// Shared state behind a lock: the value is reachable only inside `withLock`.
///
/// A pthread mutex rather than Synchronization's `Mutex`: on Linux the
/// latter locks with raw futex calls that ThreadSanitizer cannot see, so
/// every access it protects was reported as a race; pthread locks are
/// intercepted, which keeps the sanitizer's reports meaningful.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
