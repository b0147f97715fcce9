#define _GNU_SOURCE
#include "clua.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Wire tags (Sources/LuaCodec/Wire.swift). */
enum { T_NIL = 0x00, T_FALSE = 0x01, T_TRUE = 0x02, T_INT = 0x03, T_FLOAT = 0x04, T_STRING = 0x05 };

int clua_buf_grow(clua_Buf *b, size_t extra) {
    size_t need = b->len + extra;
    if (need < b->len) { b->failed = 1; return 0; }
    size_t cap = b->cap > ((size_t)-1) / 2 ? need : 2 * b->cap;  /* doubling, at least 64 */
    if (cap < 64) cap = 64;
    if (cap < need) cap = need;  /* one big reserve (a long string) takes just what it needs */
    unsigned char *p;
    if (cap < RAY_BIG_THRESHOLD) {
        p = realloc(b->data, cap);
        if (!p) { b->failed = 1; return 0; }
    } else {
        p = ray_big_alloc(cap);
        if (!p) { b->failed = 1; return 0; }
        cap = ray_big_capacity(p);
        if (b->data) memcpy(p, b->data, b->len);
        if (b->cap >= RAY_BIG_THRESHOLD) ray_big_free(b->data); else free(b->data);
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

void clua_buf_free(clua_Buf *b) {
    if (b->cap >= RAY_BIG_THRESHOLD) ray_big_free(b->data); else free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void clua_buf_prefixed(clua_Buf *b, const void *src, size_t n) {
    clua_buf_varint(b, n);
    if (!clua_buf_reserve(b, n)) return;
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

static inline void put_float(clua_Buf *b, lua_Number x) {
    unsigned long long bits;
    memcpy(&bits, &x, 8);
    if (!clua_buf_reserve(b, 9)) return;
    unsigned char *p = b->data + b->len;
    *p++ = T_FLOAT;
    for (int i = 0; i < 8; i++) *p++ = (unsigned char)(bits >> (8 * i));  /* little-endian */
    b->len += 9;
}

int clua_put_scalar(lua_State *L, int idx, clua_Buf *b) {
    /* Integers first: two API calls for the most common scalar. */
    if (lua_isinteger(L, idx)) {
        long long v = (long long)lua_tointegerx(L, idx, NULL);
        if (!clua_buf_reserve(b, 11)) return 1;
        b->data[b->len++] = T_INT;
        clua_buf_varint(b, ((unsigned long long)v << 1) ^ (unsigned long long)(v >> 63));
        return 1;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER: put_float(b, lua_tonumberx(L, idx, NULL)); return 1;
    case LUA_TNIL: clua_buf_byte(b, T_NIL); return 1;
    case LUA_TBOOLEAN: clua_buf_byte(b, lua_toboolean(L, idx) ? T_TRUE : T_FALSE); return 1;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        clua_buf_byte(b, T_STRING);
        clua_buf_prefixed(b, s, n);
        return 1;
    }
    default: return 0;
    }
}

static inline int put_value(lua_State *L, int idx, int role, lua_Integer position,
                            clua_Buf *b, clua_PutComplex put, void *ctx) {
    if (clua_put_scalar(L, idx, b)) return 0;
    return put(L, idx, role, position, ctx);
}

/* Puts the element count m in the byte reserved for it at offset p; when m
 * needs more than one byte, moves the elements up and tells the caller. */
static int patch_count(lua_State *L, clua_Buf *b, size_t p, lua_Integer m, clua_PutComplex put, void *ctx) {
    if (m < 0x80) {
        if (p < b->len) b->data[p] = (unsigned char)m;
        return 0;
    }
    unsigned char v[10];
    size_t n = 0;
    unsigned long long x = (unsigned long long)m;
    while (x >= 0x80) { v[n++] = (unsigned char)(x | 0x80); x >>= 7; }
    v[n++] = (unsigned char)x;
    if (!clua_buf_reserve(b, n - 1) || p >= b->len) return 0;  /* out of memory: b->failed is set */
    memmove(b->data + p + n, b->data + p + 1, b->len - (p + 1));
    memcpy(b->data + p, v, n);
    b->len += n - 1;
    return put(L, (int)(n - 1), CLUA_ROLE_MOVED, (lua_Integer)(p + 1), ctx);
}

int clua_put_entries(lua_State *L, int t, clua_Buf *b, clua_PutComplex put, void *ctx) {
    lua_Integer count = 0;
    int in_run = 1, r;
    int key = lua_gettop(L) + 1, value = key + 1;
    size_t count_at = b->len;
    clua_buf_byte(b, 0);  /* the element count, patched when the run ends */
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (in_run) {
            if (lua_isinteger(L, key) && lua_tointegerx(L, key, NULL) == count + 1) {
                count++;
                if ((r = put_value(L, value, CLUA_ROLE_ELEMENT, count, b, put, ctx))) return r;
                lua_settop(L, key);
                continue;
            }
            in_run = 0;
            if ((r = patch_count(L, b, count_at, count, put, ctx))) return r;
        }
        if ((r = put_value(L, key, CLUA_ROLE_KEY, 0, b, put, ctx))) return r;
        if ((r = put_value(L, value, CLUA_ROLE_FIELD, 0, b, put, ctx))) return r;
        lua_settop(L, key);
    }
    if (in_run && (r = patch_count(L, b, count_at, count, put, ctx))) return r;
    clua_buf_byte(b, T_NIL);
    return 0;
}

static inline int read_varint(const unsigned char *data, size_t size, size_t *pos, unsigned long long *out) {
    unsigned long long x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= size) return 0;
        unsigned char c = data[(*pos)++];
        if (shift == 63 && c > 1) return 0;
        x |= (unsigned long long)(c & 0x7F) << shift;
        if (!(c & 0x80)) { *out = x; return 1; }
    }
    return 0;
}

int clua_get_scalar(lua_State *L, const unsigned char *data, size_t size, size_t *pos) {
    size_t p = *pos;
    if (p >= size) return 0;
    switch (data[p++]) {
    case T_NIL: lua_pushnil(L); break;
    case T_FALSE: lua_pushboolean(L, 0); break;
    case T_TRUE: lua_pushboolean(L, 1); break;
    case T_INT: {
        unsigned long long z;
        if (p < size && data[p] < 0x80) z = data[p++];  /* one-byte varint */
        else if (!read_varint(data, size, &p, &z)) return 0;
        lua_pushinteger(L, (lua_Integer)((z >> 1) ^ (0ULL - (z & 1))));
        break;
    }
    case T_FLOAT: {
        if (size - p < 8) return 0;
        unsigned long long bits = 0;
        for (int i = 0; i < 8; i++) bits |= (unsigned long long)data[p + i] << (8 * i);
        lua_Number x;
        memcpy(&x, &bits, 8);
        lua_pushnumber(L, x);
        p += 8;
        break;
    }
    case T_STRING: {
        unsigned long long n;
        if (!read_varint(data, size, &p, &n) || n > size - p) return 0;
        lua_pushlstring(L, (const char *)data + p, (size_t)n);
        p += (size_t)n;
        break;
    }
    default: return 0;
    }
    *pos = p;
    return 1;
}

lua_Integer clua_get_array(lua_State *L, int t, lua_Integer from, lua_Integer to,
                           const unsigned char *data, size_t size, size_t *pos) {
    for (lua_Integer i = from; i <= to; i++) {
        if (!clua_get_scalar(L, data, size, pos)) return i;
        lua_rawseti(L, t, i);
    }
    return to + 1;
}

int clua_get_pairs(lua_State *L, int t, const unsigned char *data, size_t size, size_t *pos) {
    for (;;) {
        if (*pos < size && data[*pos] == T_NIL) { (*pos)++; return CLUA_PAIRS_DONE; }
        size_t start = *pos;
        if (!clua_get_scalar(L, data, size, pos)) return CLUA_PAIRS_KEY;
        if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            lua_Number k = lua_tonumberx(L, -1, NULL);
            if (k != k) { lua_settop(L, -2); *pos = start; return CLUA_PAIRS_NAN_KEY; }
        }
        if (!clua_get_scalar(L, data, size, pos)) return CLUA_PAIRS_VALUE;
        lua_rawset(L, t);
    }
}

/* ---- stack room ---------------------------------------------------------- */

static _Thread_local char *stack_low __attribute__((tls_model("initial-exec")));  /* lowest usable address; 1 = unknown */

size_t clua_stack_room(void) {
    /* The frame address, not a local's: sanitizers move locals to a fake stack. */
    char *here = (char *)__builtin_frame_address(0);
    if (!stack_low) {
        pthread_attr_t attr;
        void *addr = NULL;
        size_t size = 0;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr) stack_low = (char *)addr;
            pthread_attr_destroy(&attr);
        }
        if (!stack_low) stack_low = (char *)1;
    }
    if (stack_low == (char *)1 || here < stack_low) return (size_t)-1;
    return (size_t)(here - stack_low);
}
