/* How long one read takes from the memory that holds a block of a given size: the weather
 * `make bench` reports with its figures (bench/memory_latency.py builds and wraps this).
 *
 * The machine is shared, and what moves with its host's load is mostly not the core but the
 * caches behind it: when other tenants hold the last-level cache, a few megabytes answer at
 * main memory's latency, and the engine's figures fall with them.  A chase of dependent
 * reads, each address known only from the read before, in a random order over every cache
 * line of a block, times that latency.  The block is mapped the way the engine maps its big
 * blocks (engine/_blocks.h: anonymous, asking for huge pages), so that the chase pays for
 * page walks as the engine does.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#define LINE 64
typedef struct { uint64_t next; char pad[LINE - sizeof(uint64_t)]; } Line;

static uint64_t xorshift(uint64_t* state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Nanoseconds a read over `steps` reads chasing a random single cycle through every line of
 * a block of `bytes` (at least two lines); -1 when the block cannot be mapped.  `end` gets
 * the line the chase stops at: after as many reads as there are lines it is back at line 0,
 * and not before, since the cycle is single (Sattolo's shuffle). */
double memory_chase_ns(int64_t bytes, int64_t steps, uint64_t seed, int64_t* end) {
    uint64_t lines = (uint64_t)bytes / LINE, state = seed | 1, at = 0;
    size_t length = lines * LINE;
    Line* block = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED)
        return -1;
#ifdef MADV_HUGEPAGE
    madvise(block, length, MADV_HUGEPAGE);
#endif
    for (uint64_t i = 0; i < lines; i++)
        block[i].next = i;
    for (uint64_t i = lines - 1; i > 0; i--) {      /* Sattolo: j < i, so one cycle */
        uint64_t j = xorshift(&state) % i, swap = block[i].next;
        block[i].next = block[j].next;
        block[j].next = swap;
    }
    for (uint64_t i = 0; i < lines; i++)            /* once round, untimed: pages in, TLB warm */
        at = block[at].next;
    double started = seconds();
    for (int64_t i = 0; i < steps; i++)
        at = block[at].next;
    double elapsed = seconds() - started;
    *end = (int64_t)at;
    munmap(block, length);
    return elapsed / (double)steps * 1e9;
}
