import Foundation
import SwiftRay
import Synchronization
import Testing

@Suite("Embedding: RayEngine from Swift")
struct RayEngineTests {
    @Test func chunksReturnSwiftValues() throws {
        let engine = try RayEngine(cpus: 2)
        defer { engine.shutdown() }
        let results = try engine.run("""
            local square = ray.remote(function(x) return x * x end)
            return ray.get(square.remote(...)), "two", { 1, 2, name = "t" }, 1.5, nil, true
            """, arguments: [7])
        #expect(results.count == 6)
        #expect(results[0] == 49)
        #expect(results[1] == "two")
        #expect(results[2]["name"] == "t")
        #expect(results[2] == [1: 1, 2: 2, "name": "t"])
        #expect(results[3] == 1.5)
        #expect(results[4] == .nil)
        #expect(results[5] == true)
    }

    @Test func swiftFunctionsRunOnTheDriverAndInsideTasks() throws {
        let engine = try RayEngine(cpus: 2)
        defer { engine.shutdown() }
        let calls = Atomic(0)
        engine.register("add") { args in
            calls.add(1, ordering: .relaxed)
            guard case .integer(let a) = args[0], case .integer(let b) = args[1] else { throw Failure("add wants two integers") }
            return [.integer(a + b), .string(Thread.isMainThread ? "main" : "worker")]
        }
        let results = try engine.run("""
            local swift = require("swift")
            local direct = swift.add(1, 2)
            local task = ray.remote(function(n) return swift.add(n, 100) end)
            local refs = {}
            for i = 1, 20 do refs[i] = task.remote(i) end
            local sum = 0
            for _, v in ipairs(ray.get(refs)) do sum = sum + v end
            local Actor = ray.remote({ where = function() return select(2, swift.add(0, 0)) end })
            return direct, sum, ray.get(Actor.remote().where.remote())
            """)
        #expect(results == [3, .integer((1...20).reduce(0, +) + 2000), "worker"])
        #expect(calls.load(ordering: .relaxed) == 22)
    }

    @Test func errorsArriveAsSwiftErrors() throws {
        let engine = try RayEngine(cpus: 1)
        defer { engine.shutdown() }
        engine.register("fails") { _ in throw Failure("disk on fire") }
        // A script error: its message and traceback.
        let scriptError = #expect(throws: LuaError.self) { try engine.run("local x = 1\nerror('boom')", name: "@job.lua") }
        #expect(scriptError?.message == "job.lua:2: boom")
        #expect(scriptError?.traceback?.contains("stack traceback") == true)
        // A Swift function that throws, called inside a task.
        let swiftError = #expect(throws: LuaError.self) {
            try engine.run("return ray.get(ray.remote(function() return require('swift').fails() end).remote())")
        }
        #expect(swiftError?.message.contains("swift.fails: disk on fire") == true, "\(String(describing: swiftError))")
        // A function not registered.
        #expect(throws: LuaError.self) { try engine.run("return require('swift').nothing()") }
        // A value that cannot cross into Swift, and one a Swift function cannot receive.
        #expect(throws: LuaValueError.self) { try engine.run("return function() end") }
        engine.register("echo") { $0 }
        let crossing = #expect(throws: LuaError.self) { try engine.run("return require('swift').echo(coroutine.create(print))") }
        #expect(crossing?.message.contains("argument 1 is a thread") == true, "\(String(describing: crossing))")
        // A syntax error.
        #expect(throws: LuaError.self) { try engine.run("x = = 1") }
    }

    @Test func objectsPutAndGetFromSwift() throws {
        let engine = try RayEngine(cpus: 2)
        defer { engine.shutdown() }
        let reference = try engine.put(["answer": 42, "list": [1, 2, 3]])
        #expect(try engine.get(reference)["answer"] == 42)
        // A ref made in Lua, fetched from Swift; a failed task's error.
        let refs = try engine.run("""
            return ray.remote(function(x) return x * 2 end).remote(...),
                   ray.remote(function() error("task failed") end).remote()
            """, arguments: [.objectRef(reference)])
        guard case .objectRef(let doubled) = refs[0], case .objectRef(let failed) = refs[1] else {
            Issue.record("expected two ObjectRefs, got \(refs)")
            return
        }
        #expect(throws: LuaError.self) { try engine.get(doubled) }  // a table times 2: an error inside the task
        let error = #expect(throws: LuaError.self) { try engine.get(failed) }
        #expect(error?.message.hasPrefix("RayTaskError: ") == true, "\(String(describing: error))")
        #expect(error?.message.contains("task failed") == true)
        #expect(error?.traceback != nil)
        let slow = try engine.run("return ray.remote(function() ray.sleep(30) end).remote()")
        guard case .objectRef(let pending) = slow.first else { return }
        let timeout = #expect(throws: LuaError.self) { try engine.get(pending, timeout: 0.05) }
        #expect(timeout?.message.hasPrefix("GetTimeoutError") == true)
    }

    @Test func scriptFilesRunWithArguments() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("engine-\(UUID().uuidString).lua")
        try "local a, b = ...\nreturn a .. b".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let engine = try RayEngine(cpus: 1)
        defer { engine.shutdown() }
        #expect(try engine.run(file: file.path, arguments: ["x", "y"]) == ["xy"])
        #expect(throws: LuaError.self) { try engine.run(file: "/nonexistent.lua") }
    }

    @Test func shutdownLeavesNoThreadAndANewEngineStarts() throws {
        for _ in 0..<3 {
            let engine = try RayEngine(cpus: 2)
            #expect(try engine.run("return ray.get(ray.put(5))") == [5])
            engine.shutdown()
            #expect(engine.runtime.workerCount == 0, "every worker thread ended")
        }
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension RayEngineTests {
    /// An embedding watches its tasks through the public event stream.
    @Test func anEmbeddingSeesItsTasksEvents() throws {
        let engine = try RayEngine(cpus: 1)
        defer { engine.shutdown() }
        let phases = Mutex<[TaskPhase]>([])
        let finished = DispatchSemaphore(value: 0)
        let token = engine.runtime.events.subscribe { event in
            guard case .task(_, "square", let phase, _, _, _) = event.subject else { return }
            phases.withLock { $0.append(phase) }
            if phase == .finished { finished.signal() }
        }
        let results = try engine.run("""
            local square = ray.remote({ name = "square" }, function(x) return x * x end)
            return ray.get(square.remote(7))
            """)
        #expect(results == [.integer(49)])
        #expect(finished.wait(timeout: .now() + 30) == .success, "no finished event within 30 s")
        #expect(phases.withLock { $0 } == [.submitted, .queued, .running, .finished])
        engine.runtime.events.unsubscribe(token)
    }
}
