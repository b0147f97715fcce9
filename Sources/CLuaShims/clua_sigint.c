/* Ctrl-C for an interactive session (the REPL), as lua.c handles it: the
 * SIGINT handler sets a flag and, while a chunk runs, installs a hook on the
 * driver's state that raises "interrupted!" at the next instruction. Code
 * blocked outside Lua (ray.get waiting for a task) polls the flag. */
#include "clua.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

static atomic_int sigint_pending;
static pthread_t sigint_thread;
static lua_State *_Atomic sigint_target;

extern _Thread_local int clua_in_swift;

static void sigint_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (clua_in_swift) return; /* inside a primitive: raise once it returns */
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

static void sigint_handler(int signo) {
    /* The signal is for the process; the session's thread must take it, so
     * that its blocking read (at the prompt) is interrupted. */
    if (!pthread_equal(pthread_self(), sigint_thread)) {
        pthread_kill(sigint_thread, signo);
        return;
    }
    atomic_store(&sigint_pending, 1);
    lua_State *L = atomic_load(&sigint_target);
    if (L) lua_sethook(L, sigint_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void clua_sigint_install(void) {
    sigint_thread = pthread_self();
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = sigint_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; /* no SA_RESTART: a read at the prompt returns */
    sigaction(SIGINT, &action, NULL);
}

void clua_sigint_arm(lua_State *L) { atomic_store(&sigint_target, L); }

void clua_sigint_disarm(lua_State *L) {
    atomic_store(&sigint_target, NULL);
    lua_sethook(L, NULL, 0, 0);
}

int clua_sigint_pending(void) { return atomic_load(&sigint_pending); }

int clua_sigint_take(void) { return atomic_exchange(&sigint_pending, 0); }
