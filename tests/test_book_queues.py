"""Deep queues: the state machine in test_book_stateful.py keeps queues a few orders
deep; here a handful of levels carry hundreds or thousands of orders each, and cancels,
reductions and executions hit them at the head, the tail and anywhere between, while
sweeps go through them.  engine.Book is compared with the reference after every batch:
fills, per-order results, every queue in order, and the engine's own invariants
(``check_invariants`` walks every queue).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from engine import (
    Book, BUY, SELL, LIMIT, MARKET, CANCEL, REDUCE, EXECUTE, ORDER_DTYPE, make_orders,
)
from engine.reference import ReferenceBook

LO, HI = 100, 104          # five levels: bids rest at 100..101, asks at 103..104
BID_PRICES, ASK_PRICES = (100, 101), (103, 104)


def _same_queues(book, ref):
    for price in range(LO, HI + 1):
        got, want = book.queue(price), ref.queue(price)
        for a, b in zip(got, want):
            assert np.array_equal(a, b), f"queue at {price}:\nengine    {a}\nreference {b}"


def _row(oid, side, kind, price, qty):
    return make_orders(id=[oid], side=side, kind=kind, price=price, qty=qty, owner=oid % 7)


KINDS = ("rest", "cancel", "reduce", "execute", "sweep")


def _messages(rng, weights, size, live, next_id):
    """`size` ORDER_DTYPE rows drawn with `rng`: new resting orders, cancels, reduces and
    executions of live ones (picked anywhere in their queues: head, middle or tail) and
    sweeps, in proportion to `weights`.  `live` lists the ids the reference holds."""
    rows = []
    p = np.array(weights, float) / sum(weights)
    for kind in rng.choice(KINDS, size=size, p=p):
        side = BUY if rng.random() < 0.5 else SELL
        if kind == "rest":
            price = (BID_PRICES if side == BUY else ASK_PRICES)[int(rng.integers(2))]
            rows.append(_row(next_id, side, LIMIT, price, int(rng.integers(1, 6))))
            next_id += 1
        elif kind == "sweep":
            rows.append(_row(next_id, side, MARKET, 0, int(rng.integers(1, 200))))
            next_id += 1
        elif live:
            oid = live[int(rng.integers(len(live)))]
            code = {"cancel": CANCEL, "reduce": REDUCE, "execute": EXECUTE}[kind]
            rows.append(_row(oid, 0, code, 0, int(rng.integers(1, 7))))
    return (np.concatenate(rows) if rows else np.zeros(0, ORDER_DTYPE)), next_id


@settings(max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), deep=st.sampled_from([0, 40, 300, 1200]),
       sizes=st.lists(st.sampled_from([1, 30, 300, 1500]), min_size=1, max_size=6),
       weights=st.tuples(*[st.integers(0, 6)] * 5).filter(any))
def test_deep_queues_match_the_reference(seed, deep, sizes, weights):
    """Batches over five levels that build queues hundreds deep and then cancel, reduce,
    execute and sweep through them agree with the reference, batch for batch.  (The
    messages come from a seeded generator: lists of steps Hypothesis draws one by one
    stay too short to build deep queues.)"""
    rng = np.random.default_rng(seed)
    book, ref = Book(LO, HI), ReferenceBook(LO, HI)
    # Start from `deep` orders spread over the two bid levels and the two ask levels.
    seed_rows = [_row(i + 1, side, LIMIT, prices[(i // 2) % 2], 1 + i % 4)
                 for i in range(deep)
                 for side, prices in [((BUY, BID_PRICES), (SELL, ASK_PRICES))[i % 2]]]
    batch = np.concatenate(seed_rows) if seed_rows else np.zeros(0, ORDER_DTYPE)
    next_id = deep + 1
    for size in [None] + sizes:
        if size is not None:
            batch, next_id = _messages(rng, weights, size, sorted(ref._by_id), next_id)
        got, want = book.submit(batch), ref.submit(batch)
        assert np.array_equal(got.fills, want.fills)
        assert np.array_equal(got.results, want.results)
        _same_queues(book, ref)
        book.check_invariants()
        assert len(book) == len(ref)


def test_arrivals_after_cancels_from_the_middle_queue_behind_the_survivors():
    """Orders that join a queue most of whose middle was cancelled queue behind the
    survivors, and every survivor is still found by id."""
    book = Book(LO, HI)
    for oid in range(1, 65):
        book.limit(oid, BUY, 100, 1)
    kept = [1] + [oid for oid in range(2, 64) if oid % 3 == 1] + [64]
    for oid in range(2, 64):                    # two in three from the middle
        if oid not in kept:
            book.cancel(oid)
    for oid in range(100, 110):
        book.limit(oid, BUY, 100, 1)
    book.check_invariants()
    expected = kept + list(range(100, 110))
    assert book.queue(100)[0].tolist() == expected
    for oid in expected[::5]:
        assert book.cancel(oid) == 1
    book.check_invariants()
    assert book.queue(100)[0].tolist() == [o for o in expected if o not in expected[::5]]


def test_a_deep_queue_cancelled_from_the_back_keeps_its_head():
    book = Book(LO, HI)
    book.submit(np.concatenate([_row(oid, SELL, LIMIT, 103, 1) for oid in range(1, 4001)]))
    for oid in range(4000, 1, -1):              # all but the head, newest first
        book.cancel(oid)
        if oid % 997 == 0:
            book.check_invariants()
    book.check_invariants()
    assert book.queue(103)[0].tolist() == [1]
    assert book.market(9000, BUY, 5) == 1       # the one order left still trades
    assert len(book) == 0 and book.best_ask() is None
    book.check_invariants()


def test_a_sweep_through_a_deep_queue_with_gaps_takes_the_makers_in_order():
    """A sweep takes the makers left after cancels at the head, the tail and between, in
    arrival order."""
    book, ref = Book(LO, HI), ReferenceBook(LO, HI)
    for target in (book, ref):
        for oid in range(1, 301):
            target.limit(oid, SELL, 104, 2)
        for oid in list(range(2, 300, 3)) + [1, 300]:     # the middle, the head and the tail
            target.cancel(oid)
        target.market(1000, BUY, 151)
    assert np.array_equal(book.take_fills(), ref.take_fills())
    _same_queues(book, ref)
    book.check_invariants()


def test_snapshot_round_trip_keeps_deep_queue_order():
    book = Book(LO, HI)
    for oid in range(1, 200):
        book.limit(oid, BUY, 101, oid % 5 + 1)
    for oid in range(3, 200, 4):
        book.cancel(oid)
    for oid in range(500, 600):
        book.limit(oid, BUY, 101, 1)
    copy = Book.from_snapshot(book.snapshot())
    copy.check_invariants()
    for a, b in zip(copy.queue(101), book.queue(101)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("moves", [[(50, 150)], [(100, 104), (0, 10_000), (90, 110)]])
def test_band_moves_keep_deep_queues(moves):
    """Moving the band regrids the levels; each queue moves with its level, in order."""
    book = Book(LO, HI)
    for oid in range(1, 301):
        book.limit(oid, (BUY, SELL)[oid % 2], (101, 103)[oid % 2], 1)
    for oid in range(5, 301, 7):
        book.cancel(oid)
    before = [book.queue(p) for p in (101, 103)]
    for lo, hi in moves:
        book.set_band(lo, hi)
        book.check_invariants()
    for old, price in zip(before, (101, 103)):
        for a, b in zip(book.queue(price), old):
            assert np.array_equal(a, b)


@settings(max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), taker=st.sampled_from([BUY, SELL]),
       band_moves=st.booleans())
def test_a_cascade_through_deep_queues_matches_the_reference(seed, taker, band_moves):
    """Small market orders that keep taking from one side, as in a cascade, stop at the same
    level sweep after sweep: the batch path then walks the next level's queue ahead of them
    (engine/_book.pyx, WALK_AFTER_SWEEPS).  Cancels hit that queue meanwhile, at the ends
    and between, and refills reuse the cancelled orders' nodes, at the level being walked
    or at the one being swept; the band moves between batches (a regrid renumbers the
    levels).  Results are the reference's, batch for batch."""
    rng = np.random.default_rng(seed)
    book, ref = Book(LO, HI), ReferenceBook(LO, HI)
    maker = -taker
    prices = BID_PRICES[::-1] if maker == BUY else ASK_PRICES    # the touch first
    seed_rows = [_row(oid, maker, LIMIT, prices[oid % 2], int(rng.integers(1, 4)))
                 for oid in range(1, 601)]
    for target in (book, ref):
        target.submit(np.concatenate(seed_rows))
    next_id = 601
    for batch_no in range(4):
        rows = []
        live = sorted(ref._by_id)       # some will have traded when their cancel comes: rejects
        for _ in range(150):
            rows.append(_row(next_id, taker, MARKET, 0, int(rng.integers(1, 5))))
            next_id += 1
            if live and rng.random() < 0.5:
                oid = live[int(rng.choice([0, -1, rng.integers(len(live))]))]
                rows.append(_row(oid, 0, CANCEL, 0, 0))
            if rng.random() < 0.6:
                rows.append(_row(next_id, maker, LIMIT, prices[int(rng.integers(2))],
                                 int(rng.integers(1, 4))))
                next_id += 1
        batch = np.concatenate(rows)
        got, want = book.submit(batch), ref.submit(batch)
        assert np.array_equal(got.fills, want.fills)
        assert np.array_equal(got.results, want.results)
        _same_queues(book, ref)
        book.check_invariants()
        if band_moves:
            for target in (book, ref):
                target.set_band(LO - 10 * (batch_no + 1), HI + 5000 * (batch_no % 2))
