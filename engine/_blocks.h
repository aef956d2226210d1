/* Memory blocks for the engine's big arrays: output buffers that grow while a batch runs
 * and are then handed to numpy, and the order pool and id table; and the prefetch hint
 * and streaming stores every module uses.
 *
 * A block of ENGINE_MAP_MIN bytes or more is its own mapping on Linux: it grows with
 * mremap, which moves page tables rather than copying, and is backed by transparent huge
 * pages where the system allows them on request.  Smaller blocks, and every block
 * elsewhere, use malloc and realloc.  A block is resized and freed with the byte size it
 * was last given, which says how it is held.
 *
 * Freed mappings are kept for reuse (at most ENGINE_CACHE_SLOTS of them, ENGINE_CACHE_MAX
 * bytes in all), as malloc keeps freed heap: a fresh mapping costs a page fault and the
 * zeroing of every page on first touch, which for a batch's fill and result buffers, a
 * per-call fill buffer or a growing order pool is a good share of the work.  The big ones
 * are kept before the small ones, and handed out only to requests at least half their size
 * (engine_cache_pick), so that a batch finds the blocks the batch before it gave back.  A
 * growing block moves into a kept one that fits, copying what it holds, rather than fault
 * in fresh pages, and takes it whole (engine_block_grow), or only the size it asked for
 * where that size is memory the caller reports (engine_block_grow_exact).  Each extension
 * module that includes this header has its own.
 */
#ifndef ENGINE_BLOCKS_H
#define ENGINE_BLOCKS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#define ENGINE_MAP_MIN ((size_t)1 << 20)
#define ENGINE_CACHE_MAX ((size_t)256 << 20)    /* bytes of freed mappings kept, at most */

/* Fetch the cache line at `p` ahead of its use.  On x86-64 an asm statement rather than
 * __builtin_prefetch: GCC takes a function whose only effect is the builtin for one with no
 * effect at all, and silently deletes calls to it wherever it chooses not to inline it. */
static inline void engine_prefetch(const void* p) {
#if defined(__GNUC__) && defined(__x86_64__)
    __asm__ volatile("prefetcht0 %0" : : "m"(*(const char*)p));
#else
    __builtin_prefetch(p, 0, 3);
#endif
}

/* Fetch the cache line at `p` to be written: the core asks for it exclusive at once, so
 * the store that follows need not wait in the store buffer for it. */
static inline void engine_prefetch_write(const void* p) {
#if defined(__GNUC__) && defined(__x86_64__)
    __asm__ volatile("prefetchw %0" : : "m"(*(const char*)p));
#else
    __builtin_prefetch(p, 1, 3);
#endif
}

/* Copy `n` bytes (a multiple of 8, to an 8-byte aligned `dst`) around the caches, for output
 * written once and not read again while the batch runs: written through the caches, a
 * batch's fills (48 bytes each; a forced-sell cascade makes one or more a message) would
 * push the book's own order pool and id table out of them.  The caller ends a run of these
 * with engine_stream_fence, which orders them before any store that follows (another thread
 * may read them next). */
#if defined(__x86_64__) && !defined(ENGINE_NO_STREAM)
#include <emmintrin.h>
static inline void engine_stream(void* dst, const void* src, size_t n) {
    long long* d = (long long*)dst;
    for (size_t i = 0; i < n / 8; i++) {
        long long word;
        memcpy(&word, (const char*)src + 8 * i, 8);     /* not a cast: `src` is a struct */
        _mm_stream_si64(d + i, word);
    }
}
static inline void engine_stream_fence(void) { _mm_sfence(); }
#else
static inline void engine_stream(void* dst, const void* src, size_t n) { memcpy(dst, src, n); }
static inline void engine_stream_fence(void) {}
#endif

#if defined(__linux__) && defined(MREMAP_MAYMOVE)
#define ENGINE_MAPPED_BLOCKS 1
#include <pthread.h>

#define ENGINE_CACHE_SLOTS 16

static inline size_t engine_map_length(size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

static struct { void* p; size_t length; } engine_cache[ENGINE_CACHE_SLOTS];
static size_t engine_cache_total = 0;
static pthread_mutex_t engine_cache_lock = PTHREAD_MUTEX_INITIALIZER;   /* batches run without the GIL */

/* A fork while another thread holds the lock would leave the child's copy locked for good:
 * the forking thread takes the lock across the fork, and both sides let it go after. */
static void engine_cache_before_fork(void) { pthread_mutex_lock(&engine_cache_lock); }
static void engine_cache_after_fork(void) { pthread_mutex_unlock(&engine_cache_lock); }
static pthread_once_t engine_cache_fork_once = PTHREAD_ONCE_INIT;
static void engine_cache_guard_fork(void) {
    pthread_atfork(engine_cache_before_fork, engine_cache_after_fork, engine_cache_after_fork);
}
/* Take the cache's lock (the first taker registers the fork handlers). */
static inline void engine_cache_take(void) {
    pthread_once(&engine_cache_fork_once, engine_cache_guard_fork);
    pthread_mutex_lock(&engine_cache_lock);
}

/* Take from the cache the kept mapping that suits a request for `length` bytes, and set
 * `*have` to its length; NULL if there is none.  That is the smallest that fits in no more
 * than twice `length`, else the largest smaller one over `least` bytes (grown, it keeps its
 * pages).  It leaves a kept one over twice the size alone: shrunk, it would lose the pages
 * past `length`, and a batch that asks for a block that big again would find only fresh
 * pages. */
static inline void* engine_cache_pick(size_t length, size_t least, size_t* have) {
    void* p = NULL;
    int i, fit = -1, grow = -1, pick;
    engine_cache_take();
    for (i = 0; i < ENGINE_CACHE_SLOTS; i++) {
        size_t a = engine_cache[i].length;
        if (engine_cache[i].p == NULL) continue;
        if (a >= length && a / 2 <= length) {
            if (fit < 0 || a < engine_cache[fit].length) fit = i;
        } else if (a < length && a > least) {
            if (grow < 0 || a > engine_cache[grow].length) grow = i;
        }
    }
    pick = fit >= 0 ? fit : grow;
    if (pick >= 0) {
        p = engine_cache[pick].p;
        *have = engine_cache[pick].length;
        engine_cache[pick].p = NULL;
        engine_cache_total -= *have;
    }
    pthread_mutex_unlock(&engine_cache_lock);
    return p;
}

/* A kept mapping `p` of `have` bytes resized to `length`; NULL (and `p` unmapped) if that fails. */
static inline void* engine_cache_resize(void* p, size_t have, size_t length) {
    void* q;
    if (have == length) return p;
    q = mremap(p, have, length, MREMAP_MAYMOVE);
    if (q != MAP_FAILED) return q;
    munmap(p, have);
    return NULL;
}

/* A mapping of `length` bytes (page multiple): a kept one (engine_cache_pick) remapped to
 * that size, its pages already in, or a new one with huge pages asked for on all of it
 * (advice on part of a mapping would split it, and mremap only moves a mapping that is
 * whole). */
static inline void* engine_map_new(size_t length) {
    size_t have = 0;
    void* p = engine_cache_pick(length, 0, &have);
    if (p != NULL && (p = engine_cache_resize(p, have, length)) != NULL) return p;
    p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, length, MADV_HUGEPAGE);
#endif
    return p;
}

/* Give back a mapping of `length` bytes (page multiple) to be kept, unmapping the smallest
 * kept ones to make room for it, or it, if it is the smallest: a big block's pages are the
 * costly ones to fault in again, and a batch hands back its big ones (fills and results)
 * before the smaller ones of the next book and its id index come and go. */
static inline void engine_map_release(void* p, size_t length) {
    struct { void* p; size_t length; } dropped[ENGINE_CACHE_SLOTS + 1];
    int i, free_slot, smallest, count = 0;
    if (length > ENGINE_CACHE_MAX) {
        munmap(p, length);
        return;
    }
    engine_cache_take();
    for (;;) {
        free_slot = smallest = -1;
        for (i = 0; i < ENGINE_CACHE_SLOTS; i++) {
            if (engine_cache[i].p == NULL) free_slot = i;
            else if (smallest < 0 || engine_cache[i].length < engine_cache[smallest].length)
                smallest = i;
        }
        if (free_slot >= 0 && length <= ENGINE_CACHE_MAX - engine_cache_total) break;
        if (smallest < 0 || engine_cache[smallest].length >= length) {
            dropped[count].p = p;                           /* it is the smallest: not kept */
            dropped[count++].length = length;
            p = NULL;
            break;
        }
        dropped[count].p = engine_cache[smallest].p;
        dropped[count++].length = engine_cache[smallest].length;
        engine_cache_total -= engine_cache[smallest].length;
        engine_cache[smallest].p = NULL;
    }
    if (p != NULL) {
        engine_cache[free_slot].p = p;
        engine_cache[free_slot].length = length;
        engine_cache_total += length;
    }
    pthread_mutex_unlock(&engine_cache_lock);
    for (i = 0; i < count; i++) munmap(dropped[i].p, dropped[i].length);
}
#else
#define ENGINE_MAPPED_BLOCKS 0
#endif

/* Resize block `p` (NULL for none) of `old_bytes` to `new_bytes` (> 0), keeping the first
 * min(old, new) bytes.  Returns the block, or NULL with `p` untouched when out of memory. */
static inline void* engine_block_resize(void* p, size_t old_bytes, size_t new_bytes) {
#if ENGINE_MAPPED_BLOCKS
    int was_mapped = p != NULL && old_bytes >= ENGINE_MAP_MIN;
    void* q;
    if (new_bytes >= ENGINE_MAP_MIN) {
        if (was_mapped) {
            if (engine_map_length(old_bytes) == engine_map_length(new_bytes))
                return p;                   /* the same pages: no call into the kernel */
            q = mremap(p, engine_map_length(old_bytes), engine_map_length(new_bytes), MREMAP_MAYMOVE);
            return q == MAP_FAILED ? NULL : q;
        }
        q = engine_map_new(engine_map_length(new_bytes));
        if (q != NULL && p != NULL) {
            memcpy(q, p, old_bytes < new_bytes ? old_bytes : new_bytes);
            free(p);
        }
        return q;
    }
    if (was_mapped) {                  /* shrinking a mapping below the threshold */
        q = malloc(new_bytes);
        if (q == NULL) return NULL;
        memcpy(q, p, new_bytes);
        engine_map_release(p, engine_map_length(old_bytes));
        return q;
    }
#endif
    return realloc(p, new_bytes);
}

/* Free block `p` (NULL is fine) whose size was last given as `bytes`. */
static inline void engine_block_free(void* p, size_t bytes) {
#if ENGINE_MAPPED_BLOCKS
    if (p != NULL && bytes >= ENGINE_MAP_MIN) {
        engine_map_release(p, engine_map_length(bytes));
        return;
    }
#endif
    free(p);
}

/* A kept mapping that fits a request for `*bytes` bytes (in no more than twice that),
 * taken whole, with `*bytes` set to its size; or NULL, with `*bytes` set to 0, when none is
 * kept.  It maps nothing new: for a buffer that may stay small, when a big one with its
 * pages in is to be had. */
static inline void* engine_block_take(size_t* bytes) {
#if ENGINE_MAPPED_BLOCKS
    size_t length = engine_map_length(*bytes), have = 0;
    /* No smaller one over `length` bytes: only one that fits. */
    void* p = *bytes >= ENGINE_MAP_MIN ? engine_cache_pick(length, length, &have) : NULL;
    if (p != NULL) {
        if (have > length) *bytes = have;
        return p;
    }
#endif
    *bytes = 0;
    return NULL;
}

/* Grow block `p` (NULL for none) of `old_bytes` to at least `*bytes` bytes (more than
 * `old_bytes`), keeping its contents, and set `*bytes` to the size of the block returned,
 * which is how the caller resizes and frees it from then on.  Returns NULL with `p`
 * untouched when out of memory.
 *
 * A mapping grown in place faults in fresh pages, which the kernel zeroes on first touch:
 * where a kept one has more of its pages in, the block moves there for the cost of a copy
 * of what it holds.  A kept one that fits is taken whole (a growing buffer is likely to use
 * the room, and shrunk it would lose pages); else the largest smaller one, if it is bigger
 * than the block, is grown to the size asked for. */
static inline void* engine_block_grow(void* p, size_t old_bytes, size_t* bytes) {
#if ENGINE_MAPPED_BLOCKS
    int was_mapped = p != NULL && old_bytes >= ENGINE_MAP_MIN;
    size_t length, have = 0, old_length = was_mapped ? engine_map_length(old_bytes) : 0;
    void* q;
    if (*bytes >= ENGINE_MAP_MIN) {
        length = engine_map_length(*bytes);
        if (length == old_length) return p;
        q = engine_cache_pick(length, old_length, &have);
        if (q != NULL && have < length) q = engine_cache_resize(q, have, length);
        if (q != NULL) {
            if (have > length) *bytes = have;
            if (p != NULL) {
                memcpy(q, p, old_bytes);
                engine_block_free(p, old_bytes);
            }
            return q;
        }
    }
#endif
    return engine_block_resize(p, old_bytes, *bytes);
}

/* Grow block `p` (NULL for none) of `old_bytes` to `new_bytes` as engine_block_grow does,
 * but keep only `new_bytes` of a kept block it takes whole: for a block whose size is
 * memory the caller reports (a book's order pool, a cascade's index), which must not
 * depend on the blocks that earlier ones left behind.  Returns NULL with `p` untouched when
 * out of memory. */
static inline void* engine_block_grow_exact(void* p, size_t old_bytes, size_t new_bytes) {
    size_t bytes = new_bytes;
    void* q = engine_block_grow(p, old_bytes, &bytes);
    void* trimmed;
    if (q == NULL || bytes == new_bytes) return q;
    trimmed = engine_block_resize(q, bytes, new_bytes);
    /* Should the kernel refuse to shrink it, the tail stays mapped and unused: `p` is gone,
     * its contents are in `q`, and the caller holds `q` as a block of `new_bytes`. */
    return trimmed != NULL ? trimmed : q;
}

#endif
