# The contract of the order book: records shared with numpy, and the Book's fields.
cimport cython
from libc.stdint cimport int8_t, uint8_t, uint32_t, int64_t, uint64_t
from engine._types cimport price_t, qty_t, oid_t, owner_t, idx_t, side_t


cdef struct Order:          # one incoming message; mirrors ORDER_DTYPE (32 bytes)
    oid_t id                # caller's id; for CANCEL/REDUCE/EXECUTE the resting order's id
    price_t price           # limit price in ticks (ignored for MARKET and CANCEL)
    qty_t qty               # lots (REDUCE: to take off; EXECUTE: to trade; ignored for CANCEL)
    owner_t owner           # account index, -1 for none
    side_t side             # BUY or SELL (ignored for CANCEL/REDUCE)
    int8_t kind             # LIMIT, MARKET, IOC, FOK, CANCEL, REDUCE, EXECUTE
    uint8_t flags           # QUEUE_AT_LIMIT: rest what the band stops instead of cancelling it

cdef struct Fill:           # one trade; mirrors FILL_DTYPE (48 bytes)
    oid_t taker_id
    oid_t maker_id
    price_t price           # the maker's price
    qty_t qty
    owner_t taker_owner
    owner_t maker_owner
    side_t taker_side
    int8_t taker_kind       # the taker's kind; EXECUTE: a counterparty outside the book

cdef struct Result:         # what became of one message; mirrors RESULT_DTYPE (32 bytes)
    qty_t filled            # lots traded by this order (EXECUTE: by the named resting order)
    qty_t remaining         # lots of this order left resting (CANCEL/REDUCE: left on the target)
    qty_t cancelled         # lots of this order dropped unfilled (CANCEL/REDUCE: taken off the target)
    int8_t reject           # 0 when accepted, else a Reject code; a rejected row changes nothing

cdef struct Node:           # a resting order in the pool (32 bytes)
    oid_t id
    qty_t qty               # lots still resting
    owner_t owner
    idx_t level             # price - base: index into levels
    idx_t prev              # neighbours in the level's FIFO queue, -1 at the ends
    idx_t next              # (for a free node: the next free node; a free node has qty 0)

cdef struct Gap:            # where a new id enters the id index, found by the lookup that
    int64_t slot            # showed the id is not there: the empty slot (-1: stale, look again)
    uint32_t entry          # the slot's value but for the node index (hash tag, distance)
# A slot of the id index is a hash-table slot, or IN_WINDOW + window slot (_book.pyx).

cdef struct Level:          # one price level (16 bytes)
    qty_t qty               # lots resting at this price
    idx_t head              # oldest order, -1 when empty
    idx_t tail              # newest order


# A numpy array that takes ownership of a block (engine/_blocks.h) of `capacity` records
# of `dtype`, `count` of them filled.
cdef object hand_over(void* data, int64_t count, int64_t capacity, object dtype)


cdef class Book


@cython.final
cdef class _Held:            # what `with book.held():` enters and leaves
    cdef Book book


@cython.final
cdef class Book:
    # Price grid: level i holds price base + i; a level's side follows from the
    # book never being crossed (bids at or below best_bid, asks above it).
    cdef Level* levels
    cdef int64_t span               # number of levels allocated
    cdef readonly price_t base      # price of level 0
    cdef int64_t lo_idx, hi_idx     # the band, as level indices
    cdef int64_t best_bid_idx       # -1 when no bids
    cdef int64_t best_ask_idx       # NO_ASK when no asks
    cdef qty_t bid_volume, ask_volume
    # Occupancy bitmap over levels, four tiers of 64-bit words (bit set: level non-empty).
    cdef uint64_t* bits0
    cdef uint64_t* bits1
    cdef uint64_t* bits2
    cdef uint64_t bits3
    cdef int64_t words0, words1, words2
    # Order pool with a free list.
    cdef Node* nodes
    cdef idx_t node_capacity, free_head
    cdef idx_t unused               # nodes from here on have never been handed out
    cdef readonly idx_t resting     # live resting orders
    # The id -> node index: ids inside the window (most of them, when callers number orders
    # in sequence) go straight to their slot; the rest go to an open-addressing hash table.
    cdef uint32_t* window           # node of id `i` at slot i & window_mask, EMPTY_SLOT when none
    cdef int64_t window_mask        # window size - 1 (a power of two)
    cdef oid_t window_base          # the window covers ids window_base .. window_base + window_mask
    cdef int64_t window_min         # the size it starts at (smaller in tests, to make it move)
    cdef int64_t entered            # ids entered in the index since the window last moved
    cdef uint32_t* slots            # distance << 29 | hash tag << 26 | node, EMPTY_SLOT when
                                    # free; linear probing, backward-shift deletion
    cdef int64_t slot_mask
    cdef int slot_shift
    cdef idx_t hashed               # entries in the hash table
    cdef int64_t hash_room          # entries it holds before it must grow (it stays half empty)
    cdef oid_t hashed_lo, hashed_hi # every id in the hash table lies in [hashed_lo, hashed_hi],
    cdef oid_t hashed_above         # and every one above the window at or above hashed_above
    # After a sweep stops inside a queue, the batch path walks a few makers further down it,
    # one a message, fetching them for the next sweep (CHASE_STEPS in _book.pyx).
    cdef idx_t chase_node
    cdef int chase_steps
    # When sweeps keep stopping at one level, the next level's queue is the one they will
    # take next: the batch path walks it from both ends, a maker a message, ahead of them
    # (WALK_* in _book.pyx).  Walker 0 starts at the head, walker 1 at the tail.
    cdef idx_t walk_node[2]
    cdef int walk_left[2]           # makers each walker may still fetch
    cdef int64_t walk_level         # the level whose next level the walkers were sent to
    cdef int64_t swept_level        # the level the last sweep of the batch stopped at
    cdef int swept_times            # sweeps in a row that stopped there
    # Fills not yet handed out (per-call path) or being collected (batch path).
    cdef Fill* fills
    cdef int64_t fill_count, fill_capacity
    cdef bint in_batch              # a batch is running: its fills are written around the
                                    # caches, and its sweeps may send the walkers
    # Set while a batch (or a cascade step) runs without the GIL: any call from another
    # thread meanwhile is refused, since the batch is changing every structure above.
    cdef bint busy
    # A per-call order leaves the queue links that would wait on a cache miss (its new
    # neighbour's, or a cancelled order's neighbours') for the book's next call to write:
    # nodes[owed_next_of].next = owed_next and nodes[owed_prev_of].prev = owed_prev
    # (-1: none owed).  Every call starts by writing them (_start_call).
    cdef bint defer_links           # set by a per-call order, cleared as the next call starts
    cdef idx_t owed_next_of, owed_next, owed_prev_of, owed_prev

    cdef _allocate_grid(self, price_t base, int64_t span)
    cdef inline int _start_call(self) except -1
    cdef inline void _write_owed_links(self) noexcept nogil
    cdef inline void _link_next(self, idx_t node, idx_t next) noexcept nogil
    cdef inline void _link_prev(self, idx_t node, idx_t prev) noexcept nogil
    cdef int _refuse_busy(self) except -1
    cdef _Held held(self)
    cdef _regrid(self, price_t base, int64_t span)
    cdef inline qty_t _call(self, oid_t id, int64_t side, int kind, price_t price, qty_t qty,
                     owner_t owner, uint8_t flags, Result* r) except -1
    cdef int _refuse(self, int reject, oid_t id, int64_t side, price_t price, qty_t qty) except -1
    cdef inline bint _crosses(self, side_t side, int64_t level) noexcept nogil
    cdef inline bint _too_large(self, side_t side, qty_t qty) noexcept nogil
    cdef inline bint _full(self) noexcept nogil
    cdef inline int _process_plain(self, const Order* order, Result* result) except -1 nogil
    cdef int _process(self, const Order* order, Result* result) except -1 nogil
    cdef void _take_off(self, idx_t node, qty_t qty) noexcept nogil
    cdef int _execute(self, idx_t node, int64_t slot, qty_t qty, owner_t taker_owner,
                      Result* result) except -1 nogil
    cdef inline void _prefetch_slot(self, const Order* o) noexcept nogil
    cdef inline void _prefetch_node(self, const Order* o) noexcept nogil
    cdef inline void _prefetch_neighbours(self, const Order* o) noexcept nogil
    cdef inline idx_t _fetch_after(self, idx_t node, bint backward) noexcept nogil
    cdef inline void _chase_step(self) noexcept nogil
    cdef inline void _note_sweep(self, side_t side) noexcept nogil
    cdef void _send_walkers(self, side_t side, int64_t level) noexcept nogil
    cdef inline void _walk_step(self, int w) noexcept nogil
    cdef inline int _match(self, side_t side, int64_t limit_idx, qty_t* qty, oid_t taker_id,
                    owner_t taker_owner, int8_t taker_kind) except -1 nogil
    cdef qty_t _available(self, side_t side, int64_t limit_idx, qty_t wanted) noexcept nogil
    cdef inline int _rest(self, side_t side, int64_t level, oid_t id, qty_t qty, owner_t owner,
                          Gap gap) except -1 nogil
    cdef inline void _unlink(self, idx_t node, int64_t slot) noexcept nogil
    cdef inline idx_t _find(self, oid_t id) noexcept nogil
    cdef int64_t _home(self, oid_t id) noexcept nogil
    cdef uint32_t _tag(self, oid_t id) noexcept nogil
    cdef uint32_t _pack(self, uint32_t tag_node, int64_t distance) noexcept nogil
    cdef int64_t _slot_home(self, int64_t i) noexcept nogil
    cdef inline int64_t _slot_of(self, oid_t id) noexcept nogil
    cdef void _hash_insert(self, oid_t id, idx_t node) noexcept nogil
    cdef inline void _count_hashed(self, oid_t id) noexcept nogil
    cdef inline int64_t _window_slot(self, oid_t id) noexcept nogil
    cdef inline int64_t _slot_or_gap(self, oid_t id, Gap* gap) noexcept nogil
    cdef inline void _forget(self, oid_t id, idx_t node) noexcept nogil
    cdef bint _gap_is_fresh(self, oid_t id, Gap gap) noexcept nogil
    cdef inline void _slot_remove(self, int64_t slot) noexcept nogil
    cdef void _hash_remove(self, int64_t i) noexcept nogil
    cdef uint32_t _probe_tag(self, oid_t id) noexcept nogil
    cdef inline uint32_t _entry(self, int64_t slot) noexcept nogil
    cdef inline void _prefetch_id(self, oid_t id) noexcept nogil
    cdef inline bint _window_wants(self, oid_t id) noexcept nogil
    cdef int _move_window(self, oid_t id) except -1 nogil
    cdef bint _hashed_within(self, oid_t lo, oid_t hi) noexcept nogil
    cdef int _resize_window(self, int64_t size) except -1 nogil
    cdef int _slide_window(self, oid_t base) except -1 nogil
    cdef int _reserve(self, int64_t extra) except -1 nogil
    cdef int _reserve_pool(self, int64_t extra) except -1 nogil
    cdef int _reserve_hash(self, int64_t extra) except -1 nogil
    cdef int _rebuild_hash(self, int64_t entries) except -1 nogil
    cdef int _shrink_hash(self) except -1 nogil
    cdef int _grow_fills(self) except -1 nogil
    cdef inline int _push_fill(self, oid_t taker_id, oid_t maker_id, price_t price, qty_t qty,
                               owner_t taker_owner, owner_t maker_owner, side_t taker_side,
                               int8_t taker_kind) except -1 nogil
    cdef void _bit_set(self, int64_t i) noexcept nogil
    cdef void _bit_clear(self, int64_t i) noexcept nogil
    cdef int64_t _highest_at_or_below(self, int64_t i) noexcept nogil
    cdef int64_t _lowest_at_or_above(self, int64_t i) noexcept nogil
