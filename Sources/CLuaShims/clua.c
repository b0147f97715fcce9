#include "clua.h"
#include <stdio.h>
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

static int tostring_body(lua_State *L) {
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
