import CLua
import CLuaShims
import LuaKit
import Testing
@testable import LuaCodec

/// A stand-in for a runtime handle: a userdata holding two integers.
final class PointExtension: LuaCodecExtension {
    let kind: UInt8 = 1

    /// Creates the `Point` metatable and a global constructor `Point(x, y)`.
    static func install(on node: Node) -> PointExtension {
        let L = node.state.pointer
        let ext = PointExtension()
        luaL_newmetatable(L, "Point")
        node.codec.register(ext, metatableAt: -1)
        node.state.pop()
        return ext
    }

    func encode(_ state: LuaState, at index: Int32, into payload: inout [UInt8]) throws(LuaCodecError) {
        let p = lua_touserdata(state.pointer, index)!.assumingMemoryBound(to: Int64.self)
        withUnsafeBytes(of: p[0]) { payload.append(contentsOf: $0) }
        withUnsafeBytes(of: p[1]) { payload.append(contentsOf: $0) }
    }

    func decode(_ state: LuaState, payload: UnsafeRawBufferPointer) throws(LuaCodecError) {
        guard payload.count == 16 else { throw LuaCodecError(.malformed, "point payload has \(payload.count) bytes") }
        let p = lua_newuserdatauv(state.pointer, 16, 0)!.assumingMemoryBound(to: Int64.self)
        p[0] = payload.loadUnaligned(as: Int64.self)
        p[1] = payload.loadUnaligned(fromByteOffset: 8, as: Int64.self)
        luaL_setmetatable(state.pointer, "Point")
    }
}

@Suite("Runtime handles cross through extensions")
struct ExtensionTests {
    /// Pushes a Point userdata.
    func pushPoint(_ node: Node, _ x: Int64, _ y: Int64) {
        let p = lua_newuserdatauv(node.state.pointer, 16, 0)!.assumingMemoryBound(to: Int64.self)
        p[0] = x
        p[1] = y
        luaL_setmetatable(node.state.pointer, "Point")
    }

    @Test func extensionValuesRoundTripInsideTablesAndUpvalues() throws {
        let sender = Node()
        let receiver = Node()
        _ = PointExtension.install(on: sender)
        _ = PointExtension.install(on: receiver)
        pushPoint(sender, 3, 4)
        lua_setglobal(sender.state.pointer, "P")
        let bytes = try sender.encode("local p = P; return { point = P }, function() return p end")
        try receiver.receive(bytes)
        let n = try receiver.run("return received[1].point, received[2]()")
        #expect(n == 2)
        for index: Int32 in [-1, -2] {
            let p = try #require(luaL_testudata(receiver.state.pointer, index, "Point"))
                .assumingMemoryBound(to: Int64.self)
            #expect(p[0] == 3 && p[1] == 4)
        }
        receiver.state.pop(n)
    }

    @Test func unregisteredKindOnTheReceiverIsAnError() throws {
        let sender = Node()
        _ = PointExtension.install(on: sender)
        pushPoint(sender, 1, 2)
        let bytes = try sender.codec.encode(valueAt: -1)
        #expect(Node().decodeError(bytes) == "extension kind 1 is not registered with this codec")
    }

    @Test func extensionErrorsPropagate() throws {
        let receiver = Node()
        _ = PointExtension.install(on: receiver)
        let bad: [UInt8] = [0x52, 0x56, 0x01, 0x01, 0x0C, 0x01, 0x02, 0xAA, 0xBB]
        #expect(receiver.decodeError(bad) == "point payload has 2 bytes")
    }
}
