import CLua
import CLuaShims

/// Loading and calling Lua code. Every call into Lua is protected: errors come
/// back as `LuaError`, never as a longjmp through Swift.
extension LuaState {
    /// Compiles `source` as a text chunk named `chunkName` (e.g. `@job.lua` or
    /// `=stdin`) and pushes it as a function. [-0, +1]
    public func load(_ source: String, chunkName: String) throws(LuaError) {
        preconditionOwned()
        var source = source
        let status: Int32 = source.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                luaL_loadbufferx(pointer, chars.baseAddress, chars.count, chunkName, "t")
            }
        }
        guard status == LUA_OK else {
            let message = describe(at: -1)
            pop()
            throw LuaError(message: message)
        }
    }

    /// Calls the function below the top `arguments` values in protected mode.
    /// On success leaves `results` values (all with `results: nil`); on error
    /// pops everything it was given and throws the message and traceback.
    /// [-(arguments+1), +results]
    public func call(arguments: Int32 = 0, results: Int32? = nil) throws(LuaError) {
        preconditionOwned()
        let status = clua_pcall_traced(pointer, arguments, results ?? CLUA_MULTRET)
        guard status == LUA_OK else {
            let message = describe(at: -1)
            pop()
            clua_pushlasttraceback(pointer)
            let traceback = toString(at: -1)
            pop()
            throw LuaError(message: message, traceback: traceback)
        }
    }

    /// Loads and runs `source`, leaving all its results on the stack; returns
    /// how many there are. [-0, +n]
    @discardableResult
    public func run(_ source: String, chunkName: String = "=(swift)") throws(LuaError) -> Int32 {
        let base = top
        try load(source, chunkName: chunkName)
        try call()
        return top - base
    }
}
