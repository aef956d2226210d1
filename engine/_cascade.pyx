"""The event-driven forced-liquidation loop, run without the GIL.

One event is one order the cascade sends into the book (the shock, or a forced order).
After each event the fills are booked to their accounts and appended to the tape, the
mark is updated, liquidity providers act, and every account the new mark crosses is
given a forced order, highest trigger first (ties: lowest account index).  Forced
orders are sent first in, first out, so the order in which accounts are liquidated
follows their trigger prices and each order carries the wave (generation) that
caused it: the shock is wave 0, an order whose account was crossed by the fills of a
wave-k order is wave k+1.

Sessions: between sessions (with the GIL) margin calls are judged at the close and
those past their grace are forced, the band moves to the previous close +- the limit
(or stays, without a limit), forced orders resting at the old floor are resubmitted at
the new one (or kept), and accounts whose orders the band cut are re-indexed and retry
with their wave.  Everything is deterministic in the inputs and the seed.

A run refuses to start while the ledger or the book holds forced orders of an earlier
run still resting (their ids would be reused and their fills lost).
"""
from libc.stdlib cimport malloc, free
from engine._blocks cimport engine_block_grow_exact, engine_block_free, engine_prefetch
from libc.string cimport memcpy
from libc.stdint cimport int8_t, uint8_t, int16_t, int32_t, int64_t, uint64_t, INT64_MAX, INT64_MIN

import numpy as np
cimport numpy as cnp

from engine._types cimport price_t, qty_t, oid_t, owner_t, side_t, idx_t
from engine._book cimport Book, Order, Result, Fill, hand_over
from engine._accounts cimport (
    Accounts, Rule, KIND_PERP, STYLE_MARKET, STYLE_IOC, STYLE_FLOOR,
    ST_STATIC, ST_HEAP, ST_LIQUIDATING, ST_BLOCKED, ST_CLOSED, ST_IDLE_NONE,
)
from engine._records import Reject

cnp.import_array()

cdef enum:
    K_LIMIT = 1
    K_MARKET = 2
    K_IOC = 3
    K_CANCEL = 5
    F_QUEUE_AT_LIMIT = 1
    MARK_LAST = 0
    MARK_BID = 1
    MARK_MID = 2
    O_PENDING = 0
    O_DONE = 1
    O_RESTING = 2
    O_RESUBMITTED = 3
    CAUSE_PRICE = 0
    CAUSE_CALL = 1
    CAUSE_RESUBMIT = 2
    CAUSE_CHUNK = 3
    CAUSE_RETRY = 4
    SELLER_OTHER = 0
    SELLER_SHOCK = 1
    SELLER_FORCED = 2

# Order ids the cascade reserves in the book: forced order k is FORCED_ID_BASE + k,
# liquidity-provider quotes count up from LP_ID_BASE, the shock is SHOCK_ID.
FORCED_ID_BASE = 1 << 62
LP_ID_BASE = 3 << 61
SHOCK_ID = (1 << 62) - 1
cdef oid_t C_FORCED_ID_BASE = (<oid_t>1) << 62
cdef oid_t C_LP_ID_BASE = (<oid_t>3) << 61
cdef oid_t C_SHOCK_ID = ((<oid_t>1) << 62) - 1
cdef int64_t NO_ASK = INT64_MAX
cdef enum:                          # constants, so the compiler folds them into the loops
    PREFETCH_AHEAD = 12             # forced orders ahead whose id slot is prefetched
    PREFETCH_MAKERS = 4             # resting bids at the touch whose id slots are prefetched
    PERMUTE_AHEAD = 16              # rows ahead whose random end a permutation prefetches
cdef int64_t TRIGGER_NONE = INT64_MIN
cdef owner_t C_LP_OWNER = -2        # the owner of liquidity providers' quotes
cdef int8_t R_DUPLICATE_ID = Reject.DUPLICATE_ID
MAX_WINDOW = 1 << 30                # events a provider's drop test looks back (its ring's size)
LP_OWNER = C_LP_OWNER

MARK_RULES = {"last": MARK_LAST, "bid": MARK_BID, "mid": MARK_MID}
STATUS_NAMES = {O_PENDING: "pending", O_DONE: "done", O_RESTING: "resting",
                O_RESUBMITTED: "resubmitted"}
CAUSE_NAMES = {CAUSE_PRICE: "price", CAUSE_CALL: "margin call", CAUSE_RESUBMIT: "resubmit",
               CAUSE_CHUNK: "chunk", CAUSE_RETRY: "retry"}
# The causes as Python constants (FORCED_DTYPE's ``cause`` column).
PRICE_CAUSE, CALL_CAUSE, RESUBMIT_CAUSE, CHUNK_CAUSE, RETRY_CAUSE = (
    CAUSE_PRICE, CAUSE_CALL, CAUSE_RESUBMIT, CAUSE_CHUNK, CAUSE_RETRY)
PENDING, DONE, RESTING, RESUBMITTED = O_PENDING, O_DONE, O_RESTING, O_RESUBMITTED
SELLER_NAMES = {SELLER_OTHER: "other", SELLER_SHOCK: "shock", SELLER_FORCED: "forced"}
OTHER_SELLER, SHOCK_SELLER, FORCED_SELLER = SELLER_OTHER, SELLER_SHOCK, SELLER_FORCED

FORCED_DTYPE = np.dtype([
    ("qty", np.int64), ("filled", np.int64), ("cancelled", np.int64), ("price", np.int64),
    ("mark", np.int64), ("account", np.int32), ("wave", np.int32), ("session", np.int32),
    ("kind", np.int8), ("flags", np.int8), ("status", np.int8), ("cause", np.int8),
], align=True)

TAPE_DTYPE = np.dtype([
    ("taker_id", np.int64), ("maker_id", np.int64), ("price", np.int64), ("qty", np.int64),
    ("taker_owner", np.int32), ("maker_owner", np.int32), ("taker_side", np.int8),
    ("seller", np.int8), ("session", np.int16), ("wave", np.int32),
], align=True)

PATH_DTYPE = np.dtype([
    ("event", np.int64), ("bid", np.int64), ("ask", np.int64), ("mark", np.int64),
], align=True)

PROVIDER_DTYPE = np.dtype([
    ("size", np.int64), ("levels", np.int64), ("spacing", np.int64), ("every", np.int64),
    ("gap_ticks", np.int64), ("drop_ticks", np.int64), ("window", np.int64),
    ("pause", np.int64), ("decay_bps", np.int64),
], align=True)


def _trigger_order(trigger):
    """Row order (trigger desc, index asc) as int32.

    When the triggers span less than 2**32 ticks, (trigger, index) packs into one
    unique uint64 key and a plain sort of the keys (SIMD in numpy) replaces the slower
    stable argsort."""
    n = len(trigger)
    if n == 0:
        return np.zeros(0, np.int32)
    never = trigger == TRIGGER_NONE
    if never.any():
        # Accounts that can never be crossed sort last, in index order.
        rows = np.flatnonzero(~never).astype(np.int32)
        head = rows[_trigger_order(trigger[rows])] if len(rows) else rows
        return np.concatenate([head, np.flatnonzero(never).astype(np.int32)])
    top = int(trigger.max())
    bottom = int(trigger.min())
    if top - bottom < (1 << 32) and n < (1 << 31):
        keys = (np.uint64(top) - trigger.astype(np.uint64)) if bottom >= 0 else \
            (top - trigger).astype(np.uint64)
        keys <<= np.uint64(31)
        keys |= np.arange(n, dtype=np.uint64)
        keys.sort()
        keys &= np.uint64((1 << 31) - 1)
        return keys.astype(np.int32)
    return np.argsort(~trigger, kind="stable").astype(np.int32)




ctypedef fused word_t:       # the widths of ledger columns
    int8_t
    int16_t
    int32_t
    int64_t


cdef void _permute_words(word_t* data, const word_t* old, const int32_t* order, int64_t n,
                         bint forward) noexcept nogil:
    """forward: data[i] = old[order[i]]; else data[order[i]] = old[i].
    One end of each move is random: fetched PERMUTE_AHEAD rows ahead, so the misses overlap."""
    cdef int64_t i, ahead = n - PERMUTE_AHEAD
    if forward:
        for i in range(n):
            if i < ahead:
                engine_prefetch(&old[order[i + PERMUTE_AHEAD]])
            data[i] = old[order[i]]
    else:
        for i in range(n):
            if i < ahead:
                engine_prefetch(&data[order[i + PERMUTE_AHEAD]])
            data[order[i]] = old[i]


cdef object _copy_out(void* data, int64_t count, dtype):
    """A numpy copy of `count` records at `data` (the caller's buffer may move later)."""
    out = np.empty(count, dtype)
    if count:
        memcpy(cnp.PyArray_DATA(out), data, count * dtype.itemsize)
    return out


cdef inline uint64_t _next_random(uint64_t* state) noexcept nogil:
    # splitmix64: small, fast and fully determined by the seed.
    state[0] += 0x9E3779B97F4A7C15ULL
    cdef uint64_t z = state[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


def _refuse_orphans(Book book, Accounts accounts):
    """Refuse a run that would strand forced orders of an earlier run.

    An earlier run can leave forced sells resting in the book (queued at a floor)
    under ids ``FORCED_ID_BASE + k`` with their accounts ``liquidating``.  A new run
    would reuse those ids and could not book fills against the old orders, so lots
    would no longer be conserved: the caller must first settle them (cancel them in
    the book and start from a fresh ledger or ``accounts.copy()`` taken before).
    """
    cdef int64_t a, level, count = 0
    cdef idx_t node
    cdef oid_t oid
    book._start_call()          # it walks the book's queues
    for a in range(accounts.n):
        if accounts.state[a] == ST_LIQUIDATING:
            count += 1
    if count:
        raise ValueError(
            f"{count} account(s) still have forced orders from an earlier run resting in a "
            "book (state 'liquidating'): a second run on this ledger would strand them; "
            "run on a copy of the ledger taken before the first run")
    level = book.best_ask_idx
    while level != NO_ASK and level >= 0 and level < book.span:
        node = book.levels[level].head
        while node >= 0:
            oid = book.nodes[node].id
            if oid >= C_FORCED_ID_BASE and oid < C_LP_ID_BASE:
                count += 1
            node = book.nodes[node].next
        level = book._lowest_at_or_above(level + 1)
    if count:
        raise ValueError(
            f"the book holds {count} forced order(s) of an earlier cascade run (ids from "
            "FORCED_ID_BASE): a new run would reuse their ids; cancel them first")


cdef class Engine:
    """Low-level cascade state (use ``engine.Cascade``, which validates and wraps it).

    Parameters
    ----------
    book : engine.Book
        The book the forced orders go into (changed in place).
    accounts : engine.Accounts
        The population (its ledger is changed in place).
    mark : {"last", "bid", "mid"}
        How the mark price is taken after each event.
    providers : numpy.ndarray of PROVIDER_DTYPE
        Background liquidity providers (may be empty).
    seed : int
        Seed of the providers' size jitter.
    record_tape : bool
        Keep every fill (the measurements need it; benchmarks may switch it off).
    """

    def __cinit__(self):
        self.perm = NULL
        self.inverse = NULL
        self.permuted = False
        self.heap_key = NULL
        self.heap_acc = NULL
        self.orders = NULL
        self.tape = NULL
        self.path = NULL
        self.blocked = NULL
        self.cool_at = NULL
        self.cool_order = NULL
        self.skip = NULL
        self.cont = NULL
        self.cont_list = NULL
        self.cont_n = self.cont_cap = 0
        self.close_wave = 0
        self.skip_n = self.skip_cap = 0
        self.mark_half = False
        self.providers = NULL
        self.provider_resume = NULL
        self.provider_last = NULL
        self.lp_ids = NULL
        self.recent = NULL

    def __init__(self, Book book not None, Accounts accounts not None, str mark="last",
                 providers=None, uint64_t seed=0, bint record_tape=True):
        if mark not in MARK_RULES:
            raise ValueError(f"mark must be one of {sorted(MARK_RULES)}, got {mark!r}")
        self.book = book
        self.accounts = accounts
        self.mark_rule = MARK_RULES[mark]
        self.record_tape = record_tape
        self.session = 0
        self.events = 0
        self.max_wave = 0
        self.rng = seed
        if providers is None:
            providers = np.zeros(0, PROVIDER_DTYPE)
        self._providers_array = np.ascontiguousarray(providers, dtype=PROVIDER_DTYPE).copy()
        self.provider_n = len(self._providers_array)
        self.providers = <Provider*>cnp.PyArray_DATA(self._providers_array)
        cdef int64_t window = 1, i
        for i in range(self.provider_n):
            if not 0 <= self.providers[i].window <= MAX_WINDOW:
                raise ValueError(f"provider window must be in [0, {MAX_WINDOW}] events, "
                                 f"got {self.providers[i].window}")
            window = max(window, self.providers[i].window + 1)
        self.recent_cap = window
        self.recent_upto = -1
        self.recent = <price_t*>malloc(window * sizeof(price_t))
        self.provider_resume = <int64_t*>malloc(max(self.provider_n, 1) * sizeof(int64_t))
        self.provider_last = <int64_t*>malloc(max(self.provider_n, 1) * sizeof(int64_t))
        if self.recent == NULL or self.provider_resume == NULL or self.provider_last == NULL:
            raise MemoryError("cannot allocate the provider state")
        for i in range(self.provider_n):
            self.provider_resume[i] = 0
            self.provider_last[i] = -(1 << 40)
        self.lp_next_id = C_LP_ID_BASE
        self.gap_anchor = -1
        _refuse_orphans(book, accounts)
        # Every account starts idle (accounts left blocked by an earlier cascade are
        # re-indexed from their ledger).
        accounts._reindex_stale()
        # The static trigger index: rows permuted into (trigger desc, account asc) order.
        order = _trigger_order(accounts._column("trigger"))
        self._perm_array = order
        self.perm = <int32_t*>cnp.PyArray_DATA(self._perm_array)
        self._permute(True)
        self.static_ptr = 0
        self.static_len = accounts.n
        self.cont = <int32_t*>malloc(max(accounts.n, 1) * sizeof(int32_t))
        if self.cont == NULL:
            raise MemoryError("cannot allocate the cascade's per-account state")
        for i in range(accounts.n):
            self.cont[i] = -1

    def __dealloc__(self):
        # Buffers grown by _grow are blocks (engine/_blocks.h), freed with their byte sizes.
        engine_block_free(self.heap_key, self.heap_cap * sizeof(int64_t))
        engine_block_free(self.heap_acc, self.heap_acc_cap * sizeof(int32_t))
        engine_block_free(self.orders, self.order_cap * sizeof(ForcedOrder))
        engine_block_free(self.tape, self.tape_cap * sizeof(TapeRow))
        engine_block_free(self.path, self.path_cap * sizeof(PathRow))
        engine_block_free(self.blocked, self.blocked_cap * sizeof(int32_t))
        engine_block_free(self.cool_at, self.cool_cap * sizeof(int64_t))
        engine_block_free(self.cool_order, self.cool_order_cap * sizeof(int64_t))
        engine_block_free(self.skip, self.skip_cap * sizeof(int32_t))
        engine_block_free(self.cont_list, self.cont_cap * sizeof(int32_t))
        engine_block_free(self.lp_ids, self.lp_cap * sizeof(oid_t))
        free(self.provider_resume); free(self.provider_last)
        free(self.recent); free(self.cont)

    # ------------------------------------------------------------------ buffers

    cdef int _grow(self, void** data, int64_t* cap, int64_t need, size_t item) except -1 nogil:
        """Make `data` hold at least `need` items of `item` bytes (doubling)."""
        cdef int64_t capacity
        cdef void* grown
        if need <= cap[0]:
            return 0
        capacity = cap[0] * 2
        if capacity < need:
            capacity = need
        if capacity < 1024:
            capacity = 1024
        # Exact: the buffers' sizes are the engine's nbytes.
        grown = engine_block_grow_exact(data[0], cap[0] * item, capacity * item)
        if grown == NULL:
            with gil:
                raise MemoryError(f"cannot grow a cascade buffer to {capacity} items")
        data[0] = grown
        cap[0] = capacity
        return 0

    # ------------------------------------------------------------------ trigger index

    cdef bint _first(self, int64_t key_a, int32_t row_a, int64_t key_b, int32_t row_b) noexcept nogil:
        """Trigger order on rows: higher trigger first, then the lower account id."""
        return key_a > key_b or (key_a == key_b and self.perm[row_a] < self.perm[row_b])

    def _permute(self, bint forward):
        """Put the ledger rows in trigger order (forward) or back in the caller's order."""
        if forward == self.permuted:
            return
        cdef const int32_t* order = <const int32_t*>cnp.PyArray_DATA(self._perm_array)
        cdef int64_t n = self.accounts.n
        cdef char* data
        cdef int item
        scratch = np.empty(n * 8, np.uint8)
        cdef char* old = <char*>cnp.PyArray_DATA(scratch)
        for name, column in self.accounts._arrays.items():
            if len(column) and (column == column[0]).all():
                continue                    # a constant column is its own permutation
            # Accounts builds every column itself, contiguous and of a width below.
            assert column.flags.c_contiguous and column.itemsize in (1, 2, 4, 8), name
            data = <char*>cnp.PyArray_DATA(column)
            item = column.itemsize
            with nogil:
                memcpy(old, data, n * item)
                if item == 8:
                    _permute_words(<int64_t*>data, <const int64_t*>old, order, n, forward)
                elif item == 4:
                    _permute_words(<int32_t*>data, <const int32_t*>old, order, n, forward)
                elif item == 2:
                    _permute_words(<int16_t*>data, <const int16_t*>old, order, n, forward)
                else:
                    _permute_words(<int8_t*>data, <const int8_t*>old, order, n, forward)
        self.permuted = forward

    def _restore_order(self):
        """End of the run: stale triggers are recomputed and the ledger goes back to the
        caller's row order."""
        self.accounts._refresh_unindexed()
        self._permute(False)

    cdef int _heap_push(self, int64_t key, int32_t account) except -1 nogil:
        cdef int64_t i, parent
        self._grow(<void**>&self.heap_key, &self.heap_cap, self.heap_n + 1, sizeof(int64_t))
        self._grow(<void**>&self.heap_acc, &self.heap_acc_cap, self.heap_n + 1, sizeof(int32_t))
        i = self.heap_n
        self.heap_n += 1
        while i > 0:
            parent = (i - 1) >> 1
            if not self._first(key, account, self.heap_key[parent], self.heap_acc[parent]):
                break
            self.heap_key[i] = self.heap_key[parent]
            self.heap_acc[i] = self.heap_acc[parent]
            i = parent
        self.heap_key[i] = key
        self.heap_acc[i] = account
        return 0

    cdef void _heap_pop(self) noexcept nogil:
        cdef int64_t n = self.heap_n - 1, i = 0, child
        cdef int64_t key = self.heap_key[n]
        cdef int32_t account = self.heap_acc[n]
        self.heap_n = n
        if n == 0:
            return
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and self._first(self.heap_key[child + 1], self.heap_acc[child + 1],
                                         self.heap_key[child], self.heap_acc[child]):
                child += 1
            if not self._first(self.heap_key[child], self.heap_acc[child], key, account):
                break
            self.heap_key[i] = self.heap_key[child]
            self.heap_acc[i] = self.heap_acc[child]
            i = child
        self.heap_key[i] = key
        self.heap_acc[i] = account

    cdef bint _crossed_now(self, int32_t account, int64_t t) noexcept nogil:
        """Is `account` (trigger `t`) crossed at the mark (the exact mid when it is half a tick)?"""
        if t == TRIGGER_NONE or t < self.mark:
            return False
        if self.mark_half and t == self.mark:
            return self.accounts._crossed_at_half(account, self.mark)
        return True

    cdef int _index(self, int32_t account) except -1 nogil:
        """Recompute an idle account's trigger and put it back in the index."""
        return self._index_at(account, self.accounts._trigger(account))

    cdef int _index_at(self, int32_t account, int64_t t) except -1 nogil:
        """Put an account back in the index at trigger `t`, just computed."""
        self.accounts.trigger[account] = t
        if t == TRIGGER_NONE:
            self.accounts.state[account] = ST_IDLE_NONE
        else:
            self.accounts.state[account] = ST_HEAP
            self._heap_push(t, account)
        return 0

    cdef int _detect(self, int32_t wave) except -1 nogil:
        """Liquidate every idle account crossed at the mark, in trigger order."""
        cdef int32_t a, s_acc = 0, h_acc = 0
        cdef int64_t s_key = 0, h_key = 0
        cdef bint have_static, have_heap, from_static
        cdef int64_t i
        while True:
            while self.static_ptr < self.static_len:
                if self.accounts.state[self.static_ptr] == ST_STATIC:
                    break
                self.static_ptr += 1
            have_static = self.static_ptr < self.static_len
            if have_static:
                s_acc = <int32_t>self.static_ptr
                s_key = self.accounts.trigger[s_acc]
            while self.heap_n > 0:
                h_acc = self.heap_acc[0]
                if self.accounts.state[h_acc] == ST_HEAP and self.accounts.trigger[h_acc] == self.heap_key[0]:
                    break
                self._heap_pop()
            have_heap = self.heap_n > 0
            if have_heap:
                h_acc = self.heap_acc[0]
                h_key = self.heap_key[0]
            if have_static and (not have_heap or self._first(s_key, s_acc, h_key, h_acc)):
                from_static = True
                a, s_key = s_acc, s_key
            elif have_heap:
                from_static = False
                a, s_key = h_acc, h_key
            else:
                break
            if s_key < self.mark:
                break
            if from_static:
                self.static_ptr += 1
            else:
                self._heap_pop()
            if self.mark_half and s_key == self.mark and not self.accounts._crossed_at_half(a, self.mark):
                # Crossed at the floor of the mid but not at the mid itself: set aside
                # while the rest of this trigger is looked at.
                self._grow(<void**>&self.skip, &self.skip_cap, self.skip_n + 1, sizeof(int32_t))
                self.skip[self.skip_n] = a
                self.skip_n += 1
                continue
            self.accounts.called[a] = -1
            if self.cont[a] >= 0:
                # The next chunk, or the retry of a cut order, of the same liquidation.
                self._liquidate(a, self.cont[a] >> 1,
                                CAUSE_RETRY if self.cont[a] & 1 else CAUSE_CHUNK, 0)
            else:
                self._liquidate(a, wave, CAUSE_PRICE, 0)
        for i in range(self.cont_n):
            self.cont[self.cont_list[i]] = -1
        self.cont_n = 0
        for i in range(self.skip_n):
            a = self.skip[i]
            self.accounts.state[a] = ST_HEAP
            self._heap_push(self.accounts.trigger[a], a)
        self.skip_n = 0
        return 0

    # ------------------------------------------------------------------ orders

    cdef int _liquidate(self, int32_t account, int32_t wave, int8_t cause, qty_t qty) except -1 nogil:
        """Queue a forced order for `account` (qty 0: decided by its rule at the mark)."""
        cdef Rule* rule = &self.accounts.rules[self.accounts.rule[account]]
        cdef ForcedOrder* o
        cdef price_t limit
        self._grow(<void**>&self.orders, &self.order_cap, self.order_n + 1, sizeof(ForcedOrder))
        o = &self.orders[self.order_n]
        self.order_n += 1
        o.qty = qty if qty > 0 else self.accounts._liquidation_qty(account, self.mark)
        o.filled = 0
        o.cancelled = 0
        o.mark = self.mark
        o.account = account
        o.wave = wave
        o.session = self.session
        o.status = O_PENDING
        o.cause = cause
        o.flags = 0
        if rule.style == STYLE_IOC:
            o.kind = K_IOC
            if rule.kind == KIND_PERP:
                limit = self.accounts._bankruptcy(account)
            else:
                limit = self.mark - rule.ioc_offset
            o.price = limit
        elif rule.style == STYLE_FLOOR:
            o.kind = K_LIMIT
            o.flags = F_QUEUE_AT_LIMIT
            o.price = self.book.base + self.book.lo_idx
        else:
            o.kind = K_MARKET
            o.price = 0
        if wave > self.max_wave:
            self.max_wave = wave
        self.accounts.state[account] = ST_LIQUIDATING
        return 0

    cdef int _send(self, int64_t k) except -1 nogil:
        """Send forced order `k` into the book and book what it did."""
        cdef ForcedOrder* o = &self.orders[k]
        cdef Result res
        cdef int64_t before = self.book.fill_count
        if o.kind == K_LIMIT and o.flags & F_QUEUE_AT_LIMIT:
            # A floor order decided in an earlier session goes at today's floor.
            o.price = self.book.base + self.book.lo_idx
        o.session = self.session        # the session it is sent in
        self.event_start_price = self.last_price
        self._submit(C_FORCED_ID_BASE + k, -1, o.kind, o.price, o.qty, self.perm[o.account],
                     o.flags, &res)
        if res.reject:
            self.rejects += 1
            o.cancelled = o.qty
            o.status = O_DONE
            return self._finish(k)
        self._consume(before)
        o.cancelled += res.cancelled
        if res.remaining > 0:
            o.status = O_RESTING
            self.resting_orders += 1
            self.resting_qty += res.remaining
        else:
            o.status = O_DONE
            self._finish(k)
        return 0

    cdef int _send_shock(self, oid_t id, qty_t qty) except -1 nogil:
        cdef Result res
        cdef int64_t before = self.book.fill_count
        self.event_start_price = self.last_price
        self._submit(id, -1, K_MARKET, 0, qty, -1, 0, &res)
        if res.reject:
            with gil:
                raise ValueError(f"the book rejected the shock order (reject code {res.reject})")
        self._consume(before)
        self.shock_cancelled += res.cancelled
        return 0

    cdef int _consume(self, int64_t before) except -1 nogil:
        """Book the fills the last message made, append them to the tape, and give the
        book its fill buffer back."""
        cdef Fill* f
        cdef TapeRow* row
        cdef int64_t i, k
        cdef ForcedOrder* o
        cdef int32_t wave
        cdef int8_t seller
        if self.record_tape:
            self._grow(<void**>&self.tape, &self.tape_cap,
                       self.tape_n + self.book.fill_count - before, sizeof(TapeRow))
        for i in range(before, self.book.fill_count):
            f = &self.book.fills[i]
            wave = -1
            seller = SELLER_OTHER
            if f.taker_side < 0:
                if f.taker_id >= C_FORCED_ID_BASE and f.taker_id < C_FORCED_ID_BASE + self.order_n:
                    k = f.taker_id - C_FORCED_ID_BASE
                    o = &self.orders[k]
                    o.filled += f.qty
                    self.accounts._apply_sale(o.account, f.price, f.qty)
                    wave = o.wave
                    seller = SELLER_FORCED
                elif f.taker_id == C_SHOCK_ID:
                    self.shock_filled += f.qty
                    wave = 0
                    seller = SELLER_SHOCK
            elif f.maker_id >= C_FORCED_ID_BASE and f.maker_id < C_FORCED_ID_BASE + self.order_n:
                # A buyer took a forced sell that was resting at the floor.
                k = f.maker_id - C_FORCED_ID_BASE
                o = &self.orders[k]
                o.filled += f.qty
                self.resting_qty -= f.qty
                self.accounts._apply_sale(o.account, f.price, f.qty)
                wave = o.wave
                seller = SELLER_FORCED
                if o.filled + o.cancelled == o.qty and o.status == O_RESTING:
                    o.status = O_DONE
                    self.resting_orders -= 1
                    self._finish(k)
            if ((f.taker_owner == C_LP_OWNER and f.taker_side > 0)
                    or (f.maker_owner == C_LP_OWNER and f.taker_side < 0)):
                self.lp_bought += f.qty
            if self.record_tape:
                row = &self.tape[self.tape_n]
                self.tape_n += 1
                row.taker_id = f.taker_id
                row.maker_id = f.maker_id
                row.price = f.price
                row.qty = f.qty
                row.taker_owner = f.taker_owner
                row.maker_owner = f.maker_owner
                row.taker_side = f.taker_side
                row.seller = seller
                row.session = <int16_t>self.session
                row.wave = wave
            self.last_price = f.price
            self.gap_anchor = -1
            if seller != SELLER_OTHER:
                self.close_wave = wave
            if self.mark_rule == MARK_LAST:
                self.mark = f.price
        self.book.fill_count = before
        return 0

    cdef int _finish(self, int64_t k) except -1 nogil:
        """Forced order `k` is over (filled, or its rest dropped): settle or re-index its account."""
        cdef ForcedOrder* o = &self.orders[k]
        cdef int32_t a = o.account
        cdef Rule* rule = &self.accounts.rules[self.accounts.rule[a]]
        if self.accounts.shares[a] == 0:
            self.accounts._settle(a)
            self.accounts.state[a] = ST_CLOSED
            self.accounts.trigger[a] = TRIGGER_NONE
        elif o.cancelled > 0:
            self.accounts.state[a] = ST_BLOCKED
            self._grow(<void**>&self.blocked, &self.blocked_cap, self.blocked_n + 1, sizeof(int32_t))
            self.blocked[self.blocked_n] = a
            self.blocked_n += 1
            self.cont[a] = 2 * o.wave + 1       # a retry next session keeps the wave
        elif rule.chunk > 0 and rule.cooldown > 0:
            self.accounts.state[a] = ST_LIQUIDATING          # cooling down between chunks
            self._grow(<void**>&self.cool_at, &self.cool_cap, self.cool_n + 1, sizeof(int64_t))
            self._grow(<void**>&self.cool_order, &self.cool_order_cap, self.cool_n + 1, sizeof(int64_t))
            self._cool_push(self.events + 1 + rule.cooldown, k)
        else:
            self._index(a)
            if rule.chunk > 0 and o.qty == rule.chunk:
                # If still crossed when this event is over, the next chunk keeps the wave.
                self._continue(a, 2 * o.wave)
        return 0

    cdef int _continue(self, int32_t a, int32_t code) except -1 nogil:
        """Mark `a`'s next liquidation, if the coming detection finds it crossed, as the
        continuation of its current one (code: 2 x wave, + 1 for a retry)."""
        self._grow(<void**>&self.cont_list, &self.cont_cap, self.cont_n + 1, sizeof(int32_t))
        self.cont[a] = code
        self.cont_list[self.cont_n] = a
        self.cont_n += 1
        return 0

    cdef void _cool_push(self, int64_t at, int64_t k) noexcept nogil:
        """Add order `k`'s account to the cooldown min-heap keyed by (release event, k):
        accounts with different cooldowns are released when theirs is over, in order."""
        cdef int64_t i = self.cool_n, parent
        self.cool_n += 1
        while i > 0:
            parent = (i - 1) >> 1
            if self.cool_at[parent] < at or (self.cool_at[parent] == at and self.cool_order[parent] < k):
                break
            self.cool_at[i] = self.cool_at[parent]
            self.cool_order[i] = self.cool_order[parent]
            i = parent
        self.cool_at[i] = at
        self.cool_order[i] = k

    cdef void _cool_pop(self) noexcept nogil:
        cdef int64_t n = self.cool_n - 1, i = 0, child
        cdef int64_t at = self.cool_at[n], k = self.cool_order[n]
        self.cool_n = n
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and (self.cool_at[child + 1] < self.cool_at[child] or
                                  (self.cool_at[child + 1] == self.cool_at[child]
                                   and self.cool_order[child + 1] < self.cool_order[child])):
                child += 1
            if at < self.cool_at[child] or (at == self.cool_at[child] and k < self.cool_order[child]):
                break
            self.cool_at[i] = self.cool_at[child]
            self.cool_order[i] = self.cool_order[child]
            i = child
        self.cool_at[i] = at
        self.cool_order[i] = k

    cdef int _release_cooled(self, bint force) except -1 nogil:
        """Re-index chunked accounts whose cooldown is over (`force`: jump the clock to the next)."""
        cdef int64_t k, t
        cdef int32_t a
        if force and self.cool_n > 0 and self.cool_at[0] > self.events:
            self.events = self.cool_at[0]
        while self.cool_n > 0 and self.cool_at[0] <= self.events:
            k = self.cool_order[0]
            self._cool_pop()
            a = self.orders[k].account
            if self.accounts.state[a] == ST_LIQUIDATING:
                t = self.accounts._trigger(a)
                self.accounts.trigger[a] = t    # the half-tick check reads it
                if self._crossed_now(a, t):
                    self._liquidate(a, self.orders[k].wave, CAUSE_CHUNK, 0)
                else:
                    self._index_at(a, t)
        return 0

    # ------------------------------------------------------------------ events

    cdef void _update_mark(self) noexcept nogil:
        cdef bint has_bid = self.book.best_bid_idx >= 0, has_ask = self.book.best_ask_idx != NO_ASK
        # With no bid there is no price to sell at: fall back to the last trade (never
        # to the ask, which would lift the mark in a crash).
        self.mark_half = False
        if self.mark_rule == MARK_MID and has_bid and has_ask:
            # The mid is mark + 1/2 when bid + ask is odd: orders are decided at the
            # floor (`mark`), crossings at the mid itself (`mark_half`).
            self.mark = self.book.base + (self.book.best_bid_idx + self.book.best_ask_idx) // 2
            self.mark_half = ((self.book.best_bid_idx + self.book.best_ask_idx) & 1) != 0
        elif self.mark_rule == MARK_BID or self.mark_rule == MARK_MID:
            if has_bid:
                self.mark = self.book.base + self.book.best_bid_idx
            else:
                self.mark = self.last_price

    cdef int _record_path(self) except -1 nogil:
        cdef price_t bid = self.book.base + self.book.best_bid_idx if self.book.best_bid_idx >= 0 else -1
        cdef price_t ask = self.book.base + self.book.best_ask_idx if self.book.best_ask_idx != NO_ASK else -1
        cdef PathRow* last
        if self.path_n > 0:
            last = &self.path[self.path_n - 1]
            if last.bid == bid and last.ask == ask and last.mark == self.mark:
                return 0
        self._grow(<void**>&self.path, &self.path_cap, self.path_n + 1, sizeof(PathRow))
        last = &self.path[self.path_n]
        self.path_n += 1
        last.event = self.events
        last.bid = bid
        last.ask = ask
        last.mark = self.mark
        return 0

    cdef int _after_event(self, int32_t wave) except -1 nogil:
        self._update_mark()
        if self.provider_n > 0:
            self._providers_step()
            self._update_mark()
        self._record_path()
        self._detect(wave)
        return 0

    cdef void _prefetch_makers(self) noexcept nogil:
        """The next forced sell will take the oldest bids at the touch and the book will
        drop their ids from its id index: fetch those slots now."""
        cdef Order ahead
        cdef int64_t level = self.book.best_bid_idx, i = 0
        cdef idx_t node
        if level < 0:
            return
        node = self.book.levels[level].head
        while node >= 0 and i < PREFETCH_MAKERS:
            ahead.id = self.book.nodes[node].id
            self.book._prefetch_slot(&ahead)
            node = self.book.nodes[node].next
            i += 1

    cdef int _run_queue(self) except -1 nogil:
        """Send forced orders until none is left: the session's fixed point."""
        cdef int64_t k
        cdef Order ahead
        ahead.kind = K_MARKET
        while True:
            if self.cool_n > 0:
                self._release_cooled(False)
            if self.next_send < self.order_n:
                k = self.next_send
                self.next_send += 1
                # The queue is known ahead: let the book fetch the id-index slot that a
                # later forced order's duplicate-id check will probe.
                if k + PREFETCH_AHEAD < self.order_n:
                    ahead.id = C_FORCED_ID_BASE + k + PREFETCH_AHEAD
                    self.book._prefetch_slot(&ahead)
                self._prefetch_makers()
                self._send(k)
                self.events += 1
                self._after_event(self.orders[k].wave + 1)
            elif self.cool_n > 0:
                self._release_cooled(True)
            else:
                break
        return 0

    # ------------------------------------------------------------------ liquidity providers

    cdef int _submit(self, oid_t id, side_t side, int8_t kind, price_t price, qty_t qty,
                     owner_t owner, uint8_t flags, Result* res) except -1 nogil:
        """Run one message through the book (its fills stay in the book's buffer)."""
        cdef Order msg
        msg.id = id
        msg.side = side
        msg.kind = kind
        msg.price = price
        msg.qty = qty
        msg.owner = owner
        msg.flags = flags
        return self.book._process(&msg, res)

    cdef int _cancel(self, oid_t id, Result* res) except -1 nogil:
        """Cancel resting order `id` in the book (`res.reject` is set if it is not resting)."""
        return self._submit(id, 0, K_CANCEL, 0, 0, -1, 0, res)

    cdef int _withdraw(self) except -1 nogil:
        """Cancel every live provider quote (a provider pulls all of its depth at once)."""
        cdef Result res
        cdef int64_t i
        for i in range(self.lp_n):
            self._cancel(self.lp_ids[i], &res)
            if res.reject == 0:
                self.lp_withdrawn += res.cancelled
        self.lp_n = 0
        return 0

    cdef void _record_recent(self) noexcept nogil:
        """The last price after this event, in the providers' ring.  Events since the last
        record (a gap shock, a clock jump to a cooldown's end) saw no trade: they carry the
        price recorded then."""
        cdef int64_t e
        cdef price_t carried
        if self.recent_upto >= 0:
            carried = self.recent[self.recent_upto % self.recent_cap]
            e = max(self.recent_upto + 1, self.events - self.recent_cap + 1)
            while e < self.events:
                self.recent[e % self.recent_cap] = carried
                e += 1
        self.recent[self.events % self.recent_cap] = self.last_price
        self.recent_upto = self.events

    cdef int _providers_step(self) except -1 nogil:
        """Let each provider withdraw (price gapped or fell too fast) or refill its quotes."""
        cdef Provider* p
        cdef int64_t i, level, j, before, live
        cdef price_t anchor, price, floor_price = self.book.base + self.book.lo_idx
        cdef price_t old
        cdef qty_t size, quote
        cdef oid_t quote_id
        cdef Result res
        cdef bint gapped
        self._record_recent()
        for i in range(self.provider_n):
            p = &self.providers[i]
            gapped = p.gap_ticks > 0 and self.event_start_price - self.last_price > p.gap_ticks
            if p.drop_ticks > 0 and self.events > p.window:
                old = self.recent[(self.events - p.window) % self.recent_cap]
                if old - self.last_price > p.drop_ticks:
                    gapped = True
            if gapped:
                if self.provider_resume[i] <= self.events:
                    self._withdraw()
                self.provider_resume[i] = self.events + p.pause + 1
                continue
            if self.events < self.provider_resume[i] or self.events - self.provider_last[i] < p.every:
                continue
            self.provider_last[i] = self.events
            if self.lp_n + p.levels > self.lp_cap:
                # Forget quotes that have traded away before growing the list.
                live = 0
                for j in range(self.lp_n):
                    if self.book._find(self.lp_ids[j]) >= 0:
                        self.lp_ids[live] = self.lp_ids[j]
                        live += 1
                self.lp_n = live
                self._grow(<void**>&self.lp_ids, &self.lp_cap, self.lp_n + p.levels, sizeof(oid_t))
            # After a gap shock and before any trade, quote below the post-gap bid,
            # not at the pre-gap last price.
            anchor = self.gap_anchor if self.gap_anchor >= 0 else self.last_price
            size = p.size
            for level in range(p.levels):
                price = anchor - level * p.spacing
                if price < floor_price:
                    break
                quote = size + <qty_t>(_next_random(&self.rng) % <uint64_t>(size // 4 + 1))
                before = self.book.fill_count
                while True:
                    quote_id = self.lp_next_id
                    self.lp_next_id += 1
                    self._submit(quote_id, 1, K_LIMIT, price, quote, C_LP_OWNER, 0, &res)
                    if res.reject != R_DUPLICATE_ID:    # else: an earlier run's quote rests
                        break                           # under that id; take the next
                if res.reject:
                    continue
                self.lp_quoted += quote
                self._consume(before)
                if res.remaining > 0:
                    self.lp_ids[self.lp_n] = quote_id
                    self.lp_n += 1
                size = size * (10000 - p.decay_bps) // 10000
                if size < 1:
                    break
        return 0

    # ------------------------------------------------------------------ sessions

    cdef int _calls(self, price_t close) except -1 nogil:
        """At a session's close: call accounts under their call line at the closing
        price, force those whose grace ran out, clear the calls of those back above it."""
        cdef Rule* rule
        cdef int64_t a
        cdef int64_t t
        cdef uint8_t st
        # A call is caused by the sell that made the close: its wave + 1.
        cdef int32_t wave = self.close_wave + 1
        cdef int64_t j
        for j in range(self.accounts.n):          # in account-id order
            a = self.inverse[j]
            rule = &self.accounts.rules[self.accounts.rule[a]]
            if rule.call_bps <= 0:
                continue
            st = self.accounts.state[a]
            if st != ST_STATIC and st != ST_HEAP and st != ST_IDLE_NONE:
                continue
            t = self.accounts._trigger_at(a, rule.call_bps)
            if t != TRIGGER_NONE and close <= t:
                if self.accounts.called[a] < 0:
                    self.accounts.called[a] = self.session
                if self.session - self.accounts.called[a] >= rule.call_grace:
                    self.accounts.called[a] = -1
                    self._liquidate(<int32_t>a, wave, CAUSE_CALL, 0)
            else:
                self.accounts.called[a] = -1
        return 0

    # ------------------------------------------------------------------ Python driver

    def _open_session(self, int32_t session, bint resubmit):
        """Start `session` (the band has been moved): resubmit or keep resting forced
        orders, give blocked accounts back to the index."""
        cdef int64_t k, n = self.order_n
        cdef ForcedOrder* o
        cdef Result res
        cdef int64_t i
        self.session = session
        if resubmit:
            for k in range(n):
                o = &self.orders[k]
                if o.status != O_RESTING:
                    continue
                self._cancel(C_FORCED_ID_BASE + k, &res)
                if res.reject:
                    raise RuntimeError(f"forced order {k} was resting but the book lost it")
                o.cancelled += res.cancelled
                self.resting_qty -= res.cancelled
                o.status = O_RESUBMITTED
                self.resting_orders -= 1
                self._liquidate(o.account, self.orders[k].wave, CAUSE_RESUBMIT, res.cancelled)
                # _liquidate may have moved the buffer
        for i in range(self.blocked_n):
            if self.accounts.state[self.blocked[i]] == ST_BLOCKED:
                self._index(self.blocked[i])
                if self.cont[self.blocked[i]] >= 0:
                    self._continue(self.blocked[i], self.cont[self.blocked[i]])
        self.blocked_n = 0
        # Accounts the new session finds crossed (blocked ones back in the index).
        cdef int32_t wave = self.max_wave + 1
        with self.book.held():
            with nogil:
                self._detect(wave)

    def _shock_sell(self, qty_t qty):
        with self.book.held():
            with nogil:
                self._send_shock(C_SHOCK_ID, qty)
                self.events += 1
                self._after_event(1)

    def _start(self, price_t last):
        """Open the run as if the last trade was at `last` (the best bid); the mark follows
        its rule from there and the book."""
        self.last_price = last
        self.event_start_price = last
        self.mark = last
        self.mark_half = False
        self._update_mark()
        self._record_path()
        self._record_recent()              # the ring starts at the opening price

    def _after_gap(self, price_t price):
        """A gap shock marks every rule at the new best bid (no trade has happened), or
        at the gap price when no bid is left."""
        if self.book.best_bid_idx >= 0:
            self.mark = self.book.base + self.book.best_bid_idx
        else:
            self.mark = price
        self.mark_half = False
        self.gap_anchor = self.mark
        with self.book.held():
            with nogil:
                self.events += 1
                self._record_path()
                self._detect(1)

    def _run_session(self):
        with self.book.held():
            with nogil:
                self._run_queue()

    def _close_session(self, price_t close):
        """End of a session whose closing price is `close`: margin calls are judged there."""
        if self.inverse == NULL:
            inverse = np.empty(self.accounts.n, np.int32)
            inverse[self._perm_array] = np.arange(self.accounts.n, dtype=np.int32)
            self._inverse_array = inverse
            self.inverse = <int32_t*>cnp.PyArray_DATA(inverse)
        with self.book.held():
            with nogil:
                self._calls(close)

    @property
    def resting_forced(self):
        """Forced orders resting in the book (queued at a limit)."""
        return self.resting_orders

    @property
    def blocked_accounts(self):
        return self.blocked_n

    @property
    def pending_calls(self):
        return int(np.count_nonzero(self.accounts._column("called") >= 0))

    @property
    def order_count(self):
        return self.order_n

    @property
    def tape_count(self):
        return self.tape_n

    def forced_array(self):
        """Every forced order so far, FORCED_DTYPE, in the order they were sent (a copy)."""
        out = _copy_out(<void*>self.orders, self.order_n, FORCED_DTYPE)
        out["account"] = self._perm_array[out["account"]]
        return out

    def _take_results(self):
        """End of the run: hand the tape, path and forced orders over to numpy without
        copying them (the engine keeps nothing and can not be run further)."""
        orders = hand_over(<void*>self.orders, self.order_n, self.order_cap, FORCED_DTYPE)
        tape = hand_over(<void*>self.tape, self.tape_n, self.tape_cap, TAPE_DTYPE)
        path = hand_over(<void*>self.path, self.path_n, self.path_cap, PATH_DTYPE)
        self.orders = NULL
        self.tape = NULL
        self.path = NULL
        self.order_n = self.order_cap = self.next_send = 0
        self.tape_n = self.tape_cap = 0
        self.path_n = self.path_cap = 0
        if len(orders):
            orders["account"] = self._perm_array[orders["account"]]
        return orders, tape, path

    @property
    def unsent(self):
        """Forced orders decided but not sent yet."""
        return self.order_n - self.next_send

    def tape_array(self):
        """Every fill so far, TAPE_DTYPE, in execution order (a copy)."""
        return _copy_out(<void*>self.tape, self.tape_n, TAPE_DTYPE)

    def path_array(self):
        """Best bid, best ask and mark after each event that changed them, PATH_DTYPE (a copy)."""
        return _copy_out(<void*>self.path, self.path_n, PATH_DTYPE)

    @property
    def nbytes(self):
        """Bytes the loop's own buffers hold (index, orders, tape, path)."""
        return (self._perm_array.nbytes + self.heap_cap * 8 + self.heap_acc_cap * 4
                + self.order_cap * sizeof(ForcedOrder)
                + self.tape_cap * sizeof(TapeRow) + self.path_cap * sizeof(PathRow)
                + self.blocked_cap * 4 + self.cool_cap * 16 + self.lp_cap * 8
                + self.accounts.n * 4 + self.cont_cap * 4 + self.skip_cap * 4)


assert FORCED_DTYPE.itemsize == sizeof(ForcedOrder), (FORCED_DTYPE.itemsize, sizeof(ForcedOrder))
assert TAPE_DTYPE.itemsize == sizeof(TapeRow), (TAPE_DTYPE.itemsize, sizeof(TapeRow))
assert PATH_DTYPE.itemsize == sizeof(PathRow), (PATH_DTYPE.itemsize, sizeof(PathRow))
assert PROVIDER_DTYPE.itemsize == sizeof(Provider), (PROVIDER_DTYPE.itemsize, sizeof(Provider))
