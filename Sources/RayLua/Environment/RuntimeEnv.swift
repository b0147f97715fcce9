import CLua
import CLuaShims

/// A `runtime_env` option (of `ray.init`, a task or an actor): what the work
/// runs with besides its code. The job's (from `ray.init`) is merged under
/// a task's: a task's keys win, and variables are merged name by name.
struct RuntimeEnv: Equatable {
    /// A local directory shipped to every node that runs the work (by content
    /// hash), its current directory there and first on its `package.path`.
    var workingDir: String?
    var envVars: [String: String] = [:]
    /// Put before `package.path` / `package.cpath`.
    var luaPath: String?
    var luaCPath: String?

    var isEmpty: Bool { workingDir == nil && envVars.isEmpty && luaPath == nil && luaCPath == nil }

    /// `self` with `other`'s keys over it.
    func merged(under other: RuntimeEnv) -> RuntimeEnv {
        var result = self
        if let dir = other.workingDir { result.workingDir = dir }
        result.envVars.merge(other.envVars) { $1 }
        if let path = other.luaPath { result.luaPath = path }
        if let cpath = other.luaCPath { result.luaCPath = cpath }
        return result
    }

    /// Reads the table at `index` (its keys and types were checked by
    /// stdlib/ray/init.lua). [-0, +0]
    static func read(_ L: OpaquePointer, at index: Int32) -> RuntimeEnv {
        var env = RuntimeEnv()
        let table = lua_absindex(L, index)
        if lua_getfield(L, table, "working_dir") == LUA_TSTRING { env.workingDir = Primitives.string(L, -1) }
        if lua_getfield(L, table, "lua_path") == LUA_TSTRING { env.luaPath = Primitives.string(L, -1) }
        if lua_getfield(L, table, "lua_cpath") == LUA_TSTRING { env.luaCPath = Primitives.string(L, -1) }
        clua_pop(L, 3)
        if lua_getfield(L, table, "env_vars") == LUA_TTABLE {
            lua_pushnil(L)
            while lua_next(L, -2) != 0 {
                if let name = Primitives.string(L, -2), let value = Primitives.string(L, -1) { env.envVars[name] = value }
                clua_pop(L, 1)
            }
        }
        clua_pop(L, 1)
        return env
    }
}
