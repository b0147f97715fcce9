import CLua
import Foundation
@_exported import LuaKit
import RayCluster
@_exported import RayCore
@_exported import RayLua

/// A Ray runtime embedded in a Swift program: worker threads with their own
/// Lua states, and a driver state for the program's own Lua code.
///
/// ```swift
/// let engine = try RayEngine(cpus: 2)
/// engine.register("greet") { args in ["hello, \(args.first ?? "you")"] }
/// let results = try engine.run("""
///     local swift = require("swift")
///     local f = ray.remote(function(x) return swift.greet(x) end)
///     return ray.get(f.remote("Lua"))
///     """)
/// // results == ["hello, \"Lua\""]
/// engine.shutdown()
/// ```
///
/// Confinement: the engine owns the driver's `lua_State`, so it is used
/// from one thread at a time (it is not Sendable; hand it to another thread
/// only when nothing else uses it). Swift functions it registers run on
/// whichever worker thread calls them, so they must be `@Sendable`.
public final class RayEngine {
    public let runtime: Runtime
    private let driver: RayLuaState

    /// Starts the runtime: `cpus` (default: the machine's cores) and custom
    /// `resources` (name -> amount), as `ray --num-cpus` and `ray start`.
    public init(cpus: Double? = nil, resources: [String: Double] = [:]) throws {
        var settings = RuntimeSettings()
        if let cpus { settings.numCPUs = cpus }
        settings.resources = resources
        DriverAttach.install()  // ray.init{address = ...} in the engine's Lua
        runtime = try Runtime(settings: settings)
        do {
            driver = try RayLuaState(driverOf: runtime)
        } catch {
            runtime.shutdown()
            throw error
        }
    }

    /// Joins a running cluster as its driver (as `ray run --address`): the
    /// engine runs no tasks itself; its tasks and actors are placed on the
    /// cluster's nodes. `address` is the head's "HOST:PORT", or "auto"
    /// (`RAY_ADDRESS`, else the head started on this machine); the token
    /// is `token`, else `RAY_TOKEN`, else this machine's session files.
    public init(clusterAddress address: String, token: String? = nil) throws {
        var settings = RuntimeSettings()
        settings.numCPUs = 1
        DriverAttach.install()
        runtime = try Runtime(settings: settings)
        do {
            try DriverAttach.attach(runtime, to: address, token: token)
            driver = try RayLuaState(driverOf: runtime)
        } catch {
            runtime.shutdown()
            throw error
        }
    }

    deinit { runtime.shutdown() }

    /// Makes `function` callable from Lua as `require("swift").<name>(...)`,
    /// on the driver and inside remote tasks and actors. A Swift error it
    /// throws is raised in Lua as an error naming the function.
    public func register(_ name: String, _ function: @escaping SwiftFunction) {
        runtime.register(name, function)
    }

    /// Runs a chunk of Lua on the driver; returns its results. A Lua error
    /// throws `LuaError` (message and traceback); a result that cannot
    /// become a LuaValue throws `LuaValueError`.
    @discardableResult
    public func run(_ chunk: String, name: String = "=(swift)", arguments: [LuaValue] = []) throws -> [LuaValue] {
        let state = driver.state
        try state.load(chunk, chunkName: name)
        return try call(arguments: arguments)
    }

    /// Runs a Lua script file on the driver (with `arguments` as `...`).
    @discardableResult
    public func run(file path: String, arguments: [LuaValue] = []) throws -> [LuaValue] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LuaError(message: "cannot open \(path)")
        }
        try driver.state.load(String(decoding: data, as: UTF8.self), chunkName: "@" + path)
        return try call(arguments: arguments)
    }

    /// Calls the function on top of the driver's stack with `arguments`.
    private func call(arguments: [LuaValue]) throws -> [LuaValue] {
        let state = driver.state
        let base = state.top - 1
        defer { state.top = base }
        for argument in arguments {
            try driver.push(argument)
        }
        try state.call(arguments: Int32(arguments.count))
        return try (base + 1 ..< state.top + 1).map { try driver.value(at: $0) }
    }

    /// Stores `value` as an object (as `ray.put`).
    public func put(_ value: LuaValue) throws -> ObjectReference {
        let results = try run("return ray.put(...)", name: "=(swift put)", arguments: [value])
        guard case .objectRef(let reference) = results.first else { throw LuaError(message: "ray.put returned no ObjectRef") }
        return reference
    }

    /// The value of an object (as `ray.get`), waiting for it at most
    /// `timeout` seconds. A failed task's error throws `LuaError` with the
    /// remote message and traceback.
    public func get(_ reference: ObjectReference, timeout: Double? = nil) throws -> LuaValue {
        var options: LuaValue = .nil
        if let timeout { options = ["timeout": .number(timeout)] }
        let results = try run("""
            local ok, value = pcall(ray.get, ...)
            if ok then return true, value end
            if type(value) == "table" then return false, value.message, value.traceback, value.type end
            return false, tostring(value)
            """, name: "=(swift get)", arguments: [.objectRef(reference), options])
        if case .boolean(true)? = results.first { return results.count > 1 ? results[1] : .nil }
        var message = "ray.get failed"
        if results.count > 1, case .string(let text) = results[1] { message = text }
        if results.count > 3, case .string(let type) = results[3] { message = "\(type): \(message)" }
        var traceback: String?
        if results.count > 2, case .string(let text) = results[2] { traceback = text }
        throw LuaError(message: message, traceback: traceback)
    }

    /// Stops the workers and waits for their threads (a running task is
    /// interrupted). Idempotent; a new engine can start afterwards.
    public func shutdown() {
        runtime.shutdown()
    }
}
