#if canImport(Glibc)
import Glibc
#endif

/// Shared state behind a lock: the value is reachable only inside `withLock`.
///
/// A pthread mutex rather than Synchronization's `Mutex`: on Linux the
/// latter locks with raw futex calls that ThreadSanitizer cannot see, so
/// every access it protects was reported as a race; pthread locks are
/// intercepted, which keeps the sanitizer's reports meaningful.
///
/// The mutex is adaptive: a thread that finds it taken spins a little
/// before sleeping. Critical sections here last nanoseconds, and sleeping
/// on a taken lock (a futex wait, then a wake-up) costs tens of
/// microseconds on this VM.
package final class Locked<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        initAdaptiveMutex(mutex)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    package func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

/// Initializes `mutex` as an adaptive (spin, then sleep) mutex.
package func initAdaptiveMutex(_ mutex: UnsafeMutablePointer<pthread_mutex_t>) {
    var attributes = pthread_mutexattr_t()
    pthread_mutexattr_init(&attributes)
    pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
    pthread_mutex_init(mutex, &attributes)
    pthread_mutexattr_destroy(&attributes)
}
