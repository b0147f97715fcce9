import CLua
import Foundation
import Testing
@testable import LuaKit

@Suite("LuaState: ownership, protected calls, stack helpers")
struct LuaStateTests {
    @Test func runReturnsResults() throws {
        let state = LuaState()
        let n = try state.run("return 1, 'two', 3.5, nil")
        #expect(n == 4)
        #expect(state.toInteger(at: 1) == 1)
        #expect(state.toString(at: 2) == "two")
        #expect(state.toNumber(at: 3) == 3.5)
        #expect(state.type(at: 4) == .nil)
        state.pop(4)
        #expect(state.top == 0)
    }

    @Test func runtimeErrorsCarryMessageAndTraceback() {
        let state = LuaState()
        do {
            try state.run("local function inner() error('boom') end\ninner()", chunkName: "@job.lua")
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "job.lua:1: boom")
            #expect(error.traceback?.contains("in local 'inner'") == true)
            #expect(error.traceback?.contains("job.lua:2") == true)
        }
        #expect(state.top == 0, "a failed call leaves nothing behind")
    }

    @Test func syntaxErrorsAreReported() {
        let state = LuaState()
        #expect(throws: LuaError.self) { try state.run("x = = 1", chunkName: "@bad.lua") }
        do { try state.run("x = = 1", chunkName: "@bad.lua") } catch {
            #expect(error.message.hasPrefix("bad.lua:1:"))
            #expect(error.traceback == nil)
        }
        #expect(state.top == 0)
    }

    @Test func nonStringErrorValuesAreDescribed() {
        let state = LuaState()
        do { try state.run("error(setmetatable({}, { __tostring = function() return 'custom' end }))") } catch {
            #expect(error.message == "custom")
        }
        do { try state.run("error({})") } catch {
            #expect(error.message == "{}")
        }
        do { try state.run("error({ code = 42, 'x', nested = {} })") } catch {
            #expect(error.message == #"{"x", code = 42, nested = {...}}"#)
        }
        do { try state.run("error(setmetatable({}, { __name = 'Point' }))") } catch {
            #expect(error.message.hasPrefix("Point: "))
        }
        do { try state.run("error(setmetatable({}, { __tostring = function() error('nested') end }))") } catch {
            #expect(error.message == "(table value)")
        }
        #expect(state.top == 0)
    }

    @Test func stackHelpersAreBalanced() {
        let state = LuaState()
        try! state.run("return 'x', 42, {}")
        let top = state.top
        _ = state.describe(at: 3)
        _ = state.toBytes(at: 1)
        _ = state.toString(at: 2)   // a number: not converted in place
        #expect(state.type(at: 2) == .number)
        _ = state.toInteger(at: 2)
        _ = state.type(at: 3)
        #expect(state.top == top)
        state.push(bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        state.push("é")
        #expect(state.toString(at: -1) == "é")
        #expect(state.toBytes(at: -2) == [])
        #expect(state.top == top + 2)
    }

    @Test func ownershipIsCheckedAndHandedOff() throws {
        let state = LuaState()
        #expect(state.isOwnedByCurrentThread)
        let handoff = state.handOff()
        #expect(!state.isOwnedByCurrentThread)
        let result = Mutex<Int64?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let mine = handoff.claim()
            let n = try! mine.run("return 6 * 7")
            result.withLock { $0 = mine.toInteger(at: -n) }
            mine.pop(n)
            done.signal()
        }
        thread.start()
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(result.withLock { $0 } == 42)
        #expect(!state.isOwnedByCurrentThread, "the main thread gave it away")
    }
}

import Synchronization
