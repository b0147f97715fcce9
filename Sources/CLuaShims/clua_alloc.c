#include "clua.h"
#include <stdlib.h>
#include <string.h>

/*
 * The allocator of every runtime state (installed by lua_setallocf right
 * after luaL_newstate): the C library's for small blocks, like luaL's own,
 * and the cache above for large ones, such as big strings. Lua passes the
 * block's size back on every resize and free, so the size tells which kind
 * a block is; blocks made before the switch are all small.
 */
void *clua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    int was_big = ptr != NULL && osize >= RAY_BIG_THRESHOLD;
    if (nsize == 0) {
        if (was_big) ray_big_free(ptr); else free(ptr);
        return NULL;
    }
    if (nsize < RAY_BIG_THRESHOLD) {
        if (!was_big) return realloc(ptr, nsize);
        void *small = malloc(nsize);
        if (!small) return NULL;
        memcpy(small, ptr, nsize);
        ray_big_free(ptr);
        return small;
    }
    /* In place while it fits without wasting more than half of the block:
     * Lua counts only nsize, so a shrunk giant would hide from the collector. */
    int fits = was_big && ray_big_capacity(ptr) >= nsize;
    if (fits && nsize >= ray_big_capacity(ptr) / 2) return ptr;
    void *big = ray_big_alloc(nsize);
    if (!big) return fits ? ptr : NULL;  /* a shrink that cannot move stays */
    if (ptr) {
        memcpy(big, ptr, osize < nsize ? osize : nsize);
        if (was_big) ray_big_free(ptr); else free(ptr);
    }
    return big;
}
