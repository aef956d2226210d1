/* Memory blocks for the engine's big arrays: output buffers that grow while a batch runs
 * and are then handed to numpy, and the order pool and id table.
 *
 * A block of ENGINE_MAP_MIN bytes or more is its own mapping on Linux: it grows with
 * mremap, which moves page tables rather than copying (a batch's fill buffer doubles a
 * dozen times), and is backed by transparent huge pages where the system allows them on
 * request.  Smaller blocks, and every block elsewhere, use malloc and realloc.  A block is
 * resized and freed with the byte size it was last given, which says how it is held.
 */
#ifndef ENGINE_BLOCKS_H
#define ENGINE_BLOCKS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#define ENGINE_MAP_MIN ((size_t)1 << 20)

#if defined(__linux__) && defined(MREMAP_MAYMOVE)
#define ENGINE_MAPPED_BLOCKS 1
static inline size_t engine_map_length(size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}
/* Ask for transparent huge pages (fewer page faults and TLB misses) on the whole mapping:
 * advice on part of it would split it, and mremap only moves a mapping that is whole. */
static inline void engine_advise_huge(void* p, size_t n) {
#ifdef MADV_HUGEPAGE
    madvise(p, engine_map_length(n), MADV_HUGEPAGE);
#endif
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
            q = mremap(p, engine_map_length(old_bytes), engine_map_length(new_bytes), MREMAP_MAYMOVE);
        } else {
            q = mmap(NULL, engine_map_length(new_bytes), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (q != MAP_FAILED && p != NULL) {
                memcpy(q, p, old_bytes < new_bytes ? old_bytes : new_bytes);
                free(p);
            }
        }
        if (q == MAP_FAILED) return NULL;
        if (new_bytes > old_bytes) engine_advise_huge(q, new_bytes);
        return q;
    }
    if (was_mapped) {                  /* shrinking a mapping below the threshold */
        q = malloc(new_bytes);
        if (q == NULL) return NULL;
        memcpy(q, p, new_bytes);
        munmap(p, engine_map_length(old_bytes));
        return q;
    }
#endif
    return realloc(p, new_bytes);
}

/* Free block `p` (NULL is fine) whose size was last given as `bytes`. */
static inline void engine_block_free(void* p, size_t bytes) {
#if ENGINE_MAPPED_BLOCKS
    if (p != NULL && bytes >= ENGINE_MAP_MIN) {
        munmap(p, engine_map_length(bytes));
        return;
    }
#endif
    free(p);
}

#endif
