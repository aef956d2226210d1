# Growable memory blocks (engine/_blocks.h): mappings on Linux, grown in place or into a
# kept mapping with its pages in.
cdef extern from "engine/_blocks.h" nogil:
    size_t ENGINE_MAP_MIN
    size_t ENGINE_CACHE_MAX
    void* engine_block_resize(void* p, size_t old_bytes, size_t new_bytes)
    void* engine_block_grow(void* p, size_t old_bytes, size_t* bytes)
    void* engine_block_grow_exact(void* p, size_t old_bytes, size_t new_bytes)
    void* engine_block_take(size_t* bytes)
    void engine_block_free(void* p, size_t bytes)
    void engine_prefetch(const void* p) noexcept
    void engine_prefetch_write(const void* p) noexcept
    void engine_stream(void* dst, const void* src, size_t n) noexcept
    void engine_stream_fence() noexcept
