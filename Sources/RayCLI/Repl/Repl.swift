import CLua
import CLuaShims
import Foundation
import LuaKit
import RayCore
import RayLua

/// The interactive session: `ray` on a terminal, or `ray repl`. It behaves
/// like `lua -i` with the runtime up and `ray` loaded: an expression prints
/// its values (tab-separated; tables one level deep, sorted keys), `return`
/// is optional, an incomplete chunk continues under `>>`, an error is
/// printed and the session goes on. Ctrl-C interrupts the running chunk
/// (also a `ray.get` that waits), cancelling the tasks the chunk submitted,
/// or discards the line being typed; Ctrl-D
/// ends the session and shuts the runtime down.
struct Repl {
    var numCPUs: Double?
    var historyFile: String? = ProcessInfo.processInfo.environment["HOME"].map { $0 + "/.ray_history" }

    func run() -> Int32 {
        var settings = RuntimeSettings()
        if let numCPUs { settings.numCPUs = numCPUs }
        let runtime: Runtime
        let driver: RayLuaState
        do {
            runtime = try Runtime(settings: settings)
            driver = try RayLuaState(driverOf: runtime)
        } catch {
            FileHandle.standardError.write(Data("ray: cannot start the runtime: \(error)\n".utf8))
            return 1
        }
        defer { runtime.shutdown() }
        let state = driver.state
        let helpers: Int32
        do throws(LuaError) {
            try driver.pushReplHelpers()
            helpers = state.top
        } catch {
            FileHandle.standardError.write(Data("ray: \(error.message)\n".utf8))
            return 1
        }
        let session = Session(driver: driver, helpers: helpers)
        let editor = LineEditor(historyFile: historyFile) { session.complete($0) }
        clua_sigint_install()
        let cpus = runtime.settings.numCPUs
        print("ray \(RayCommand.version) (Lua 5.4), \(cpus == cpus.rounded() ? String(Int(cpus)) : String(cpus)) CPUs. Ctrl-D exits, Ctrl-C interrupts.")
        while let chunk = session.readChunk(editor) {
            editor.remember(chunk)
            session.evaluate(chunk)
        }
        print("")
        editor.save()
        return 0
    }
}

/// One session's evaluation, on the driver's state (the main thread).
private final class Session {
    let driver: RayLuaState
    let state: LuaState
    /// Stack index of the repl.lua helpers table.
    let helpers: Int32

    init(driver: RayLuaState, helpers: Int32) {
        self.driver = driver
        self.state = driver.state
        self.helpers = helpers
    }

    /// Reads lines until they form a chunk that compiles (or fails for a
    /// reason other than being incomplete). Nil at end of input. Ctrl-C
    /// discards what was typed and starts again.
    func readChunk(_ editor: LineEditor) -> String? {
        var chunk = ""
        _ = clua_sigint_take()  // a Ctrl-C between chunks is spent
        while true {
            let prompt = chunk.isEmpty ? "> " : ">> "
            let line: String
            switch editor.read(prompt: prompt) {
            case .line(let text): line = text
            case .endOfInput: return nil
            case .interrupted:  // Ctrl-C at the prompt: start again
                _ = clua_sigint_take()
                print("")
                chunk = ""
                continue
            }
            chunk = chunk.isEmpty ? line : chunk + "\n" + line
            if chunk.allSatisfy(\.isWhitespace) {
                chunk = ""
                continue
            }
            if !isIncomplete(chunk) { return chunk }
        }
    }

    /// Whether `chunk` fails to compile only because it ends too early
    /// (lua.c's test: the message ends with "<eof>").
    private func isIncomplete(_ chunk: String) -> Bool {
        if (try? state.load("return " + chunk, chunkName: "=stdin")) != nil {
            state.pop()
            return false
        }
        do throws(LuaError) {
            try state.load(chunk, chunkName: "=stdin")
            state.pop()
            return false
        } catch {
            return error.message.hasSuffix("<eof>")
        }
    }

    /// Runs a chunk: as an expression if it is one (`return` prepended),
    /// else as statements; prints its values or its error.
    func evaluate(_ chunk: String) {
        let base = state.top
        defer { state.top = base }
        do throws(LuaError) {
            do {
                try state.load("return " + chunk, chunkName: "=stdin")
            } catch {
                try state.load(chunk, chunkName: "=stdin")
            }
            _ = clua_sigint_take()
            clua_sigint_arm(state.pointer)
            driver.recordSubmissions()
            defer {
                clua_sigint_disarm(state.pointer)
                // Interrupted: the tasks this chunk started stop too (a
                // runaway one would otherwise hold its CPU for good).
                driver.endRecordingSubmissions(cancel: clua_sigint_take() != 0)
            }
            try state.call()
        } catch {
            fflush(nil)
            let traceback = error.traceback.map { "\n" + $0 } ?? ""
            FileHandle.standardError.write(Data((error.message + traceback + "\n").utf8))
            return
        }
        let count = state.top - base
        guard count > 0 else { return }
        // show_all(values...)
        lua_getfield(state.pointer, helpers, "show_all")
        lua_rotate(state.pointer, base + 1, 1)
        if (try? state.call(arguments: count, results: 1)) != nil, let text = state.toString(at: -1) {
            print(text)
        }
        fflush(nil)
    }

    /// Tab completion: repl.lua's complete(text), protected.
    func complete(_ text: String) -> [String] {
        let base = state.top
        defer { state.top = base }
        lua_getfield(state.pointer, helpers, "complete")
        state.push(text)
        guard (try? state.call(arguments: 1, results: 1)) != nil, lua_type(state.pointer, -1) == LUA_TTABLE else { return [] }
        var out: [String] = []
        let count = lua_rawlen(state.pointer, -1)
        for i in stride(from: 1, through: Int(count), by: 1) {
            lua_rawgeti(state.pointer, -1, lua_Integer(i))
            if let candidate = state.toString(at: -1) { out.append(candidate) }
            state.pop()
        }
        return out
    }
}
