import CLua
import LuaKit
import Testing
@testable import LuaCodec

@Suite("Values that cannot cross name where they were found")
struct EncodeErrorTests {
    @Test func coroutineInAField() throws {
        let node = Node()
        let message = try node.encodeError("return 1, { co = coroutine.create(print) }")
        #expect(message == "argument 2: field 'co' is a coroutine")
    }

    @Test func nestedFieldPath() throws {
        let node = Node()
        let message = try node.encodeError("return { cfg = { list = { 1, 2, coroutine.create(print) } } }")
        #expect(message == "argument 1: field 'cfg.list[3]' is a coroutine")
    }

    @Test func oddKeysInPaths() throws {
        let node = Node()
        #expect(try node.encodeError(#"return { ["not a name"] = coroutine.create(print) }"#)
                == #"argument 1: field '["not a name"]' is a coroutine"#)
        #expect(try node.encodeError("return { [coroutine.create(print)] = 1 }")
                == "argument 1: a key is a coroutine")
    }

    @Test func foreignUserdata() throws {
        let node = Node()
        let message = try node.encodeError("local f = io.tmpfile(); return { file = f }")
        #expect(message == "argument 1: field 'file' is a userdata (FILE*) that cannot be serialized")
    }

    @Test func userdataWithoutATypeName() throws {
        let node = Node()
        _ = lua_newuserdatauv(node.state.pointer, 8, 0)
        #expect(throws: LuaCodecError(.unsupportedValue, "value is a userdata that cannot be serialized")) {
            try node.codec.encode(valueAt: -1)
        }
        node.state.pop()
    }

    @Test func aHostileMetatableIndexDoesNotRunDuringEncoding() throws {
        let node = Node()
        let message = try node.encodeError("""
            local f = io.tmpfile()
            debug.setmetatable(f, setmetatable({ __name = "Handle" }, { __index = function() error("boom") end }))
            return f
            """)
        #expect(message == "argument 1 is a userdata (Handle) that cannot be serialized")
        _ = try node.encodeError("""
            local f = io.tmpfile()
            debug.setmetatable(f, setmetatable({}, { __index = function() error("boom") end }))
            return f
            """)
    }

    @Test func unnamedCFunction() throws {
        let node = Node()
        let message = try node.encodeError(#"return string.gmatch("a b", "%a")"#)
        #expect(message == "argument 1 is a C function that is neither in the standard library nor in a loaded module")
    }

    @Test func upvaluePathNamesTheFunction() throws {
        let node = Node()
        let message = try node.encodeError("local co = coroutine.create(print)\nreturn function() return co end")
        #expect(message == "argument 1: upvalue 'co' of function sender.lua:2 is a coroutine")
    }

    @Test func globalPathNamesTheFunction() throws {
        let node = Node()
        try node.run("WORKER = coroutine.create(print)\nfunction uses() return WORKER end", "@sender.lua")
        let message = try node.encodeError("return function() return uses() end")
        #expect(message == "argument 1: global 'uses' of function sender.lua:1, global 'WORKER' of function sender.lua:2 is a coroutine")
    }

    @Test func computedGlobalKeyIsRefused() throws {
        let node = Node()
        let message = try node.encodeError("return 1, function() return _G['hel' .. 'per'] end")
        #expect(message.hasPrefix("argument 2 is function sender.lua:1, which reads globals through a computed key"))
    }

    @Test func aKeyKnownOnOnePathOnlyIsComputed() throws {
        let node = Node()
        let message = try node.encodeError("""
            return function(c)
              local k
              if c then k = c else k = 'a' end
              return _G[k]
            end
            """)
        #expect(message.contains("reads globals through a computed key"), "\(message)")
        #expect(try node.encodeError("return function() return _G[1] end").contains("computed key"))
    }

    @Test func aliasesOfGInsideLoopsAndBranches() throws {
        try roundTrip(
            setup: "function helper(i) return i end; LIMIT = 3; extra = 10",
            send: """
                local G = _G
                return function(flag)
                  local sum = 0
                  for i = 1, G.LIMIT do sum = sum + G.helper(i) end
                  for _, v in ipairs({ 1, 2 }) do sum = sum + G.helper(v) end
                  if flag then sum = sum + G.extra end
                  local name = "extra"
                  while sum < 0 do sum = sum + 1 end
                  return sum + _G[name]
                end
                """,
            check: "assert(received[1](true) == 6 + 3 + 10 + 10)")
    }

    @Test func constantKeysThroughGAreResolved() throws {
        try roundTrip(
            setup: "helper = 41",
            send: "return function() local name = 'helper'; return _G[name] + _G.helper - _G['helper'] + 1 end",
            check: "assert(received[1]() == 42)")
    }

    @Test func metatablePath() throws {
        let node = Node()
        let message = try node.encodeError("return setmetatable({}, { __index = { co = coroutine.create(print) } })")
        #expect(message == "argument 1: metatable, field '__index.co' is a coroutine")
    }

    @Test func tooDeep() throws {
        let node = Node()
        let code = "local t = {} ; local root = t; for i = 1, 1100 do t.n = {}; t = t.n end; return root"
        let message = try runOnThread { try Node().encodeError(code) }
        #expect(message.hasSuffix("is nested more than 1000 levels deep"))
        let small = try node.encodeError(code)
        #expect(small.hasSuffix("is nested more than 1000 levels deep") || small.hasSuffix("more than this thread's stack allows"))
    }

    @Test func rootLabel() throws {
        let node = Node()
        #expect(try node.encodeError("return coroutine.create(print)", label: "return value") == "return value 1 is a coroutine")
    }

    @Test func lightUserdata() throws {
        let node = Node()
        lua_pushlightuserdata(node.state.pointer, UnsafeMutableRawPointer(bitPattern: 0x10))
        #expect(throws: LuaCodecError.self) { try node.codec.encode(valueAt: -1) }
        node.state.pop()
    }

    @Test func failedEncodingLeavesStackAndCodecUsable() throws {
        let node = Node()
        try node.run("return { a = 1, b = coroutine.create(print) }")
        let top = node.state.top
        #expect(throws: LuaCodecError.self) { try node.codec.encode(valueAt: -1) }
        #expect(node.state.top == top)
        try node.run("return { a = 1 }")
        let bytes = try node.codec.encode(valueAt: -1)
        #expect(!bytes.isEmpty)
    }
}
