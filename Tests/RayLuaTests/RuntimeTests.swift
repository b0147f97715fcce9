import CLua
import LuaKit
import Testing
@testable import RayLua

/// A runtime with a driver state, shut down by `close()`.
final class Driver {
    let runtime: Runtime
    let ray: RayLuaState

    init(cpus: Double) throws {
        var settings = RuntimeSettings()
        settings.numCPUs = cpus
        runtime = try Runtime(settings: settings)
        ray = try RayLuaState(driverOf: runtime)
    }

    /// Runs a chunk on the driver; returns its first result as an integer, if any.
    @discardableResult
    func run(_ code: String) throws -> Int64? {
        let state = ray.state
        let base = state.top
        try state.run(code, chunkName: "@driver.lua")
        defer { state.top = base }
        return state.top > base ? state.toInteger(at: base + 1) : nil
    }
}

@Suite("Thread runtime")
struct RuntimeTests {
    static let fib = """
        local fib
        fib = ray.remote(function(n)
          if n < 2 then return n end
          return ray.get(fib.remote(n - 1)) + ray.get(fib.remote(n - 2))
        end)
        return ray.get(fib.remote(12))
        """

    @Test(arguments: [1.0, 2.0]) func aRecursiveRemoteFunctionIsRegisteredOnce(cpus: Double) throws {
        // Each copy of the RemoteFunction that travels inside the function
        // must name the same function; a copy without its handle registered
        // a new function per worker hop (and decoded it again), without bound.
        let driver = try Driver(cpus: cpus)
        defer { driver.runtime.shutdown() }
        #expect(try driver.run(Self.fib) == 144)
        #expect(driver.runtime.registeredFunctions == 1)
    }

    @Test func objectsAreFreedWhenNoReferenceRemains() throws {
        let driver = try Driver(cpus: 2)
        defer { driver.runtime.shutdown() }
        try driver.run("""
            local f = ray.remote(function(x) return { x, ray.put(x) } end)
            local refs = {}
            for i = 1, 200 do refs[i] = f.remote(i) end
            local values = ray.get(refs)
            assert(ray.get(values[200][2]) == 200)
            """)
        #expect(driver.runtime.liveObjects >= 400, "200 results and the 200 objects they contain")
        try driver.run("collectgarbage(); collectgarbage()")
        driver.runtime.collectGarbageOnWorkers()
        // Results, and the objects inside them, are gone once no ObjectRef
        // to them remains anywhere (the driver's and the workers').
        #expect(driver.runtime.liveObjects == 0, "\(driver.runtime.liveObjects) objects alive")
    }

    @Test func shutdownEndsTheWorkerThreadsAndANewRuntimeStarts() throws {
        for _ in 0..<3 {
            let driver = try Driver(cpus: 2)
            #expect(try driver.run("return ray.get(ray.remote(function() return 7 end).remote())") == 7)
            driver.runtime.shutdown()
            driver.runtime.shutdown()  // idempotent
        }
    }
}

@Test func embeddedStdlibMatchesTheSourceTree() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let source = try String(contentsOf: root.appendingPathComponent("stdlib/ray/init.lua"), encoding: .utf8)
    #expect(StdlibSources.rayInit + "\n" == source, "run scripts/embed-stdlib.sh")
}

import Foundation
