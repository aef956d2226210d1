"""engine.Book against the pure-Python reference, side by side, under Hypothesis.

Every rule sends the same messages to both books; after every step the machine
checks that they agree on everything observable (fills, per-order results, best
prices, depth, volumes, queues, snapshots), that the book is never crossed, that
quantity is conserved, that queues are in arrival order, and that the engine's own
structures are consistent (``check_invariants``).

Prices are drawn in units of a tick ``scale`` chosen per run: scale 1 keeps a band of
about 40 ticks, so levels fill, empty and hit the band edges all the time; larger
scales spread the same books over hundreds of thousands of ticks, so the next-price
search has to cross every tier of the occupancy bitmap.
"""
import io
import pickle

import numpy as np
from hypothesis import event, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from engine import (
    Book, BUY, SELL, LIMIT, MARKET, IOC, FOK, CANCEL, REDUCE, EXECUTE, QUEUE_AT_LIMIT, ORDER_DTYPE,
)
from engine._book import _set_window_min as set_window_min
from engine.reference import ReferenceBook
from engine.testing.strategies import depth_profiles, seeded_books

INT64_MIN, INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
# A small pool, so that duplicates and cancels of live ids happen often; a few extremes
# so that the id table sees hashes of large and negative ids.
SPECIAL_IDS = [INT64_MIN, INT64_MIN + 1, -1, 2**62 + 3, INT64_MAX]
POOL = list(range(40)) + SPECIAL_IDS
ids = st.sampled_from(POOL)
owners = st.integers(-1, 3)
sides = st.sampled_from([BUY, SELL])
quantities = st.integers(1, 12)
# Price offsets from the band's lo, in units of the scale; the band is about 40 units wide.
offsets = st.integers(-4, 44)


@st.composite
def batch_rows(draw):
    """A batch row (id, side, kind, offset, qty, owner, flags): mostly well formed, some
    with one field the engine checks spoiled."""
    kind = draw(st.sampled_from([LIMIT] * 4 + [MARKET, IOC, FOK, CANCEL, REDUCE, EXECUTE]))
    side, flags = draw(sides), draw(st.sampled_from([0, 0, QUEUE_AT_LIMIT]))
    qty = draw(quantities)
    spoil = draw(st.sampled_from([None] * 6 + ["kind", "side", "flags", "qty"]))
    if spoil == "kind":
        kind = draw(st.sampled_from([0, 8, -3, 127]))
    elif spoil == "side":
        side = draw(st.sampled_from([0, 2, -128]))
    elif spoil == "flags":
        flags = draw(st.sampled_from([2, 3, 255]))
    elif spoil == "qty":
        qty = draw(st.sampled_from([0, -1, INT64_MIN]))
    return draw(ids), side, kind, draw(offsets), qty, draw(owners), flags


# An execution against the outside happens at the resting order's price, which a band
# move may have left outside the band: no band bounds those fills.
OUTSIDE = (INT64_MIN, INT64_MAX)


def _same_arrays(a, b):
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape and np.array_equal(a, b), f"\nengine    {a}\nreference {b}"


def _same_snapshot(a, b):
    assert set(a) == set(b)
    for key in a:
        _same_arrays(np.asarray(a[key]), np.asarray(b[key]))


def _restore(cls, book, via):
    if via == "pickle":
        return pickle.loads(pickle.dumps(book))
    snap = book.snapshot()
    if via == "savez":
        buffer = io.BytesIO()
        np.savez(buffer, **snap)
        buffer.seek(0)
        with np.load(buffer) as stored:
            snap = {key: stored[key] for key in stored.files}
    return cls.from_snapshot(snap)


def _outside_band(snap):
    lo, hi = (int(x) for x in snap["band"])
    return bool(np.any((snap["price"] < lo) | (snap["price"] > hi)))


class BookComparison(RuleBasedStateMachine):
    """Drive engine.Book and ReferenceBook with the same messages and compare them."""

    def __init__(self):
        super().__init__()
        self.book = None

    @initialize(scale=st.sampled_from([1, 1, 1, 1, 3, 67, 4099, 7001]),
                lo_units=st.integers(-30, 30), width=st.integers(0, 40),
                window=st.sampled_from([8, 8, 16, 4096]), data=st.data())
    def start(self, scale, lo_units, width, window, data):
        self.scale = scale
        lo, hi = lo_units * scale, (lo_units + width) * scale
        # A small id window grows, slides and moves over the pool's ids all the time.
        old = set_window_min(window)
        try:
            self.book = Book(lo, hi)
        finally:
            set_window_min(old)
        self.ref = ReferenceBook(lo, hi)
        # Quantity accounting from the engine's own answers.
        self.rested = 0        # lots that came to rest
        self.taken_off = 0     # lots removed from resting orders by CANCEL/REDUCE
        self.traded = 0        # lots traded (what takers got and makers gave)
        self.executed = 0      # lots of resting orders executed against the outside (EXECUTE)
        # Arrival order of the resting orders, to check FIFO within a level.
        self.arrival = {}
        self.clock = 0
        # Per-call orders whose fills wait in the buffer: (id, side, owner, filled, lo, hi).
        self.pending = []
        # Start half the runs from a book with some depth on both sides.
        if hi - lo < 1 or not data.draw(st.booleans(), label="seeded"):
            return
        scale = self.scale
        orders = data.draw(seeded_books(
            lo, hi, depth_profiles(max_levels=8, max_lots=12), max_orders_per_level=3,
            gaps=st.integers(1, 3).map(lambda gap: gap * scale), owners=owners), label="seed")
        self._submit(orders)

    # ------------------------------------------------------------------ helpers

    def price(self, offset):
        return self.book.band[0] + offset * self.scale

    def _arrived(self, id, remaining):
        if remaining > 0:
            self.arrival[id] = self.clock
            self.clock += 1

    def _check_taker_fills(self, fills, takers):
        """`fills` are, in order, the fills of `takers` (id, side, owner, filled, lo, hi):
        every lot a taker got, a maker gave, at a price inside [lo, hi]."""
        start = 0
        for id, side, owner, filled, lo, hi in takers:
            got = 0
            while got < filled:
                fill = fills[start]
                assert fill["taker_id"] == id
                assert side is None or fill["taker_side"] == side   # None: an EXECUTE
                assert fill["taker_owner"] == owner
                assert lo <= fill["price"] <= hi, f"trade at {fill['price']} outside band {(lo, hi)}"
                assert fill["qty"] > 0
                got += int(fill["qty"])
                start += 1
            assert got == filled, f"taker {id} filled {filled} but its fills sum to {got}"
        assert start == len(fills), "fills that belong to no taker"

    def _both(self, method, *args, **kwargs):
        """Call `method` on both books: both raise the same ValueError (and the engine
        changes nothing) or both return the same value."""
        try:
            expected = getattr(self.ref, method)(*args, **kwargs)
        except ValueError as error:
            before = self.book.snapshot()
            pending = self.book.pending_fills
            try:
                getattr(self.book, method)(*args, **kwargs)
            except ValueError as engine_error:
                assert str(engine_error) == str(error)
            else:
                raise AssertionError(f"engine accepted {method}{args}: reference said {error}")
            _same_snapshot(self.book.snapshot(), before)
            assert self.book.pending_fills == pending
            return None
        actual = getattr(self.book, method)(*args, **kwargs)
        if isinstance(expected, tuple):         # depth, queue: tuples of arrays
            assert len(actual) == len(expected)
            for a, b in zip(actual, expected):
                _same_arrays(a, b)
        else:
            assert actual == expected, f"{method}{args}: engine {actual}, reference {expected}"
        return actual

    def _new_order(self, method, id, side, qty, owner, *args, **kwargs):
        lo, hi = self.book.band
        filled = self._both(method, id, *args, **kwargs)
        if filled is None:
            return
        resting = self.book.order(id)
        remaining = resting[2] if resting is not None else 0
        assert 0 <= filled and 0 <= remaining and filled + remaining <= qty
        self.rested += remaining
        self.traded += filled
        self._arrived(id, remaining)
        self.pending.append((id, side, owner, filled, lo, hi))

    # ------------------------------------------------------------------ per-call rules

    @rule(id=ids, side=sides, offset=offsets, qty=quantities, owner=owners,
          queue_at_limit=st.booleans())
    def limit(self, id, side, offset, qty, owner, queue_at_limit):
        self._new_order("limit", id, side, qty, owner, side, self.price(offset), qty, owner,
                        queue_at_limit=queue_at_limit)

    @rule(id=ids, side=sides, qty=quantities, owner=owners, queue_at_limit=st.booleans())
    def market(self, id, side, qty, owner, queue_at_limit):
        self._new_order("market", id, side, qty, owner, side, qty, owner,
                        queue_at_limit=queue_at_limit)

    @rule(id=ids, side=sides, offset=offsets, qty=quantities, owner=owners)
    def ioc(self, id, side, offset, qty, owner):
        self._new_order("ioc", id, side, qty, owner, side, self.price(offset), qty, owner)

    @rule(id=ids, side=sides, offset=offsets, qty=quantities, owner=owners)
    def fok(self, id, side, offset, qty, owner):
        self._new_order("fok", id, side, qty, owner, side, self.price(offset), qty, owner)

    @rule(id=ids, side=sides, offset=offsets, surplus=st.integers(-1, 1), owner=owners)
    def fok_at_available(self, id, side, offset, surplus, owner):
        # A fill-or-kill for exactly what is there (or a lot more or less): the boundary.
        lo, hi = self.book.band
        limit = min(max(self.price(offset), lo), hi)
        qty = max(self.ref._available(side, limit) + surplus, 1)
        self._new_order("fok", id, side, qty, owner, side, self.price(offset), qty, owner)

    @rule(id=ids, side=st.sampled_from([0, 2, -1, 1]), qty=st.integers(-2, 3),
          offset=offsets, kind=st.sampled_from(["limit", "ioc", "fok"]))
    def bad_call(self, id, side, qty, offset, kind):
        # Often malformed (side or qty); otherwise an ordinary order.
        self._new_order(kind, id, side, qty, -1, side, self.price(offset), qty)

    @precondition(lambda self: self.book is not None and len(self.ref) > 0)
    @rule(data=st.data())
    def cancel_live(self, data):
        id = data.draw(st.sampled_from(sorted(self.ref._by_id)), label="id")
        cancelled = self._both("cancel", id)
        assert cancelled > 0
        self.taken_off += cancelled

    @rule(id=ids)
    def cancel_any(self, id):
        cancelled = self._both("cancel", id)
        if cancelled is not None:
            self.taken_off += cancelled

    @precondition(lambda self: self.book is not None and len(self.ref) > 0)
    @rule(data=st.data(), qty=st.integers(1, 14))
    def reduce_live(self, data, qty):
        id = data.draw(st.sampled_from(sorted(self.ref._by_id)), label="id")
        before = self.book.order(id)[2]
        left = self._both("reduce", id, qty)
        assert left == max(before - qty, 0)
        self.taken_off += before - left

    @rule(id=ids, qty=st.integers(-1, 14))
    def reduce_any(self, id, qty):
        resting = self.book.order(id)
        left = self._both("reduce", id, qty)
        if left is not None:
            self.taken_off += resting[2] - left

    @precondition(lambda self: self.book is not None and len(self.ref) > 0)
    @rule(data=st.data(), qty=st.integers(1, 14), owner=owners)
    def execute_live(self, data, qty, owner):
        id = data.draw(st.sampled_from(sorted(self.ref._by_id)), label="id")
        side, _, before, _ = self.book.order(id)
        filled = self._both("execute", id, qty, owner)
        assert filled == min(qty, before)
        self.executed += filled
        self.pending.append((-1, -side, owner, filled, OUTSIDE[0], OUTSIDE[1]))

    @rule(id=ids, qty=st.integers(-1, 14), owner=owners)
    def execute_any(self, id, qty, owner):
        resting = self.book.order(id)
        filled = self._both("execute", id, qty, owner)
        if filled is not None:
            self.executed += filled
            self.pending.append((-1, -resting[0], owner, filled, OUTSIDE[0], OUTSIDE[1]))

    @rule()
    def take_fills(self):
        fills = self.book.take_fills()
        _same_arrays(fills, self.ref.take_fills())
        self._check_taker_fills(fills, self.pending)
        self.pending = []
        assert self.book.pending_fills == 0 and len(self.book.take_fills()) == 0

    # ------------------------------------------------------------------ batch rules

    def _submit(self, orders):
        lo, hi = self.book.band
        result = self.book.submit(orders)
        expected = self.ref.submit(orders)
        _same_arrays(result.results, expected.results)
        _same_arrays(result.fills, expected.fills)
        for field in ("filled", "remaining", "cancelled", "reject"):
            _same_arrays(getattr(result, field), getattr(expected, field))
        takers = []
        for row, out in zip(orders.tolist(), result.results.tolist()):
            id, _, qty, owner, side, kind, _ = row
            filled, remaining, cancelled, reject = out
            if reject:
                assert filled == remaining == cancelled == 0
            elif kind in (CANCEL, REDUCE):
                assert filled == 0 and cancelled > 0
                self.taken_off += cancelled
            elif kind == EXECUTE:
                assert filled > 0 and cancelled == 0
                self.executed += filled
                takers.append((-1, None, owner, filled, OUTSIDE[0], OUTSIDE[1]))
            else:
                assert qty == filled + remaining + cancelled, (row, out)
                assert min(filled, remaining, cancelled) >= 0
                self.rested += remaining
                self.traded += filled
                self._arrived(id, remaining)
                takers.append((id, side, owner, filled, lo, hi))
        self._check_taker_fills(result.fills, takers)
        event(f"batch: {min(len(result.fills), 5)}+ fills, "
              f"{int(np.count_nonzero(result.reject))} rejects")

    @rule(rows=st.lists(batch_rows(), min_size=0, max_size=8))
    def submit_batch(self, rows):
        orders = np.zeros(len(rows), dtype=ORDER_DTYPE)
        for i, (id, side, kind, offset, qty, owner, flags) in enumerate(rows):
            orders[i] = (id, self.price(offset), qty, owner, side, kind, flags)
        self._submit(orders)

    @precondition(lambda self: self.book is not None and len(self.ref) > 0)
    @rule(side=sides)
    def cancel_side(self, side):
        # Empty one side in a batch of cancels, so the band can then move far.
        doomed = [o for o in self.ref._by_id.values() if o.side == side]
        orders = np.zeros(len(doomed), dtype=ORDER_DTYPE)
        orders["id"] = [o.id for o in doomed]
        orders["kind"] = CANCEL
        self._submit(orders)

    # ------------------------------------------------------------------ band, snapshots

    def _set_band(self, lo, hi):
        try:
            self.ref.set_band(lo, hi)
        except ValueError:
            before = self.book.snapshot()
            try:
                self.book.set_band(lo, hi)
            except ValueError:
                pass
            else:
                raise AssertionError(f"engine accepted set_band({lo}, {hi}), reference refused")
            _same_snapshot(self.book.snapshot(), before)
            event("set_band refused")
            return
        event("set_band moved the band" + (" (orders left outside it)" if _outside_band(
            self.ref.snapshot()) else ""))
        self.book.set_band(lo, hi)
        assert self.book.band == (lo, hi)

    @rule(shift=st.integers(-12, 12), width=st.integers(-2, 45))
    def set_band(self, shift, width):
        lo = self.book.band[0] + shift * self.scale
        self._set_band(lo, lo + width * self.scale)

    @rule(direction=st.sampled_from([-1, 1]), ticks=st.integers(1_000, 60_000),
          width=st.integers(0, 40))
    def set_band_far(self, direction, ticks, width):
        # Far enough to force the engine to regrid its levels.
        lo = self.book.band[0] + direction * (ticks // self.scale + 1) * self.scale
        self._set_band(lo, lo + width * self.scale)

    @rule(via=st.sampled_from(["dict", "savez", "pickle"]))
    def round_trip(self, via):
        self.take_fills()           # pending fills are not part of a snapshot
        snap = self.book.snapshot()
        restored = _restore(Book, self.book, via)
        event(f"round trip via {via}" + (" with orders outside the band" if _outside_band(snap)
                                         else ""))
        restored.check_invariants()
        _same_snapshot(restored.snapshot(), snap)
        assert restored.band == self.book.band and len(restored) == len(self.book)
        self.book = restored
        self.ref = _restore(ReferenceBook, self.ref, via)

    # ------------------------------------------------------------------ queries

    @rule(offset=offsets, n=st.integers(0, 5), side=st.sampled_from([BUY, SELL, 0, 2]))
    def query(self, offset, n, side):
        price = self.price(offset)
        for a, b in zip(self.book.queue(price), self.ref.queue(price)):
            _same_arrays(a, b)
        if side in (BUY, SELL):
            for a, b in zip(self.book.depth(side, n), self.ref.depth(side, n)):
                _same_arrays(a, b)
        self._both("volume", side)
        self._both("depth", side, n - 1)

    # ------------------------------------------------------------------ checks

    @invariant()
    def agrees_with_reference(self):
        if self.book is None:
            return
        book, ref = self.book, self.ref
        assert book.band == ref.band
        assert book.best_bid() == ref.best_bid() and book.best_ask() == ref.best_ask()
        assert len(book) == len(ref)
        assert book.pending_fills == ref.pending_fills
        for side in (BUY, SELL):
            assert book.volume(side) == ref.volume(side)
            for a, b in zip(book.depth(side, 1000), ref.depth(side, 1000)):
                _same_arrays(a, b)
        snap = book.snapshot()
        _same_snapshot(snap, ref.snapshot())
        for id in POOL:
            assert book.order(id) == ref.order(id), id
        for price in np.unique(snap["price"]).tolist():
            ids, qtys, owners = book.queue(price)
            for a, b in zip((ids, qtys, owners), ref.queue(price)):
                _same_arrays(a, b)
            # FIFO: a level's queue is in the order its orders came to rest.
            arrivals = [self.arrival[id] for id in ids.tolist()]
            assert arrivals == sorted(arrivals), f"queue at {price} out of arrival order: {ids}"

    @invariant()
    def never_crossed(self):
        if self.book is None:
            return
        bid, ask = self.book.best_bid(), self.book.best_ask()
        assert bid is None or ask is None or bid < ask, f"crossed: bid {bid} >= ask {ask}"

    @invariant()
    def quantity_conserved(self):
        if self.book is None:
            return
        resting = self.book.volume(BUY) + self.book.volume(SELL)
        assert resting == self.rested - self.taken_off - self.traded - self.executed, (
            f"resting {resting} != rested {self.rested} - taken off {self.taken_off} "
            f"- traded {self.traded} - executed {self.executed}")
        assert resting == int(self.book.snapshot()["qty"].sum())

    @invariant()
    def engine_structures_consistent(self):
        if self.book is None:
            return
        self.book.check_invariants()

    def teardown(self):
        if self.book is not None:
            self.take_fills()


TestBookComparison = BookComparison.TestCase
# The state machine is the suite's main check on the engine: twice the profile's examples.
TestBookComparison.settings = settings(settings.default,
                                       max_examples=2 * settings.default.max_examples)
