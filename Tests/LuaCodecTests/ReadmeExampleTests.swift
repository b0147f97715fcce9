import LuaKit
import Testing
import LuaCodec

/// The Swift snippet in README.md, verbatim apart from the assertions.
@Test func readmeSwiftExample() throws {
    let sender = LuaState()
    let codec = try LuaCodec(state: sender)
    try sender.run("K = 2; f = function(x) return x * K end; return f, 21")
    let bytes = try codec.encode(valuesAt: 1, count: 2, label: "argument")

    let receiver = LuaState()
    let receiving = try LuaCodec(state: receiver)
    let n = try receiving.decode(bytes)
    try receiver.call(arguments: n - 1)
    #expect(receiver.toInteger(at: -1) == 42)
}
