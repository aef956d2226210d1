# cython: embedsignature.format=clinic
"""Price-time-priority limit order book and matching engine.

The book keeps one array of price levels over a grid of integer ticks, each level a
FIFO queue of resting orders threaded through a node pool, an occupancy bitmap over the
levels for next-price search, and an id index (a window of ids looked up by position, a
hash table for the rest) for O(1) cancel and reduce.  Every path that touches orders runs
without the GIL; Python only validates arrays and wraps results.
"""
from libc.stdlib cimport malloc, calloc, free
from engine._blocks cimport (
    ENGINE_MAP_MIN, ENGINE_CACHE_MAX, engine_block_resize, engine_block_grow, engine_block_grow_exact,
    engine_block_take, engine_block_free, engine_prefetch, engine_prefetch_write, engine_stream,
    engine_stream_fence,
)
from libc.string cimport memcpy, memset
from libc.stdint cimport int8_t, uint8_t, int32_t, uint32_t, int64_t, uint64_t, INT64_MAX, INT64_MIN

import numpy as np
cimport numpy as cnp
cimport cython
from cpython.long cimport PyLong_CheckExact, PyLong_AsLongLong
from cpython.number cimport PyIndex_Check, PyNumber_Index

from engine._types cimport price_t, qty_t, oid_t, owner_t, idx_t, side_t
from engine._records import (
    ORDER_DTYPE, FILL_DTYPE, RESULT_DTYPE, BUY, SELL, LIMIT, MARKET, IOC, FOK, CANCEL,
    REDUCE, QUEUE_AT_LIMIT, Reject, describe_reject, BatchResult,
)

cnp.import_array()

cdef extern from *:
    """
    #ifndef ENGINE_DEBUG
    #define ENGINE_DEBUG 0
    #endif
    #include <stdio.h>
    #include <stdlib.h>
    /* Internal consistency checks: compiled in by the debug build only. */
    #if ENGINE_DEBUG
    #define ENGINE_CHECK(cond) do { if (!(cond)) { \
        fprintf(stderr, "engine check failed: %s at %s:%d\\n", #cond, __FILE__, __LINE__); \
        abort(); } } while (0)
    #else
    #define ENGINE_CHECK(cond) ((void)0)
    #endif
    #include <stdint.h>
    /* Constants as macros so the compiler folds them into the hot loops. */
    #define ENGINE_NO_ASK INT64_MAX
    #define ENGINE_MAX_LEVELS ((int64_t)1 << 24)
    #define ENGINE_MAX_RESTING (((int64_t)1 << 26) - 2)
    /* The id hash table stays at most half full, so it has at most 2**27 slots and a home slot
       takes hash bits 37 and up: the tag's bits 34..36 (Book._tag) never overlap them. */
    _Static_assert(2 * ENGINE_MAX_RESTING <= ((int64_t)1 << 27), "id-table tag bits overlap home bits");
    #define ENGINE_ALL_BITS UINT64_C(0xFFFFFFFFFFFFFFFF)
    #define ENGINE_FIB UINT64_C(0x9E3779B97F4A7C15)
    #define ENGINE_EMPTY_SLOT UINT32_C(0xFFFFFFFF)
    #define ENGINE_SLOT_NODE_MASK ((UINT32_C(1) << 26) - 1)
    #define ENGINE_SLOT_TAG_MASK (UINT32_C(7) << 26)
    #define ENGINE_SLOT_DIST_SHIFT 29
    #define ENGINE_SLOT_DIST_FAR UINT32_C(7)
    #define ENGINE_IN_WINDOW ((int64_t)1 << 62)
    static inline int engine_clz64(unsigned long long x) { return __builtin_clzll(x); }
    static inline int engine_ctz64(unsigned long long x) { return __builtin_ctzll(x); }
    /* Read an exact int that fits int64 inline, the common case on the per-call path
       (ids past 2**30, as many feeds' are, take two or three digits); 0 when `v` needs
       the general conversion (a subclass, an index type, or out of range). */
    static inline int engine_read_int64(PyObject* v, int64_t* out) {
        if (!PyLong_CheckExact(v)) return 0;
    #if PY_VERSION_HEX >= 0x030C00A5       /* PyUnstable_Long_* arrived in 3.12.0a5 */
        if (PyUnstable_Long_IsCompact((PyLongObject*)v)) {
            *out = (int64_t)PyUnstable_Long_CompactValue((PyLongObject*)v);
            return 1;
        }
        int overflow;
        long long value = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow) return 0;
        *out = (int64_t)value;
        return 1;
    #else
        Py_ssize_t size = Py_SIZE(v);
        const digit* d = ((PyLongObject*)v)->ob_digit;
        uint64_t magnitude;
        switch (size < 0 ? -size : size) {
        case 0: *out = 0; return 1;
        case 1: *out = size * (int64_t)d[0]; return 1;
        case 2: magnitude = (uint64_t)d[0] | (uint64_t)d[1] << PyLong_SHIFT; break;
        case 3:
            /* below 2**63 (-2**63 itself takes the general path) */
            if (3 * PyLong_SHIFT > 63 && (uint64_t)d[2] >> (63 - 2 * PyLong_SHIFT)) return 0;
            magnitude = (uint64_t)d[0] | (uint64_t)d[1] << PyLong_SHIFT
                        | (uint64_t)d[2] << (2 * PyLong_SHIFT);
            break;
        default: return 0;
        }
        *out = size < 0 ? -(int64_t)magnitude : (int64_t)magnitude;
        return 1;
    #endif
    }
    """
    int ENGINE_DEBUG
    const int64_t NO_ASK "ENGINE_NO_ASK"              # best_ask_idx when there are no asks
    const int64_t C_MAX_LEVELS "ENGINE_MAX_LEVELS"    # four tiers of 64-bit words: 64**4 levels
    const int64_t C_MAX_RESTING "ENGINE_MAX_RESTING"  # node indices fit 26 bits of a slot
    const uint64_t ALL_BITS "ENGINE_ALL_BITS"
    const uint64_t FIB "ENGINE_FIB"                   # Fibonacci hashing multiplier
    # A hash-table slot packs a node index (low 26 bits), 3 more bits of the id's hash (so a
    # probe rarely reads a node to rule an entry out) and the entry's distance from its home
    # slot (top 3 bits, 7 meaning "7 or more": so deletion rarely reads a node either).
    const uint32_t EMPTY_SLOT "ENGINE_EMPTY_SLOT"
    const uint32_t SLOT_NODE_MASK "ENGINE_SLOT_NODE_MASK"
    const uint32_t SLOT_TAG_MASK "ENGINE_SLOT_TAG_MASK"
    const int SLOT_DIST_SHIFT "ENGINE_SLOT_DIST_SHIFT"
    const uint32_t SLOT_DIST_FAR "ENGINE_SLOT_DIST_FAR"
    # A slot of the id index: a hash-table slot, or IN_WINDOW + j for window slot j (-1: none).
    const int64_t IN_WINDOW "ENGINE_IN_WINDOW"
    void ENGINE_CHECK(bint cond) noexcept nogil
    int engine_clz64(unsigned long long x) noexcept nogil
    int engine_ctz64(unsigned long long x) noexcept nogil
    bint engine_read_int64(object v, int64_t* out) noexcept

DEBUG_BUILD = bool(ENGINE_DEBUG)

# Kind, side and reject codes as C constants (the Python names live in engine._records).
cdef enum:
    K_LIMIT = 1
    K_MARKET = 2
    K_IOC = 3
    K_FOK = 4
    K_CANCEL = 5
    K_REDUCE = 6
    K_EXECUTE = 7
    F_QUEUE_AT_LIMIT = 1
    R_OK = 0
    R_BAD_SIDE = 1
    R_BAD_KIND = 2
    R_BAD_QTY = 3
    R_PRICE_OUT_OF_BAND = 4
    R_DUPLICATE_ID = 5
    R_UNKNOWN_ID = 6
    R_BAD_FLAGS = 7
    R_TOO_LARGE = 8

# How many messages ahead the batch path prefetches each stage of a message's memory.
cdef enum:
    PREFETCH_SLOT = 24
    PREFETCH_NODE = 12
    PREFETCH_NEIGHBOURS = 4
    PREFETCH_RESULT = 8         # results ahead whose line is asked for to be written
    PREFETCH_REHASH = 16        # nodes ahead whose new hash-table slot a rehash fetches
    CHASE_STEPS = 3             # makers the batch path fetches down a queue after a sweep
    # Sweeps that stop at one level this many times in a row send the walkers down the next
    # level's queue (a mixed stream rarely does: its sweeps are small and change sides).
    WALK_AFTER_SWEEPS = 8
    WALK_STEPS = 256            # makers each walker fetches at most
    # The per-call path cannot see the next call, but callers number new orders in
    # sequence (exchanges, feeds, simulators): each new order fetches the id-index slot of
    # the id this many past its own, whose duplicate check would otherwise be a cache miss.
    PREFETCH_NEXT_ID = 4
    # Pool nodes never handed out are handed out in order: a new resting order asks for the
    # node this many further on, two cache lines ahead, to be written.
    PREFETCH_FRESH_NODE = 4
    # The id window starts this wide, and a move of it that scans k slots waits until
    # k / WINDOW_DENSITY ids have entered the index since the last move, so scanning costs
    # each id a bounded share however the caller numbers its orders.
    WINDOW_MIN = 4096
    WINDOW_DENSITY = 8
    # An empty window that may not move to a new id (the hash table's ids span it) lets
    # this many ids enter before it tries again: callers with random ids would otherwise
    # pay for the attempt with every order.
    WINDOW_RETRY = 256
    MAX_WINDOW = 1 << 27
MAX_LEVELS = C_MAX_LEVELS
MAX_RESTING = C_MAX_RESTING

# Window size for new books: tests make it small, so that its moves happen in small books.
cdef int64_t _window_min = WINDOW_MIN


def _set_window_min(size):
    """Set the size new books' id windows start at (a power of two, at least 8); returns
    the old size.  For tests: a small window moves (grows, slides, re-places) often."""
    global _window_min
    size = int(size)
    if size < 8 or size & (size - 1) or size > WINDOW_MIN:
        raise ValueError(f"window size must be a power of two in [8, {WINDOW_MIN}], got {size}")
    old, _window_min = _window_min, size
    return old


cdef union FillWords:        # a fill seen as its six words too (a union: the views may alias)
    Fill fill
    uint64_t words[6]


cdef inline void _set_fill(Fill* f, oid_t taker_id, oid_t maker_id, price_t price, qty_t qty,
                           owner_t taker_owner, owner_t maker_owner, side_t taker_side,
                           int8_t taker_kind) noexcept nogil:
    f.taker_id = taker_id
    f.maker_id = maker_id
    f.price = price
    f.qty = qty
    f.taker_owner = taker_owner
    f.maker_owner = maker_owner
    f.taker_side = taker_side
    f.taker_kind = taker_kind


cdef inline void _accepted(Result* result, qty_t filled, qty_t remaining,
                           qty_t cancelled) noexcept nogil:
    """Write the result of a message that was not rejected."""
    result.filled = filled
    result.remaining = remaining
    result.cancelled = cancelled
    result.reject = R_OK


cdef inline uint64_t _mask_at_or_below(int64_t bit) noexcept nogil:
    return ALL_BITS >> (63 - bit)


cdef inline uint64_t _mask_at_or_above(int64_t bit) noexcept nogil:
    return ALL_BITS << bit


cdef inline int _top(uint64_t word) noexcept nogil:
    return 63 - engine_clz64(word)


cdef inline int _bottom(uint64_t word) noexcept nogil:
    return engine_ctz64(word)


cdef inline int64_t _as_int64(object value, str name) except? -1:
    """`value` as an int64, raising TypeError for anything that is not an integer (a float
    is refused, not truncated) and OverflowError for an integer out of range."""
    cdef int64_t read
    if engine_read_int64(value, &read):
        return read
    return _as_int64_general(value, name)


cdef int64_t _as_int64_general(object value, str name) except? -1:
    if not PyLong_CheckExact(value):
        if not PyIndex_Check(value):
            raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
        value = PyNumber_Index(value)
    try:
        return PyLong_AsLongLong(value)
    except OverflowError:
        raise OverflowError(f"{name} must fit int64, got {value}") from None


cdef inline owner_t _as_owner(object value) except? -2:
    """An owner is any int32, as in ORDER_DTYPE: an account index, -1 for none (the cascade
    gives its liquidity providers' quotes -2)."""
    cdef int64_t owner = _as_int64(value, "owner")
    if -0x80000000 <= owner <= 0x7FFFFFFF:
        return <owner_t>owner
    return _owner_out_of_range(owner)


cdef owner_t _owner_out_of_range(int64_t owner) except? -2:
    raise OverflowError(f"owner must fit int32 (an account index, or -1 for none), got {owner}")


def _check_band(lo, hi):
    """Raise ValueError unless [lo, hi] is a band the grid can hold (Python ints: no overflow)."""
    if lo > hi:
        raise ValueError(f"band lo={lo} is above hi={hi}")
    if int(hi) - int(lo) + 1 > MAX_LEVELS:
        raise ValueError(f"band [{lo}, {hi}] is wider than {MAX_LEVELS} ticks")
    if int(lo) < -(1 << 62) or int(hi) > (1 << 62):
        raise ValueError(f"band [{lo}, {hi}] is outside +-2**62 ticks")


def _check_orders(orders):
    """Return `orders` as a C-contiguous ORDER_DTYPE array, or raise naming what is wrong."""
    if not isinstance(orders, np.ndarray):
        raise TypeError(f"orders must be a numpy array of ORDER_DTYPE, got {type(orders).__name__}")
    if orders.ndim != 1:
        raise ValueError(f"orders must be one-dimensional, got shape {orders.shape}")
    if orders.dtype == ORDER_DTYPE:
        return np.ascontiguousarray(orders)
    if orders.dtype.names is None:
        raise TypeError(f"orders must be a structured array of ORDER_DTYPE, got dtype {orders.dtype}")
    converted = np.zeros(orders.shape[0], dtype=ORDER_DTYPE)
    for name in ORDER_DTYPE.names:
        if name not in orders.dtype.names:
            if name in ("owner", "flags", "price"):
                if name == "owner":
                    converted["owner"] = -1
                continue
            raise ValueError(f"orders has no field {name!r} (ORDER_DTYPE needs it)")
        column = orders[name]
        if column.ndim != 1:
            raise TypeError(f"orders field {name!r} must be one integer a row, "
                            f"got {orders.dtype.fields[name][0]}")
        if column.dtype.kind not in "iu":
            raise TypeError(f"orders field {name!r} must be integer, got {column.dtype}")
        target = ORDER_DTYPE.fields[name][0]
        if not np.can_cast(column.dtype, target, casting="safe"):
            info = np.iinfo(target)
            if column.size and (column.min() < info.min or column.max() > info.max):
                raise ValueError(f"orders field {name!r} has values outside {target}")
        converted[name] = column
    return converted


cdef class _Buffer:
    """Owns a block (engine/_blocks.h) and lends it to numpy through the buffer protocol;
    the block is freed when the last array viewing it goes."""
    cdef void* data
    cdef Py_ssize_t size
    cdef Py_ssize_t shape[1]

    def __getbuffer__(self, Py_buffer* view, int flags):
        self.shape[0] = self.size
        view.buf = self.data
        view.obj = self
        view.len = self.size
        view.readonly = 0
        view.itemsize = 1
        view.format = NULL
        view.ndim = 1
        view.shape = self.shape
        view.strides = NULL
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer* view):
        pass

    def __dealloc__(self):
        engine_block_free(self.data, self.size)


cdef object hand_over(void* data, int64_t count, int64_t capacity, object dtype):
    """A numpy array of `count` records of `dtype` that takes ownership of `data`, a block
    of `capacity` records (NULL or count 0 gives an empty array): no copy, and the block
    is freed with the array."""
    cdef void* trimmed
    cdef size_t item = dtype.itemsize
    if count == 0 or data == NULL:
        engine_block_free(data, capacity * item)
        return np.empty(0, dtype)
    trimmed = engine_block_resize(data, capacity * item, count * item)   # give back the unused tail
    if trimmed == NULL:
        engine_block_free(data, capacity * item)
        raise MemoryError(f"cannot trim a block of {capacity} {dtype} records")
    cdef _Buffer owner = _Buffer.__new__(_Buffer)
    owner.data = trimmed
    owner.size = count * item
    return np.frombuffer(owner, dtype=dtype, count=count)


@cython.final
cdef class _Held:
    """The context of `Book.held`: the book refuses other threads' calls inside it."""

    def __enter__(self):
        # Refuse if another thread holds the book, then hold it (the GIL makes the check
        # and the set one step).
        self.book._start_call()
        self.book.busy = True

    def __exit__(self, *exc):
        self.book.busy = False


@cython.final
@cython.binding(False)    # plain method descriptors: a bound call passes its arguments on uncopied
cdef class Book:
    """A price-time-priority limit order book over integer ticks with a price band.

    Parameters
    ----------
    lo, hi : int
        The band in ticks (limit-down and limit-up, inclusive).  No trade happens
        outside it and no order rests outside it.
    capacity : int, optional
        Resting orders to allocate room for up front (the book grows as needed).

    Raises
    ------
    ValueError
        If ``lo > hi`` or the band is wider than ``MAX_LEVELS`` ticks.
    """

    def __cinit__(self, lo, hi, capacity=0):
        self.levels = NULL
        self.bits0 = self.bits1 = self.bits2 = NULL
        self.nodes = NULL
        self.window = NULL
        self.slots = NULL
        self.fills = NULL
        lo, hi = _as_int64(lo, "lo"), _as_int64(hi, "hi")
        capacity = _as_int64(capacity, "capacity")
        _check_band(lo, hi)
        self.best_bid_idx = -1
        self.best_ask_idx = NO_ASK
        self.bid_volume = self.ask_volume = 0
        self.resting = 0
        self.node_capacity = 0
        self.free_head = -1
        self.unused = 0
        self.fill_count = 0
        self.fill_capacity = 0
        self.in_batch = False
        self.chase_node = -1
        self.chase_steps = 0
        self.walk_left[0] = self.walk_left[1] = 0
        self.walk_level = self.swept_level = -2     # no level: -1 and NO_ASK mean empty sides
        self.swept_times = 0
        self.busy = False
        self.defer_links = False
        self.owed_next_of = self.owed_prev_of = -1
        self.slot_mask = -1
        self.hash_room = 0
        self.hashed = 0
        self.hashed_lo, self.hashed_hi, self.hashed_above = INT64_MAX, INT64_MIN, INT64_MAX
        self.window_mask = -1
        self.window_base = 0
        self.window_min = _window_min
        self.entered = 0
        self._allocate_grid(lo, hi - lo + 1)
        self.lo_idx = lo - self.base
        self.hi_idx = hi - self.base
        self._reserve_pool(max(capacity, 1024))
        self._resize_window(self.window_min)
        self._reserve_hash(1)

    def __dealloc__(self):
        free(self.levels)
        free(self.bits0)
        free(self.bits1)
        free(self.bits2)
        engine_block_free(self.nodes, self.node_capacity * sizeof(Node))
        engine_block_free(self.window, (self.window_mask + 1) * sizeof(uint32_t))
        engine_block_free(self.slots, (self.slot_mask + 1) * sizeof(uint32_t))
        engine_block_free(self.fills, self.fill_capacity * sizeof(Fill))

    # ------------------------------------------------------------------ threads

    cdef inline int _start_call(self) except -1:
        """Refuse a call while another thread holds the book; else write the queue links the
        last per-call order left owed, so that whatever the call reads is whole."""
        if self.busy:
            self._refuse_busy()
        self._write_owed_links()
        self.defer_links = False
        return 0

    cdef int _refuse_busy(self) except -1:
        raise RuntimeError("this Book is running a batch or a cascade step in another thread: a "
                           "Book takes one call at a time (give each thread its own Book, or wait)")

    cdef _Held held(self):
        """``with book.held():`` around a block that changes the book without the GIL."""
        cdef _Held h = _Held.__new__(_Held)
        h.book = self
        return h

    # ------------------------------------------------------------------ memory

    cdef _allocate_grid(self, price_t base, int64_t span):
        """Replace the level grid by an empty one of `span` levels starting at `base`."""
        span = ((span + 63) // 64) * 64
        if span > C_MAX_LEVELS:
            span = C_MAX_LEVELS
        cdef Level* levels = <Level*>malloc(span * sizeof(Level))
        cdef int64_t w0 = span // 64
        cdef int64_t w1 = (w0 + 63) // 64
        cdef int64_t w2 = (w1 + 63) // 64
        cdef uint64_t* b0 = <uint64_t*>calloc(w0, sizeof(uint64_t))
        cdef uint64_t* b1 = <uint64_t*>calloc(w1, sizeof(uint64_t))
        cdef uint64_t* b2 = <uint64_t*>calloc(w2, sizeof(uint64_t))
        if levels == NULL or b0 == NULL or b1 == NULL or b2 == NULL:
            free(levels); free(b0); free(b1); free(b2)
            raise MemoryError(f"cannot allocate a grid of {span} price levels")
        cdef int64_t i
        for i in range(span):
            levels[i].qty = 0
            levels[i].head = -1
            levels[i].tail = -1
        free(self.levels); free(self.bits0); free(self.bits1); free(self.bits2)
        self.levels = levels
        self.bits0, self.bits1, self.bits2, self.bits3 = b0, b1, b2, 0
        self.words0, self.words1, self.words2 = w0, w1, w2
        self.span = span
        self.base = base

    cdef int _reserve(self, int64_t extra) except -1 nogil:
        """Make room for `extra` more resting orders in the pool and the id index."""
        self._reserve_pool(extra)
        self._reserve_hash(extra)
        return 0

    cdef int _reserve_pool(self, int64_t extra) except -1 nogil:
        """Make room for `extra` more resting orders in the pool."""
        cdef int64_t needed = <int64_t>self.resting + extra
        cdef int64_t capacity
        cdef Node* nodes
        if needed > C_MAX_RESTING:
            with gil:
                raise MemoryError(f"more than {C_MAX_RESTING} resting orders in one book")
        if needed > self.node_capacity:
            capacity = max(<int64_t>self.node_capacity * 2, needed, 1024)
            if capacity > C_MAX_RESTING:
                capacity = C_MAX_RESTING
            nodes = <Node*>engine_block_grow_exact(self.nodes, self.node_capacity * sizeof(Node),
                                                   capacity * sizeof(Node))
            if nodes == NULL:
                with gil:
                    raise MemoryError(f"cannot grow the order pool to {capacity} orders")
            # New nodes are handed out in index order from `unused`; memory is not touched
            # (nor faulted in) before an order needs it.
            self.nodes = nodes
            self.node_capacity = <idx_t>capacity
        return 0

    cdef int _reserve_hash(self, int64_t extra) except -1 nogil:
        """Make room for `extra` more ids in the hash table, which stays at most half full."""
        cdef int64_t needed = <int64_t>self.hashed + extra
        if needed * 2 > self.slot_mask + 1:
            self._rebuild_hash(needed)
        return 0

    cdef int _rebuild_hash(self, int64_t entries) except -1 nogil:
        """Give the hash table the fewest slots (a power of two, at least 1024) that hold
        `entries` ids half full, and enter the ids it holds."""
        cdef int64_t i, slot_count = 1024
        cdef uint32_t* slots
        cdef oid_t id
        while slot_count < entries * 2:
            slot_count *= 2
        slots = <uint32_t*>engine_block_resize(NULL, 0, slot_count * sizeof(uint32_t))
        if slots == NULL:
            with gil:
                raise MemoryError(f"cannot resize the id hash table to {slot_count} slots")
        memset(slots, 0xFF, slot_count * sizeof(uint32_t))
        engine_block_free(self.slots, (self.slot_mask + 1) * sizeof(uint32_t))
        self.slots = slots
        self.slot_mask = slot_count - 1
        self.slot_shift = 64 - engine_ctz64(<uint64_t>slot_count)
        # Rehash from the pool, not the old table: a sequential scan of the nodes (free
        # ones have qty 0) instead of a random read of one node per entry.
        self.hashed = 0
        self.hashed_lo, self.hashed_hi, self.hashed_above = INT64_MAX, INT64_MIN, INT64_MAX
        for i in range(self.unused):
            if i + PREFETCH_REHASH < self.unused:   # the table is big: overlap its misses
                engine_prefetch(&self.slots[self._home(self.nodes[i + PREFETCH_REHASH].id)])
            id = self.nodes[i].id
            if self.nodes[i].qty > 0 and self._window_slot(id) < 0:
                self._hash_insert(id, <idx_t>i)
        self.hash_room = (self.slot_mask + 1) // 2
        return 0

    cdef int _grow_fills(self) except -1 nogil:
        """Double the fill buffer (to at least 4096 fills), or more if it moves into a kept
        block (engine_block_grow)."""
        cdef int64_t capacity = max(self.fill_capacity * 2, 4096)
        if self.in_batch:
            engine_stream_fence()       # streamed fills are out before the buffer moves
        cdef size_t size = capacity * sizeof(Fill)
        cdef Fill* grown = <Fill*>engine_block_grow(self.fills, self.fill_capacity * sizeof(Fill), &size)
        if grown == NULL:
            with gil:
                raise MemoryError(f"cannot grow the fill buffer to {capacity} fills")
        self.fills = grown
        self.fill_capacity = size // sizeof(Fill)
        return 0

    cdef inline int _push_fill(self, oid_t taker_id, oid_t maker_id, price_t price, qty_t qty,
                               owner_t taker_owner, owner_t maker_owner, side_t taker_side,
                               int8_t taker_kind) except -1 nogil:
        cdef FillWords streamed
        if self.fill_count == self.fill_capacity:
            self._grow_fills()
        if self.in_batch:       # the batch path: read only once the batch is done
            # No stack bytes in the padding, which is all in the last word: one store through
            # the union rather than a memset of the record on this hot path.
            streamed.words[sizeof(Fill) // 8 - 1] = 0
            _set_fill(&streamed.fill, taker_id, maker_id, price, qty, taker_owner, maker_owner,
                      taker_side, taker_kind)
            engine_stream(&self.fills[self.fill_count], &streamed, sizeof(Fill))
        else:                       # the cascade reads its fills straight back
            _set_fill(&self.fills[self.fill_count], taker_id, maker_id, price, qty, taker_owner,
                      maker_owner, taker_side, taker_kind)
        self.fill_count += 1
        return 0

    # ------------------------------------------------------------------ id index: the hash table

    cdef int64_t _home(self, oid_t id) noexcept nogil:
        return <int64_t>((<uint64_t>id * FIB) >> self.slot_shift)

    cdef inline uint32_t _tag(self, oid_t id) noexcept nogil:
        """Three hash bits below any that pick the home slot (a table has at most 2**27
        slots), in the slot's tag field.  Ids that differ only above bit 36 may share a tag:
        then a probe reads the node to tell them apart, as it does for any tag match."""
        return <uint32_t>(((<uint64_t>id * FIB) >> 34) & 7) << 26

    cdef inline uint32_t _pack(self, uint32_t tag_node, int64_t distance) noexcept nogil:
        cdef uint32_t d = SLOT_DIST_FAR if distance >= SLOT_DIST_FAR else <uint32_t>distance
        return (tag_node & ~(SLOT_DIST_FAR << SLOT_DIST_SHIFT)) | (d << SLOT_DIST_SHIFT)

    cdef inline int64_t _slot_home(self, int64_t i) noexcept nogil:
        """The home slot of the entry in slot `i` (reads the node only when it is far)."""
        cdef uint32_t d = self.slots[i] >> SLOT_DIST_SHIFT
        if d < SLOT_DIST_FAR:
            return (i - d) & self.slot_mask
        return self._home(self.nodes[self.slots[i] & SLOT_NODE_MASK].id)

    cdef void _hash_insert(self, oid_t id, idx_t node) noexcept nogil:
        """Enter `id`, held in `node`, in the hash table (a rehash or a window move: the id
        is known to be absent, and there is room)."""
        cdef int64_t home = self._home(id), i = home
        while self.slots[i] != EMPTY_SLOT:
            i = (i + 1) & self.slot_mask
        self.slots[i] = self._pack(self._tag(id) | <uint32_t>node, (i - home) & self.slot_mask)
        self._count_hashed(id)

    cdef inline void _count_hashed(self, oid_t id) noexcept nogil:
        self.hashed += 1
        if id < self.hashed_lo:
            self.hashed_lo = id
        if id > self.hashed_hi:
            self.hashed_hi = id
        if id > self.window_base + self.window_mask and id < self.hashed_above:
            self.hashed_above = id

    cdef inline int64_t _window_slot(self, oid_t id) noexcept nogil:
        """The window slot of `id`, or -1 when the window does not cover it."""
        if <uint64_t>id - <uint64_t>self.window_base <= <uint64_t>self.window_mask:
            return <int64_t>(<uint64_t>id & <uint64_t>self.window_mask)
        return -1

    cdef inline uint32_t _entry(self, int64_t slot) noexcept nogil:
        """What slot `slot` of the id index holds."""
        if slot >= IN_WINDOW:
            return self.window[slot - IN_WINDOW]
        return self.slots[slot]

    cdef inline void _prefetch_id(self, oid_t id) noexcept nogil:
        """Fetch the slot where the id index looks `id` up first."""
        cdef int64_t j = self._window_slot(id)
        if j >= 0:
            engine_prefetch(&self.window[j])
        else:
            engine_prefetch(&self.slots[self._home(id)])

    cdef inline int64_t _slot_of(self, oid_t id) noexcept nogil:
        """The slot holding `id`, or -1."""
        cdef Gap unused
        return self._slot_or_gap(id, &unused)

    cdef inline int64_t _slot_or_gap(self, oid_t id, Gap* gap) noexcept nogil:
        """The slot holding `id`; or -1, with `gap` set to where a new entry for `id` goes."""
        cdef int64_t j = self._window_slot(id)
        if j >= 0:
            gap.slot = IN_WINDOW + j
            gap.entry = 0
            return -1 if self.window[j] == EMPTY_SLOT else IN_WINDOW + j
        cdef int64_t home = self._home(id), i = home
        cdef uint32_t tag = self._tag(id)
        cdef uint32_t s = self.slots[i]
        while s != EMPTY_SLOT:
            if (s & SLOT_TAG_MASK) == tag and self.nodes[s & SLOT_NODE_MASK].id == id:
                return i
            i = (i + 1) & self.slot_mask
            s = self.slots[i]
        gap.slot = i
        gap.entry = self._pack(tag, (i - home) & self.slot_mask)
        return -1

    cdef bint _gap_is_fresh(self, oid_t id, Gap gap) noexcept nogil:
        """Would a lookup of `id` now find the same gap (debug checks)?"""
        cdef Gap now
        now.slot = -1
        now.entry = 0
        return self._slot_or_gap(id, &now) < 0 and now.slot == gap.slot and now.entry == gap.entry

    cdef inline void _forget(self, oid_t id, idx_t node) noexcept nogil:
        """Take resting order `id`, held in pool node `node`, out of the id index (no node
        is read)."""
        cdef int64_t j = self._window_slot(id)
        if j >= 0:
            ENGINE_CHECK(self.window[j] == <uint32_t>node)
            self.window[j] = EMPTY_SLOT
            return
        cdef int64_t i = self._home(id)
        cdef uint32_t entry = self._tag(id) | <uint32_t>node
        while (self.slots[i] & (SLOT_TAG_MASK | SLOT_NODE_MASK)) != entry:
            ENGINE_CHECK(self.slots[i] != EMPTY_SLOT)
            i = (i + 1) & self.slot_mask
        self._hash_remove(i)

    cdef inline uint32_t _probe_tag(self, oid_t id) noexcept nogil:
        """The first slot of `id`'s probe run whose tag matches, without reading any node
        (for prefetching: usually the slot of `id`), or EMPTY_SLOT."""
        cdef int64_t j = self._window_slot(id)
        if j >= 0:
            return self.window[j]
        cdef int64_t i = self._home(id)
        cdef uint32_t tag = self._tag(id)
        cdef uint32_t s = self.slots[i]
        while s != EMPTY_SLOT and (s & SLOT_TAG_MASK) != tag:
            i = (i + 1) & self.slot_mask
            s = self.slots[i]
        return s

    cdef inline idx_t _find(self, oid_t id) noexcept nogil:
        cdef int64_t i = self._slot_of(id)
        return -1 if i < 0 else <idx_t>(self._entry(i) & SLOT_NODE_MASK)

    cdef inline void _slot_remove(self, int64_t slot) noexcept nogil:
        """Empty slot `slot` of the id index."""
        ENGINE_CHECK(slot >= 0)
        if slot >= IN_WINDOW:
            self.window[slot - IN_WINDOW] = EMPTY_SLOT
        else:
            self._hash_remove(slot)

    cdef void _hash_remove(self, int64_t i) noexcept nogil:
        """Empty hash-table slot `i`, shifting later entries of its probe run back."""
        cdef int64_t j = i, home
        while True:
            j = (j + 1) & self.slot_mask
            if self.slots[j] == EMPTY_SLOT:
                break
            home = self._slot_home(j)
            # Move slots[j] back to the hole at i unless its home lies cyclically in (i, j].
            if (j > i and (home <= i or home > j)) or (j < i and (home <= i and home > j)):
                self.slots[i] = self._pack(self.slots[j], (i - home) & self.slot_mask)
                i = j
        self.slots[i] = EMPTY_SLOT
        self.hashed -= 1
        if self.hashed == 0:        # the bounds can start afresh
            self.hashed_lo, self.hashed_hi, self.hashed_above = INT64_MAX, INT64_MIN, INT64_MAX

    # ------------------------------------------------------------------ id window
    # Every id the window covers that is in the index is in the window; the hash table holds
    # the rest.  The window moves only upwards (ids usually grow) or, while it is empty, to
    # anywhere; it never moves over an id the hash table may hold.  The bounds that tell
    # are loose (an id leaving the table does not tighten them) but start afresh whenever
    # the table empties or is rebuilt: all its ids lie in [hashed_lo, hashed_hi], and
    # those above the window at or above hashed_above.

    cdef inline bint _window_wants(self, oid_t id) noexcept nogil:
        """Should the window move before `id` enters the index?  It should when `id` lies
        within one window size above it, or anywhere while it is empty.  (Above, not round
        the end of int64: the window never wraps, and moves over no id the hash table holds.)"""
        cdef uint64_t off = <uint64_t>id - <uint64_t>self.window_base
        return off > <uint64_t>self.window_mask and (
            (off <= 2 * <uint64_t>self.window_mask + 1 and id > self.window_base)
            or (self.resting == self.hashed and self.entered >= 0))

    cdef int _move_window(self, oid_t id) except -1 nogil:
        """Move the window so that it covers `id`, if it wants to and that is cheap: else
        `id` will go to the hash table.  The index may change, the book does not."""
        cdef int64_t size = self.window_mask + 1, held = <int64_t>self.resting - self.hashed
        cdef oid_t base
        if not self._window_wants(id):
            return 0
        if held == 0:     # empty: place it around `id`, nothing moves
            base = id - size // 8 if id >= INT64_MIN + size // 8 else INT64_MIN
            if base > INT64_MAX - (size - 1):
                base = INT64_MAX - (size - 1)
            if self._hashed_within(base, base + (size - 1)):
                self.entered = -WINDOW_RETRY
                return 0
            self.window_base = base
            self.entered = 0
            # The table's ids now lie all below the window or all above it.
            self.hashed_above = self.hashed_lo if self.hashed and self.hashed_lo > base \
                else INT64_MAX
            return 0
        if self.entered * WINDOW_DENSITY < size:    # too sparse to pay for a scan yet
            return 0
        # A window at least half full doubles (keeping its base), which covers `id`: after
        # that it takes no more memory for the ids it holds than a hash table would.
        if held * 2 >= size and size < MAX_WINDOW and self.window_base <= INT64_MAX - (2 * size - 1):
            if self.window_base + (2 * size - 1) < self.hashed_above:
                self._resize_window(2 * size)
                self.entered = 0
            return 0
        # Else it slides, and one under an eighth full shrinks to about a quarter full.
        if held * 8 < size:
            while size > self.window_min and held * 4 < size:
                size //= 2
        # Slide: `id` lands three quarters up, leaving room for the ids after it.
        base = id - (size - size // 4)
        if base > INT64_MAX - (size - 1):
            base = INT64_MAX - (size - 1)
        if base + (size - 1) < self.hashed_above:
            self._slide_window(base)
            if size <= self.window_mask:
                self._resize_window(size)
            self._shrink_hash()
            self.entered = 0
        return 0

    cdef bint _hashed_within(self, oid_t lo, oid_t hi) noexcept nogil:
        """Might the hash table hold an id in [lo, hi]?"""
        return self.hashed > 0 and lo <= self.hashed_hi and hi >= self.hashed_lo

    cdef int _resize_window(self, int64_t size) except -1 nogil:
        """Make the window `size` slots (a power of two), keeping its base: when it shrinks,
        no id it holds may lie beyond its new end."""
        cdef uint32_t* window = <uint32_t*>engine_block_resize(NULL, 0, size * sizeof(uint32_t))
        cdef uint64_t old_size = <uint64_t>(self.window_mask + 1), id = <uint64_t>self.window_base
        cdef uint64_t left = min(old_size, <uint64_t>size), run, j, k
        if window == NULL:
            with gil:
                raise MemoryError(f"cannot grow the id window to {size} slots")
        memset(window, 0xFF, size * sizeof(uint32_t))
        if self.window != NULL:
            # Ids base, base + 1, ... lie in runs of consecutive slots in both rings.
            while left > 0:
                j = id & (old_size - 1)
                k = id & <uint64_t>(size - 1)
                run = min(left, old_size - j, <uint64_t>size - k)
                memcpy(&window[k], &self.window[j], run * sizeof(uint32_t))
                id += run
                left -= run
            engine_block_free(self.window, old_size * sizeof(uint32_t))
        self.window = window
        self.window_mask = size - 1
        return 0

    cdef int _slide_window(self, oid_t base) except -1 nogil:
        """Move the window up to start at `base`: the ids it leaves go to the hash table."""
        cdef uint64_t first = <uint64_t>self.window_base, size = <uint64_t>(self.window_mask + 1)
        cdef uint64_t advance = <uint64_t>base - first
        cdef uint64_t scan = size if advance > size else advance, id, left, run, j, k
        cdef int64_t leaving = 0
        # Room for the ids that leave (and the id that moved the window, if it must go to
        # the hash table after all); count them only if the table might not hold them all.
        if <int64_t>self.resting + 1 > self.hash_room:
            id, left = first, scan
            while left > 0:
                j = id & (size - 1)
                run = min(left, size - j)
                for k in range(j, j + run):
                    leaving += self.window[k] != EMPTY_SLOT
                id += run
                left -= run
            self._reserve_hash(leaving + 1)
        id, left = first, scan
        while left > 0:
            j = id & (size - 1)
            run = min(left, size - j)
            for k in range(j, j + run):
                if self.window[k] != EMPTY_SLOT:
                    self._hash_insert(<oid_t>(id + (k - j)), <idx_t>self.window[k])
            memset(&self.window[j], 0xFF, run * sizeof(uint32_t))
            id += run
            left -= run
        self.window_base = base
        return 0

    cdef int _shrink_hash(self) except -1 nogil:
        """Halve (or more) a hash table under a fifth full: it is then over a quarter full."""
        if self.slot_mask + 1 > 1024 and <int64_t>self.hashed * 5 < self.slot_mask + 1:
            self._rebuild_hash(self.hashed)
        return 0

    # ------------------------------------------------------------------ bitmap

    cdef void _bit_set(self, int64_t i) noexcept nogil:
        self.bits0[i >> 6] |= (<uint64_t>1) << (i & 63)
        self.bits1[i >> 12] |= (<uint64_t>1) << ((i >> 6) & 63)
        self.bits2[i >> 18] |= (<uint64_t>1) << ((i >> 12) & 63)
        self.bits3 |= (<uint64_t>1) << ((i >> 18) & 63)

    cdef void _bit_clear(self, int64_t i) noexcept nogil:
        self.bits0[i >> 6] &= ~((<uint64_t>1) << (i & 63))
        if self.bits0[i >> 6]:
            return
        self.bits1[i >> 12] &= ~((<uint64_t>1) << ((i >> 6) & 63))
        if self.bits1[i >> 12]:
            return
        self.bits2[i >> 18] &= ~((<uint64_t>1) << ((i >> 12) & 63))
        if self.bits2[i >> 18]:
            return
        self.bits3 &= ~((<uint64_t>1) << ((i >> 18) & 63))

    cdef int64_t _highest_at_or_below(self, int64_t i) noexcept nogil:
        """Highest non-empty level <= i, or -1."""
        cdef uint64_t m
        cdef int64_t w
        if i < 0:
            return -1
        if i >= self.span:
            i = self.span - 1
        m = self.bits0[i >> 6] & _mask_at_or_below(i & 63)
        if m:
            return (i & ~63) | _top(m)
        i = (i >> 6) - 1                                   # tier-1 bit index
        if i < 0:
            return -1
        m = self.bits1[i >> 6] & _mask_at_or_below(i & 63)
        if not m:
            i = (i >> 6) - 1                               # tier-2 bit index
            if i < 0:
                return -1
            m = self.bits2[i >> 6] & _mask_at_or_below(i & 63)
            if not m:
                i = (i >> 6) - 1                           # tier-3 bit index
                if i < 0:
                    return -1
                m = self.bits3 & _mask_at_or_below(i)
                if not m:
                    return -1
                w = _top(m)
                m = self.bits2[w]
                i = (w << 6) | _top(m)
                m = self.bits1[i]
                w = (i << 6) | _top(m)
            else:
                w = (i & ~63) | _top(m)                    # tier-1 word index
                m = self.bits1[w]
                w = (w << 6) | _top(m)
        else:
            w = (i & ~63) | _top(m)                        # tier-0 word index
        return (w << 6) | _top(self.bits0[w])

    cdef int64_t _lowest_at_or_above(self, int64_t i) noexcept nogil:
        """Lowest non-empty level >= i, or NO_ASK."""
        cdef uint64_t m
        cdef int64_t w
        if i >= self.span:
            return NO_ASK
        if i < 0:
            i = 0
        m = self.bits0[i >> 6] & _mask_at_or_above(i & 63)
        if m:
            return (i & ~63) | _bottom(m)
        i = (i >> 6) + 1
        if i >= self.words0:
            return NO_ASK
        m = self.bits1[i >> 6] & _mask_at_or_above(i & 63)
        if not m:
            i = (i >> 6) + 1
            if i >= self.words1:
                return NO_ASK
            m = self.bits2[i >> 6] & _mask_at_or_above(i & 63)
            if not m:
                i = (i >> 6) + 1
                if i >= self.words2:
                    return NO_ASK
                m = self.bits3 & _mask_at_or_above(i)
                if not m:
                    return NO_ASK
                w = _bottom(m)
                m = self.bits2[w]
                i = (w << 6) | _bottom(m)
                m = self.bits1[i]
                w = (i << 6) | _bottom(m)
            else:
                w = (i & ~63) | _bottom(m)
                m = self.bits1[w]
                w = (w << 6) | _bottom(m)
        else:
            w = (i & ~63) | _bottom(m)
        return (w << 6) | _bottom(self.bits0[w])

    # ------------------------------------------------------------------ queues

    cdef inline void _write_owed_links(self) noexcept nogil:
        """Write the links the last per-call order left owed (`_link_next`)."""
        if self.owed_next_of >= 0:
            self.nodes[self.owed_next_of].next = self.owed_next
            self.owed_next_of = -1
        if self.owed_prev_of >= 0:
            self.nodes[self.owed_prev_of].prev = self.owed_prev
            self.owed_prev_of = -1

    cdef inline void _link_next(self, idx_t node, idx_t next) noexcept nogil:
        """Set `node`'s next link: now in a batch, at the next call per call.  A batch
        fetched `node` ahead; a lone call has not, and its store would hold up the stores
        that follow until the line comes, Python's included (in A, cancels of orders deep
        in long queues, a tail a new order queues behind).  Asked for now, the line is in
        by the next call.  A call owes at most one link of each kind: it rests one order or
        takes out one (_match unlinks the makers it fills itself)."""
        if not self.defer_links:
            self.nodes[node].next = next
            return
        ENGINE_CHECK(self.owed_next_of < 0)
        self.owed_next_of = node
        self.owed_next = next
        engine_prefetch_write(&self.nodes[node])

    cdef inline void _link_prev(self, idx_t node, idx_t prev) noexcept nogil:
        """Set `node`'s prev link, as `_link_next` does its next."""
        if not self.defer_links:
            self.nodes[node].prev = prev
            return
        ENGINE_CHECK(self.owed_prev_of < 0)
        self.owed_prev_of = node
        self.owed_prev = prev
        engine_prefetch_write(&self.nodes[node])

    cdef inline int _rest(self, side_t side, int64_t level, oid_t id, qty_t qty, owner_t owner,
                          Gap gap) except -1 nogil:
        """Append a new resting order at the tail of `level` (room was reserved by the caller).
        It enters the id index at `gap`, from a lookup of `id` since the index last changed."""
        cdef idx_t node = self.free_head
        if node >= 0:
            self.free_head = self.nodes[node].next
        else:
            node = self.unused
            self.unused += 1
            # Ask for a fresh line ahead: the first store to it would wait for it, and the
            # stores after that store behind it (see _link_next).
            if node + PREFETCH_FRESH_NODE < self.node_capacity:
                engine_prefetch_write(&self.nodes[node + PREFETCH_FRESH_NODE])
        ENGINE_CHECK(node < self.node_capacity)
        ENGINE_CHECK(level >= 0 and level < self.span)
        cdef Node* n = &self.nodes[node]
        n.id = id
        n.qty = qty
        n.owner = owner
        n.level = <idx_t>level
        n.next = -1
        cdef Level* lv = &self.levels[level]
        n.prev = lv.tail
        if lv.tail >= 0:
            self._link_next(lv.tail, node)
        else:
            lv.head = node
            self._bit_set(level)
        lv.tail = node
        lv.qty += qty
        ENGINE_CHECK(self._gap_is_fresh(id, gap))
        if gap.slot >= IN_WINDOW:
            self.window[gap.slot - IN_WINDOW] = <uint32_t>node
        else:
            self.slots[gap.slot] = gap.entry | <uint32_t>node
            self._count_hashed(id)
        self.entered += 1
        self.resting += 1
        if side > 0:
            self.bid_volume += qty
            if level > self.best_bid_idx:
                self.best_bid_idx = level
        else:
            self.ask_volume += qty
            if level < self.best_ask_idx:
                self.best_ask_idx = level
        ENGINE_CHECK(self.best_bid_idx < self.best_ask_idx)
        return 0

    cdef inline void _unlink(self, idx_t node, int64_t slot) noexcept nogil:
        """Take a resting order out of its queue, the id index (`slot` is its slot there)
        and the pool."""
        cdef Node* n = &self.nodes[node]
        cdef int64_t level = n.level
        cdef Level* lv = &self.levels[level]
        cdef bint is_bid = level <= self.best_bid_idx
        if n.prev >= 0:
            self._link_next(n.prev, n.next)
        else:
            lv.head = n.next
        if n.next >= 0:
            self._link_prev(n.next, n.prev)
        else:
            lv.tail = n.prev
        lv.qty -= n.qty
        if is_bid:
            self.bid_volume -= n.qty
        else:
            self.ask_volume -= n.qty
        ENGINE_CHECK(slot >= 0 and (self._entry(slot) & SLOT_NODE_MASK) == <uint32_t>node)
        self._slot_remove(slot)
        n.qty = 0
        n.next = self.free_head
        self.free_head = node
        self.resting -= 1
        if lv.head < 0:
            self._bit_clear(level)
            if level == self.best_bid_idx:
                self.best_bid_idx = self._highest_at_or_below(level - 1)
            elif level == self.best_ask_idx:
                self.best_ask_idx = self._lowest_at_or_above(level + 1)

    # ------------------------------------------------------------------ matching

    cdef inline int _match(self, side_t side, int64_t limit_idx, qty_t* qty, oid_t taker_id,
                    owner_t taker_owner, int8_t taker_kind) except -1 nogil:
        """Trade `qty[0]` lots of a taker on `side` against the other side, up to `limit_idx`.

        Makers are taken from the head of each level in turn; a level's and a side's
        totals are settled once per level rather than once per fill.
        """
        cdef int64_t level
        cdef Level* lv
        cdef idx_t node
        cdef Node* n
        cdef qty_t wanted = qty[0], traded, level_traded
        cdef price_t price
        while wanted > 0:
            if side > 0:
                level = self.best_ask_idx
                if level > limit_idx:
                    break
            else:
                level = self.best_bid_idx
                if level < limit_idx or level < 0:
                    break
            lv = &self.levels[level]
            price = self.base + level
            level_traded = 0
            while True:
                node = lv.head
                n = &self.nodes[node]
                if n.next >= 0:
                    engine_prefetch(&self.nodes[n.next])
                traded = n.qty if n.qty < wanted else wanted
                self._push_fill(taker_id, n.id, price, traded, taker_owner, n.owner, side, taker_kind)
                wanted -= traded
                level_traded += traded
                if traded < n.qty:
                    n.qty -= traded             # the maker stays at the head with the rest
                    self.chase_node = n.next
                    self.chase_steps = CHASE_STEPS
                    break
                # The maker is filled: pop it off the head of the queue.
                lv.head = n.next
                self._forget(n.id, node)
                n.qty = 0
                n.next = self.free_head
                self.free_head = node
                self.resting -= 1
                if lv.head < 0:
                    lv.tail = -1
                    break
                self.nodes[lv.head].prev = -1
                if wanted == 0:
                    self.chase_node = lv.head
                    self.chase_steps = CHASE_STEPS
                    break
            lv.qty -= level_traded
            if side > 0:
                self.ask_volume -= level_traded
            else:
                self.bid_volume -= level_traded
            if lv.head < 0:
                self._bit_clear(level)
                if side > 0:
                    self.best_ask_idx = self._lowest_at_or_above(level + 1)
                else:
                    self.best_bid_idx = self._highest_at_or_below(level - 1)
        if self.in_batch and wanted != qty[0]:      # a batch is running and this swept
            self._note_sweep(side)
        qty[0] = wanted
        return 0

    cdef qty_t _available(self, side_t side, int64_t limit_idx, qty_t wanted) noexcept nogil:
        """Lots a taker on `side` could trade up to `limit_idx`, counting no further than `wanted`."""
        cdef qty_t total = 0
        cdef int64_t level
        if side > 0:
            level = self.best_ask_idx
            while level <= limit_idx and total < wanted:
                total += self.levels[level].qty
                level = self._lowest_at_or_above(level + 1)
        else:
            level = self.best_bid_idx
            while level >= 0 and level >= limit_idx and total < wanted:
                total += self.levels[level].qty
                level = self._highest_at_or_below(level - 1)
        return total

    # The checks a limit passes to rest, shared by _process and _process_plain.

    cdef inline bint _crosses(self, side_t side, int64_t level) noexcept nogil:
        """Does an order on `side` priced at `level` meet the other side's best?"""
        return self.best_ask_idx <= level if side > 0 else self.best_bid_idx >= level

    cdef inline bint _too_large(self, side_t side, qty_t qty) noexcept nogil:
        """Would `qty` more lots resting on `side` take its total past int64 (a level's
        total is at most its side's)?"""
        return qty > INT64_MAX - (self.bid_volume if side > 0 else self.ask_volume)

    cdef inline bint _full(self) noexcept nogil:
        """Is there no room reserved for one more resting order, in the pool or the hash table?"""
        return self.resting >= self.node_capacity or self.hashed >= self.hash_room

    cdef inline int _process_plain(self, const Order* order, Result* result) except -1 nogil:
        """Run one message.  The two that most streams are mostly made of run here, inlined
        where the batch loop and a call run messages: a cancel of an id the window holds,
        and a plain limit that rests without trading (in the band, with room in the pool
        and the index, and its id's window slot free).  `_process` would do the same with
        them, after checks that these conditions pass; every other message goes to it.  (setup.py gives GCC
        the inlining budget for this: a call costs a message a dozen instructions and more
        in saving and restoring registers.)"""
        cdef int64_t j = self._window_slot(order.id)
        cdef int64_t level
        cdef side_t side = order.side
        cdef qty_t qty = order.qty
        cdef idx_t node
        cdef Gap gap
        if j < 0 or order.flags != 0:
            return self._process(order, result)
        if order.kind == K_CANCEL:
            if self.window[j] == EMPTY_SLOT:
                return self._process(order, result)
            node = <idx_t>self.window[j]
            _accepted(result, 0, 0, self.nodes[node].qty)
            self._unlink(node, IN_WINDOW + j)
            return 0
        level = <int64_t>(<uint64_t>order.price - <uint64_t>self.base)  # wraps: one range check
        if (order.kind == K_LIMIT and (side == 1 or side == -1) and qty > 0
                and self.window[j] == EMPTY_SLOT and self.lo_idx <= level <= self.hi_idx
                and not self._crosses(side, level) and not self._too_large(side, qty)
                and not self._full()):
            gap.slot = IN_WINDOW + j
            gap.entry = 0
            self._rest(side, level, order.id, qty, order.owner, gap)
            _accepted(result, 0, qty, 0)
            return 0
        return self._process(order, result)

    cdef int _process(self, const Order* order, Result* result) except -1 nogil:
        """Run one message.  Every check comes before the first change, so a reject changes nothing."""
        cdef int kind = order.kind
        cdef side_t side = order.side
        cdef qty_t qty = order.qty
        cdef idx_t node
        cdef int64_t slot, level
        cdef Gap gap
        cdef price_t price, lo = self.base + self.lo_idx, hi = self.base + self.hi_idx
        cdef bint may_rest, outside = False
        _accepted(result, 0, 0, 0)         # until a check or a trade says otherwise
        if order.flags == 0 and (side == 1 or side == -1) and qty > 0 and (
                (kind == K_LIMIT and lo <= order.price <= hi) or kind == K_MARKET):
            # The common messages, a plain limit inside the band or a plain market order,
            # pass every check below.
            may_rest = kind == K_LIMIT
            price = order.price if may_rest else (hi if side > 0 else lo)
        else:
            if kind < K_LIMIT or kind > K_EXECUTE:
                result.reject = R_BAD_KIND
                return 0
            if order.flags & ~F_QUEUE_AT_LIMIT:
                result.reject = R_BAD_FLAGS
                return 0
            if kind == K_CANCEL or kind == K_REDUCE or kind == K_EXECUTE:
                if kind != K_CANCEL and qty <= 0:
                    result.reject = R_BAD_QTY
                    return 0
                slot = self._slot_of(order.id)
                if slot < 0:
                    result.reject = R_UNKNOWN_ID
                    return 0
                node = <idx_t>(self._entry(slot) & SLOT_NODE_MASK)
                if kind == K_EXECUTE:
                    self._execute(node, slot, qty, order.owner, result)
                elif kind == K_CANCEL or qty >= self.nodes[node].qty:
                    result.cancelled = self.nodes[node].qty
                    self._unlink(node, slot)
                else:
                    self._take_off(node, qty)
                    result.cancelled = qty
                    result.remaining = self.nodes[node].qty
                return 0
            if side != 1 and side != -1:
                result.reject = R_BAD_SIDE
                return 0
            if qty <= 0:
                result.reject = R_BAD_QTY
                return 0
            # Priced outside the band on its passive side: a limit would rest outside it, so it
            # is rejected; an IOC or FOK is cancelled whole (below, once its id is checked).
            outside = (side > 0 and order.price < lo) or (side < 0 and order.price > hi)
            if kind == K_LIMIT and outside:
                result.reject = R_PRICE_OUT_OF_BAND
                return 0
            # The aggressive side is stopped at the band edge: a market order trades up to it,
            # a limit priced through it is treated as priced at it.
            if kind == K_MARKET:
                price = hi if side > 0 else lo
            else:
                price = order.price
                if price > hi:
                    price = hi
                elif price < lo:
                    price = lo
            # What the band (not the order's own price) stops may rest at the edge when asked to.
            may_rest = (kind == K_LIMIT and price == order.price) or (
                (kind == K_LIMIT or kind == K_MARKET) and (order.flags & F_QUEUE_AT_LIMIT))
        if self._slot_or_gap(order.id, &gap) >= 0:
            result.reject = R_DUPLICATE_ID
            return 0
        # Level and side totals are int64: refuse what could take them past it.
        if may_rest and self._too_large(side, qty):
            result.reject = R_TOO_LARGE
            return 0
        if kind == K_IOC or kind == K_FOK:
            if outside:
                result.cancelled = qty
                return 0
            if kind == K_FOK and self._available(side, price - self.base, qty) < qty:
                result.cancelled = qty
                return 0
        if may_rest and (self._full() or (gap.slot < IN_WINDOW and self._window_wants(order.id))):
            # Before any change, so running out of memory changes nothing.
            self._reserve(1)
            self._move_window(order.id)
            gap.slot = -1                   # the id index may have been rebuilt
        level = price - self.base
        if self._crosses(side, level):
            self._match(side, level, &qty, order.id, order.owner, kind)
            if qty < order.qty:
                gap.slot = -1               # filled makers left the id index
        result.filled = order.qty - qty
        if qty > 0:
            if may_rest:
                if gap.slot < 0:            # the index changed since the lookup: look again
                    self._slot_or_gap(order.id, &gap)
                self._rest(side, level, order.id, qty, order.owner, gap)
                result.remaining = qty
            else:
                result.cancelled = qty
        return 0

    cdef int _execute(self, idx_t node, int64_t slot, qty_t qty, owner_t taker_owner,
                      Result* result) except -1 nogil:
        """Trade up to `qty` lots of the named resting order with a counterparty outside the
        book (an execution a venue reports), at the order's price and in its place."""
        cdef Node* n = &self.nodes[node]
        cdef side_t maker_side = 1 if n.level <= self.best_bid_idx else -1
        cdef qty_t traded = qty if qty < n.qty else n.qty
        self._push_fill(-1, n.id, self.base + n.level, traded, taker_owner, n.owner, -maker_side,
                        K_EXECUTE)
        result.filled = traded
        if traded == n.qty:
            self._unlink(node, slot)
        else:
            self._take_off(node, traded)
            result.remaining = n.qty
        return 0

    cdef void _take_off(self, idx_t node, qty_t qty) noexcept nogil:
        """Reduce a resting order by fewer lots than it has; it keeps its queue position."""
        cdef Node* n = &self.nodes[node]
        n.qty -= qty
        self.levels[n.level].qty -= qty
        if n.level <= self.best_bid_idx:
            self.bid_volume -= qty
        else:
            self.ask_volume -= qty

    # ------------------------------------------------------------------ batch path

    def submit(self, orders):
        """Run a batch of messages in order, without the GIL.

        Parameters
        ----------
        orders : numpy.ndarray of ORDER_DTYPE
            One row a message.  A structured array with the same field names is
            converted (fields ``owner``, ``flags`` and ``price`` may be missing).

        Returns
        -------
        BatchResult
            ``fills`` (FILL_DTYPE, in execution order) and ``results`` (RESULT_DTYPE,
            one row per message), with ``filled``, ``remaining``, ``cancelled`` and
            ``reject`` as views of ``results``' columns.

        Raises
        ------
        TypeError, ValueError
            If `orders` is not a one-dimensional structured array whose integer
            fields fit ORDER_DTYPE (the message names the field).
        RuntimeError
            If another thread is running a batch (or a cascade step) on this book.
        """
        orders = _check_orders(orders)
        cdef int64_t n = orders.shape[0]
        cdef const Order* rows = <const Order*>cnp.PyArray_DATA(orders)
        cdef Result* out = NULL
        cdef int64_t i
        # The batch collects its fills in a buffer of its own that becomes the returned
        # array, so fills pending from per-call orders stay where they are and nothing is
        # copied.  A big batch's results are a block too: freed with their arrays, big blocks
        # are kept for the next batch with their pages in (engine/_blocks.h), which the
        # kernel would otherwise zero on first touch inside it.  A small batch's come from
        # numpy, which is quicker to ask, and malloc keeps small blocks anyway.
        cdef bint big = n * sizeof(Result) >= ENGINE_MAP_MIN
        if not big:
            results = np.empty(n, dtype=RESULT_DTYPE)
            out = <Result*>cnp.PyArray_DATA(results)
        cdef Fill* pending
        cdef Fill* batch
        cdef int64_t pending_count, pending_capacity, count, capacity
        cdef size_t size
        with self.held():
            pending, pending_count, pending_capacity = self.fills, self.fill_count, self.fill_capacity
            self.fills = NULL
            self.fill_count = self.fill_capacity = 0
            # Fills are written once and read only after the batch: they go around the
            # caches, which keep the book's pool and id index instead.  (Streaming the
            # results as well cost A more instructions than it saved.)
            self.in_batch = True
            try:
                if big:
                    out = <Result*>engine_block_resize(NULL, 0, n * sizeof(Result))
                    if out == NULL:
                        raise MemoryError(f"cannot allocate the results of {n} messages")
                with nogil:
                    # Room for a fill a message from the start (up to the most a kept block
                    # holds), if a kept block that size is to be had: it comes with its pages
                    # in.  Else the buffer grows from small, into kept blocks where they fit.
                    if big:
                        size = min(n, <int64_t>(ENGINE_CACHE_MAX // sizeof(Fill))) * sizeof(Fill)
                        self.fills = <Fill*>engine_block_take(&size)
                        self.fill_capacity = size // sizeof(Fill)
                    for i in range(n):
                        # Messages are known ahead, so fetch what they will touch while earlier
                        # ones run: each would otherwise wait on a few cache misses in turn.
                        if i + PREFETCH_SLOT < n:       # every stage's message is in the batch
                            self._prefetch_slot(&rows[i + PREFETCH_SLOT])
                            self._prefetch_node(&rows[i + PREFETCH_NODE])
                            self._prefetch_neighbours(&rows[i + PREFETCH_NEIGHBOURS])
                            # Each fresh line of results is a store that would wait for
                            # it, and the stores after it behind it (see _link_next).
                            engine_prefetch_write(&out[i + PREFETCH_RESULT])
                        else:                           # the batch's last messages: nearer stages
                            if i + PREFETCH_NODE < n:
                                self._prefetch_node(&rows[i + PREFETCH_NODE])
                            if i + PREFETCH_NEIGHBOURS < n:
                                self._prefetch_neighbours(&rows[i + PREFETCH_NEIGHBOURS])
                        if self.chase_steps > 0:
                            self._chase_step()
                        if self.walk_left[i & 1] > 0:     # each walker every other message
                            self._walk_step(i & 1)
                        self._process_plain(&rows[i], &out[i])
            finally:
                engine_stream_fence()
                self.in_batch = False
                batch, count, capacity = self.fills, self.fill_count, self.fill_capacity
                self.fills, self.fill_count, self.fill_capacity = pending, pending_count, pending_capacity
                fills = hand_over(batch, count, capacity, FILL_DTYPE)
                if big and out != NULL:
                    results = hand_over(out, n, n, RESULT_DTYPE)
        return BatchResult(fills, results)

    def execute(self, id, qty, owner=-1):
        """Trade `qty` lots of resting order `id` with a counterparty outside the book (an
        execution reported by a venue, as in a LOBSTER or ITCH feed).

        The fill has ``taker_id = -1`` and ``taker_owner = owner``.  Executing all the order
        has (or more) removes it.  Returns the lots executed; raises ValueError for an
        unknown id or ``qty <= 0``.
        """
        cdef Result r
        self._call(_as_int64(id, "id"), 0, K_EXECUTE, 0, _as_int64(qty, "qty"), _as_owner(owner), 0, &r)
        return r.filled

    def take_fills(self):
        """Return the fills of per-call orders since the last call, as a FILL_DTYPE array."""
        self._start_call()
        fills = hand_over(self.fills, self.fill_count, self.fill_capacity, FILL_DTYPE)
        self.fills = NULL
        self.fill_count = self.fill_capacity = 0
        return fills

    cdef inline void _prefetch_slot(self, const Order* o) noexcept nogil:
        self._prefetch_id(o.id)

    cdef inline void _prefetch_node(self, const Order* o) noexcept nogil:
        """The order a cancel or reduce names, or the tail a new limit may queue behind."""
        cdef int64_t level
        cdef uint32_t s
        if o.kind == K_CANCEL or o.kind == K_REDUCE:
            s = self._probe_tag(o.id)
            if s != EMPTY_SLOT:
                engine_prefetch(&self.nodes[s & SLOT_NODE_MASK])
        elif o.kind == K_LIMIT:
            # Unsigned: an extreme price wraps (a signed difference could overflow) and fails
            # the one range check.
            level = <int64_t>(<uint64_t>o.price - <uint64_t>self.base)
            if <uint64_t>level < <uint64_t>self.span and self.levels[level].tail >= 0:
                engine_prefetch(&self.nodes[self.levels[level].tail])

    cdef inline idx_t _fetch_after(self, idx_t node, bint backward) noexcept nogil:
        """Fetch the maker after (or before) `node` in its queue, and the id-index slot the
        sweep will empty when it fills `node`; return that maker, or -1 when there is none
        or `node` was traded or cancelled meanwhile.  A sweep meets makers one after another
        down a queue, each a cache miss that the one before must resolve: the chase and the
        walkers walk queues ahead of it with this."""
        cdef Node* n
        cdef idx_t after
        if node < 0 or node >= self.unused:
            return -1
        n = &self.nodes[node]
        after = n.prev if backward else n.next
        if n.qty == 0 or after < 0:
            return -1
        ENGINE_CHECK(after < self.unused)           # a live order's neighbours are live
        self._prefetch_id(n.id)
        engine_prefetch(&self.nodes[after])
        return after

    cdef inline void _chase_step(self) noexcept nogil:
        """Step the chase down the queue from `chase_node` (fetched a message ago)."""
        self.chase_node = self._fetch_after(self.chase_node, False)
        self.chase_steps = self.chase_steps - 1 if self.chase_node >= 0 else 0

    cdef inline void _note_sweep(self, side_t side) noexcept nogil:
        """Count the sweeps in a row that stop at one level, and send the walkers to the next
        level once they are many: in a cascade each level's queue is long (in B, 167 makers
        traded at a level, three a sweep), and a sweep meets its makers one after another,
        each a cache miss that the one before must resolve.  Walked ahead from both ends,
        two misses are in flight at a time, and the sweeps find the next level's makers
        fetched when they get there."""
        cdef int64_t level = self.best_ask_idx if side > 0 else self.best_bid_idx
        if level != self.swept_level:
            self.swept_level = level
            self.swept_times = 1
            return
        self.swept_times += 1
        if (self.swept_times >= WALK_AFTER_SWEEPS and level != self.walk_level
                and self.walk_left[0] == 0 and self.walk_left[1] == 0):    # done walking
            self._send_walkers(side, level)

    cdef void _send_walkers(self, side_t side, int64_t level) noexcept nogil:
        """Start the walkers at the two ends of the queue of the level after `level` on the
        side the sweeps take from."""
        cdef int64_t after
        self.walk_level = level
        self.walk_left[0] = self.walk_left[1] = 0
        if side > 0:
            after = NO_ASK if level == NO_ASK else self._lowest_at_or_above(level + 1)
            if after == NO_ASK:
                return
        else:
            after = self._highest_at_or_below(level - 1)
            if after < 0:
                return
        self.walk_node[0] = self.levels[after].head
        self.walk_node[1] = self.levels[after].tail
        self.walk_left[0] = self.walk_left[1] = WALK_STEPS
        engine_prefetch(&self.nodes[self.walk_node[0]])
        engine_prefetch(&self.nodes[self.walk_node[1]])

    cdef inline void _walk_step(self, int w) noexcept nogil:
        """Step walker `w` (fetched two messages ago) down its queue: walker 0 from the head,
        walker 1 from the tail.  It stops where the other has been."""
        cdef idx_t node = self.walk_node[w]
        if node == self.walk_node[w ^ 1]:
            self.walk_left[w] = 0
            return
        node = self._fetch_after(node, w == 1)
        if node < 0:
            self.walk_left[w] = 0
            return
        self.walk_node[w] = node
        self.walk_left[w] -= 1

    cdef inline void _prefetch_neighbours(self, const Order* o) noexcept nogil:
        """The queue neighbours a cancel will relink."""
        cdef uint32_t s
        cdef Node* n
        if o.kind == K_CANCEL or o.kind == K_REDUCE:
            s = self._probe_tag(o.id)
            if s != EMPTY_SLOT and (s & SLOT_NODE_MASK) < <uint32_t>self.unused:
                n = &self.nodes[s & SLOT_NODE_MASK]
                if 0 <= n.prev < self.unused:
                    engine_prefetch(&self.nodes[n.prev])
                if 0 <= n.next < self.unused:
                    engine_prefetch(&self.nodes[n.next])

    # ------------------------------------------------------------------ per-call path

    cdef inline qty_t _call(self, oid_t id, int64_t side, int kind, price_t price, qty_t qty,
                     owner_t owner, uint8_t flags, Result* r) except -1:
        cdef Order o
        self._start_call()
        o.id = id
        o.side = <side_t>side if -128 <= side <= 127 else 0
        o.kind = kind
        o.price = price
        o.qty = qty
        o.owner = owner
        o.flags = flags
        if kind <= K_FOK:           # a new order
            self._prefetch_id(<oid_t>(<uint64_t>id + PREFETCH_NEXT_ID))
        self.defer_links = True         # until the next call starts, whatever happens
        self._process_plain(&o, r)
        if r.reject:
            self._refuse(r.reject, id, side, price, qty)
        return 0

    cdef int _refuse(self, int reject, oid_t id, int64_t side, price_t price, qty_t qty) except -1:
        raise ValueError(describe_reject(reject, id=id, side=side, price=price, qty=qty, band=self.band))

    def limit(self, id, side, price, qty, owner=-1, bint queue_at_limit=False):
        """Send a limit order; what does not trade rests at `price` (good till cancelled).

        A limit priced through the band trades up to the band edge; the rest is
        cancelled, or queued at the edge when `queue_at_limit` is true.

        Returns
        -------
        int
            Lots filled at once.  Fills go to the buffer that `take_fills` drains.

        Raises
        ------
        ValueError
            If the order is rejected (the message gives the reason); nothing changes.
        """
        cdef Result r
        self._call(_as_int64(id, "id"), _as_int64(side, "side"), K_LIMIT, _as_int64(price, "price"),
                   _as_int64(qty, "qty"), _as_owner(owner), F_QUEUE_AT_LIMIT if queue_at_limit else 0,
                   &r)
        return r.filled

    def market(self, id, side, qty, owner=-1, bint queue_at_limit=False):
        """Send a market order: it trades up to the band edge; the rest is cancelled,
        or queued at the edge (limit-down for a sell) when `queue_at_limit` is true.

        Returns the lots filled; raises ValueError if rejected.
        """
        cdef Result r
        self._call(_as_int64(id, "id"), _as_int64(side, "side"), K_MARKET, 0, _as_int64(qty, "qty"),
                   _as_owner(owner), F_QUEUE_AT_LIMIT if queue_at_limit else 0, &r)
        return r.filled

    def ioc(self, id, side, price, qty, owner=-1):
        """Send an immediate-or-cancel order limited at `price` (and the band).

        Returns the lots filled; raises ValueError if rejected.
        """
        cdef Result r
        self._call(_as_int64(id, "id"), _as_int64(side, "side"), K_IOC, _as_int64(price, "price"),
                   _as_int64(qty, "qty"), _as_owner(owner), 0, &r)
        return r.filled

    def fok(self, id, side, price, qty, owner=-1):
        """Send a fill-or-kill order: it trades all of `qty` at or better than `price`, or nothing.

        Returns the lots filled (`qty` or 0); raises ValueError if rejected.
        """
        cdef Result r
        self._call(_as_int64(id, "id"), _as_int64(side, "side"), K_FOK, _as_int64(price, "price"),
                   _as_int64(qty, "qty"), _as_owner(owner), 0, &r)
        return r.filled

    def cancel(self, id):
        """Cancel a resting order.  Returns the lots it had; raises ValueError for an unknown id."""
        cdef Result r
        self._call(_as_int64(id, "id"), 0, K_CANCEL, 0, 0, -1, 0, &r)
        return r.cancelled

    def reduce(self, id, qty):
        """Take `qty` lots off a resting order, keeping its place in the queue.

        Taking off all it has (or more) cancels it.  Returns the lots left on the
        order; raises ValueError for an unknown id or ``qty <= 0``.
        """
        cdef Result r
        self._call(_as_int64(id, "id"), 0, K_REDUCE, 0, _as_int64(qty, "qty"), -1, 0, &r)
        return r.remaining

    # ------------------------------------------------------------------ queries

    def best_bid(self):
        """Best bid in ticks, or None when there are no bids."""
        self._start_call()
        return None if self.best_bid_idx < 0 else self.base + self.best_bid_idx

    def best_ask(self):
        """Best ask in ticks, or None when there are no asks."""
        self._start_call()
        return None if self.best_ask_idx == NO_ASK else self.base + self.best_ask_idx

    def volume(self, side):
        """Total lots resting on `side` (BUY or SELL)."""
        side = _as_int64(side, "side")
        self._start_call()
        if side == BUY:
            return self.bid_volume
        if side == SELL:
            return self.ask_volume
        raise ValueError(f"side must be BUY (1) or SELL (-1), got {side}")

    def depth(self, side, n):
        """The best `n` non-empty levels of `side`, best first, as ``(prices, qtys)`` int64 arrays."""
        cdef int64_t which = _as_int64(side, "side"), wanted = _as_int64(n, "n")
        self._start_call()
        if which != BUY and which != SELL:
            raise ValueError(f"side must be BUY (1) or SELL (-1), got {which}")
        if wanted < 0:
            raise ValueError(f"n must be >= 0, got {wanted}")
        wanted = min(wanted, self.resting)
        prices = np.empty(wanted, dtype=np.int64)
        qtys = np.empty(wanted, dtype=np.int64)
        cdef int64_t[::1] p = prices
        cdef int64_t[::1] q = qtys
        cdef int64_t count = 0
        cdef int64_t level = self.best_bid_idx if which == BUY else self.best_ask_idx
        while count < wanted and level >= 0 and level != NO_ASK:
            p[count] = self.base + level
            q[count] = self.levels[level].qty
            count += 1
            level = (self._highest_at_or_below(level - 1) if which == BUY
                     else self._lowest_at_or_above(level + 1))
        return prices[:count].copy(), qtys[:count].copy()

    def order(self, id):
        """The resting order `id` as ``(side, price, qty, owner)``, or None if it is not resting."""
        cdef oid_t oid = _as_int64(id, "id")
        self._start_call()
        cdef idx_t node = self._find(oid)
        if node < 0:
            return None
        cdef Node* n = &self.nodes[node]
        return (BUY if n.level <= self.best_bid_idx else SELL, self.base + n.level, n.qty, n.owner)

    def queue(self, price):
        """The orders resting at `price` in time priority, as ``(ids, qtys, owners)`` arrays."""
        cdef price_t at = _as_int64(price, "price")
        self._start_call()
        if at < self.base or at >= self.base + self.span:
            return (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32))
        ids, qtys, owners = [], [], []
        cdef idx_t node = self.levels[at - self.base].head
        while node >= 0:
            ids.append(self.nodes[node].id)
            qtys.append(self.nodes[node].qty)
            owners.append(self.nodes[node].owner)
            node = self.nodes[node].next
        return (np.array(ids, dtype=np.int64), np.array(qtys, dtype=np.int64),
                np.array(owners, dtype=np.int32))

    def __len__(self):
        self._start_call()
        return self.resting

    @property
    def band(self):
        """The band ``(lo, hi)`` in ticks."""
        return (self.base + self.lo_idx, self.base + self.hi_idx)

    @property
    def pending_fills(self):
        """Fills of per-call orders waiting for `take_fills`."""
        self._start_call()
        return self.fill_count

    @property
    def nbytes(self):
        """Bytes the book has allocated (levels, bitmap, pool, id index, fill buffer)."""
        self._start_call()
        return (self.span * sizeof(Level)
                + (self.words0 + self.words1 + self.words2) * sizeof(uint64_t)
                + <int64_t>self.node_capacity * sizeof(Node)
                + (self.window_mask + 1 + self.slot_mask + 1) * sizeof(uint32_t)
                + self.fill_capacity * sizeof(Fill))

    def _id_index(self):
        """How the id index stands: window size and first id, ids in the hash table and its
        slots.  For tests and benchmarks."""
        self._start_call()
        return {"window_size": self.window_mask + 1, "window_base": self.window_base,
                "hashed": self.hashed, "hash_slots": self.slot_mask + 1}

    def set_band(self, lo, hi):
        """Move the band (for example to the next session's limits), keeping every resting
        order and its queue position.

        Raises
        ------
        ValueError
            If ``lo > hi``, if the band would put resting bids above `hi` or resting asks
            below `lo` (they could neither trade nor be traded through), or if the band
            and the resting orders together span more than ``MAX_LEVELS`` ticks.
        """
        lo, hi = _as_int64(lo, "lo"), _as_int64(hi, "hi")
        _check_band(lo, hi)
        self._start_call()
        bid, ask = self.best_bid(), self.best_ask()
        if bid is not None and bid > hi:
            raise ValueError(f"band hi={hi} is below the best bid {bid}")
        if ask is not None and ask < lo:
            raise ValueError(f"band lo={lo} is above the best ask {ask}")
        low, high = lo, hi
        if self.resting:
            low = min(lo, self.base + self._lowest_at_or_above(0))
            high = max(hi, self.base + self._highest_at_or_below(self.span - 1))
        if high - low + 1 > C_MAX_LEVELS:
            raise ValueError(
                f"band [{lo}, {hi}] and the resting orders span {high - low + 1} ticks, "
                f"more than {C_MAX_LEVELS}")
        if low < self.base or high >= self.base + self.span:
            # Regrid with room for the band to drift as far again before the next regrid.
            margin = min((hi - lo + 1) // 2, (C_MAX_LEVELS - (high - low + 1)) // 2)
            self._regrid(low - margin, high - low + 1 + 2 * margin)
        self.lo_idx = lo - self.base
        self.hi_idx = hi - self.base

    cdef _regrid(self, price_t base, int64_t span):
        """Move every level onto a new grid starting at `base` (queues keep their order)."""
        cdef Level* old_levels = self.levels
        cdef price_t old_base = self.base
        cdef int64_t old_span = self.span
        self.levels = NULL
        try:
            self._allocate_grid(base, span)
        except MemoryError:
            self.levels = old_levels
            raise
        cdef int64_t shift = old_base - self.base, i
        for i in range(old_span):
            if old_levels[i].head >= 0:
                self.levels[i + shift] = old_levels[i]
                self._bit_set(i + shift)
        free(old_levels)
        for i in range(self.unused):
            self.nodes[i].level += <idx_t>shift
        if self.best_bid_idx >= 0:
            self.best_bid_idx += shift
        if self.best_ask_idx != NO_ASK:
            self.best_ask_idx += shift
        self.lo_idx += shift
        self.hi_idx += shift
        self.walk_level = self.swept_level = -2      # level indices of the old grid

    # ------------------------------------------------------------------ snapshots

    def snapshot(self):
        """The book as a dict of numpy arrays (``np.savez`` can store it).

        Keys: ``band`` (lo, hi) and, one row per resting order with bids best price
        first then asks best price first, each level in time priority: ``id``,
        ``side``, ``price``, ``qty``, ``owner``.
        """
        self._start_call()
        cdef int64_t n = self.resting, k = 0
        ids = np.empty(n, np.int64)
        sides = np.empty(n, np.int8)
        prices = np.empty(n, np.int64)
        qtys = np.empty(n, np.int64)
        owners = np.empty(n, np.int32)
        cdef int64_t[::1] vid = ids, vprice = prices, vqty = qtys
        cdef int8_t[::1] vside = sides
        cdef int32_t[::1] vowner = owners
        cdef int64_t level
        cdef idx_t node
        cdef int side
        for side in (1, -1):
            level = self.best_bid_idx if side == 1 else self.best_ask_idx
            while level >= 0 and level != NO_ASK:
                node = self.levels[level].head
                while node >= 0:
                    vid[k] = self.nodes[node].id
                    vside[k] = side
                    vprice[k] = self.base + level
                    vqty[k] = self.nodes[node].qty
                    vowner[k] = self.nodes[node].owner
                    k += 1
                    node = self.nodes[node].next
                level = (self._highest_at_or_below(level - 1) if side == 1
                         else self._lowest_at_or_above(level + 1))
        lo, hi = self.band
        return {"band": np.array([lo, hi], np.int64), "id": ids, "side": sides,
                "price": prices, "qty": qtys, "owner": owners}

    @classmethod
    def from_snapshot(cls, snapshot):
        """Rebuild a book from `snapshot` exactly, queue order included.

        Raises
        ------
        ValueError
            If a key is missing, the columns differ in length, or a row is not a valid
            resting order (bad side, qty <= 0, price outside the band, duplicate id,
            crossed book); the message names the row and field.
        """
        for key in ("band", "id", "side", "price", "qty", "owner"):
            if key not in snapshot:
                raise ValueError(f"snapshot has no {key!r}")
        band = np.asarray(snapshot["band"])
        if band.dtype.kind not in "iu":
            raise TypeError(f"snapshot 'band' must be integer, got {band.dtype}")
        if band.shape != (2,):
            raise ValueError(f"snapshot 'band' must be (lo, hi), got shape {band.shape}")
        lo, hi = int(band[0]), int(band[1])
        columns = {k: np.asarray(snapshot[k]) for k in ("id", "side", "price", "qty", "owner")}
        n = len(columns["id"])
        for key, column in columns.items():
            if len(column) != n:
                raise ValueError(f"snapshot column {key!r} has {len(column)} rows, 'id' has {n}")
            if column.dtype.kind not in "iu":
                raise TypeError(f"snapshot column {key!r} must be integer, got {column.dtype}")
            # Values must survive the cast to ORDER_DTYPE unchanged (257 is no side).
            limits = np.iinfo(ORDER_DTYPE.fields[key][0])
            if n and (int(column.min()) < limits.min or int(column.max()) > limits.max):
                raise ValueError(f"snapshot column {key!r} has values outside "
                                 f"[{limits.min}, {limits.max}]")
        # Resting orders may lie outside the band after a band move: build over a band that
        # covers them, then move to the snapshot's band.
        prices_all = columns["price"]
        build_lo = min(lo, int(prices_all.min())) if n else lo
        build_hi = max(hi, int(prices_all.max())) if n else hi
        book = cls(build_lo, build_hi, capacity=n)
        orders = np.zeros(n, ORDER_DTYPE)
        for key in ("id", "side", "price", "qty", "owner"):
            orders[key] = columns[key]
        orders["kind"] = LIMIT
        sides = orders["side"]
        prices = orders["price"]
        bids, asks = prices[sides == BUY], prices[sides == SELL]
        if len(bids) and len(asks) and bids.max() >= asks.min():
            raise ValueError(f"snapshot is crossed: bid {bids.max()} >= ask {asks.min()}")
        result = book.submit(orders)
        rejected = np.flatnonzero(result.reject)
        if len(rejected):
            row = int(rejected[0])
            raise ValueError(f"snapshot row {row}: "
                             + describe_reject(int(result.reject[row]), id=int(orders["id"][row]),
                                               side=int(sides[row]), price=int(prices[row]),
                                               qty=int(orders["qty"][row]), band=(lo, hi)))
        book.set_band(lo, hi)
        return book

    def __reduce__(self):
        return (_book_from_snapshot, (self.snapshot(),))

    # ------------------------------------------------------------------ checking

    def check_invariants(self):
        """Walk every structure and raise AssertionError on any inconsistency.

        For tests and debugging: O(levels + orders).
        """
        self._start_call()
        cdef int64_t level, count = 0, bids = 0, asks = 0
        cdef idx_t node, prev
        cdef qty_t total
        cdef int64_t top_bid = -1, low_ask = NO_ASK
        for level in range(self.span):
            occupied = (self.bits0[level >> 6] >> (level & 63)) & 1
            assert occupied == (self.levels[level].head >= 0), f"bitmap wrong at level {level}"
            if self.levels[level].head < 0:
                assert self.levels[level].qty == 0 and self.levels[level].tail < 0
                continue
            total = 0
            prev = -1
            node = self.levels[level].head
            while node >= 0:
                assert self.nodes[node].prev == prev, f"broken queue at level {level}"
                assert self.nodes[node].level == level
                assert self.nodes[node].qty > 0, f"empty order {self.nodes[node].id}"
                assert self._find(self.nodes[node].id) == node, f"id index lost {self.nodes[node].id}"
                total += self.nodes[node].qty
                count += 1
                prev = node
                node = self.nodes[node].next
            assert self.levels[level].tail == prev
            assert total == self.levels[level].qty, f"level {level} qty {self.levels[level].qty} != {total}"
            if level <= self.best_bid_idx:
                bids += total
                top_bid = level
            else:
                asks += total
                if low_ask == NO_ASK:
                    low_ask = level
        assert top_bid == self.best_bid_idx, f"best bid {self.best_bid_idx} != {top_bid}"
        assert low_ask == self.best_ask_idx, f"best ask {self.best_ask_idx} != {low_ask}"
        assert count == self.resting, f"{count} orders in queues, {self.resting} counted"
        assert bids == self.bid_volume and asks == self.ask_volume
        # The index: ids the window covers are in the window, the rest in the hash table.
        hashed = 0
        for i in range(self.slot_mask + 1):
            if self.slots[i] != EMPTY_SLOT:
                id = self.nodes[self.slots[i] & SLOT_NODE_MASK].id
                assert self._window_slot(id) < 0, f"id {id} is in the hash table, not the window"
                assert self.hashed_lo <= id <= self.hashed_hi, f"id {id} outside the hash bounds"
                assert id < self.window_base or id >= self.hashed_above, \
                    f"id {id} above the window but below {self.hashed_above}"
                hashed += 1
        assert hashed == self.hashed, f"hash table holds {hashed}, counted {self.hashed}"
        windowed = 0
        for i in range(self.window_mask + 1):
            if self.window[i] != EMPTY_SLOT:
                id = self.nodes[self.window[i]].id
                assert self._window_slot(id) == i, f"id {id} in window slot {i}"
                windowed += 1
        assert windowed + hashed == self.resting, \
            f"id index holds {windowed} + {hashed}, {self.resting} resting"
        # Free nodes have qty 0 (a rehash scans the pool for live ones), and none is lost.
        free_count = 0
        node = self.free_head
        while node >= 0:
            assert self.nodes[node].qty == 0, f"free node {node} has qty {self.nodes[node].qty}"
            free_count += 1
            assert free_count <= self.unused, "free list has a cycle"
            node = self.nodes[node].next
        assert free_count + self.resting == self.unused, (free_count, self.resting, self.unused)
        for w in range(self.words0):
            assert bool(self.bits0[w]) == bool((self.bits1[w >> 6] >> (w & 63)) & 1)
        for w in range(self.words1):
            assert bool(self.bits1[w]) == bool((self.bits2[w >> 6] >> (w & 63)) & 1)
        for w in range(self.words2):
            assert bool(self.bits2[w]) == bool((self.bits3 >> w) & 1)


def _book_from_snapshot(snapshot):
    return Book.from_snapshot(snapshot)


# The numpy records must have exactly the C structs' layout.
assert ORDER_DTYPE.itemsize == sizeof(Order), (ORDER_DTYPE.itemsize, sizeof(Order))
assert FILL_DTYPE.itemsize == sizeof(Fill), (FILL_DTYPE.itemsize, sizeof(Fill))
assert RESULT_DTYPE.itemsize == sizeof(Result), (RESULT_DTYPE.itemsize, sizeof(Result))
assert sizeof(FillWords) == sizeof(Fill), (sizeof(FillWords), sizeof(Fill))
