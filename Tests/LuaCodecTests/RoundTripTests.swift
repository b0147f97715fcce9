import CLua
import CLuaShims
import LuaKit
import Testing
@testable import LuaCodec

@Suite("Values round trip between states")
struct RoundTripTests {
    @Test func scalarsKeepTheirSubtype() throws {
        try roundTrip(
            send: "return nil, true, false, 0, -1, math.maxinteger, math.mininteger, 1.0, -0.0, 1/0, -1/0, 0/0, 0.1, 2^53",
            check: """
                local r = received
                assert(r.n == 14)
                assert(r[1] == nil and r[2] == true and r[3] == false)
                assert(math.type(r[4]) == "integer" and r[4] == 0)
                assert(r[5] == -1 and r[6] == math.maxinteger and r[7] == math.mininteger)
                assert(math.type(r[6]) == "integer" and math.type(r[7]) == "integer")
                assert(math.type(r[8]) == "float" and r[8] == 1.0)
                assert(math.type(r[9]) == "float" and 1 / r[9] == -1/0, "-0.0 keeps its sign")
                assert(r[10] == 1/0 and r[11] == -1/0)
                assert(r[12] ~= r[12], "NaN stays NaN")
                assert(r[13] == 0.1 and r[14] == 2^53 and math.type(r[14]) == "float")
                """)
    }

    @Test func arityWithNilsIsKept() throws {
        try roundTrip(send: "return nil, 2, nil", check: "assert(received.n == 3 and received[2] == 2)")
        try roundTrip(send: "return", check: "assert(received.n == 0)")
    }

    @Test func stringsAreBinarySafe() throws {
        try roundTrip(
            send: #"return "a\0b\255", "", string.rep("xyz", 100000)"#,
            check: #"""
                assert(received[1] == "a\0b\255" and #received[1] == 4)
                assert(received[2] == "")
                assert(received[3] == string.rep("xyz", 100000))
                """#)
    }

    @Test func tablesWithAnyKeysNested() throws {
        try roundTrip(
            send: """
                local k = {}
                return { 1, 2, 3, x = "y", [1.5] = "f", [true] = "t", [k] = "tablekey",
                         nested = { deep = { deeper = { 42 } } }, [-7] = "neg", [100] = "far" }
                """,
            check: """
                local t = received[1]
                assert(#t == 3 and t[1] == 1 and t[3] == 3)
                assert(t.x == "y" and t[1.5] == "f" and t[true] == "t")
                assert(t.nested.deep.deeper[1] == 42)
                assert(t[-7] == "neg" and t[100] == "far")
                local found
                for key, v in pairs(t) do if type(key) == "table" then found = v end end
                assert(found == "tablekey")
                """)
    }

    @Test func arraysWithHolesAndMixedParts() throws {
        try roundTrip(
            send: """
                local holes = {1, 2, nil, 4}
                local grown = {}
                for i = 10, 1, -1 do grown[i] = i * i end   -- filled backwards: keys live in the hash part
                local mixed = {1, 2, 3}
                mixed[5] = 5; mixed.n = 5
                return holes, grown, mixed
                """,
            check: """
                local h, g, m = received[1], received[2], received[3]
                assert(h[1] == 1 and h[2] == 2 and h[3] == nil and h[4] == 4)
                for i = 1, 10 do assert(g[i] == i * i, i) end
                local count = 0
                for _ in pairs(g) do count = count + 1 end
                assert(count == 10)
                assert(m[1] == 1 and m[3] == 3 and m[4] == nil and m[5] == 5 and m.n == 5)
                """)
    }

    @Test func sparseTablesStaySmall() throws {
        // #t of this table is 2^62 (Lua's border search doubles through the hash part).
        let sender = Node()
        let bytes = try sender.encode("local t = {} for k = 0, 62 do t[1 << k] = k end return t")
        #expect(bytes.count < 2_000, "\(bytes.count) bytes")
        let receiver = Node()
        try receiver.receive(bytes)
        try receiver.run("""
            local t, n = received[1], 0
            for k = 0, 62 do assert(t[1 << k] == k) end
            for _ in pairs(t) do n = n + 1 end
            assert(n == 63)
            """)
    }

    @Test func longArraysKeepSharedObjectsInsideThem() throws {
        // Element counts of 128 and more take two varint bytes, written after
        // the elements: the shared flags of objects inside must still land.
        try roundTrip(
            send: """
                local shared, inner = { v = 1 }, {}
                for i = 1, 200 do inner[i] = (i == 150) and shared or i end
                local outer = {}
                for i = 1, 20000 do outer[i] = (i == 10) and inner or ((i == 19999) and shared or i) end
                outer.again, outer.inner = shared, inner
                return outer
                """,
            check: """
                local t = received[1]
                assert(#t == 20000 and t[1] == 1 and t[20000] == 20000)
                assert(t[10] == t.inner and t.inner[150] == t.again and t[19999] == t.again)
                assert(#t.inner == 200 and t.inner[200] == 200)
                """)
    }

    @Test func sharedReferencesAndCyclesArePreserved() throws {
        try roundTrip(
            send: """
                local shared = { v = 1 }
                local cyc = {}
                cyc.self = cyc
                local a, b = {}, {}
                a.b = b; b.a = a
                return { shared, shared, cyc = cyc, a = a }, shared
                """,
            check: """
                local t, s = received[1], received[2]
                assert(t[1] == t[2], "shared inside one value")
                assert(t[1] == s, "shared across arguments of one message")
                assert(t.cyc.self == t.cyc)
                assert(t.a.b.a == t.a)
                s.v = 2
                assert(t[2].v == 2)
                """)
    }

    @Test func metatablesAreKept() throws {
        try roundTrip(
            setup: """
                Vec = {}
                Vec.__index = Vec
                Vec.__add = function(a, b) return setmetatable({ x = a.x + b.x }, Vec) end
                function Vec.len(self) return math.abs(self.x) end
                """,
            send: "local a = setmetatable({ x = 2 }, Vec); return a, setmetatable({ x = -4 }, Vec)",
            check: """
                local a, b = received[1], received[2]
                assert(getmetatable(a) == getmetatable(b), "one metatable for both")
                assert((a + b).x == -2)
                assert(b:len() == 4)
                """)
    }

    @Test func functionsCarryUpvaluesAndSharedCells() throws {
        try roundTrip(
            send: """
                local k = 10
                local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end
                local count = 0
                local function inc() count = count + 1; return count end
                local function get() return count end
                return function(x) return x + k end, fact, inc, get
                """,
            check: """
                local addk, fact, inc, get = received[1], received[2], received[3], received[4]
                assert(addk(1) == 11)
                assert(fact(10) == 3628800, "a recursive local function works")
                inc(); inc()
                assert(get() == 2, "two closures sent together still share their upvalue")
                """)
    }

    @Test func globalsTheFunctionReadsTravelTransitively() throws {
        try roundTrip(
            setup: """
                SCALE = 3
                OFFSET = { value = 1 }
                function helper(x) return x * SCALE + inner(x) end
                function inner(x) return OFFSET.value end
                function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
                function isEven(n) if n == 0 then return true end return isOdd(n - 1) end
                function isOdd(n) if n == 0 then return false end return isEven(n - 1) end
                """,
            send: """
                return function(x) return helper(x), fib(10), isEven(10), math.floor(2.5), string.format("%d", 7) end
                """,
            check: """
                local a, b, c, d, e = received[1](2)
                assert(a == 7, a)
                assert(b == 55 and c == true and d == 2 and e == "7")
                assert(rawget(_G, "helper") == nil, "shipped globals stay in the function's environment")
                """)
    }

    @Test func globalsAreSnapshotAtEncodeTime() throws {
        let sender = Node()
        let receiver = Node()
        try sender.run("LIMIT = 1; f = function() return LIMIT end", "@sender.lua")
        let first = try sender.encode("return f")
        try sender.run("LIMIT = 2")
        let second = try sender.encode("return f")
        try receiver.receive(first)
        try receiver.run("assert(received[1]() == 1)")
        try receiver.receive(second)
        try receiver.run("assert(received[1]() == 2)")
    }

    @Test func aFunctionIsDumpedOnceAndServedFromItsCache() throws {
        let node = Node()
        try node.run("K = 1; function f(x) return x + K end; function g() return f(1) end", "@sender.lua")
        let first = try node.encode("return g")
        #expect(node.codec.functionDumps == 2, "g and the global f it reads")
        let again = try node.encode("return g")
        #expect(again == first)
        #expect(node.codec.functionDumps == 2, "no new dump for a function sent again")
        try node.run("K = 5")
        _ = try node.encode("return g")
        #expect(node.codec.functionDumps == 2, "new global values, same cached code")
    }

    @Test func anUpvalueThatBecomesTheGlobalTableIsScannedAgain() throws {
        let sender = Node()
        try sender.run("""
            local G = {}
            function f() return G.x end
            function setG() G = _G end
            """, "@sender.lua")
        _ = try sender.encode("return f")
        try sender.run("setG(); x = 42")
        let bytes = try sender.encode("return f")
        let receiver = Node()
        try receiver.receive(bytes)
        try receiver.run("assert(received[1]() == 42)")
    }

    @Test func aSharedCellHoldingTheGlobalTableStaysShared() throws {
        try roundTrip(
            send: """
                local G = _G
                local function set() G = { marker = 1 } end
                local function get() return G end
                return set, get
                """,
            check: """
                local set, get = received[1], received[2]
                assert(get() ~= nil and get().marker == nil)
                set()
                assert(get().marker == 1, "set and get share the cell")
                """)
    }

    @Test func finalizersDoNotRunWhileATableIsWalked() throws {
        // Review finding: allocation while filling the function cache ran a GC
        // step whose finalizers rewrote the table being walked, and lua_next
        // raised outside protected mode.
        let node = Node()
        try node.run("""
            T = {}
            for i = 1, 300 do T[i] = function() return i end end
            collectgarbage("generational", 1, 100)
            for i = 1, 20 do
              setmetatable({}, { __gc = function()
                for k in pairs(T) do T[k] = nil end
                for j = 1, 1000 do T["k" .. j] = j end
              end })
            end
            """)
        _ = try node.encode("return T")
        try node.run("collectgarbage('incremental')")
    }

    @Test func environmentFallsBackToReceiverGlobalsAndKeepsWritesLocal() throws {
        try roundTrip(
            setup: "counter = 5",
            send: "return function() counter = counter + 1; LOCAL_ONLY = true; return counter, RECEIVER_VALUE, _G.counter end",
            check: """
                local a, b, c = received[1]()
                assert(a == 6 and b == "from receiver" and c == 6)
                assert(rawget(_G, "LOCAL_ONLY") == nil, "writes land in the function's environment")
                """,
            receiverSetup: "RECEIVER_VALUE = 'from receiver'")
    }

    @Test func standardLibraryValuesTravelByName() throws {
        try roundTrip(
            setup: "sin = math.sin",
            send: "local cos, fmt = math.cos, string.format; return function(x) return cos(x), sin(x), fmt('%s', 1), print end, math, io.stdout, string.len",
            check: """
                local f = received[1]
                local c, s, str, p = f(0)
                assert(c == 1 and s == 0 and str == "1" and p == print)
                assert(received[2] == math and received[3] == io.stdout and received[4] == string.len)
                """)
    }

    @Test func modulesTravelByNameAndAreRequiredOnTheReceiver() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("luacodec-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "local M = { loads = (LOADS or 0) + 1 }; LOADS = M.loads; function M.twice(x) return 2 * x end; return M"
            .write(to: directory.appendingPathComponent("twicemod.lua"), atomically: true, encoding: .utf8)
        let path = "package.path = '\(directory.path)/?.lua;' .. package.path"
        try roundTrip(
            setup: path + "; twicemod = require('twicemod')",
            send: "local m = require('twicemod'); return function(x) return m.twice(x) + twicemod.twice(1) end, m.twice, m",
            check: """
                assert(received[1](5) == 12)
                assert(received[2] == package.loaded.twicemod.twice)
                assert(received[3] == package.loaded.twicemod and LOADS == 1, "required once")
                """,
            receiverSetup: path)
    }

    @Test func functionsSharingOneUpvalueInATableOfClosures() throws {
        try roundTrip(
            send: """
                local function make(i) return function() return i end end
                local fs = {}
                for i = 1, 50 do fs[i] = make(i) end
                return fs
                """,
            check: "for i = 1, 50 do assert(received[1][i]() == i) end")
    }

    @Test func errorsInShippedFunctionsKeepLinesAndNames() throws {
        try roundTrip(
            send: "return function(t)\n  return t.missing.field\nend",
            check: """
                local ok, err = pcall(received[1], {})
                assert(not ok)
                assert(err:find("sender.lua:2:", 1, true), err)
                assert(err:find("field 'missing'", 1, true), err)
                """)
    }

    @Test func twoStatesOnTwoThreads() throws {
        let bytes = try runOnThread {
            let sender = Node()
            try sender.run("BASE = 100; function add(x) return x + BASE end", "@sender.lua")
            return try sender.encode("return add, { 1, 2, 3 }")
        }
        let result = try runOnThread {
            let receiver = Node()
            try receiver.receive(bytes)
            try receiver.run("return received[1](received[2][3])")
            return receiver.state.toInteger(at: -1)
        }
        #expect(result == 103)
    }
}

/// Runs `body` on a new thread with a 32 MB stack (debug builds use ~8 KB per
/// codec nesting level) and waits for its result.
func runOnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
    let box = ResultBox<T>()
    let thread = Thread {
        box.set(Result { try body() })
    }
    thread.stackSize = 32 << 20
    thread.start()
    return try box.wait().get()
}

import Foundation

/// A one-shot result handed from a thread to its waiter.
final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<T, any Error>?

    func set(_ value: Result<T, any Error>) {
        condition.lock()
        result = value
        condition.signal()
        condition.unlock()
    }

    func wait() -> Result<T, any Error> {
        condition.lock()
        defer { condition.unlock() }
        while result == nil {
            if !condition.wait(until: Date().addingTimeInterval(60)) {
                return .failure(CancellationError())
            }
        }
        return result!
    }
}

@Test func stateFreeStringTableMessagesDecode() throws {
    let bytes = LuaCodec.message(stringTable: [("type", "ActorDiedError"), ("message", String(repeating: "é", count: 100))])
    let node = Node()
    try node.receive(bytes)
    try node.run("assert(received[1].type == 'ActorDiedError' and #received[1].message == 200)")
}

@Suite("Large messages stay in the block they were written to")
struct LargeMessageTests {
    @Test func aLargeStringIsEncodedIntoABlockAndDecodesBack() throws {
        let sender = Node()
        try sender.run("big = string.rep('abcdefgh', 1 << 18) .. 'end'")  // 2 MiB + 3
        lua_getglobal(sender.state.pointer, "big")
        let message = try sender.codec.encodeMessage(valueAt: -1)
        clua_pop(sender.state.pointer, 1)
        guard case .block(let block) = message else {
            Issue.record("a 2 MiB message should be a large block")
            return
        }
        #expect(block.bytes.count > 2 << 20)
        let receiver = Node()
        try receiver.receive(message.array)
        try receiver.run("assert(#received[1] == (1 << 21) + 3 and received[1]:sub(-5) == 'ghend')")
    }

    @Test func aFailedLargeEncodingLeavesNoBigBufferForTheNextMessage() throws {
        let node = Node()
        try node.run("bad = { string.rep('x', 1 << 21), coroutine.create(print) }; small = 42")
        lua_getglobal(node.state.pointer, "bad")
        #expect(throws: LuaCodecError.self) { try node.codec.encodeMessage(valueAt: -1) }
        clua_pop(node.state.pointer, 1)
        lua_getglobal(node.state.pointer, "small")
        defer { clua_pop(node.state.pointer, 1) }
        guard case .array(let bytes) = try node.codec.encodeMessage(valueAt: -1) else {
            Issue.record("a small message after a failed big one was handed the big buffer")
            return
        }
        #expect(bytes.count < 16)
    }

    @Test func aSmallValueStaysAnArray() throws {
        let node = Node()
        try node.run("small = { 1, 2, 3 }")
        lua_getglobal(node.state.pointer, "small")
        defer { clua_pop(node.state.pointer, 1) }
        guard case .array = try node.codec.encodeMessage(valueAt: -1) else {
            Issue.record("a small message should be an array")
            return
        }
    }
}
