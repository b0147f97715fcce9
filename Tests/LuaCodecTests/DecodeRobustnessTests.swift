import LuaKit
import Testing
@testable import LuaCodec

@Suite("Malformed, truncated or hostile bytes give errors")
struct DecodeRobustnessTests {
    let header: [UInt8] = [0x52, 0x56, 0x01]

    @Test func badMagicAndVersion() {
        let node = Node()
        #expect(node.decodeError([]).contains("truncated"))
        #expect(node.decodeError([0x00, 0x56, 0x01, 0x00]).contains("bad magic"))
        #expect(node.decodeError([0x52, 0x56, 0x02, 0x00]) == "codec version 2 is not supported (this build reads version 1)")
    }

    @Test func truncatedAtEveryByte() throws {
        let sender = Node()
        let bytes = try sender.encode("""
            local t = { 1, "two", 3.5, nested = { true }, f = function(x) return x + 1 end }
            t.self = t
            return t, math.sin
            """)
        let receiver = Node()
        for length in 0..<bytes.count {
            _ = receiver.decodeError(Array(bytes[..<length]))
        }
        try receiver.receive(bytes)
        try receiver.run("assert(received[1].self == received[1] and received[1].f(1) == 2)")
    }

    @Test func trailingBytes() {
        #expect(Node().decodeError(header + [0x01, 0x00, 0x00]) == "1 trailing bytes after the message")
    }

    @Test func hugeLengthsAreRejectedBeforeAllocating() {
        let node = Node()
        let huge: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
        #expect(node.decodeError(header + huge).contains("value count"))
        #expect(node.decodeError(header + [0x01, 0x05] + huge).contains("exceeds"))          // string
        #expect(node.decodeError(header + [0x01, 0x06] + huge).contains("array length"))     // table
        #expect(node.decodeError(header + [0x01, 0x07] + huge).contains("exceeds"))          // bytecode
        #expect(node.decodeError(header + [0x01, 0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]).contains("varint"))
    }

    @Test func unknownTagsAndFlags() {
        let node = Node()
        #expect(node.decodeError(header + [0x01, 0x3F]).contains("unknown tag 63"))
        #expect(node.decodeError(header + [0x01, 0x85, 0x00]).contains("shared flag on a non-object"))
    }

    @Test func badReferences() {
        let node = Node()
        #expect(node.decodeError(header + [0x01, 0x08, 0x00]).contains("not a shared object"))
        // a table that is not marked shared, then a reference to it
        #expect(node.decodeError(header + [0x02, 0x06, 0x00, 0x00, 0x00, 0x08, 0x00]).contains("not a shared object"))
        // a reference to itself before it exists
        #expect(node.decodeError(header + [0x01, 0x86, 0x01, 0x08, 0x05, 0x00, 0x00]).contains("not a shared object"))
    }

    @Test func nanKeyAndNonTableMetatable() {
        let node = Node()
        let nan: [UInt8] = [0x04, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F]
        #expect(node.decodeError(header + [0x01, 0x06, 0x00] + nan + [0x02, 0x00, 0x00]).contains("NaN"))
        #expect(node.decodeError(header + [0x01, 0x06, 0x00, 0x00, 0x03, 0x02]).contains("metatable is not a table"))
    }

    @Test func bytecodeWithAWrongHeaderIsRefused() throws {
        let sender = Node()
        var bytes = try sender.encode("return function() return 1 end")
        // bytes: header(3) count(1) tag(1) length varint(1-2), then "\x1bLua" and the version byte 0x54
        let version = try #require(bytes.firstIndex(of: 0x54))
        bytes[version] = 0x53
        #expect(Node().decodeError(bytes) == "bytecode header does not match this Lua 5.4 build")
    }

    @Test func bytecodeWithHostileSizesIsRefused() throws {
        let sender = Node()
        let bytes = try sender.encode("return function(a, b) return a + b end")
        let receiver = Node()
        // Overwrite every byte of the bytecode in turn with 0xFF and 0x00:
        // each must decode or fail cleanly, never crash or allocate wildly.
        let start = 6
        for i in start..<bytes.count {
            for replacement: UInt8 in [0x00, 0x7F, 0xFF] {
                var mutated = bytes
                mutated[i] = replacement
                let base = receiver.state.top
                _ = try? receiver.codec.decode(mutated)
                receiver.state.top = base
            }
        }
    }

    @Test func unknownNamesModulesAndExtensions() {
        let node = Node()
        let name = Array("math.nosuch".utf8)
        #expect(node.decodeError(header + [0x01, 0x09, UInt8(name.count)] + name)
                == "standard-library value 'math.nosuch' does not exist in this Lua")
        let module = Array("no_such_module_xyz".utf8)
        #expect(node.decodeError(header + [0x01, 0x0A, UInt8(module.count)] + module)
            .hasPrefix("module 'no_such_module_xyz' cannot be loaded here: "))
        let field = Array("nosuch".utf8)
        let string = Array("string".utf8)
        #expect(node.decodeError(header + [0x01, 0x0B, UInt8(string.count)] + string + [UInt8(field.count)] + field)
                == "module 'string' has no field 'nosuch' here")
        #expect(node.decodeError(header + [0x01, 0x0C, 0x07, 0x00]) == "extension kind 7 is not registered with this codec")
    }

    @Test func badUpvalueJoins() throws {
        let sender = Node()
        let good = try sender.encode("local n = 0; return function() n = n + 1 end, function() return n end")
        // The second function's single upvalue is a join: kind 2, ordinal 0, upvalue 1.
        let join = try #require((0..<(good.count - 2)).last { good[$0] == 0x02 && good[$0 + 1] == 0x00 && good[$0 + 2] == 0x01 })
        var badUpvalue = good
        badUpvalue[join + 2] = 0x09
        #expect(Node().decodeError(badUpvalue).contains("missing upvalue"))
        var badTarget = good
        badTarget[join + 1] = 0x05
        #expect(Node().decodeError(badTarget).contains("not a shared object"))
    }

    @Test func nestingDeeperThanTheLimit() throws {
        // 1001 tables, each the only element of the one before.
        var bytes = header + [0x01]
        for _ in 0...1000 { bytes += [0x06, 0x01] }
        bytes += [0x00, 0x00, 0x00]
        for _ in 0...1000 { bytes += [0x00, 0x00] }
        // On a thread with a big stack the depth limit speaks...
        let deep = bytes
        let message = try runOnThread { Node().decodeError(deep) }
        #expect(message == "values nested more than 1000 levels deep")
        // ...and on a small one the stack check does, before any overflow.
        let small = Node().decodeError(bytes)
        #expect(small == "values nested more than 1000 levels deep" || small.hasSuffix("exceed this thread's stack"))
    }

    @Test func upvalueCountAndKindMustMatchTheBytecode() throws {
        let sender = Node()
        let good = try sender.encode("local a = 1; return function() return a end")
        // The function's bytes end with: nups=1, kind 0 (value), integer 1, end of globals.
        #expect(Array(good.suffix(5)) == [0x01, 0x00, 0x03, 0x02, 0x00])
        var wrongCount = good
        wrongCount[good.count - 5] = 0x02
        #expect(Node().decodeError(wrongCount) == "function declares 2 upvalues, its bytecode has 1")
        var wrongKind = good
        wrongKind[good.count - 4] = 0x07
        #expect(Node().decodeError(wrongKind).hasPrefix("unknown upvalue kind"))
    }

    @Test func memberOfAModuleThatIsNotATable() {
        let node = Node()
        try! node.run("package.loaded.plainvalue = function() end")
        let module = Array("plainvalue".utf8)
        let field = Array("x".utf8)
        #expect(node.decodeError(header + [0x01, 0x0B, UInt8(module.count)] + module + [UInt8(field.count)] + field)
                == "module 'plainvalue' is not a table, so it has no field 'x'")
    }

    @Test func seededMutationsNeverCrash() throws {
        // A deterministic mutation fuzzer over a few valid messages; the
        // libFuzzer target in scripts/fuzz runs the same idea for minutes.
        let sender = Node()
        try sender.run("G1 = { 1, 2 }; function helper(x) return x + G1[2] end", "@sender.lua")
        let seeds = try [
            sender.encode("return 1, -2.5, 'str', true, nil"),
            sender.encode("local t = { 1, { x = 'y' }, [3.5] = false }; t.me = t; return t"),
            sender.encode("local k = 3; return function(x) return helper(x) * k end, math.sin, io.stdout"),
            sender.encode("return setmetatable({}, { __index = { a = 1 } })"),
        ]
        let receiver = Node()
        var generator = SplitMix64(seed: 0x5EED)
        var decoded = 0
        for round in 0..<20_000 {
            var bytes = seeds[round % seeds.count]
            for _ in 0...(generator.next() % 4) {
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 4 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                case 1: bytes[position] ^= 1 << (generator.next() % 8)
                case 2: bytes.remove(at: position)
                default: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                }
                if bytes.isEmpty { break }
            }
            let base = receiver.state.top
            if (try? receiver.codec.decode(bytes)) != nil { decoded += 1 }
            receiver.state.top = base
        }
        #expect(decoded > 0, "some mutations still decode")
        #expect(decoded < 20_000, "most mutations are rejected")
    }
}

/// A small deterministic generator for the mutation test.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Finalizers (__gc) in received metatables")
struct FinalizerTests {
    /// Counts finalizer runs on the receiver through a standard-library table.
    static let counting = """
        local function count() package.loaded.__finalized = (package.loaded.__finalized or 0) + 1 end
        """

    func finalized(_ node: Node) throws -> Int64 {
        try node.run("collectgarbage(); collectgarbage()")
        let n = try node.run("return package.loaded.__finalized or 0")
        defer { node.state.pop(n) }
        return node.state.toInteger(at: -1) ?? -1
    }

    @Test func aRejectedMessageRegistersNoFinalizer() throws {
        let sender = Node()
        let valid = try sender.encode(Self.counting + "\nreturn setmetatable({}, { __gc = count })")
        let receiver = Node()
        // Found by the fuzzer: a trailing byte makes the message invalid only
        // after the table and its metatable were read.
        _ = receiver.decodeError(valid + [0xFF])
        #expect(try finalized(receiver) == 0, "nothing from a rejected message may run")
        try receiver.receive(valid)
        try receiver.run("received = nil")
        #expect(try finalized(receiver) == 1, "a valid object keeps its finalizer, like __del__ under cloudpickle")
    }

    @Test func aMetatableCompletedLaterInTheMessageStillRegistersItsFinalizer() throws {
        let sender = Node()
        let bytes = try sender.encode(Self.counting + "\n" + """
            local A = {}
            for i = 1, 20 do A["pad" .. i] = i end   -- spread A's keys over its hash part
            A.child = setmetatable({}, A)
            A.__gc = count
            return A
            """)
        let receiver = Node()
        try receiver.receive(bytes)
        try receiver.run("assert(getmetatable(received[1].child) == received[1]); received = nil")
        #expect(try finalized(receiver) == 1, "the child's finalizer, whatever the key order")
    }
}

extension FinalizerTests {
    @Test func finalizersCanBeRefused() throws {
        let sender = Node()
        let bytes = try sender.encode(Self.counting + "\nreturn { setmetatable({}, { __gc = count }) }")
        let receiver = Node()
        receiver.codec.acceptsFinalizers = false
        #expect(receiver.decodeError(bytes) == "a metatable has a __gc finalizer, which this codec refuses")
        #expect(try finalized(receiver) == 0)
        try receiver.receive(try sender.encode("return setmetatable({}, { __index = {} })"))
    }

    @Test func fuzzReproducersAreRejectedOrHarmless() throws {
        let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/fuzz/repro")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".bin") }
        #expect(files.count >= 3)
        let outcomes = try files.sorted().map { name -> String in
            let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
            let deep = try runOnThread { () -> String in
                let node = Node()
                node.codec.acceptsFinalizers = false
                let base = node.state.top
                defer { node.state.top = base }
                do {
                    try node.codec.decode(bytes)
                    try node.run("collectgarbage()")
                    return "decoded"
                } catch {
                    return "\(error)"
                }
            }
            return "\(name): \(deep)"
        }
        #expect(outcomes == [
            "deep-tables-999.bin: decoded",
            "gc-finalizer-bad-bytecode.bin: a metatable has a __gc finalizer, which this codec refuses",
            "gc-finalizer-os-exit.bin: a metatable has a __gc finalizer, which this codec refuses",
        ])
    }
}

import Foundation
