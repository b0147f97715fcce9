#define _GNU_SOURCE
#include <sched.h>
#include "clua.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- protected Swift bodies ------------------------------------------- */

static int trampoline(lua_State *L) {
    clua_Body body = (clua_Body)lua_touserdata(L, 1);
    void *context = lua_touserdata(L, 2);
    lua_rotate(L, 1, -2);
    lua_pop(L, 2);
    int n = body(L, context);
    if (n < 0) return lua_error(L);
    return n;
}

int clua_protect(lua_State *L, clua_Body body, void *context, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs + 1;
    lua_pushcfunction(L, trampoline);
    lua_pushlightuserdata(L, (void *)body);
    lua_pushlightuserdata(L, context);
    lua_rotate(L, base, 3);
    return lua_pcall(L, nargs + 2, nresults, 0);
}

/* ---- traced calls ------------------------------------------------------ */

static const char *TRACEBACK_KEY = "clua.lasttraceback";

static int traced_handler(lua_State *L) {
    luaL_traceback(L, L, NULL, 1);  /* "stack traceback:\n..." (the message is kept apart) */
    lua_setfield(L, LUA_REGISTRYINDEX, TRACEBACK_KEY);
    lua_settop(L, 1);
    return 1;
}

int clua_pcall_traced(lua_State *L, int nargs, int nresults) {
    int fidx = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traced_handler);
    lua_insert(L, fidx);
    int status = lua_pcall(L, nargs, nresults, fidx);
    lua_remove(L, fidx);
    return status;
}

void clua_pushlasttraceback(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, TRACEBACK_KEY);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, TRACEBACK_KEY);
}

/* ---- safe tostring ------------------------------------------------------ */

/* One scalar for a table's rendering: strings quoted, tables and other
 * values by their type (or their own __tostring/__name, as luaL_tolstring
 * gives it). [-0, +1] */
static void push_field_text(lua_State *L, int idx) {
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        lua_pushliteral(L, "\"");
        lua_pushlstring(L, s, n > 40 ? 37 : n);
        lua_pushstring(L, n > 40 ? "...\"" : "\"");
        lua_concat(L, 3);
        break;
    }
    case LUA_TTABLE:
        if (luaL_getmetafield(L, idx, "__tostring") != LUA_TNIL) {
            lua_pop(L, 1);
            luaL_tolstring(L, idx, NULL);
        } else {
            lua_pushliteral(L, "{...}");
        }
        break;
    default:
        luaL_tolstring(L, idx, NULL);
    }
}

static int compare_texts(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

#define RENDER_MAX_FIELDS 16

/* A table without __tostring or __name, as `{code = 42, "x"}`: its
 * sequence first, then up to RENDER_MAX_FIELDS other fields sorted by
 * their text, so that an error raised as a table reads well. [-0, +1] */
static void push_table_text(lua_State *L, int t) {
    luaL_Buffer b;
    const char *fields[RENDER_MAX_FIELDS];
    int nfields = 0, more = 0;
    lua_Integer seq = (lua_Integer)lua_rawlen(L, t);
    if (seq > RENDER_MAX_FIELDS) seq = RENDER_MAX_FIELDS;
    lua_newtable(L);  /* anchors the field texts */
    int anchor = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 && lua_tointeger(L, -2) <= seq) {
            lua_pop(L, 1);
            continue;
        }
        if (nfields == RENDER_MAX_FIELDS) { more = 1; lua_pop(L, 1); continue; }
        if (lua_type(L, -2) == LUA_TSTRING) lua_pushvalue(L, -2);
        else { lua_pushliteral(L, "["); push_field_text(L, lua_gettop(L) - 2); lua_pushliteral(L, "]"); lua_concat(L, 3); }
        lua_pushliteral(L, " = ");
        push_field_text(L, lua_gettop(L) - 2);
        lua_concat(L, 3);
        fields[nfields] = lua_tostring(L, -1);
        lua_rawseti(L, anchor, nfields + 1);
        nfields++;
        lua_pop(L, 1);
    }
    qsort(fields, (size_t)nfields, sizeof fields[0], compare_texts);
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '{');
    for (lua_Integer i = 1; i <= seq; i++) {
        if (i > 1) luaL_addstring(&b, ", ");
        lua_rawgeti(L, t, i);
        push_field_text(L, lua_gettop(L));
        lua_remove(L, -2);
        luaL_addvalue(&b);
    }
    for (int i = 0; i < nfields; i++) {
        if (i > 0 || seq > 0) luaL_addstring(&b, ", ");
        luaL_addstring(&b, fields[i]);
    }
    if (more || (lua_Integer)lua_rawlen(L, t) > seq) luaL_addstring(&b, ", ...");
    luaL_addchar(&b, '}');
    luaL_pushresult(&b);
    lua_remove(L, anchor);
}

static int tostring_body(lua_State *L) {
    if (lua_type(L, 1) == LUA_TTABLE && luaL_getmetafield(L, 1, "__tostring") == LUA_TNIL
        && luaL_getmetafield(L, 1, "__name") == LUA_TNIL) {
        luaL_checkstack(L, 8, "rendering a table");
        push_table_text(L, 1);
        return 1;
    }
    lua_settop(L, 1);
    luaL_tolstring(L, 1, NULL);
    return 1;
}

const char *clua_tolstring_safe(lua_State *L, int idx, size_t *len) {
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, tostring_body);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushfstring(L, "(%s value)", luaL_typename(L, idx));
    }
    return lua_tolstring(L, -1, len);
}

/* ---- function location ------------------------------------------------- */

void clua_funcwhere(lua_State *L, int idx, char *buf, size_t size) {
    lua_Debug ar;
    lua_pushvalue(L, idx);
    if (lua_getinfo(L, ">S", &ar)) {
        if (ar.what[0] == 'C') snprintf(buf, size, "[C]");
        else snprintf(buf, size, "%s:%d", ar.short_src, ar.linedefined);
    } else {
        snprintf(buf, size, "?");
    }
}


/* ---- Swift functions ----------------------------------------------------- */

static int swift_invoke(lua_State *L);

static int swift_continue(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    (void)ctx;
    return swift_invoke(L);
}

/* How deep this thread is inside Swift primitives. Interrupt hooks wait
 * until it is 0: a primitive's own Lua calls (the codec's) must not be cut
 * short, or an interrupt would surface as, say, a serialization error. */
_Thread_local int clua_in_swift __attribute__((tls_model("initial-exec")));

static int swift_invoke(lua_State *L) {
    clua_SwiftFunction f = (clua_SwiftFunction)lua_touserdata(L, lua_upvalueindex(1));
    if (f == NULL || lua_type(L, lua_upvalueindex(1)) != LUA_TLIGHTUSERDATA) {
        return luaL_error(L, "a ray runtime function was tampered with (its upvalue was replaced)");
    }
    if (*(void **)lua_getextraspace(L) == NULL) {
        /* The state is closing (a finalizer runs at shutdown): no runtime to call. */
        return luaL_error(L, "the ray runtime has shut down");
    }
    clua_in_swift++;
    int n = f(L);
    clua_in_swift--;
    if (n >= 0) return n;
    if (n == CLUA_YIELD) return lua_yieldk(L, 0, 0, swift_continue);
    return lua_error(L);
}

void clua_pushswiftfunction(lua_State *L, clua_SwiftFunction f) {
    lua_pushlightuserdata(L, (void *)f);
    lua_pushcclosure(L, swift_invoke, 1);
}

/* ---- interrupts -------------------------------------------------------------- */

#include <pthread.h>
#include <signal.h>

#define CLUA_INTERRUPT_SIGNAL SIGUSR2

static clua_InterruptCheck interrupt_check;
static _Thread_local lua_State *running_coroutine __attribute__((tls_model("initial-exec")));

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (clua_in_swift) return; /* inside a primitive: check again after it */
    if (interrupt_check && interrupt_check(L)) lua_error(L);
    lua_sethook(L, NULL, 0, 0);  /* nothing to do: run at full speed again */
}

static void interrupt_signal(int signo) {
    (void)signo;
    lua_State *co = running_coroutine;
    if (co) lua_sethook(co, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* lua_sethook is safe in a signal handler on the thread that runs L (ldebug.c
 * says so: the fields it sets are atomic enough); lua.c relies on it for Ctrl-C. */
static void install_interrupt_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = interrupt_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(CLUA_INTERRUPT_SIGNAL, &action, NULL);
}

void clua_interrupts_init(clua_InterruptCheck check) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    interrupt_check = check;
    pthread_once(&once, install_interrupt_handler);
}

void clua_interrupts_enable_thread(void) {
    /* A process started by a parent that blocks signals inherits that mask:
     * unblock ours on the threads that must receive it. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, CLUA_INTERRUPT_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    /* Ctrl-C is for the driver's thread (an interactive session), not workers. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void clua_set_running(lua_State *co) { running_coroutine = co; }

void clua_interrupt_now(lua_State *co) {
    lua_sethook(co, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void clua_interrupt_thread(unsigned long thread) {
    pthread_kill((pthread_t)thread, CLUA_INTERRUPT_SIGNAL);
}

void clua_userwhere(lua_State *L, const char *internal) {
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0 && strcmp(ar.source, internal) != 0) {
            lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
            return;
        }
    }
    lua_pushliteral(L, "");
}

void clua_stdout_write(const char *text, size_t length) {
    fwrite(text, 1, length, stdout);
}

/* ---- print ----------------------------------------------------------------- */

/* lua.c's print (luaL_tolstring on each argument, tabs between, a newline;
 * a bad __tostring raises as there), except that the line is built whole
 * and handed to the sink in one piece, so lines printed by tasks on other
 * threads never interleave. A C function: debug.upvaluejoin cannot rewire
 * it, and string.dump refuses it, as with lua.c's print. It has no upvalues
 * either (debug.getinfo(print, "u").nups == 0, which db.lua checks): the
 * sink is kept in the registry, where a task cannot reach it without
 * debug.getregistry. */
static const char *PRINT_SINK_KEY = "clua.printsink";

static int print_line(lua_State *L) {
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    size_t length;
    const char *line = lua_tolstring(L, -1, &length);
    /* While the state closes (its owner is gone: the extra space is
     * cleared), finalizers may still print, as gc.lua's last one does under
     * lua.c: the line goes straight to stdout, not to a sink that would look
     * for the owner. */
    if (*(void **)lua_getextraspace(L) == NULL) {
        clua_stdout_line(line, length);
        return 0;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, PRINT_SINK_KEY);
    clua_LineSink sink = (clua_LineSink)lua_touserdata(L, -1);
    if (sink == NULL || lua_type(L, -1) != LUA_TLIGHTUSERDATA) {
        return luaL_error(L, "print: its sink was replaced (in the registry)");
    }
    lua_pop(L, 1);
    sink(L, line, length);
    return 0;
}

void clua_pushprint(lua_State *L, clua_LineSink sink) {
    lua_pushlightuserdata(L, (void *)sink);
    lua_setfield(L, LUA_REGISTRYINDEX, PRINT_SINK_KEY);
    lua_pushcfunction(L, print_line);
}

void clua_stdout_line(const char *text, size_t length) {
    fwrite(text, 1, length, stdout);
    fflush(stdout);
}

/* ---- the runtime's functions are out of the debug library's reach ---------- */

static int print_line(lua_State *L);

/* Whether the function at idx is the runtime's own: a Swift primitive,
 * print, or a Lua function of the `ray` modules (stdlib/ray/). */
static int is_runtime_function(lua_State *L, int idx) {
    lua_CFunction c = lua_tocfunction(L, idx);
    if (c != NULL) return c == swift_invoke || c == print_line;
    if (lua_type(L, idx) != LUA_TFUNCTION) return 0;
    lua_Debug ar;
    lua_pushvalue(L, idx);
    if (!lua_getinfo(L, ">S", &ar)) return 0;
    return strncmp(ar.source, "@stdlib/ray/", 12) == 0;
}

/* debug.setupvalue / debug.upvaluejoin, refusing to change the runtime's
 * functions (a task could otherwise break the `ray` module for every task
 * after it on the worker); upvalue 1 is the original, upvalue 2 its name. */
static int guarded_debug_call(lua_State *L) {
    if (is_runtime_function(L, 1)) {
        return luaL_error(L, "debug.%s: the ray runtime's functions cannot be changed", lua_tostring(L, lua_upvalueindex(2)));
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static void guard_debug_metatables(lua_State *L, int debug);

void clua_guard_debug_library(lua_State *L) {
    lua_getglobal(L, "debug");
    if (lua_type(L, -1) == LUA_TTABLE) {
        guard_debug_metatables(L, lua_gettop(L));
        static const char *const guarded[] = { "setupvalue", "upvaluejoin" };
        for (size_t i = 0; i < sizeof guarded / sizeof guarded[0]; i++) {
            lua_getfield(L, -1, guarded[i]);
            lua_pushstring(L, guarded[i]);
            lua_pushcclosure(L, guarded_debug_call, 2);
            lua_setfield(L, -2, guarded[i]);
        }
    }
    lua_pop(L, 1);
}

/* ---- a task's own coroutine looks like a main chunk ------------------------ */

/* A task runs as a coroutine, but its body must behave as a main chunk does
 * under lua.c: coroutine.yield at its own level raises (catchably) instead
 * of suspending the task, coroutine.running() says it is the main one, and
 * coroutine.isyieldable() is false there. Coroutines the task creates are
 * untouched. */
static int task_level_yield(lua_State *L) {
    if (L == running_coroutine) return luaL_error(L, "attempt to yield from outside a coroutine");
    return lua_yield(L, lua_gettop(L));
}

static int task_level_running(lua_State *L) {
    int ismain = lua_pushthread(L);
    lua_pushboolean(L, ismain || L == running_coroutine);
    return 2;
}

static int task_level_isyieldable(lua_State *L) {
    lua_State *co = lua_isnone(L, 1) ? L : lua_tothread(L, 1);
    luaL_argexpected(L, co != NULL, 1, "coroutine");
    lua_pushboolean(L, co != running_coroutine && lua_isyieldable(co));
    return 1;
}

void clua_install_task_coroutine_library(lua_State *L) {
    lua_getglobal(L, "coroutine");
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_pushcfunction(L, task_level_yield);
        lua_setfield(L, -2, "yield");
        lua_pushcfunction(L, task_level_running);
        lua_setfield(L, -2, "running");
        lua_pushcfunction(L, task_level_isyieldable);
        lua_setfield(L, -2, "isyieldable");
    }
    lua_pop(L, 1);
}

/* ---- chunks a task loads see its globals ------------------------------------ */

/* A task's function runs with an environment of its own (its globals fall
 * back to the worker's). lua.c's main chunk and the chunks it loads share
 * one _G, so a global a task sets must be seen by what it `load`s,
 * `loadfile`s, `dofile`s and `require`s: these versions give such chunks
 * the caller's _ENV when the caller's is not the global table. */

static const char *REQUIRE_ENV_KEY = "clua.requireenv";

/* Pushes the _ENV of the function at `level` when it is not the global
 * table; returns whether it pushed. [-0, +(0|1)] */
static int push_caller_env(lua_State *L, int level) {
    lua_Debug ar;
    if (!lua_getstack(L, level, &ar) || !lua_getinfo(L, "f", &ar)) return 0;
    int f = lua_gettop(L);
    for (int i = 1;; i++) {
        const char *name = lua_getupvalue(L, f, i);
        if (name == NULL) break;
        if (strcmp(name, "_ENV") == 0) {
            lua_pushglobaltable(L);
            int global = lua_rawequal(L, -1, -2);
            lua_pop(L, 1);
            if (!global && lua_type(L, -1) == LUA_TTABLE) {
                lua_remove(L, f);
                return 1;
            }
            lua_pop(L, 1);
            break;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

/* Calls the original (upvalue 1) with the arguments, the env argument at
 * `env_arg` filled with the caller's _ENV when it was not given. */
static int call_with_caller_env(lua_State *L, int env_arg) {
    if (lua_gettop(L) < env_arg && push_caller_env(L, 1)) {
        int env = lua_gettop(L);
        lua_settop(L, env_arg);         /* pads with nils; the env lands past them */
        lua_pushvalue(L, env);
        lua_replace(L, env_arg);
        if (env < env_arg) { /* the env was moved: clear its old slot (a padded argument) */
            lua_pushnil(L);
            lua_replace(L, env);
        }
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int task_load(lua_State *L) { return call_with_caller_env(L, 4); }
static int task_loadfile(lua_State *L) { return call_with_caller_env(L, 3); }

static int dofile_continue(lua_State *L, int status, lua_KContext ctx) {
    (void)status; (void)ctx;
    return lua_gettop(L) - 1;
}

static int task_dofile(lua_State *L) {
    const char *fname = luaL_optstring(L, 1, NULL);
    lua_settop(L, 1);
    if (luaL_loadfile(L, fname) != LUA_OK) return lua_error(L);
    if (push_caller_env(L, 1)) {
        if (lua_setupvalue(L, -2, 1) == NULL) lua_pop(L, 1);
    }
    lua_callk(L, 0, LUA_MULTRET, 0, dofile_continue);
    return dofile_continue(L, 0, 0);
}

/* require: the Lua-file searcher (wrapped below) gives the chunk the
 * requiring task's _ENV while this require runs. */
static int task_require(lua_State *L) {
    lua_settop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, REQUIRE_ENV_KEY);   /* 2: the outer require's env */
    if (!push_caller_env(L, 1)) lua_pushvalue(L, 2);        /* 3: this one's (nested: inherited) */
    lua_setfield(L, LUA_REGISTRYINDEX, REQUIRE_ENV_KEY);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    int status = lua_pcall(L, 1, 2, 0);
    lua_pushvalue(L, 2);
    lua_setfield(L, LUA_REGISTRYINDEX, REQUIRE_ENV_KEY);
    if (status != LUA_OK) return lua_error(L);
    return 2;
}

static int task_lua_searcher(lua_State *L) {
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_call(L, 1, 2);
    if (lua_type(L, 2) == LUA_TFUNCTION && !lua_iscfunction(L, 2)
        && lua_getfield(L, LUA_REGISTRYINDEX, REQUIRE_ENV_KEY) == LUA_TTABLE) {
        if (lua_setupvalue(L, 2, 1) == NULL) lua_pop(L, 1);
    } else {
        lua_settop(L, 3);
    }
    lua_settop(L, 3);
    return 2;
}

void clua_install_task_loaders(lua_State *L) {
    static const struct { const char *name; lua_CFunction f; } wrapped[] = {
        { "load", task_load }, { "loadfile", task_loadfile }, { "require", task_require },
    };
    for (size_t i = 0; i < sizeof wrapped / sizeof wrapped[0]; i++) {
        lua_getglobal(L, wrapped[i].name);
        lua_pushcclosure(L, wrapped[i].f, 1);
        lua_setglobal(L, wrapped[i].name);
    }
    lua_pushcfunction(L, task_dofile);
    lua_setglobal(L, "dofile");
    clua_install_environment_functions(L);
    /* package.searchers[2] is the Lua-file searcher */
    lua_getglobal(L, "package");
    if (lua_type(L, -1) == LUA_TTABLE && lua_getfield(L, -1, "searchers") == LUA_TTABLE) {
        lua_rawgeti(L, -1, 2);
        lua_pushcclosure(L, task_lua_searcher, 1);
        lua_rawseti(L, -2, 2);
    }
    lua_settop(L, lua_gettop(L) - 2);
}

/* ---- a task's runtime_env variables ------------------------------------------ */

/* runtime_env = { env_vars = {...} } holds for the task: os.getenv reads
 * them first, and the commands os.execute and io.popen run get them
 * exported. The process's own environment is shared by every worker thread
 * and is left alone. The worker keeps the running task's variables in the
 * registry under ENV_VARS_KEY (a table, or nil). */
static const char *ENV_VARS_KEY = "clua.envvars";

static int task_getenv(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    if (lua_getfield(L, LUA_REGISTRYINDEX, ENV_VARS_KEY) == LUA_TTABLE && lua_getfield(L, -1, name) == LUA_TSTRING) return 1;
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

/* Replaces argument 1 (a command) with "export K='V'; ...; command" when the
 * task has variables (their names are checked when submitted: shell names).
 * Values are single-quoted for the shell. */
static void export_task_vars(lua_State *L) {
    if (lua_type(L, 1) != LUA_TSTRING) return;
    if (lua_getfield(L, LUA_REGISTRYINDEX, ENV_VARS_KEY) != LUA_TTABLE) { lua_pop(L, 1); return; }
    luaL_checkstack(L, 12, "exporting runtime_env variables");
    int vars = lua_gettop(L);
    lua_pushliteral(L, "");
    int acc = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, vars)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            const char *value = lua_tolstring(L, -1, &n), *run = value;
            lua_pushvalue(L, acc);
            lua_pushfstring(L, "export %s='", lua_tostring(L, -3));
            lua_concat(L, 2);
            for (size_t i = 0; i < n; i++) {
                if (value[i] != '\'') continue;
                lua_pushlstring(L, run, (size_t)(value + i - run));
                lua_pushliteral(L, "'\\''");
                lua_concat(L, 3);
                run = value + i + 1;
            }
            lua_pushlstring(L, run, (size_t)(value + n - run));
            lua_pushliteral(L, "'; ");
            lua_concat(L, 3);
            lua_replace(L, acc);
        }
        lua_pop(L, 1);
    }
    lua_pushvalue(L, 1);
    lua_concat(L, 2);
    lua_replace(L, 1);
    lua_pop(L, 1);
}

static int task_execute(lua_State *L) {
    export_task_vars(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

void clua_install_task_environment(lua_State *L) {
    lua_getglobal(L, "os");
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, "getenv");
        lua_pushcclosure(L, task_getenv, 1);
        lua_setfield(L, -2, "getenv");
        lua_getfield(L, -1, "execute");
        lua_pushcclosure(L, task_execute, 1);
        lua_setfield(L, -2, "execute");
    }
    lua_pop(L, 1);
    lua_getglobal(L, "io");
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, "popen");
        lua_pushcclosure(L, task_execute, 1);
        lua_setfield(L, -2, "popen");
    }
    lua_pop(L, 1);
}

void clua_set_task_environment(lua_State *L) {
    lua_setfield(L, LUA_REGISTRYINDEX, ENV_VARS_KEY);
}

int clua_private_working_directory(void) {
    return unshare(CLONE_FS);
}

/* ---- a task's environment looks like _G ------------------------------------ */

/* A task's function runs with an environment table of its own (the codec's
 * decoder makes it; its `_G` is itself) whose metatable, shared by every
 * environment of the state, falls back to the worker's globals. To the
 * task's code that table is _G, so it must look like lua.c's _G:
 *
 * - getmetatable(_G) is nil until the task sets one, and the shared
 *   metatable is out of reach: errors.lua does `getmetatable(_G).__index =
 *   nil`, which otherwise cut every later task on the worker off from the
 *   standard library and `ray`;
 * - setmetatable(_G, mt) (a "strict" module) keeps the fallback: the
 *   environment gets a metatable of its own that looks in the worker's
 *   globals first, then uses mt's __index / __newindex;
 * - next(_G, k) and pairs(_G) list the globals the task sees: its own, then
 *   the worker's it does not shadow (nextvar.lua finds print that way).
 *
 * An environment's metatable is marked by ENV_MARK, whose value is the
 * shared metatable. */

static const char *ENV_MARK = "__ray_environment";
static const char *ENV_USER_METATABLES = "clua.envmetatables";  /* environment -> the task's metatable (weak keys) */

static int is_environment(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
    lua_pushstring(L, ENV_MARK);
    int marked = lua_rawget(L, -2) == LUA_TTABLE;
    lua_pop(L, 2);
    return marked;
}

void clua_setup_environment_metatable(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    lua_pushstring(L, ENV_MARK);
    lua_pushvalue(L, idx);
    lua_rawset(L, idx);
}

/* next over an environment: its own keys, then the worker's globals it does
 * not shadow. [args: t, k] */
static int environment_next(lua_State *L) {
    lua_settop(L, 2);
    lua_pushglobaltable(L);  /* 3 */
    int in_globals = 0;
    if (!lua_isnil(L, 2)) {
        lua_pushvalue(L, 2);
        int own = lua_rawget(L, 1) != LUA_TNIL;
        lua_pushvalue(L, 2);
        int global = lua_rawget(L, 3) != LUA_TNIL;
        lua_pop(L, 2);
        in_globals = global && !own;
    }
    lua_pushvalue(L, 2);
    if (!in_globals) {
        if (lua_next(L, 1)) return 2;
        lua_pushnil(L);  /* the task's own keys are done: the worker's from the start */
    }
    while (lua_next(L, 3)) {
        lua_pushvalue(L, -2);
        if (lua_rawget(L, 1) == LUA_TNIL) { lua_pop(L, 1); return 2; }
        lua_pop(L, 2);  /* shadowed: the task's value was listed */
    }
    lua_pushnil(L);
    return 1;
}

/* next, as lbaselib.c's, plus environments. */
static int task_next(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (is_environment(L, 1)) return environment_next(L);
    lua_settop(L, 2);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

static int pairs_continue(lua_State *L, int status, lua_KContext k) {
    (void)L; (void)status; (void)k;
    return 3;
}

/* pairs, as lbaselib.c's, returning this `next` (so `pairs(t) == next`
 * still holds). */
static int task_pairs(lua_State *L) {
    luaL_checkany(L, 1);
    if (luaL_getmetafield(L, 1, "__pairs") == LUA_TNIL) {
        lua_pushcfunction(L, task_next);
        lua_pushvalue(L, 1);
        lua_pushnil(L);
    } else {
        lua_pushvalue(L, 1);
        lua_callk(L, 1, 3, 0, pairs_continue);
    }
    return 3;
}

static void push_user_metatables(lua_State *L) {
    if (lua_getfield(L, LUA_REGISTRYINDEX, ENV_USER_METATABLES) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_newtable(L);
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, ENV_USER_METATABLES);
    }
}

/* getmetatable, as lbaselib.c's; an environment's is the one its task set. */
static int task_getmetatable(lua_State *L) {
    luaL_checkany(L, 1);
    if (is_environment(L, 1)) {
        push_user_metatables(L);
        lua_pushvalue(L, 1);
        if (lua_rawget(L, -2) != LUA_TTABLE) return 1;  /* nil */
        lua_pushliteral(L, "__metatable");
        if (lua_rawget(L, -2) == LUA_TNIL) lua_pop(L, 1);
        return 1;
    }
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    luaL_getmetafield(L, 1, "__metatable");
    return 1;
}

static int return_one(lua_State *L, int status, lua_KContext k) { (void)status; (void)k; (void)L; return 1; }
static int return_none(lua_State *L, int status, lua_KContext k) { (void)status; (void)k; (void)L; return 0; }

/* __index of an environment the task gave a metatable (upvalue 1): the
 * worker's globals first (they are in lua.c's _G itself), then mt.__index. */
static int environment_index(lua_State *L) {
    lua_settop(L, 2);
    lua_pushglobaltable(L);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, 3) != LUA_TNIL) return 1;
    lua_settop(L, 2);
    lua_pushliteral(L, "__index");
    int t = lua_rawget(L, lua_upvalueindex(1));  /* 3 */
    if (t == LUA_TNIL) return 1;
    if (t == LUA_TFUNCTION) {
        lua_pushvalue(L, 1);
        lua_pushvalue(L, 2);
        lua_callk(L, 2, 1, 0, return_one);
        return 1;
    }
    lua_pushvalue(L, 2);
    lua_gettable(L, 3);
    return 1;
}

/* __newindex of the same: a name the worker's globals have is assigned as
 * lua.c would (no __newindex, the key exists in _G), others go through
 * mt.__newindex. */
static int environment_newindex(lua_State *L) {
    lua_settop(L, 3);
    lua_pushglobaltable(L);
    lua_pushvalue(L, 2);
    int global = lua_rawget(L, 4) != LUA_TNIL;
    lua_settop(L, 3);
    if (!global) {
        lua_pushliteral(L, "__newindex");
        int t = lua_rawget(L, lua_upvalueindex(1));  /* 4 */
        if (t == LUA_TFUNCTION) {
            lua_insert(L, 1);
            lua_callk(L, 3, 0, 0, return_none);
            return 0;
        }
        if (t != LUA_TNIL) {
            lua_pushvalue(L, 2);
            lua_pushvalue(L, 3);
            lua_settable(L, 4);
            return 0;
        }
        lua_settop(L, 3);
    }
    lua_rawset(L, 1);
    return 0;
}

static int set_environment_metatable(lua_State *L) {
    lua_settop(L, 2);
    push_user_metatables(L);  /* 3 */
    lua_pushvalue(L, 1);
    if (lua_rawget(L, 3) == LUA_TTABLE) {  /* 4: the task's current one */
        lua_pushliteral(L, "__metatable");
        if (lua_rawget(L, 4) != LUA_TNIL) return luaL_error(L, "cannot change a protected metatable");
    }
    lua_settop(L, 3);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_rawset(L, 3);
    lua_getmetatable(L, 1);  /* 4 */
    lua_pushstring(L, ENV_MARK);
    lua_rawget(L, 4);  /* 5: the shared metatable */
    if (lua_isnil(L, 2)) {
        lua_setmetatable(L, 1);
        lua_settop(L, 1);
        return 1;
    }
    lua_newtable(L);  /* 6: the environment's own: mt's other metamethods, then ours */
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, 6);
    }
    lua_pushstring(L, ENV_MARK);
    lua_pushvalue(L, 5);
    lua_rawset(L, 6);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, environment_index, 1);
    lua_setfield(L, 6, "__index");
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, environment_newindex, 1);
    lua_setfield(L, 6, "__newindex");
    lua_pushnil(L);
    lua_setfield(L, 6, "__metatable");
    lua_setmetatable(L, 1);
    lua_settop(L, 1);
    return 1;
}

/* setmetatable, as lbaselib.c's, plus environments. */
static int task_setmetatable(lua_State *L) {
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (is_environment(L, 1)) return set_environment_metatable(L);
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

void clua_install_environment_functions(lua_State *L) {
    static const struct { const char *name; lua_CFunction f; } functions[] = {
        { "next", task_next }, { "pairs", task_pairs },
        { "getmetatable", task_getmetatable }, { "setmetatable", task_setmetatable },
    };
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
        lua_pushcfunction(L, functions[i].f);
        lua_setglobal(L, functions[i].name);
    }
}

/* ---- the runtime's metatables are out of the debug library's reach -------- */

/* Whether the table at idx is a metatable of the runtime's: the one every
 * ObjectRef shares, the one every task environment shares (ENV_MARK), or a
 * read-only view's of ray, ray.util or ray.core. A task that changed one
 * (cleared the refs' __gc, the environments' __index) broke every later
 * task on its worker. */
static int is_runtime_metatable(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    luaL_getmetatable(L, "ray.ObjectRef");
    int ours = lua_rawequal(L, -1, idx);
    lua_pop(L, 1);
    if (ours) return 1;
    lua_pushstring(L, ENV_MARK);
    ours = lua_rawget(L, idx) != LUA_TNIL;
    lua_pop(L, 1);
    if (ours) return 1;
    lua_pushliteral(L, "__metatable");
    if (lua_rawget(L, idx) == LUA_TSTRING) {
        const char *name = lua_tostring(L, -1);
        ours = strcmp(name, "ray") == 0 || strcmp(name, "ray.util") == 0 || strcmp(name, "ray.core") == 0;
    }
    lua_pop(L, 1);
    return ours;
}

/* debug.getmetatable: a runtime metatable answers as getmetatable does
 * (its __metatable field, or nil); any other as Lua's. */
static int guarded_getmetatable(lua_State *L) {
    luaL_checkany(L, 1);
    if (lua_getmetatable(L, 1) && is_runtime_metatable(L, -1)) {
        lua_pushliteral(L, "__metatable");
        lua_rawget(L, -2);
        return 1;
    }
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

/* debug.setmetatable: refused on a value that has a runtime metatable. */
static int guarded_setmetatable(lua_State *L) {
    luaL_checkany(L, 1);
    if (lua_getmetatable(L, 1)) {
        int ours = is_runtime_metatable(L, -1);
        lua_pop(L, 1);
        if (ours) return luaL_error(L, "debug.setmetatable: the ray runtime's metatables cannot be changed");
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static void guard_debug_metatables(lua_State *L, int debug) {
    lua_getfield(L, debug, "getmetatable");
    lua_pushcclosure(L, guarded_getmetatable, 1);
    lua_setfield(L, debug, "getmetatable");
    lua_getfield(L, debug, "setmetatable");
    lua_pushcclosure(L, guarded_setmetatable, 1);
    lua_setfield(L, debug, "setmetatable");
}
