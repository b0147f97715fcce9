import CLua
import CLuaShims

/// Inside tasks the `ray` module cannot be broken: on a worker, `ray`,
/// `ray.util` and the primitives (`ray.core`) are read-only views of the real
/// tables (assignment raises), and whatever a task `rawset` into a view is
/// cleared when the task ends. The real tables are registered with the codec
/// first, so the functions in them keep travelling by name.
extension RayLuaState {
    /// Replaces `package.loaded.ray`, `ray.core` and `ray.util` (and the
    /// global `ray`, and the real `ray.util` field) with read-only views.
    func sealModuleTables() {
        let L = state.pointer
        lua_getfield(L, CLUA_REGISTRYINDEX, LUA_LOADED_TABLE)
        let loaded = lua_gettop(L)
        defer { lua_settop(L, loaded - 1) }
        lua_getfield(L, loaded, "ray.core")
        lua_getfield(L, -1, "readonly_view")
        let makeView = lua_gettop(L)
        guard lua_type(L, makeView) == LUA_TFUNCTION else { return }
        var views: [Int32] = []
        for (module, name) in [("ray.util", "ray.util"), ("ray", "ray"), ("ray.core", "ray.core")] {
            lua_pushvalue(L, makeView)
            lua_getfield(L, loaded, module)
            let real = lua_gettop(L)
            guard lua_type(L, real) == LUA_TTABLE else { lua_settop(L, makeView); continue }
            if module == "ray", views.first != nil {
                // The real ray's `util` field: the view made just before.
                lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(views[0]))
                lua_setfield(L, real, "util")
            }
            lua_pushstring(L, name)
            guard lua_pcallk(L, 2, 1, 0, 0, nil) == LUA_OK else { lua_settop(L, makeView); continue }  // readonly_view(real, name)
            lua_pushvalue(L, -1)
            views.append(luaL_ref(L, CLUA_REGISTRYINDEX))
            if module == "ray" {
                lua_pushvalue(L, -1)
                lua_setglobal(L, "ray")
            }
            // Raw: the codec's package.loaded hook must keep the real table's names.
            lua_pushstring(L, module)
            lua_rotate(L, -2, 1)
            lua_rawset(L, loaded)
            lua_settop(L, makeView)
        }
        sealedViews = views
    }

    /// Clears what a task rawset into the views (they must stay empty). [-0, +0]
    func resealModuleTables() {
        let L = state.pointer
        for view in sealedViews {
            lua_rawgeti(L, CLUA_REGISTRYINDEX, lua_Integer(view))
            lua_pushnil(L)
            if lua_next(L, -2) != 0 {
                clua_pop(L, 2)
                lua_pushnil(L)
                while lua_next(L, -2) != 0 {
                    clua_pop(L, 1)
                    lua_pushvalue(L, -1)
                    lua_pushnil(L)
                    lua_rawset(L, -4)
                }
            }
            clua_pop(L, 1)
        }
    }
}
