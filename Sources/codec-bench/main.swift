// Codec benchmark: encode+decode costs of the workloads in issue #2.
// Run through scripts/bench/codec.sh (release build, side by side with
// Python's pickle and cloudpickle). Prints one line per row:
//   <row name>\t<nanoseconds per operation>
import CLua
import CLuaShims
import Foundation
import LuaCodec
import LuaKit

let sender = LuaState()
let senderCodec = try LuaCodec(state: sender)
let receiver = LuaState()
let receiverCodec = try LuaCodec(state: receiver)

try sender.run("""
    SCALE = 3
    function helper(x) return x * SCALE end
    local k = 10
    task = function(x) return helper(x) + k end
    small_table = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }
    big_array = {}
    for i = 1, 100000 do big_array[i] = i * 0.5 end
    """, chunkName: "@bench.lua")

/// Best of `runs` timings of `iterations` calls, in ns per call.
@MainActor func measure(iterations: Int, runs: Int = 9, _ body: () throws -> Void) rethrows -> Double {
    var best = Double.infinity
    for _ in 0..<runs {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations { try body() }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start)
        best = min(best, elapsed / Double(iterations))
    }
    return best
}

/// Pushes the global `name` on the sender for the duration of `body`.
@MainActor func withGlobal<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
    lua_getglobal(sender.pointer, name)
    defer { sender.pop() }
    return try body()
}

@MainActor func roundTrip(iterations: Int) throws -> Double {
    try measure(iterations: iterations) {
        let bytes = try senderCodec.encode(valueAt: -1)
        let n = try receiverCodec.decode(bytes)
        receiver.pop(n)
    }
}

/// Rows to run: all, or those whose name contains an argument.
let filters = CommandLine.arguments.dropFirst()
@MainActor func wanted(_ name: String) -> Bool {
    filters.isEmpty || filters.contains { name.contains($0) }
}

var rows: [(String, Double)] = []
/// Runs a row if it was asked for.
@MainActor func row(_ name: String, _ body: () throws -> Double) rethrows {
    if wanted(name) { rows.append((name, try body())) }
}

sender.push(Int64(42))
try row("small integer encode+decode") { try roundTrip(iterations: 1_000_000) }
sender.pop()
try withGlobal("small_table") {
    try row("10-element table encode+decode") { try roundTrip(iterations: 300_000) }
    try row("10-element table encode") { try measure(iterations: 300_000) { _ = try senderCodec.encode(valueAt: -1) } }
    let bytes = try senderCodec.encode(valueAt: -1)
    try row("10-element table decode") {
        try measure(iterations: 300_000) { receiver.pop(try receiverCodec.decode(bytes)) }
    }
}
try withGlobal("big_array") {
    try row("100,000-number array encode+decode") { try roundTrip(iterations: 50) }
    try row("100,000-number array encode") { try measure(iterations: 50) { _ = try senderCodec.encode(valueAt: -1) } }
    let bytes = try senderCodec.encode(valueAt: -1)
    try row("100,000-number array decode") { try measure(iterations: 50) { receiver.pop(try receiverCodec.decode(bytes)) } }
}
try withGlobal("task") {
    _ = try senderCodec.encode(valueAt: -1)  // fills the cache
    try row("cached function re-submit (encode)") { try measure(iterations: 300_000) { _ = try senderCodec.encode(valueAt: -1) } }
    try row("cached function encode+decode") { try roundTrip(iterations: 100_000) }
}
for (name, ns) in rows {
    print("\(name)\t\(String(format: "%.1f", ns))")
}
