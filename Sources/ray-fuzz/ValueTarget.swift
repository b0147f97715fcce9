// The value target: LuaCodec's decoder (docs/codec-format.md).
//
// Also compiled by scripts/fuzz/run.sh (with codec-fuzz.swift as the entry
// point) into one module named LuaKit, where LuaCodec is not a module of its own.
import CLua
import CLuaShims
import LuaKit
#if canImport(LuaCodec)
import LuaCodec
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Decodes each input into one long-lived state and checks the stack
/// contract: n values pushed on success, nothing on error. Resets the top and
/// runs a full GC every `gcPeriod` inputs, so that decoded objects (and any
/// finalizers they carry) are really collected.
final class ValueTarget {
    let state: LuaState
    let codec: LuaCodec
    var inputs = 0

    /// Full GC every this many inputs: FUZZ_GC_PERIOD, default 64. With 1 every
    /// input frees what it allocated, so libFuzzer's malloc/free balance check
    /// (and the LeakSanitizer pass it triggers) only fires on real leaks.
    let gcPeriod: Int = {
        guard let text = getenv("FUZZ_GC_PERIOD"), let n = Int(String(cString: text)), n > 0 else { return 64 }
        return n
    }()

    init() {
        state = LuaState()
        codec = try! LuaCodec(state: state)
        // Valid messages may carry finalizers that run their (mutated, hence
        // hostile) bytecode at the next GC: trusted-sender behaviour, not a
        // decoder bug. Refuse them so crashes found here are decoder bugs.
        codec.acceptsFinalizers = false
    }

    /// Created on first use, then used by libFuzzer's one thread only.
    static nonisolated(unsafe) let shared = ValueTarget()

    func run(_ bytes: UnsafeRawBufferPointer) {
        let base = state.top
        do {
            let n = try codec.decode(bytes)
            precondition(n >= 0 && state.top == base + n, "decode reported \(n) values but the stack grew by \(state.top - base)")
        } catch {
            precondition(state.top == base, "decode failed (\(error.message)) and left \(state.top - base) values on the stack")
        }
        state.top = base
        inputs += 1
        if inputs % gcPeriod == 0 { clua_gc_collect(state.pointer) }
    }

    /// Writes the seed corpus: one encoded message per chunk of `seedChunks`,
    /// each checked to decode.
    static func writeSeeds(into directory: String) {
        var files = SeedFiles(directory: directory)
        let state = LuaState()
        let codec = try! LuaCodec(state: state)
        do {
            try state.run("G1 = { 1, 2, 3 }; K = 3; function helper(x) return x * K + G1[1] end", chunkName: "@sender.lua")
        } catch {
            fatalError("seed setup failed: \(error)")
        }
        for (name, chunk) in seedChunks {
            let base = state.top
            do {
                let n = try state.run(chunk, chunkName: "@seed-\(name).lua")
                let bytes = try codec.encode(valuesAt: base + 1, count: n, label: name)
                _ = try codec.decode(bytes)
                files.write(name, bytes)
            } catch {
                note("seed '\(name)' skipped: \(error)")
            }
            state.top = base
        }
        note("wrote \(files.written) seeds to \(directory)")
    }
}

/// Lua chunks whose results become one seed message each.
private let seedChunks: [(String, String)] = [
    ("empty", "return"),
    ("scalars", "return nil, true, false, 0, -1, 127, 128, math.maxinteger, math.mininteger, 1.5, -0.0, 1/0, -1/0, 0/0, 2^53"),
    ("strings", #"return "", "hello", "a\0b\255", string.rep("xyz", 100)"#),
    ("array", "return { 1, 2, 3, 'four', 5.5, true }"),
    ("nested", "return { 1, { 2, { 3, { 4, { x = { y = { z = 'deep' } } } } } }, k = { [1.5] = false, [true] = 'b' } }"),
    ("deep", "local t = {} ; local r = t; for i = 1, 60 do t[1] = {}; t = t[1] end; return r"),
    ("mixed-keys", "return { [1] = 'a', [2] = 'b', [10] = 'c', [-1] = 'd', [0] = 'e', x = 1, [2^60] = 2, [{}] = 3 }"),
    ("cycle", "local t = { name = 'self' }; t.me = t; t[1] = t; return t"),
    ("shared", "local s = { 'shared' }; return { s, s, a = s, [s] = s }, s"),
    ("mutual-cycle", "local a, b = {}, {}; a.b = b; b.a = a; return a, b"),
    ("metatable", "return setmetatable({ 1 }, { __index = { a = 1 }, __tostring = nil })"),
    ("shared-metatable", "local mt = { __index = function(t, k) return k end }; return setmetatable({}, mt), setmetatable({ 2 }, mt), mt"),
    ("self-metatable", "local t = {}; t.__index = t; return setmetatable(t, t)"),
    ("function-plain", "return function(a, b) return a + b end"),
    ("closure-upvalues", "local a, b, c = 1, 'two', { 3 }; return function(x) return a + x, b, c end"),
    ("closure-shared-cell", "local n = 0; local function inc() n = n + 1; return n end; local function get() return n end; return inc, get"),
    ("closure-self-ref", "local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end; return fact"),
    ("closure-nested", "local k = 2; return function(x) local function inner(y) return y * k end; return inner(x) + 1 end"),
    ("closure-in-table", "local shared = { 0 }; local t = { f = function() return shared end, shared = shared }; t.g = t.f; return t"),
    ("globals", "return function(y) return helper(y) + K + #G1 end"),
    ("globals-G", "return function() return _G.helper(1), _G['K'] end"),
    ("globals-env-alias", "local G = _G; return function() return G.K, G.helper end"),
    ("builtins", "return math.sin, print, string.format, table.insert, math.pi, math.huge, io.stdout, _G"),
    ("builtin-tables", "return math, string, table"),
    ("module-fields", "return package.loaded.string.rep, package.loaded.os"),
    ("everything", "local s = { 1 }; local n = 0; return { s = s, f = function() n = n + 1; return helper(n), s end, g = function() return n end, sin = math.sin, mt = setmetatable({}, { __index = s }) }, s, 'tail', 42"),
    ("many-values", "return 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20"),
    ("big-function", "local t = {}; return function(x) local s = 0; for i = 1, x do s = s + i * 2 - (i % 3) end; if s > 10 then return 'big', s elseif s < 0 then return nil end; return s, ('%d'):format(s) end"),
]
