import CLua
import Foundation
import LuaKit
import RayCluster
import RayCore
import RayLua

/// Where a script comes from.
enum ScriptSource {
    case file(String)
    case chunk(String)
    case standardInput
}

/// Runs one script on a fresh runtime with the conventions of the standalone
/// `lua`: the `arg` table (script at 0, its arguments from 1, `ray` at -1)
/// and `...`; an uncaught error prints `ray: <message>` and the traceback on
/// stderr and gives exit status 1.
struct ScriptRunner {
    var numCPUs: Double?
    /// The cluster to attach to ("HOST:PORT" or "auto"); nil: a runtime of its own.
    var address: String?

    func run(_ source: ScriptSource, arguments: [String]) -> Int32 {
        let (code, chunkName, scriptName): (String, String, String)
        switch source {
        case .chunk(let text):
            (code, chunkName, scriptName) = (text, "=(command line)", "-e")
        case .standardInput:
            let data = FileHandle.standardInput.readDataToEndOfFile()
            (code, chunkName, scriptName) = (String(decoding: data, as: UTF8.self), "=stdin", "-")
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                return report("cannot open \(path)")
            }
            (code, chunkName, scriptName) = (String(decoding: data, as: UTF8.self), "@" + path, path)
        }

        var settings = RuntimeSettings()
        if let numCPUs { settings.numCPUs = numCPUs }
        // An attached driver runs nothing itself: one idle worker thread.
        if address != nil { settings.numCPUs = 1 }
        let runtime: Runtime
        do {
            runtime = try Runtime(settings: settings)
        } catch {
            return report("cannot start the runtime: \(error)")
        }
        defer { runtime.shutdown() }
        if let address {
            do {
                try DriverAttach.attach(runtime, to: address)
            } catch {
                return report("cannot join the cluster: \(error)")
            }
        }
        let status: Int32 = {
            let driver: RayLuaState
            do {
                driver = try RayLuaState(driverOf: runtime)
            } catch {
                return report("cannot load the ray module: \(error)")
            }
            let state = driver.state
            setArgTable(state, script: scriptName, arguments: arguments)
            do throws(LuaError) {
                try state.load(code, chunkName: chunkName)
            } catch {
                return report(error.message)
            }
            guard state.ensureStack(Int32(clamping: arguments.count + 1)) else {
                return report("\(arguments.count) script arguments are more than a Lua stack can hold")
            }
            for argument in arguments { state.push(argument) }
            do throws(LuaError) {
                try state.call(arguments: Int32(arguments.count), results: 0)
            } catch {
                return report(error.message + (error.traceback.map { "\n" + $0 } ?? ""))
            }
            return 0
        }()
        fflush(nil)  // all output streams, including what tasks printed
        return status
    }

    private func setArgTable(_ state: LuaState, script: String, arguments: [String]) {
        let L = state.pointer
        lua_createtable(L, Int32(arguments.count), 2)
        state.push("ray")
        lua_rawseti(L, -2, -1)
        state.push(script)
        lua_rawseti(L, -2, 0)
        for (i, argument) in arguments.enumerated() {
            state.push(argument)
            lua_rawseti(L, -2, lua_Integer(i + 1))
        }
        lua_setglobal(L, "arg")
    }

    private func report(_ message: String) -> Int32 {
        fflush(nil)  // all output streams, including what tasks printed
        FileHandle.standardError.write(Data(("ray: " + message + "\n").utf8))
        return 1
    }
}
