# Growable memory blocks (engine/_blocks.h): mapped and grown without copying on Linux.
cdef extern from "engine/_blocks.h" nogil:
    size_t ENGINE_MAP_MIN
    void* engine_block_resize(void* p, size_t old_bytes, size_t new_bytes)
    void engine_block_free(void* p, size_t bytes)
    void engine_prefetch(const void* p) noexcept
