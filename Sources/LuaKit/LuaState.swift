import CLua
import CLuaShims
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The Swift owner of one `lua_State` (a main Lua thread and everything it allocates).
///
/// Confinement: a `lua_State` may be touched by one OS thread at a time. The
/// type says so twice:
/// - `LuaState` is not `Sendable`, so the compiler refuses to share it between
///   concurrency domains; the only way across is `handOff()`, whose result is
///   claimed once, by the receiving thread.
/// - Every entry point checks at run time that the calling thread is the owner
///   (`preconditionOwned()`); using a state from another thread stops the
///   process with a message instead of corrupting memory.
///
/// The state is closed when the owner is released.
public final class LuaState {
    /// The raw state. Only for code of this package that has already checked
    /// ownership (through `preconditionOwned()` or a checked entry point).
    package let pointer: OpaquePointer
    /// The owning thread's `pthread_t`, or 0 while in transit. Atomic so that
    /// a check from a wrong thread is a clean failure, not a data race.
    private let owner = Atomic<UInt>(0)

    /// Creates a state owned by the calling thread, with Lua's standard
    /// libraries opened unless `openStandardLibraries` is false.
    public init(openStandardLibraries: Bool = true) {
        guard let L = luaL_newstate() else {
            fatalError("luaL_newstate failed: out of memory")
        }
        // Large blocks (big strings) come from a cache of mappings that are
        // already faulted in; see CRaySupport's blocks.c.
        lua_setallocf(L, clua_alloc, nil)
        pointer = L
        owner.store(pthread_self(), ordering: .relaxed)
        if openStandardLibraries { luaL_openlibs(L) }
    }

    deinit {
        lua_close(pointer)
    }

    /// Whether the calling thread owns this state.
    public var isOwnedByCurrentThread: Bool {
        owner.load(ordering: .relaxed) == pthread_self()
    }

    /// Stops the process when the calling thread does not own the state.
    @inline(__always)
    public func preconditionOwned(_ function: StaticString = #function) {
        precondition(isOwnedByCurrentThread,
                     "LuaState used from a thread that does not own it (in \(function)); hand it off first")
    }

    /// Gives up ownership so that another thread can `claim()` the state.
    /// The caller must not use the state afterwards.
    public func handOff() -> LuaStateHandoff {
        preconditionOwned()
        owner.store(0, ordering: .releasing)
        return LuaStateHandoff(state: self)
    }

    fileprivate func claim() {
        let claimed = owner.compareExchange(expected: 0, desired: pthread_self(), ordering: .acquiring).exchanged
        precondition(claimed, "LuaState claimed while another thread owns it")
    }
}

/// A `LuaState` in transit between threads: the only `Sendable` form a state
/// takes. It can be claimed once, by the thread that will own the state next;
/// a second claim stops the process.
public final class LuaStateHandoff: @unchecked Sendable {
    // Guarded by `lock`; the state itself is touched by nobody while in transit.
    private var state: LuaState?
    private let lock = NSLock()

    fileprivate init(state: LuaState) { self.state = state }

    /// Makes the calling thread the owner and returns the state.
    public func claim() -> LuaState {
        lock.lock()
        let taken = state
        state = nil
        lock.unlock()
        guard let taken else { preconditionFailure("LuaStateHandoff claimed twice") }
        taken.claim()
        return taken
    }
}
