/*
 * The runtime's C support, with no Lua in it: the large-block cache that
 * objects and Lua strings of a MiB or more live in (blocks.c), and a
 * spin-wait hint. RayCore and RayCluster use it directly; CLuaShims builds
 * Lua's allocator on it.
 */
#ifndef RAYSUPPORT_H
#define RAYSUPPORT_H

#include <stddef.h>

/* ---- large blocks (blocks.c) --------------------------------------------
 * Blocks of RAY_BIG_THRESHOLD bytes or more come from mappings that are
 * kept, once freed, in a bounded cache and reused, so big values skip the
 * page faults and page clearing of fresh memory. */
#define RAY_BIG_THRESHOLD ((size_t)1 << 20)
void *ray_big_alloc(size_t n);
void ray_big_free(void *p);
/* The usable size of a block from ray_big_alloc (at least what was asked). */
size_t ray_big_capacity(const void *p);
/* Bytes held by freed blocks kept for reuse. */
size_t ray_big_cached(void);

/* A spin-wait hint to the CPU (x86 PAUSE, ARM YIELD): no system call. */
static inline void ray_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

#endif
