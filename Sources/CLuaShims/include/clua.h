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
#include "raysupport.h"

enum : int { CLUA_REGISTRYINDEX = LUA_REGISTRYINDEX };
enum : int { CLUA_MULTRET = LUA_MULTRET };

static inline void clua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void clua_replace(lua_State *L, int i) { lua_replace(L, i); }
static inline void clua_pushglobaltable(lua_State *L) { lua_pushglobaltable(L); }
static inline int clua_isinteger(lua_State *L, int i) { return lua_isinteger(L, i); }
static inline lua_Integer clua_tointeger(lua_State *L, int i) { return lua_tointeger(L, i); }
static inline lua_Number clua_tonumber(lua_State *L, int i) { return lua_tonumber(L, i); }
static inline void **clua_extraspace(lua_State *L) { return (void **)lua_getextraspace(L); }
static inline void clua_gc_collect(lua_State *L) { (void)lua_gc(L, LUA_GCCOLLECT, 0); }
/* Stops the collector; returns whether it was running (restart only then). */
static inline int clua_gc_stop(lua_State *L) {
    int running = lua_gc(L, LUA_GCISRUNNING);
    if (running) (void)lua_gc(L, LUA_GCSTOP);
    return running;
}
static inline void clua_gc_restart(lua_State *L) { (void)lua_gc(L, LUA_GCRESTART); }
/* Generational collection (default parameters): young objects die cheaply. */
static inline void clua_gc_generational(lua_State *L) { (void)lua_gc(L, LUA_GCGEN, 0, 0); }

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

/* Pushes the traceback recorded by the last failed clua_pcall_traced (or nil)
 * and forgets it, so a later error that records none (out of memory skips
 * the handler) never shows a stale one. [-0, +1, m] */
void clua_pushlasttraceback(lua_State *L);

/* Converts the value at idx to a string the way `tostring` does, honouring
 * __tostring/__name, in protected mode. Pushes the string; a failing
 * __tostring yields a placeholder. [-0, +1, -] */
const char *clua_tolstring_safe(lua_State *L, int idx, size_t *len);

/* Writes to C's stdout (its buffer, in order with Lua's own print). */
void clua_stdout_write(const char *text, size_t length);

/* Writes a whole line to C's stdout and flushes it, as lua.c's print does. */
void clua_stdout_line(const char *text, size_t length);

/* Where print's lines go: a whole line, newline included. Must not raise. */
typedef void (*clua_LineSink)(lua_State *L, const char *line, size_t length);

/* Pushes a print function (lua.c's behaviour, one whole line per call)
 * that hands each line to `sink`. [-0, +1, m] */
void clua_pushprint(lua_State *L, clua_LineSink sink);

/* Replaces debug.setupvalue and debug.upvaluejoin of the global `debug`
 * table with versions that refuse the runtime's own functions (Swift
 * primitives, print, the `ray` module's Lua functions). [-0, +0, m] */
void clua_guard_debug_library(lua_State *L);

/* Replaces coroutine.yield, coroutine.running and coroutine.isyieldable so
 * that a task's own coroutine (the one clua_set_running names) behaves as
 * a main chunk: yield there raises "attempt to yield from outside a
 * coroutine", running() reports it as the main one, isyieldable() is
 * false. Elsewhere they behave as Lua's own. [-0, +0, m] */
void clua_install_task_coroutine_library(lua_State *L);

/* Replaces load, loadfile, dofile and require (and the Lua-file searcher)
 * with versions that give the chunks they load the caller's _ENV when it
 * is not the global table: a task's globals are seen by what it loads. */
void clua_install_task_loaders(lua_State *L);

/* Replaces os.getenv, os.execute and io.popen with versions that honour the
 * running task's runtime_env variables (see clua_set_task_environment). */
void clua_install_task_environment(lua_State *L);

/* Pops a table of the running task's environment variables (or nil) and
 * makes it the one os.getenv/os.execute/io.popen honour. [-1, +0] */
void clua_set_task_environment(lua_State *L);

/* Gives the calling thread a working directory of its own (unshare
 * CLONE_FS), so that chdir there moves no other thread. 0, or -1 (errno). */
int clua_private_working_directory(void);

/* Replaces next, pairs, getmetatable and setmetatable with versions under
 * which a task's environment table looks like lua.c's _G (see clua.c);
 * called by clua_install_task_loaders. [-0, +0, m] */
void clua_install_environment_functions(lua_State *L);

/* Marks the table at idx as the metatable shared by the environments of
 * received functions (the codec's), for the functions above. [-0, +0, m] */
void clua_setup_environment_metatable(lua_State *L, int idx);

/* Writes "source:linedefined" of the function at idx into buf. [-0, +0, -] */
void clua_funcwhere(lua_State *L, int idx, char *buf, size_t size);

/* Pushes "chunk:line: " for the innermost Lua function on L's stack whose
 * chunk is not `internal` (e.g. "@stdlib/ray/init.lua"): where the user
 * called the API, past the library's own wrappers. Pushes "" if none. */
void clua_userwhere(lua_State *L, const char *internal);

/* ---- Swift functions callable from Lua ---------------------------------
 * A Swift function never raises or yields itself. It returns the number of
 * results it pushed, CLUA_RAISE after pushing an error value, or CLUA_YIELD
 * to suspend the running coroutine: the trampoline then yields, and when the
 * coroutine is resumed it calls the same Swift function again with the same
 * arguments (the stack as it was), so the function re-checks and either
 * returns, raises, or yields again.
 */
enum : int { CLUA_RAISE = -1, CLUA_YIELD = -2 };
typedef int (*clua_SwiftFunction)(lua_State *L);

/* Pushes a Lua function that calls f through the trampoline. [-0, +1, m] */
void clua_pushswiftfunction(lua_State *L, clua_SwiftFunction f);

/* ---- interrupting a running coroutine ------------------------------------
 * The way lua.c handles Ctrl-C, for another thread: a worker thread marks
 * the coroutine it is running (clua_set_running); clua_interrupt_thread
 * sends that thread a signal whose handler, on the worker's own thread,
 * installs a count hook on the marked coroutine. The hook calls `check(L)`;
 * when it returns nonzero it raises the error value `check` pushed, and
 * stays installed, so a pcall that catches the error is interrupted again;
 * otherwise it removes itself. Tasks pay nothing until interrupted. */
typedef int (*clua_InterruptCheck)(lua_State *L);

/* Installs the signal handler (once per process) and the check. */
void clua_interrupts_init(clua_InterruptCheck check);
/* Lets the calling thread receive interrupts (call it on each worker thread). */
void clua_interrupts_enable_thread(void);
/* The coroutine this thread is running now, or NULL. */
void clua_set_running(lua_State *co);
/* Installs the interrupt hook on co directly (on the thread that runs it). */
void clua_interrupt_now(lua_State *co);
/* Asks `thread` (a pthread_t) to interrupt the coroutine it runs. */
void clua_interrupt_thread(unsigned long thread);

/* ---- Ctrl-C in an interactive session (clua_sigint.c) ----------------------
 * clua_sigint_install sets a SIGINT handler (without SA_RESTART, so a read
 * at a prompt returns) for the calling thread: a SIGINT that lands on
 * another thread is passed on to it. While armed with a state, SIGINT also hooks that
 * state to raise "interrupted!"; disarm removes the hook. pending reads the
 * flag the handler sets, take reads and clears it. */
void clua_sigint_install(void);
void clua_sigint_arm(lua_State *L);
void clua_sigint_disarm(lua_State *L);
int clua_sigint_pending(void);
int clua_sigint_take(void);

/* ---- codec hot paths (clua_codec.c) ------------------------------------
 * The value codec's inner loops over scalars, in C so that a table of
 * numbers costs Lua API calls and byte writes, nothing more. They never
 * raise: only non-raising, non-allocating API calls are used. The byte
 * format is docs/codec-format.md; tags must match Sources/LuaCodec/Wire.swift.
 */

/* ---- the allocator (clua_alloc.c) -------------------------------------
 * Large blocks come from CRaySupport's block cache (raysupport.h). */
/* A lua_Alloc: the C library for small blocks, the cache for large ones. */
void *clua_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* A growable byte buffer shared by the Swift encoder and these helpers.
 * Its data is a large block (ray_big_*) exactly when cap >= RAY_BIG_THRESHOLD. */
typedef struct clua_Buf {
    unsigned char *data;
    size_t len;
    size_t cap;
    int failed;  /* set when memory ran out; the contents are then incomplete */
} clua_Buf;

/* Makes room for `extra` more bytes; 0 when memory is exhausted. */
int clua_buf_grow(clua_Buf *b, size_t extra);
void clua_buf_free(clua_Buf *b);

static inline int clua_buf_reserve(clua_Buf *b, size_t extra) {
    return b->cap - b->len >= extra ? 1 : clua_buf_grow(b, extra);
}
static inline void clua_buf_byte(clua_Buf *b, unsigned char x) {
    if (clua_buf_reserve(b, 1)) b->data[b->len++] = x;
}
static inline void clua_buf_varint(clua_Buf *b, unsigned long long x) {
    if (!clua_buf_reserve(b, 10)) return;
    unsigned char *p = b->data + b->len;
    while (x >= 0x80) { *p++ = (unsigned char)(x | 0x80); x >>= 7; }
    *p++ = (unsigned char)x;
    b->len = (size_t)(p - b->data);
}
static inline void clua_buf_bytes(clua_Buf *b, const void *src, size_t n) {
    if (!clua_buf_reserve(b, n)) return;
    for (size_t i = 0; i < n; i++) b->data[b->len + i] = ((const unsigned char *)src)[i];
    b->len += n;
}
/* varint length, then the bytes */
void clua_buf_prefixed(clua_Buf *b, const void *src, size_t n);

/* Appends the value at idx if it is a scalar (nil, boolean, number,
 * string); returns 1 if written, 0 if it is not a scalar. [-0, +0, -] */
int clua_put_scalar(lua_State *L, int idx, clua_Buf *b);

/* Roles of a value handed back to Swift during a table walk; MOVED is not
 * a value but a notice (see clua_put_entries). */
enum : int { CLUA_ROLE_ELEMENT = 0, CLUA_ROLE_KEY = 1, CLUA_ROLE_FIELD = 2, CLUA_ROLE_MOVED = 3 };

/* Called for a non-scalar at stack index idx; position is the array index
 * for ELEMENT; for FIELD the key sits at idx - 1. For MOVED, the bytes from
 * offset `position` on moved up by `idx` bytes. Returns 0 to go on. */
typedef int (*clua_PutComplex)(lua_State *L, int idx, int role, lua_Integer position, void *ctx);

/* Writes the entries of the table at absolute index t: an element count n,
 * the n elements 1..n, every other (key value) pair, and a nil terminator.
 * The elements are the run of keys 1, 2, 3... that lua_next yields first
 * (Lua visits the array part first, in order), so one pass suffices and the
 * table's border (#t, unreliable for sparse tables) is never used; keys of
 * 1..k that sit in the hash part simply travel as pairs. n is known only
 * when the run ends: one byte is reserved, and if n needs more the elements
 * are moved up and `put` is told (MOVED) so that recorded offsets can follow.
 * Returns 0, or the first nonzero value `put` returned (stack then left
 * unbalanced: the caller resets it). [-0, +0, -] */
int clua_put_entries(lua_State *L, int t, clua_Buf *b, clua_PutComplex put, void *ctx);

/* Decoding: reads scalars straight from bytes. Pushes the value starting at
 * *pos if its tag is a scalar one and it is complete within `size`; returns
 * 1 then (and advances *pos), 0 when the caller must handle it (another tag,
 * or a malformed scalar, which the caller reports). [-0, +(0|1), m] */
int clua_get_scalar(lua_State *L, const unsigned char *data, size_t size, size_t *pos);

/* Decodes elements from..to of the table at absolute index t while they are
 * well-formed scalars; returns the first index not done (to + 1 when all
 * were). [-0, +0, m] */
lua_Integer clua_get_array(lua_State *L, int t, lua_Integer from, lua_Integer to,
                           const unsigned char *data, size_t size, size_t *pos);

/* Decodes (key value) pairs into the table at t while both are scalars.
 * Returns DONE after consuming the terminating nil, KEY when the next key
 * is not a scalar (nothing pushed), VALUE when the key was pushed but its
 * value is not a scalar, NAN_KEY when the key is NaN (*pos at that key).
 * [-0, +(0|1), m] */
enum : int { CLUA_PAIRS_DONE = 0, CLUA_PAIRS_KEY = 1, CLUA_PAIRS_VALUE = 2, CLUA_PAIRS_NAN_KEY = 3 };
int clua_get_pairs(lua_State *L, int t, const unsigned char *data, size_t size, size_t *pos);

/* Bytes of C stack left below the caller on this thread (the thread's stack
 * bounds are looked up once per thread). Recursive walks over untrusted
 * input check it so that deep nesting is an error, never a stack overflow,
 * whatever stack size the calling thread has. */
size_t clua_stack_room(void);


#endif
