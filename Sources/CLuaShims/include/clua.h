/*
 * clua: the part of the Lua binding that must be C.
 *
 * Two kinds of things live here:
 *  1. Lua's function-like macros and composite constants, which Swift cannot
 *     import (lua_pop, lua_tostring, LUA_REGISTRYINDEX, ...), as static inline
 *     functions with a clua_ prefix.
 *  2. Every call that can raise or yield. Lua errors and yields longjmp; a
 *     longjmp through a Swift frame skips its cleanup. Swift code therefore
 *     never raises: a Swift body run under clua_protect returns a status, and
 *     the C trampoline raises for it.
 */
#ifndef CLUA_H
#define CLUA_H

#include <stddef.h>
#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>

enum : int { CLUA_REGISTRYINDEX = LUA_REGISTRYINDEX };
enum : int { CLUA_MULTRET = LUA_MULTRET };

static inline int clua_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline void clua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void clua_newtable(lua_State *L) { lua_newtable(L); }
static inline void clua_insert(lua_State *L, int i) { lua_insert(L, i); }
static inline void clua_remove(lua_State *L, int i) { lua_remove(L, i); }
static inline void clua_replace(lua_State *L, int i) { lua_replace(L, i); }
static inline void clua_pushglobaltable(lua_State *L) { lua_pushglobaltable(L); }
static inline int clua_isinteger(lua_State *L, int i) { return lua_isinteger(L, i); }
static inline lua_Integer clua_tointeger(lua_State *L, int i) { return lua_tointeger(L, i); }
static inline lua_Number clua_tonumber(lua_State *L, int i) { return lua_tonumber(L, i); }
static inline void **clua_extraspace(lua_State *L) { return (void **)lua_getextraspace(L); }
static inline int clua_gc_count_kb(lua_State *L) { return lua_gc(L, LUA_GCCOUNT, 0); }
static inline void clua_gc_collect(lua_State *L) { (void)lua_gc(L, LUA_GCCOLLECT, 0); }

/* A Swift body run in protected mode. It returns the number of results it
 * left on the stack, or -1 after pushing an error value to be raised. */
typedef int (*clua_Body)(lua_State *L, void *context);

/* Calls body(L, context) inside lua_pcall with the top `nargs` values as its
 * arguments (stack index 1.. inside the body). On success the body's results
 * replace the arguments (nresults of them, or all with CLUA_MULTRET) and
 * LUA_OK is returned; on error the error value replaces them.
 * [-nargs, +(nresults|1), -] */
int clua_protect(lua_State *L, clua_Body body, void *context, int nargs, int nresults);

/* lua_pcall with a message handler that keeps the error value as it is and
 * records a traceback, readable with clua_pushlasttraceback.
 * [-(nargs+1), +(nresults|1), -] */
int clua_pcall_traced(lua_State *L, int nargs, int nresults);

/* Pushes the traceback recorded by the last failed clua_pcall_traced (or nil).
 * [-0, +1, -] */
void clua_pushlasttraceback(lua_State *L);

/* Converts the value at idx to a string the way `tostring` does, honouring
 * __tostring/__name, in protected mode. Pushes the string; a failing
 * __tostring yields a placeholder. [-0, +1, -] */
const char *clua_tolstring_safe(lua_State *L, int idx, size_t *len);

/* Writes "source:linedefined" of the function at idx into buf. [-0, +0, -] */
void clua_funcwhere(lua_State *L, int idx, char *buf, size_t size);

#endif
