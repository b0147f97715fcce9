/* The floor the Lua 5.4 C API sets for walking and building a table of
 * 100,000 floats on this machine, with nothing else in the loop: the least a
 * codec that goes through the public API can cost per element. Built and run
 * by scripts/bench/codec.sh. Prints "<row>\t<ns per element>". */
#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>
#include <stdio.h>
#include <time.h>

#define N 100000
#define RUNS 20

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(void) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_dostring(L, "big = {} for i = 1, 100000 do big[i] = i * 0.5 end");
    lua_getglobal(L, "big");
    int t = lua_gettop(L);
    volatile double sink = 0;
    double best;

    best = 1e18;
    for (int r = 0; r < RUNS; r++) {
        double s = now();
        lua_pushnil(L);
        while (lua_next(L, t)) { sink += lua_tonumberx(L, -1, NULL); lua_settop(L, -2); }
        double e = now() - s;
        if (e < best) best = e;
    }
    printf("API floor: read one element (next, tonumber, pop)\t%.1f\n", best / N);

    best = 1e18;
    for (int r = 0; r < RUNS; r++) {
        double s = now();
        int key = lua_gettop(L) + 1;
        lua_pushnil(L);
        while (lua_next(L, t)) {
            int is_int = lua_isinteger(L, key);
            lua_Integer k = lua_tointegerx(L, key, NULL);
            if (!lua_isinteger(L, key + 1) && lua_type(L, key + 1) == LUA_TNUMBER) sink += lua_tonumberx(L, key + 1, NULL);
            sink += (double)(k + is_int);
            lua_settop(L, key);
        }
        double e = now() - s;
        if (e < best) best = e;
    }
    printf("API floor: the encoder's calls per element, no output\t%.1f\n", best / N);

    best = 1e18;
    for (int r = 0; r < RUNS; r++) {
        double s = now();
        lua_createtable(L, N, 0);
        int u = lua_gettop(L);
        for (lua_Integer i = 1; i <= N; i++) { lua_pushnumber(L, i * 0.5); lua_rawseti(L, u, i); }
        lua_settop(L, -2);
        double e = now() - s;
        if (e < best) best = e;
    }
    printf("API floor: build one element (pushnumber, rawseti)\t%.1f\n", best / N);

    best = 1e18;
    for (int r = 0; r < RUNS; r++) {
        double s = now();
        for (int i = 0; i < N; i++) sink += lua_type(L, t);
        double e = now() - s;
        if (e < best) best = e;
    }
    printf("API floor: one lua_type call\t%.1f\n", best / N);
    lua_close(L);
    return 0;
}
