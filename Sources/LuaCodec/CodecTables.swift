import CLua
import CLuaShims
import LuaKit

/// The Lua-side tables the codec keeps in a state's registry, created once
/// per state right after its standard libraries are opened (the snapshot of
/// "pristine" globals must be taken before any script runs).
struct CodecTables {
    /// value -> "B<stdlib path>" | "M<module>" | "F<module>\0<field>" (weak keys).
    let names: Int32
    /// "<stdlib path>" -> value, for decoding builtins.
    let byName: Int32
    /// global name -> value as it was before any script ran.
    let pristine: Int32
    /// Lua function -> { dump, flags, global names... } (weak keys).
    let functionCache: Int32
    /// metatable -> extension kind.
    let extensionMetatables: Int32
    /// { __index = _G }: metatable of every received environment.
    let environmentMeta: Int32
    /// The pristine `require`.
    let require: Int32
    /// Scratch slots of one decode: its table of shared objects and its
    /// environment, set on first use and cleared when the decode ends.
    let sharedScratch: Int32
    let environmentScratch: Int32
    /// The string "__name", so the encoder can read it raw without allocating.
    let nameKey: Int32
    /// Scratch slot of one decode: { table1, metatable1, table2, ... } to be
    /// joined once the whole message has been validated.
    let metatableScratch: Int32

    /// Runs the setup chunk on `state` and pins its tables in the registry.
    init(installingInto state: LuaState) throws(LuaError) {
        let L = state.pointer
        let results = try state.run(Self.setupChunk, chunkName: "=luacodec")
        precondition(results == 7, "codec setup returned \(results) values")
        // Marked, so that next/pairs/getmetatable/setmetatable (clua.c) make
        // a received function's environment look like lua.c's _G.
        clua_setup_environment_metatable(L, -2)
        // luaL_ref pops from the top: take them in reverse.
        let require = luaL_ref(L, CLUA_REGISTRYINDEX)
        let environmentMeta = luaL_ref(L, CLUA_REGISTRYINDEX)
        let extensionMetatables = luaL_ref(L, CLUA_REGISTRYINDEX)
        let functionCache = luaL_ref(L, CLUA_REGISTRYINDEX)
        let pristine = luaL_ref(L, CLUA_REGISTRYINDEX)
        let byName = luaL_ref(L, CLUA_REGISTRYINDEX)
        let names = luaL_ref(L, CLUA_REGISTRYINDEX)
        self.names = names
        self.byName = byName
        self.pristine = pristine
        self.functionCache = functionCache
        self.extensionMetatables = extensionMetatables
        self.environmentMeta = environmentMeta
        self.require = require
        lua_pushboolean(L, 0)
        sharedScratch = luaL_ref(L, CLUA_REGISTRYINDEX)
        lua_pushboolean(L, 0)
        environmentScratch = luaL_ref(L, CLUA_REGISTRYINDEX)
        lua_pushboolean(L, 0)
        metatableScratch = luaL_ref(L, CLUA_REGISTRYINDEX)
        lua_pushstring(L, "__name")
        nameKey = luaL_ref(L, CLUA_REGISTRYINDEX)
    }

    /// Builds the name maps from the pristine globals (standard library to
    /// depth 2) and hooks `package.loaded` so that modules loaded later are
    /// named too (`require` stores through `lua_setfield`, which reaches
    /// `__newindex` for a new key). Locals only: later changes to globals
    /// cannot subvert it.
    static let setupChunk = """
        local G, next, type, rawset, setmetatable, getmetatable, require =
              _G, next, type, rawset, setmetatable, getmetatable, require
        local names = setmetatable({}, { __mode = "k" })
        local byName, pristine = {}, {}
        local function name(v, n)
          local t = type(v)
          if (t == "table" or t == "function" or t == "userdata") and names[v] == nil then names[v] = n end
        end
        for k, v in next, G do
          if type(k) == "string" then pristine[k] = v; byName[k] = v; name(v, "B" .. k) end
        end
        for k, v in next, G do
          if type(k) == "string" and type(v) == "table" and v ~= G then
            for k2, v2 in next, v do
              if type(k2) == "string" then
                local n = k .. "." .. k2
                byName[n] = v2
                name(v2, "B" .. n)
              end
            end
          end
        end
        local function register(modname, m)
          name(m, "M" .. modname)
          if type(m) == "table" then
            for f, v in next, m do
              local t = type(v)
              if type(f) == "string" and (t == "function" or t == "userdata") then
                name(v, "F" .. modname .. "\\0" .. f)
              end
            end
          end
        end
        local loaded = package.loaded
        for k, v in next, loaded do
          if type(k) == "string" then register(k, v) end
        end
        if getmetatable(loaded) == nil then
          setmetatable(loaded, { __newindex = function(t, k, v)
            rawset(t, k, v)
            if type(k) == "string" and v ~= nil then register(k, v) end
          end })
        end
        local cache = setmetatable({}, { __mode = "k" })
        return names, byName, pristine, cache, {}, { __index = G }, require
        """
}
