import CLua
import LuaKit
import Testing
@testable import RayCore
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

    @Test func optionsCopiesShareTheRegisteredFunction() throws {
        let driver = try Driver(cpus: 2)
        defer { driver.runtime.shutdown() }
        #expect(try driver.run("""
            local f = ray.remote(function(x) return x end)
            local refs = {}
            for i = 1, 100 do refs[i] = f.options({ num_cpus = 1 + i % 2 }).remote(i) end
            refs[101] = f.remote(101)
            local sum = 0
            for _, v in ipairs(ray.get(refs)) do sum = sum + v end
            return sum
            """) == 5151)
        #expect(driver.runtime.registeredFunctions == 1, "options copies register no function of their own")
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
    let util = try String(contentsOf: root.appendingPathComponent("stdlib/ray/util.lua"), encoding: .utf8)
    #expect(StdlibSources.rayUtil + "\n" == util, "run scripts/embed-stdlib.sh")
    let repl = try String(contentsOf: root.appendingPathComponent("stdlib/ray/repl.lua"), encoding: .utf8)
    #expect(StdlibSources.rayRepl + "\n" == repl, "run scripts/embed-stdlib.sh")
    let bench = try String(contentsOf: root.appendingPathComponent("stdlib/ray/microbenchmark.lua"), encoding: .utf8)
    #expect(StdlibSources.rayMicrobenchmark + "\n" == bench, "run scripts/embed-stdlib.sh")
}

import Foundation

/// Waits until `condition` holds, polling, for at most `seconds`.
func eventually(_ seconds: Double = 30, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        if Date() > deadline { return false }
        Thread.sleep(forTimeInterval: 0.002)
    }
    return true
}

@Suite("Worker threads come and go")
struct WorkerLifeTests {
    @Test func eachActorHasItsOwnWorkerUntilItIsKilled() throws {
        let driver = try Driver(cpus: 2)
        defer { driver.runtime.shutdown() }
        #expect(driver.runtime.workerCount == 2)
        try driver.run("""
            local A = ray.remote({ id = function() return ray.get_runtime_context().worker_id end })
            actors, seen = {}, {}
            for i = 1, 4 do actors[i] = A.remote() end
            for i = 1, 4 do seen[ray.get(actors[i].id.remote())] = true end
            local n = 0 for _ in pairs(seen) do n = n + 1 end
            assert(n == 4, "each actor runs on a worker of its own")
            """)
        #expect(driver.runtime.workerCount == 6)
        try driver.run("for i = 1, 4 do ray.kill(actors[i]) end")
        #expect(eventually { driver.runtime.workerCount == 2 }, "\(driver.runtime.workerCount) workers left after the kills")
    }

    @Test func aBlockedTaskGetsAStandInThatLeavesAfterwards() throws {
        // One CPU, and the task's ray.get runs inside its own coroutine,
        // where it cannot yield: the worker blocks, an extra worker runs the
        // child, then leaves.
        let driver = try Driver(cpus: 1)
        defer { driver.runtime.shutdown() }
        #expect(try driver.run("""
            local child = ray.remote(function(x) return x + 1 end)
            local parent = ray.remote(function()
              return coroutine.wrap(function() return ray.get(child.remote(41)) end)()
            end)
            return ray.get(parent.remote(), { timeout = 60 })
            """) == 42)
        #expect(eventually { driver.runtime.workerCount == 1 }, "\(driver.runtime.workerCount) workers left")
    }
}
