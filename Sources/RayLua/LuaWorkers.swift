import CLuaShims
import RayCore

/// The Lua binding's executors: starts a `Worker` (a thread with its own
/// Lua state) for each scheduler slot the runtime asks for, and keeps what
/// every worker of the runtime shares that only Lua code uses (the Swift
/// functions `require("swift")` offers).
final class LuaWorkers: ExecutorFactory {
    /// Swift functions Lua code may call (`require("swift").name(...)`), by name.
    let swiftFunctions = Locked<[String: SwiftFunction]>([:])

    func startExecutor(index: Int, role: WorkerRole, runtime: Runtime) throws -> any TaskExecutor {
        try Worker.start(index: index, role: role, runtime: runtime)
    }

    /// Through C's stdout buffer, which Lua's `print` writes to.
    func writeOutput(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { clua_stdout_write($0.baseAddress, $0.count) }
        }
    }
}

extension Runtime {
    /// A runtime whose workers run Lua: starts the worker threads and
    /// returns once each has loaded the `ray` module.
    public convenience init(settings: RuntimeSettings = RuntimeSettings()) throws {
        try self.init(settings: settings, executors: LuaWorkers())
    }

    private var luaWorkers: LuaWorkers {
        guard let workers = executors as? LuaWorkers else {
            preconditionFailure("a runtime without Lua workers has no Lua functions")
        }
        return workers
    }

    /// Makes `function` callable from Lua as `require("swift").<name>(...)`,
    /// in the driver and in every task and actor.
    public func register(_ name: String, _ function: @escaping SwiftFunction) {
        luaWorkers.swiftFunctions.withLock { $0[name] = function }
    }

    func swiftFunction(_ name: String) -> SwiftFunction? {
        luaWorkers.swiftFunctions.withLock { $0[name] }
    }
}
