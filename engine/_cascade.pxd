# The contract of the cascade loop: records shared with numpy and the loop's state.
from libc.stdint cimport int8_t, uint8_t, int16_t, int32_t, int64_t, uint64_t
from engine._types cimport price_t, qty_t, oid_t, owner_t, side_t
from engine._book cimport Book, Order, Result, Fill
from engine._accounts cimport Accounts

cdef struct ForcedOrder:    # one forced order; mirrors FORCED_DTYPE (56 bytes)
    qty_t qty               # lots sent
    qty_t filled            # lots traded (as taker, or later as a resting maker)
    qty_t cancelled         # lots dropped: cut by the band or its limit, or taken back to resubmit
    price_t price           # limit price sent (0 for a market order)
    price_t mark            # the mark when it was decided
    int32_t account         # owner: index of the account
    int32_t wave            # 1 + the wave of the order whose fills crossed the account
    int32_t session         # session it was sent in (queued in, while pending)
    int8_t kind             # book kind: MARKET, IOC or LIMIT
    int8_t flags            # book flags (QUEUE_AT_LIMIT)
    int8_t status           # O_PENDING, O_DONE, O_RESTING, O_RESUBMITTED
    int8_t cause            # CAUSE_PRICE, CAUSE_CALL, CAUSE_RESUBMIT, CAUSE_CHUNK, CAUSE_RETRY

cdef struct TapeRow:        # one fill; mirrors TAPE_DTYPE (48 bytes)
    oid_t taker_id
    oid_t maker_id
    price_t price
    qty_t qty
    owner_t taker_owner     # account index, -1 shock or outside, -2 liquidity provider
    owner_t maker_owner
    side_t taker_side
    int8_t seller           # SELLER_OTHER, SELLER_SHOCK or SELLER_FORCED: who sold
    int16_t session
    int32_t wave            # wave of the forced order (or the shock, 0) that sold; -1 other

cdef struct PathRow:        # best prices after an event; mirrors PATH_DTYPE (32 bytes)
    int64_t event           # events processed so far (orders the cascade sent)
    price_t bid             # -1 when no bid
    price_t ask             # -1 when no ask
    price_t mark

cdef struct Provider:       # a background liquidity provider; mirrors PROVIDER_DTYPE
    qty_t size              # lots per refill level
    int64_t levels          # levels quoted below the anchor
    int64_t spacing         # ticks between quoted levels
    int64_t every           # events between refills
    int64_t gap_ticks       # withdraw when one event moves the last price down more than this
    int64_t drop_ticks      # ... or the price falls more than this within `window` events
    int64_t window
    int64_t pause           # events a withdrawn provider stays out
    int64_t decay_bps       # size at level k is size * (1 - decay)^k


cdef class Engine:
    cdef readonly Book book
    cdef readonly Accounts accounts
    cdef int mark_rule                  # MARK_LAST, MARK_BID, MARK_MID
    cdef readonly price_t mark, last_price
    cdef readonly bint mark_half        # the mark is mark + 1/2 (a mid between two ticks)
    cdef int32_t* skip                  # accounts a half-tick mid did not cross, set aside
    cdef int32_t* cont                  # per row: 2 x wave (+1 retry) of a liquidation that
    cdef int32_t* cont_list             # continues if the next detection finds it crossed,
    cdef int64_t cont_n, cont_cap       # -1 none; the rows set since the last detection
    cdef int32_t close_wave             # wave of the last shock or forced sell that traded
    cdef int64_t skip_n, skip_cap
    cdef readonly int32_t session
    cdef readonly int64_t events
    cdef readonly int32_t max_wave
    # Trigger index.  For the run the ledger rows are permuted into trigger order
    # (trigger desc, account id asc), so the static index is a pointer walking the
    # rows in memory order; perm[row] is the caller's account id.  Accounts re-indexed
    # during the run go into a max-heap with the same key.
    cdef int32_t* perm
    cdef object _perm_array
    cdef int32_t* inverse               # account id -> row, built when margin calls need it
    cdef object _inverse_array
    cdef bint permuted
    cdef int64_t static_ptr, static_len
    cdef int64_t* heap_key
    cdef int32_t* heap_acc
    cdef int64_t heap_n, heap_cap, heap_acc_cap     # (a cap each: a block is freed by its size)
    # Forced orders, in creation order: the first `next_send` have been sent (FIFO).
    cdef ForcedOrder* orders
    cdef int64_t order_n, order_cap, next_send
    cdef int64_t resting_orders         # forced orders resting in the book
    cdef readonly qty_t resting_qty     # their lots (queued at a limit)
    cdef TapeRow* tape
    cdef int64_t tape_n, tape_cap
    cdef readonly bint record_tape
    cdef PathRow* path
    cdef int64_t path_n, path_cap
    cdef int32_t* blocked               # accounts waiting for the next session
    cdef int64_t blocked_n, blocked_cap
    cdef int64_t* cool_at               # chunked accounts cooling down: release event and
    cdef int64_t* cool_order            # the order whose chunk they just finished (a min-heap
    cdef int64_t cool_n, cool_cap, cool_order_cap   # keyed by (release event, order))
    # The exogenous shock.
    cdef readonly qty_t shock_filled, shock_cancelled
    cdef readonly int64_t rejects       # forced orders the book rejected (should stay 0)
    # Liquidity providers.
    cdef Provider* providers
    cdef int64_t provider_n
    cdef object _providers_array
    cdef int64_t* provider_resume       # event from which each provider quotes again
    cdef int64_t* provider_last         # event of each provider's last refill
    cdef oid_t* lp_ids                  # ids of provider quotes that may still rest
    cdef int64_t lp_n, lp_cap
    cdef oid_t lp_next_id
    cdef readonly qty_t lp_bought, lp_quoted, lp_withdrawn
    cdef price_t* recent                # last price after each of the last `window` events
    cdef int64_t recent_cap
    cdef int64_t recent_upto            # the last event recorded in `recent` (-1: none yet)
    cdef uint64_t rng
    cdef price_t event_start_price
    cdef price_t gap_anchor             # post-gap best bid until the first trade, else -1

    cdef int _grow(self, void** data, int64_t* cap, int64_t need, size_t item) except -1 nogil
    cdef int _heap_push(self, int64_t key, int32_t account) except -1 nogil
    cdef void _heap_pop(self) noexcept nogil
    cdef int _index(self, int32_t account) except -1 nogil
    cdef int _index_at(self, int32_t account, int64_t t) except -1 nogil
    cdef int _continue(self, int32_t a, int32_t code) except -1 nogil
    cdef bint _crossed_now(self, int32_t account, int64_t t) noexcept nogil
    cdef int _detect(self, int32_t wave) except -1 nogil
    cdef int _liquidate(self, int32_t account, int32_t wave, int8_t cause, qty_t qty) except -1 nogil
    cdef int _send(self, int64_t k) except -1 nogil
    cdef int _consume(self, int64_t before) except -1 nogil
    cdef int _finish(self, int64_t k) except -1 nogil
    cdef int _after_event(self, int32_t wave) except -1 nogil
    cdef int _record_path(self) except -1 nogil
    cdef void _update_mark(self) noexcept nogil
    cdef void _record_recent(self) noexcept nogil
    cdef int _providers_step(self) except -1 nogil
    cdef int _submit(self, oid_t id, side_t side, int8_t kind, price_t price, qty_t qty,
                     owner_t owner, uint8_t flags, Result* res) except -1 nogil
    cdef int _cancel(self, oid_t id, Result* res) except -1 nogil
    cdef int _withdraw(self) except -1 nogil
    cdef int _release_cooled(self, bint force) except -1 nogil
    cdef void _cool_push(self, int64_t at, int64_t k) noexcept nogil
    cdef void _cool_pop(self) noexcept nogil
    cdef int _run_queue(self) except -1 nogil
    cdef void _prefetch_makers(self) noexcept nogil
    cdef int _calls(self, price_t close) except -1 nogil
    cdef int _send_shock(self, oid_t id, qty_t qty) except -1 nogil
    cdef bint _first(self, int64_t key_a, int32_t row_a, int64_t key_b, int32_t row_b) noexcept nogil
