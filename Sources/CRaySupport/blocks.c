/*
 * Large blocks (>= RAY_BIG_THRESHOLD): mapped on their own and, once
 * freed, kept mapped in a bounded cache to be reused.
 *
 * Why: a fresh mapping costs a page fault and a kernel page clear per 4 KiB,
 * which perf showed as 45% of an 800 MB put (clear_page_erms 35%, faults 10%),
 * more than the copy itself. Reusing a block that is already faulted in, as
 * Ray's plasma store reuses its arena, leaves the copy alone.
 *
 * Each block starts with a header holding its mapped size, so a block is
 * freed by its pointer alone. Thread-safe: one mutex around the cache, held
 * only to pick or return a block (never across mmap, munmap or copies).
 */
#define _GNU_SOURCE
#include "raysupport.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HEADER 64                    /* keeps the payload 64-byte aligned */
#define GRANULE ((size_t)2 << 20)    /* sizes round up to 2 MiB, so similar sizes share blocks */
#define CACHE_SLOTS 16

typedef struct { size_t mapped; } Header;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct { void *base; size_t mapped; } cache[CACHE_SLOTS];
static size_t cached_bytes;
static size_t cache_limit;  /* 0 until first use */

/* An eighth of physical memory, at most 4 GiB. */
static size_t limit(void) {
    if (cache_limit == 0) {
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        size_t physical = pages > 0 && size > 0 ? (size_t)pages * (size_t)size : ((size_t)1 << 30);
        size_t l = physical / 8;
        cache_limit = l > ((size_t)4 << 30) ? ((size_t)4 << 30) : l;
    }
    return cache_limit;
}

static void *fresh(size_t mapped) {
    void *base = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    /* No MADV_HUGEPAGE: with THP's defrag set to "madvise" (Debian's
     * default) a huge-page fault may stall on memory compaction; measured
     * here, a first 100 MB put+get took 0.03 s mostly but 0.43 s at times,
     * against a steady 0.09 s without. Reuse (the cache) is what pays. */
    return base;
}

void *ray_big_alloc(size_t n) {
    if (n > ((size_t)-1) - HEADER - GRANULE) return NULL;
    size_t want = (n + HEADER + GRANULE - 1) / GRANULE * GRANULE;
    void *base = NULL;
    size_t mapped = 0;
    pthread_mutex_lock(&lock);
    int best = -1;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        /* the smallest cached block that fits without wasting more than half */
        if (cache[i].base && cache[i].mapped >= want && cache[i].mapped / 2 <= want &&
            (best < 0 || cache[i].mapped < cache[best].mapped)) best = i;
    }
    if (best >= 0) {
        base = cache[best].base;
        mapped = cache[best].mapped;
        cache[best].base = NULL;
        cached_bytes -= mapped;
    }
    pthread_mutex_unlock(&lock);
    if (!base) {
        mapped = want;
        base = fresh(mapped);
        if (!base) return NULL;
    }
    ((Header *)base)->mapped = mapped;
    return (char *)base + HEADER;
}

size_t ray_big_capacity(const void *p) {
    return ((const Header *)((const char *)p - HEADER))->mapped - HEADER;
}

void ray_big_free(void *p) {
    if (!p) return;
    void *base = (char *)p - HEADER;
    size_t mapped = ((Header *)base)->mapped;
    void *evicted[CACHE_SLOTS];
    size_t evicted_sizes[CACHE_SLOTS];
    int n_evicted = 0, kept = 0;
    pthread_mutex_lock(&lock);
    if (mapped <= limit()) {
        /* make room: evict the largest cached blocks until this one fits */
        while (cached_bytes + mapped > limit()) {
            int largest = -1;
            for (int i = 0; i < CACHE_SLOTS; i++)
                if (cache[i].base && (largest < 0 || cache[i].mapped > cache[largest].mapped)) largest = i;
            if (largest < 0) break;
            evicted[n_evicted] = cache[largest].base;
            evicted_sizes[n_evicted++] = cache[largest].mapped;
            cached_bytes -= cache[largest].mapped;
            cache[largest].base = NULL;
        }
        for (int i = 0; i < CACHE_SLOTS && !kept; i++) {
            if (!cache[i].base) {
                cache[i].base = base;
                cache[i].mapped = mapped;
                cached_bytes += mapped;
                kept = 1;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n_evicted; i++) munmap(evicted[i], evicted_sizes[i]);
    if (!kept) munmap(base, mapped);
}

size_t ray_big_cached(void) {
    pthread_mutex_lock(&lock);
    size_t n = cached_bytes;
    pthread_mutex_unlock(&lock);
    return n;
}

