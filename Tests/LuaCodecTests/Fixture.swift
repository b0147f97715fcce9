import CLua
import CLuaShims
import Foundation
import LuaKit
import Testing
@testable import LuaCodec

/// A state with its codec, plus helpers that run Lua and ship values.
final class Node {
    let state = LuaState()
    let codec: LuaCodec

    init() {
        codec = try! LuaCodec(state: state)
    }

    /// Runs `code`; returns how many results it left.
    @discardableResult
    func run(_ code: String, _ name: String = "=test") throws -> Int32 {
        try state.run(code, chunkName: name)
    }

    /// Runs `code` and encodes all of its results as one message.
    func encode(_ code: String, label: String = "argument") throws -> [UInt8] {
        let base = state.top
        let n = try run(code, "@sender.lua")
        defer { state.top = base }
        let bytes = try codec.encode(valuesAt: base + 1, count: n, label: label)
        #expect(state.top == base + n, "encoding leaves the stack as it was")
        return bytes
    }

    /// The error message encoding `code`'s results fails with.
    func encodeError(_ code: String, label: String = "argument") throws -> String {
        do {
            _ = try encode(code, label: label)
        } catch let error as LuaCodecError {
            return error.message
        }
        Issue.record("encoding succeeded but an error was expected")
        return ""
    }

    /// Decodes `bytes` into the global table `received` (with field `n`).
    func receive(_ bytes: [UInt8]) throws {
        let base = state.top
        let n = try codec.decode(bytes)
        #expect(state.top == base + n)
        lua_createtable(state.pointer, n, 1)
        for i in 0..<n {
            lua_pushvalue(state.pointer, base + 1 + i)
            lua_rawseti(state.pointer, -2, lua_Integer(i + 1))
        }
        state.push(Int64(n))
        lua_setfield(state.pointer, -2, "n")
        lua_setglobal(state.pointer, "received")
        state.top = base
    }

    /// The error message decoding `bytes` fails with (and checks the stack is untouched).
    func decodeError(_ bytes: [UInt8]) -> String {
        let base = state.top
        do {
            try codec.decode(bytes)
            Issue.record("decoding succeeded but an error was expected")
            state.top = base
        } catch {
            #expect(state.top == base, "a failed decode must not leave values on the stack")
            return error.message
        }
        return ""
    }
}

/// Ships the results of `send` from a fresh sender to a fresh receiver, then
/// runs `check` (assert-heavy Lua, `received` holds the values) on the receiver.
func roundTrip(setup: String = "", send: String, check: String,
               receiverSetup: String = "", sourceLocation: SourceLocation = #_sourceLocation) throws {
    let sender = Node()
    let receiver = Node()
    try sender.run(setup, "@sender.lua")
    try receiver.run(receiverSetup)
    let bytes = try sender.encode(send)
    try receiver.receive(bytes)
    do {
        try receiver.run(check, "@check.lua")
    } catch {
        Issue.record("check failed: \(error)", sourceLocation: sourceLocation)
    }
}
