// Starts a runtime with 2 CPUs, registers a Swift function, runs Lua that
// calls it from remote tasks, moves objects both ways, and shuts down.
import SwiftRay

let engine = try RayEngine(cpus: 2)

// Lua calls this as require("swift").word_count(text), on worker threads too.
engine.register("word_count") { arguments in
    guard case .string(let text)? = arguments.first else { return [0] }
    return [.integer(Int64(text.split(whereSeparator: \.isWhitespace).count))]
}

let lines = try engine.put(["the quick brown fox", "jumps over", "the lazy dog"])
let results = try engine.run("""
    local swift = require("swift")
    local count = ray.remote(function(line) return swift.word_count(line) end)
    local lines = ray.get(...)
    local refs = {}
    for i, line in ipairs(lines) do refs[i] = count.remote(line) end
    local total = 0
    for _, n in ipairs(ray.get(refs)) do total = total + n end
    return total, #lines
    """, arguments: [.objectRef(lines)])
print("words:", results[0], "lines:", results[1])

do {
    try engine.run("error('this one fails')", name: "=demo")
} catch let error as LuaError {
    print("a Lua error reached Swift:", error.message)
}
engine.shutdown()
print("workers left:", engine.runtime.workerCount)
