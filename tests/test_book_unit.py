"""Unit tests of the order book: each order kind, each reject reason, bad input, band
moves, snapshots and queries.

Tests that take the `Book` fixture run twice, against engine.Book and against the
pure-Python reference, so the reference is held to the same examples as the engine.
"""
import io
import os
import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

import engine
import engine._book
from engine import (
    Book as EngineBook, BUY, SELL, LIMIT, MARKET, IOC, FOK, CANCEL, REDUCE, EXECUTE, QUEUE_AT_LIMIT,
    ORDER_DTYPE, FILL_DTYPE, RESULT_DTYPE, Reject, make_orders,
)
from engine.reference import ReferenceBook
from engine.testing.strategies import malformed_rows, order_streams, seeded_books, depth_profiles

INT64_MIN, INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)


@pytest.fixture(params=[EngineBook, ReferenceBook], ids=["engine", "reference"])
def Book(request):
    return request.param


def rows(*messages):
    """ORDER_DTYPE rows from (kind, id, side, price, qty[, owner[, flags]]) tuples."""
    orders = np.zeros(len(messages), dtype=ORDER_DTYPE)
    for i, (kind, id, side, price, qty, *rest) in enumerate(messages):
        owner = rest[0] if rest else -1
        flags = rest[1] if len(rest) > 1 else 0
        orders[i] = (id, price, qty, owner, side, kind, flags)
    return orders


def same_snapshot(a, b):
    assert set(a) == set(b)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
        assert np.asarray(a[key]).dtype == np.asarray(b[key]).dtype, key


def fills_of(book):
    return [(int(f["taker_id"]), int(f["maker_id"]), int(f["price"]), int(f["qty"]))
            for f in book.take_fills()]


def checked(book):
    if isinstance(book, EngineBook):
        book.check_invariants()
    return book


# ---------------------------------------------------------------------- build

def test_debug_build_when_expected():
    if os.environ.get("ENGINE_EXPECT_DEBUG", "") in ("", "0"):
        pytest.skip("ENGINE_EXPECT_DEBUG is not set")
    assert engine._book.DEBUG_BUILD, f"{engine._book.__file__} is not the debug build"


def test_core_does_not_import_hypothesis():
    import subprocess
    import sys
    code = "import sys, engine, engine.reference; print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_records_match_the_c_structs():
    assert ORDER_DTYPE.itemsize == 32 and FILL_DTYPE.itemsize == 48 and RESULT_DTYPE.itemsize == 32
    assert ORDER_DTYPE.isalignedstruct and FILL_DTYPE.isalignedstruct


# ---------------------------------------------------------------------- order kinds

def test_limit_rests_then_trades_at_the_makers_price(Book):
    book = Book(90, 110)
    assert book.limit(1, SELL, 101, 5, owner=7) == 0
    assert book.limit(2, SELL, 100, 3, owner=8) == 0
    assert book.limit(3, BUY, 99, 4) == 0
    assert (book.best_bid(), book.best_ask(), len(book)) == (99, 100, 3)
    # A buy at 105 sweeps 100 then part of 101, each at the maker's price, and the
    # rest would rest at 105 but nothing is left.
    assert book.limit(4, BUY, 105, 6, owner=9) == 6
    assert fills_of(book) == [(4, 2, 100, 3), (4, 1, 101, 3)]
    assert book.order(1) == (SELL, 101, 2, 7)
    assert book.order(4) is None
    checked(book)


def test_limit_partial_fill_rests_the_rest_at_its_price(Book):
    book = Book(90, 110)
    book.limit(1, SELL, 100, 3)
    result = book.submit(rows((LIMIT, 2, BUY, 102, 10)))
    assert result.results.tolist() == [(3, 7, 0, 0)]
    assert book.order(2) == (BUY, 102, 7, -1)
    assert (book.best_bid(), book.best_ask()) == (102, None)
    checked(book)


def test_price_time_priority(Book):
    book = Book(0, 100)
    book.limit(1, BUY, 50, 1)
    book.limit(2, BUY, 50, 2)
    book.limit(3, BUY, 51, 3)
    book.limit(4, BUY, 50, 4)
    book.market(5, SELL, 8)
    # Best price first, then time priority within the level.
    assert fills_of(book) == [(5, 3, 51, 3), (5, 1, 50, 1), (5, 2, 50, 2), (5, 4, 50, 2)]
    assert book.queue(50)[0].tolist() == [4]
    checked(book)


def test_market_trades_up_to_the_band_and_cancels_the_rest(Book):
    book = Book(90, 110)
    book.limit(1, SELL, 105, 2)
    book.limit(2, SELL, 110, 2)
    result = book.submit(rows((MARKET, 3, BUY, 0, 10)))
    assert result.results.tolist() == [(4, 0, 6, 0)]
    assert [f["price"] for f in result.fills] == [105, 110]
    assert len(book) == 0
    checked(book)


def test_market_with_queue_at_limit_rests_at_the_band_edge(Book):
    book = Book(90, 110)
    book.limit(1, BUY, 95, 2)
    result = book.submit(rows((MARKET, 2, SELL, 12345, 5, -1, QUEUE_AT_LIMIT),
                              (MARKET, 3, BUY, -999, 4, -1, QUEUE_AT_LIMIT)))
    # The sell fills 2 at 95 and queues 3 at limit-down (90); the buy then takes those
    # 3 at 90 and queues its last lot at limit-up (110).
    assert result.results.tolist() == [(2, 3, 0, 0), (3, 1, 0, 0)]
    assert book.order(3) == (BUY, 110, 1, -1)
    checked(book)


def test_limit_priced_through_the_band_stops_at_the_edge(Book):
    book = Book(90, 110)
    book.limit(1, BUY, 92, 2)
    # A sell limit priced below limit-down trades down to 90 only; without the flag the
    # rest is cancelled, with it the rest queues at 90.
    result = book.submit(rows((LIMIT, 3, SELL, 50, 5), (LIMIT, 4, BUY, 91, 1),
                              (LIMIT, 5, SELL, 50, 5, -1, QUEUE_AT_LIMIT)))
    assert result.results.tolist() == [(2, 0, 3, 0), (0, 1, 0, 0), (1, 4, 0, 0)]
    assert book.order(5) == (SELL, 90, 4, -1)
    # A buy limit priced above limit-up rests at 110 only with the flag.
    result = book.submit(rows((LIMIT, 6, BUY, 500, 6), (LIMIT, 7, BUY, 500, 2, -1, QUEUE_AT_LIMIT)))
    assert result.results.tolist() == [(4, 0, 2, 0), (0, 2, 0, 0)]
    assert book.order(7) == (BUY, 110, 2, -1)
    checked(book)


def test_ioc_trades_what_it_can_and_cancels_the_rest(Book):
    book = Book(0, 100)
    book.limit(1, SELL, 50, 3)
    book.limit(2, SELL, 52, 3)
    result = book.submit(rows((IOC, 3, BUY, 51, 5, 4), (IOC, 4, BUY, 500, 5)))
    assert result.results.tolist() == [(3, 0, 2, 0), (3, 0, 2, 0)]
    assert len(book) == 0 and book.order(3) is None
    checked(book)


def test_ioc_and_fok_priced_beyond_the_band_on_the_passive_side_are_cancelled_whole(Book):
    book = Book(90, 110)
    book.limit(1, SELL, 90, 5)
    result = book.submit(rows((IOC, 3, BUY, 89, 5), (FOK, 4, BUY, 80, 5),
                              (IOC, 5, SELL, 111, 5), (FOK, 6, SELL, 200, 1)))
    assert result.results.tolist() == [(0, 0, 5, 0)] * 3 + [(0, 0, 1, 0)]
    assert len(result.fills) == 0 and book.order(1) == (SELL, 90, 5, -1)
    checked(book)


def test_fok_fills_all_or_nothing(Book):
    book = Book(0, 100)
    book.limit(1, SELL, 50, 3)
    book.limit(2, SELL, 51, 3)
    book.limit(3, SELL, 53, 3)
    before = book.snapshot()
    result = book.submit(rows((FOK, 4, BUY, 51, 7), (FOK, 5, BUY, 52, 7)))
    assert result.results.tolist() == [(0, 0, 7, 0), (0, 0, 7, 0)]
    assert len(result.fills) == 0
    same_snapshot(book.snapshot(), before)
    # Exactly what is there at or better than the limit: all of it trades.
    assert book.fok(6, BUY, 51, 6) == 6
    assert fills_of(book) == [(6, 1, 50, 3), (6, 2, 51, 3)]
    assert book.fok(7, BUY, 53, 4) == 0
    checked(book)


def test_fok_counts_only_volume_inside_the_band(Book):
    book = Book(0, 100)
    book.limit(1, SELL, 90, 3)
    book.limit(2, SELL, 100, 3)
    book.set_band(0, 95)                # the ask at 100 is now above limit-up
    assert book.fok(3, BUY, 100, 6) == 0
    assert book.fok(4, BUY, 100, 3) == 3
    assert book.market(5, BUY, 5) == 0  # never trades outside the band
    assert book.order(2) == (SELL, 100, 3, -1)
    checked(book)


def test_cancel_and_reduce(Book):
    book = Book(0, 100)
    for id in (1, 2, 3):
        book.limit(id, BUY, 40, 10, owner=id)
    assert book.reduce(1, 4) == 6           # keeps its place at the head
    assert book.queue(40)[0].tolist() == [1, 2, 3]
    assert book.queue(40)[1].tolist() == [6, 10, 10]
    assert book.cancel(2) == 10
    result = book.submit(rows((REDUCE, 3, 0, 0, 10), (REDUCE, 1, 0, 0, 1), (CANCEL, 1, 0, 0, 0)))
    # Taking off all it has (or more) cancels the order.
    assert result.results.tolist() == [(0, 0, 10, 0), (0, 5, 1, 0), (0, 0, 5, 0)]
    assert len(book) == 0 and book.best_bid() is None
    assert book.volume(BUY) == 0
    checked(book)


def test_reduce_keeps_time_priority(Book):
    book = Book(0, 100)
    book.limit(1, SELL, 60, 5)
    book.limit(2, SELL, 60, 5)
    book.reduce(1, 3)
    assert book.market(3, BUY, 3) == 3
    assert fills_of(book) == [(3, 1, 60, 2), (3, 2, 60, 1)]


def test_execute_trades_a_resting_order_with_the_outside(Book):
    book = Book(0, 100)
    book.limit(1, SELL, 60, 5, owner=3)
    book.limit(2, SELL, 60, 5, owner=4)
    book.limit(3, BUY, 40, 2, owner=5)
    assert book.execute(2, 3, owner=9) == 3         # keeps its place behind order 1
    assert book.queue(60)[0].tolist() == [1, 2] and book.order(2) == (SELL, 60, 2, 4)
    assert book.take_fills().tolist() == [(-1, 2, 60, 3, 9, 4, BUY, EXECUTE)]
    result = book.submit(rows((EXECUTE, 3, 0, 0, 10, 8), (EXECUTE, 1, SELL, 0, 5)))
    # Executing all an order has (or more) removes it; the fill is at the order's price.
    assert result.results.tolist() == [(2, 0, 0, 0), (5, 0, 0, 0)]
    assert result.fills.tolist() == [(-1, 3, 40, 2, 8, 5, SELL, EXECUTE), (-1, 1, 60, 5, -1, 3, BUY, EXECUTE)]
    assert len(book) == 1 and book.best_bid() is None and book.volume(SELL) == 2
    checked(book)


def test_accounting_every_accepted_order(Book):
    book = Book(0, 100)
    orders = rows((LIMIT, 1, SELL, 50, 5), (LIMIT, 2, BUY, 60, 8), (MARKET, 3, SELL, 0, 20),
                  (IOC, 4, SELL, 10, 3), (FOK, 5, BUY, 60, 1), (LIMIT, 6, BUY, 0, 4),
                  (MARKET, 7, SELL, 0, 9, -1, QUEUE_AT_LIMIT))
    result = book.submit(orders)
    assert not result.reject.any()
    assert np.array_equal(orders["qty"], result.filled + result.remaining + result.cancelled)
    assert result.results.tolist() == [(0, 5, 0, 0), (5, 3, 0, 0), (3, 0, 17, 0), (0, 0, 3, 0),
                                       (0, 0, 1, 0), (0, 4, 0, 0), (4, 5, 0, 0)]
    # Every lot a taker got, a maker gave: the fills add up to the takers' filled lots.
    assert result.fills["qty"].sum() == result.filled.sum() == 12
    for i, id in enumerate(orders["id"]):
        assert result.fills["qty"][result.fills["taker_id"] == id].sum() == result.filled[i]


# ---------------------------------------------------------------------- rejects

REJECT_CASES = [
    # (message, expected reason); the book holds a bid 1 @ 40 and an ask 2 @ 60, band [0, 100].
    ((0, 9, BUY, 50, 1), Reject.BAD_KIND),
    ((8, 9, BUY, 50, 1), Reject.BAD_KIND),
    ((-1, 1, BUY, 50, 1, -1, 255), Reject.BAD_KIND),    # BAD_KIND comes before BAD_FLAGS
    ((LIMIT, 9, BUY, 50, 1, -1, 2), Reject.BAD_FLAGS),
    ((CANCEL, 1, 0, 0, 0, -1, 128), Reject.BAD_FLAGS),
    ((CANCEL, 9, 0, 0, 0), Reject.UNKNOWN_ID),
    ((REDUCE, 9, 0, 0, 1), Reject.UNKNOWN_ID),
    ((REDUCE, 1, 0, 0, 0), Reject.BAD_QTY),
    ((REDUCE, 9, 0, 0, -5), Reject.BAD_QTY),            # BAD_QTY comes before UNKNOWN_ID
    ((EXECUTE, 9, 0, 0, 1), Reject.UNKNOWN_ID),
    ((EXECUTE, 2, 0, 0, 0), Reject.BAD_QTY),
    ((EXECUTE, 9, 0, 0, -1), Reject.BAD_QTY),
    ((EXECUTE, 2, 0, 0, 1, -1, 2), Reject.BAD_FLAGS),
    ((LIMIT, 9, 0, 50, 1), Reject.BAD_SIDE),
    ((MARKET, 9, 2, 0, 0), Reject.BAD_SIDE),            # BAD_SIDE comes before BAD_QTY
    ((LIMIT, 9, BUY, 50, 0), Reject.BAD_QTY),
    ((IOC, 9, SELL, 50, -1), Reject.BAD_QTY),
    ((LIMIT, 9, BUY, -1, 0), Reject.BAD_QTY),           # BAD_QTY before PRICE_OUT_OF_BAND
    ((LIMIT, 9, BUY, -1, 1), Reject.PRICE_OUT_OF_BAND),
    ((LIMIT, 9, SELL, 101, 1), Reject.PRICE_OUT_OF_BAND),
    ((LIMIT, 1, SELL, 101, 1), Reject.PRICE_OUT_OF_BAND),  # before DUPLICATE_ID
    ((LIMIT, 1, BUY, 50, 1), Reject.DUPLICATE_ID),
    ((MARKET, 2, SELL, 0, 1), Reject.DUPLICATE_ID),
    ((FOK, 2, BUY, 60, 2), Reject.DUPLICATE_ID),
]


def _two_sided(Book):
    book = Book(0, 100)
    book.limit(1, BUY, 40, 5, owner=3)
    book.limit(2, SELL, 60, 5, owner=4)
    return book


@pytest.mark.parametrize("message, reason", REJECT_CASES,
                         ids=[f"{r.name}-{i}" for i, (_, r) in enumerate(REJECT_CASES)])
def test_batch_reject_changes_nothing(Book, message, reason):
    book = _two_sided(Book)
    before = book.snapshot()
    result = book.submit(rows(message))
    assert result.results.tolist() == [(0, 0, 0, int(reason))]
    assert len(result.fills) == 0
    same_snapshot(book.snapshot(), before)
    checked(book)


PER_CALL_REJECTS = [
    ("limit", (9, BUY, 50, 0), Reject.BAD_QTY),
    ("limit", (9, 0, 50, 1), Reject.BAD_SIDE),
    ("limit", (9, 300, 50, 1), Reject.BAD_SIDE),        # does not wrap into int8
    ("limit", (9, BUY, -5, 1), Reject.PRICE_OUT_OF_BAND),
    ("limit", (1, BUY, 50, 1), Reject.DUPLICATE_ID),
    ("market", (2, BUY, 1), Reject.DUPLICATE_ID),
    ("market", (9, SELL, -3), Reject.BAD_QTY),
    ("ioc", (9, 5, 50, 1), Reject.BAD_SIDE),
    ("fok", (9, BUY, 50, 0), Reject.BAD_QTY),
    ("cancel", (9,), Reject.UNKNOWN_ID),
    ("reduce", (9, 1), Reject.UNKNOWN_ID),
    ("reduce", (1, 0), Reject.BAD_QTY),
    ("execute", (9, 1), Reject.UNKNOWN_ID),
    ("execute", (1, 0), Reject.BAD_QTY),
]


@pytest.mark.parametrize("method, args, reason", PER_CALL_REJECTS,
                         ids=[f"{m}-{r.name}" for m, _, r in PER_CALL_REJECTS])
def test_per_call_reject_raises_and_changes_nothing(Book, method, args, reason):
    book = _two_sided(Book)
    book.limit(3, SELL, 61, 1)
    book.market(4, BUY, 1)                  # one pending fill
    before = book.snapshot()
    with pytest.raises(ValueError, match=reason.name):
        getattr(book, method)(*args)
    same_snapshot(book.snapshot(), before)
    assert book.pending_fills == 1
    checked(book)


def test_per_call_refuses_floats(Book):
    # A price in ticks is never rounded silently (limit(1, BUY, 5.7, 1) once rested at 5).
    book = Book(0, 100)
    book.limit(1, BUY, 5, 3)
    before = book.snapshot()
    for method, args in [("limit", (2, BUY, 5.7, 1)), ("limit", (2.0, BUY, 5, 1)),
                         ("ioc", (2, SELL, 5, 1.5)), ("reduce", (1, 1.5)), ("cancel", (1.0,)),
                         ("market", (2, SELL, np.float64(2.0)))]:
        with pytest.raises(TypeError):
            getattr(book, method)(*args)
        same_snapshot(book.snapshot(), before)
    with pytest.raises(TypeError):
        book.set_band(0, 99.5)
    with pytest.raises(TypeError):
        Book(0.5, 10)


def test_queries_refuse_floats():
    # As the per-call orders do: a float is never truncated to an id, a price, a side or a count.
    book = EngineBook(0, 100)
    book.limit(2, BUY, 40, 5)
    for method, args, name in [("order", (2.0,), "id"), ("queue", (40.9,), "price"),
                               ("volume", (1.0,), "side"), ("depth", (BUY, 2.5), "n"),
                               ("depth", (1.0, 2), "side")]:
        with pytest.raises(TypeError, match=name):
            getattr(book, method)(*args)
    assert book.order(np.int64(2)) == (BUY, 40, 5, -1)
    assert book.depth(side=BUY, n=np.int8(1))[0].tolist() == [40]
    assert book.queue(np.int32(40))[0].tolist() == [2]
    with pytest.raises(OverflowError, match="id"):
        book.order(2**63)


def test_per_call_owner_is_any_int32_as_in_a_batch(Book):
    book = Book(0, 100)
    book.submit(rows((LIMIT, 1, BUY, 40, 5, -5)))
    book.limit(2, BUY, 41, 5, owner=-5)
    assert book.order(1)[3] == book.order(2)[3] == -5
    book.market(3, SELL, 10, owner=-(2**31))
    assert {int(f["maker_owner"]) for f in book.take_fills()} == {-5}
    if Book is EngineBook:
        for owner in (2**31, -(2**31) - 1):
            with pytest.raises(OverflowError, match="owner"):
                book.limit(4, BUY, 41, 5, owner=owner)
        assert book.order(4) is None


def test_per_call_accepts_numpy_integers(Book):
    book = Book(np.int64(0), np.int32(100))
    assert book.limit(np.int64(1), np.int8(BUY), np.int64(50), np.int16(3), owner=np.int32(2)) == 0
    assert book.order(1) == (BUY, 50, 3, 2)
    assert book.reduce(np.uint8(1), np.int64(1)) == 2


# Ids around the digit boundaries of CPython's int layout (30-bit digits), which the
# per-call path reads inline up to int64's range and converts generally beyond.
EDGE_IDS = [0, 1, -1, 2**30 - 1, 2**30, -(2**30 - 1), -(2**30), 2**31, 2**60 - 1, 2**60,
            -(2**60 - 1), -(2**60), 2**62, -(2**62), INT64_MAX, INT64_MIN + 1, INT64_MIN]


@given(ids=st.lists(st.one_of(st.sampled_from(EDGE_IDS), st.integers(INT64_MIN, INT64_MAX)),
                    min_size=1, max_size=8, unique=True))
def test_per_call_ids_of_every_size_are_exact(ids):
    class Id(int):                          # an int subclass takes the general conversion
        pass
    book = EngineBook(2**30 - 8, 2**30 + 8)            # prices either side of a digit boundary
    for i, oid in enumerate(ids):
        assert book.limit(Id(oid) if i % 2 else oid, BUY, 2**30 - 4 + i, 2**30 + i, owner=i) == 0
    for i, oid in enumerate(ids):
        assert book.order(oid) == (BUY, 2**30 - 4 + i, 2**30 + i, i)
    for too_big in (INT64_MAX + 1, 2**64, 2**90, -(2**90)):
        with pytest.raises(OverflowError):
            book.limit(too_big, BUY, 0, 1)
    with pytest.raises(OverflowError):
        book.cancel(INT64_MIN - 1)
    for oid in ids:
        assert book.cancel(oid) > 0
    assert len(book) == 0


@given(data=st.data())
def test_malformed_rows_are_rejected_with_their_code(data):
    lo, hi = data.draw(st.sampled_from([(0, 100), (-50, -10), (10**12, 10**12 + 5)]))
    seed = data.draw(seeded_books(lo, hi, depth_profiles(max_levels=3, max_lots=5)))
    for Book in (EngineBook, ReferenceBook):
        book = Book(lo, hi)
        book.submit(seed)
        row, reason = data.draw(malformed_rows(lo, hi, live_ids=seed["id"]))
        before = book.snapshot()
        result = book.submit(row)
        assert result.reject[0] == reason, (row, reason)
        assert result.results.tolist() == [(0, 0, 0, int(reason))]
        same_snapshot(book.snapshot(), before)


# ---------------------------------------------------------------------- bad input

def test_submit_names_a_field_that_is_not_one_integer_a_row():
    orders = np.zeros(1, [("id", "i8", (2,)), ("qty", "i8"), ("side", "i1"), ("kind", "i1")])
    with pytest.raises(TypeError, match="'id'"):
        EngineBook(0, 100).submit(orders)


def test_from_snapshot_refuses_a_band_that_is_not_two_integers():
    snapshot = EngineBook(0, 100).snapshot()
    with pytest.raises(TypeError, match="band"):
        EngineBook.from_snapshot(dict(snapshot, band=np.array([0.0, 100.5])))
    with pytest.raises(ValueError, match="band"):
        EngineBook.from_snapshot(dict(snapshot, band=np.array([0, 50, 100])))


def test_submit_rejects_what_is_not_an_order_array(Book):
    book = Book(0, 100)
    with pytest.raises(TypeError, match="numpy array"):
        book.submit([(1, 50, 1, -1, 1, 1, 0)])
    with pytest.raises(ValueError, match="one-dimensional"):
        book.submit(np.zeros((2, 2), dtype=ORDER_DTYPE))
    with pytest.raises(TypeError, match="structured"):
        book.submit(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="'kind'"):
        book.submit(np.zeros(2, dtype=[("id", "i8"), ("side", "i1"), ("qty", "i8")]))
    with pytest.raises(TypeError, match="'price'"):
        book.submit(np.zeros(2, dtype=[("id", "i8"), ("side", "i1"), ("kind", "i1"),
                                       ("qty", "i8"), ("price", "f8")]))
    bad_side = np.zeros(1, dtype=[("id", "i8"), ("side", "i8"), ("kind", "i1"), ("qty", "i8")])
    bad_side["side"] = 1000
    with pytest.raises(ValueError, match="'side'"):
        book.submit(bad_side)
    big_id = np.zeros(1, dtype=[("id", "u8"), ("side", "i1"), ("kind", "i1"), ("qty", "i8")])
    big_id["id"] = 2**63
    with pytest.raises(ValueError, match="'id'"):
        book.submit(big_id)
    assert len(book) == 0


def test_submit_converts_a_compatible_structured_array(Book):
    book = Book(0, 100)
    loose = np.zeros(2, dtype=[("kind", "i4"), ("qty", "i4"), ("id", "i4"), ("side", "i2"),
                               ("price", "i4")])
    loose[0] = (LIMIT, 5, 1, BUY, 40)
    loose[1] = (LIMIT, 2, 2, SELL, 40)
    result = book.submit(loose)
    assert result.results.tolist() == [(0, 5, 0, 0), (2, 0, 0, 0)]
    # A missing owner column means no owner (-1).
    assert result.fills["maker_owner"].tolist() == [-1]
    assert book.order(1) == (BUY, 40, 3, -1)
    # Non-contiguous ORDER_DTYPE input.
    orders = rows((LIMIT, 3, BUY, 41, 1), (LIMIT, 99, BUY, 41, 1), (LIMIT, 4, BUY, 42, 1))
    assert book.submit(orders[::2]).results.tolist() == [(0, 1, 0, 0)] * 2
    assert book.best_bid() == 42


def test_empty_batch(Book):
    book = Book(0, 10)
    result = book.submit(np.zeros(0, dtype=ORDER_DTYPE))
    assert len(result) == 0 and result.fills.dtype == FILL_DTYPE
    assert result.results.dtype == RESULT_DTYPE


def test_bad_bands(Book):
    with pytest.raises(ValueError):
        Book(10, 9)
    with pytest.raises(ValueError):
        Book(0, engine.MAX_LEVELS)
    book = Book(0, 100)
    book.limit(1, BUY, 40, 1)
    book.limit(2, SELL, 60, 1)
    before = book.snapshot()
    for lo, hi in [(50, 49), (0, 39), (61, 100), (41, 59 + engine.MAX_LEVELS)]:
        with pytest.raises(ValueError):
            book.set_band(lo, hi)
        same_snapshot(book.snapshot(), before)
    book.set_band(40, 60)               # the touch may sit on the band edges
    assert book.band == (40, 60)


def test_bands_near_the_price_limits(Book):
    limit = 2**62
    with pytest.raises(ValueError):
        Book(-limit - 1, -limit + 5)
    with pytest.raises(ValueError):
        Book(limit - 5, limit + 1)
    book = Book(limit - 10, limit)
    book.limit(1, SELL, limit, 3)
    book.limit(2, BUY, limit - 10, 3)
    assert book.market(3, BUY, 5, queue_at_limit=True) == 3
    assert book.order(3) == (BUY, limit, 2, -1)
    with pytest.raises(ValueError):
        book.set_band(limit - 5, limit + 5)
    low = Book(-limit, -limit + 10)
    low.limit(1, BUY, -limit, 4)
    assert low.market(2, SELL, 10) == 4 and low.best_bid() is None
    checked(book)
    checked(low)


def test_query_arguments(Book):
    book = Book(0, 10)
    with pytest.raises(ValueError):
        book.volume(0)
    with pytest.raises(ValueError):
        book.depth(2, 1)
    with pytest.raises(ValueError):
        book.depth(BUY, -1)


# ---------------------------------------------------------------------- limit-down queue

def test_limit_down_queue(Book):
    """Forced market sells hit the bids down to limit-down, then queue there in arrival
    order; buyers at limit-down then take them first come, first served."""
    book = Book(90, 110)
    book.limit(1, BUY, 95, 5, owner=0)
    book.limit(2, BUY, 92, 5, owner=0)
    sells = rows(*[(MARKET, 10 + k, SELL, 0, 4, 10 + k, QUEUE_AT_LIMIT) for k in range(5)])
    result = book.submit(sells)
    assert result.filled.tolist() == [4, 4, 2, 0, 0]
    assert result.remaining.tolist() == [0, 0, 2, 4, 4]
    assert book.best_bid() is None and book.best_ask() == 90
    ids, qtys, owners = book.queue(90)
    assert ids.tolist() == [12, 13, 14] and qtys.tolist() == [2, 4, 4]
    assert owners.tolist() == [12, 13, 14]
    # A sell without the flag is cancelled at the floor rather than queued.
    assert book.submit(rows((MARKET, 20, SELL, 0, 3))).results.tolist() == [(0, 0, 3, 0)]
    assert book.limit(21, BUY, 90, 5, owner=1) == 5
    assert [(int(f["maker_id"]), int(f["qty"]), int(f["maker_owner"])) for f in book.take_fills()] \
        == [(12, 2, 12), (13, 3, 13)]
    assert book.queue(90)[0].tolist() == [13, 14]
    checked(book)


# ---------------------------------------------------------------------- band moves

def test_band_move_keeps_orders_and_queue_positions(Book):
    book = Book(90, 110)
    for id, side, price in [(1, BUY, 95), (2, BUY, 95), (3, BUY, 90), (4, SELL, 105),
                            (5, SELL, 105), (6, SELL, 110)]:
        book.limit(id, side, price, id, owner=id)
    before = book.snapshot()
    book.set_band(93, 107)      # bid 3 and ask 6 are now outside the band; they stay
    assert book.band == (93, 107)
    after = book.snapshot()
    for key in ("id", "side", "price", "qty", "owner"):
        assert np.array_equal(before[key], after[key])
    assert book.queue(95)[0].tolist() == [1, 2]
    # Marketable orders still never trade outside the band.
    assert book.market(7, BUY, 100) == 9
    assert book.order(6) == (SELL, 110, 6, 6)
    assert book.market(8, SELL, 100) == 3
    assert book.order(3) == (BUY, 90, 3, 3)
    # New limits outside the band on their passive side are rejected.
    with pytest.raises(ValueError, match="PRICE_OUT_OF_BAND"):
        book.limit(9, BUY, 92, 1)
    checked(book)


def test_far_band_move_regrids_and_keeps_orders():
    book = EngineBook(0, 100)
    for id in range(20):
        book.limit(id, BUY if id % 2 else SELL, 45 - id if id % 2 else 55 + id, id + 1, owner=id)
    book.limit(100, BUY, 30, 7)
    book.limit(101, BUY, 30, 8)
    with pytest.raises(ValueError, match="best ask"):
        book.set_band(2_000_000, 2_000_100)         # the asks would sit below limit-down
    book.submit(rows(*[(CANCEL, id, 0, 0, 0) for id in range(0, 20, 2)]))
    before = book.snapshot()
    nbytes = book.nbytes
    book.set_band(2_000_000, 2_000_100)             # the bids stay, far below the band
    book.check_invariants()
    assert book.nbytes > nbytes                     # a grid that holds the band and the bids
    for key in ("id", "side", "price", "qty", "owner"):
        assert np.array_equal(before[key], book.snapshot()[key])
    assert book.queue(30)[0].tolist() == [15, 100, 101]
    assert book.best_bid() == 44
    assert book.market(200, SELL, 10**6) == 0       # limit-down is far above every bid
    book.limit(201, SELL, 2_000_050, 3, owner=5)
    with pytest.raises(ValueError, match="best bid"):
        book.set_band(-3_000_000, -2_999_900)       # the bids would sit above limit-up
    book.set_band(0, 100)                           # the ask stays, far above the band
    book.check_invariants()
    assert book.market(202, BUY, 5) == 0
    assert book.market(203, SELL, 1) == 1
    assert book.order(201) == (SELL, 2_000_050, 3, 5)
    assert book.band == (0, 100) and len(book) == 13
    book.check_invariants()


@pytest.mark.parametrize("Book", [EngineBook, ReferenceBook], ids=["engine", "reference"])
def test_band_move_too_wide_for_the_grid(Book):
    book = Book(0, 100)
    book.limit(1, BUY, 50, 1)
    with pytest.raises(ValueError):
        book.set_band(engine.MAX_LEVELS + 50, engine.MAX_LEVELS + 60)
    assert book.band == (0, 100) and book.order(1) == (BUY, 50, 1, -1)


# ---------------------------------------------------------------------- snapshots

def test_snapshot_round_trip_with_savez(Book, tmp_path):
    book = Book(0, 100)
    for id, (side, price, qty) in enumerate([(BUY, 40, 3), (BUY, 40, 1), (BUY, 38, 2),
                                             (SELL, 60, 5), (SELL, 60, 1), (SELL, 70, 9)]):
        book.limit(id * 1000 - 2500, side, price, qty, owner=id)
    book.reduce(-2500, 1)
    snap = book.snapshot()
    assert snap["id"].tolist() == [-2500, -1500, -500, 500, 1500, 2500]
    assert snap["price"].tolist() == [40, 40, 38, 60, 60, 70]
    path = tmp_path / "book.npz"
    np.savez(path, **snap)
    with np.load(path) as stored:
        restored = Book.from_snapshot(stored)
    same_snapshot(restored.snapshot(), snap)
    assert restored.band == book.band
    checked(restored)
    # The restored book behaves the same.
    assert restored.market(99, SELL, 3) == book.market(99, SELL, 3) == 3
    same_snapshot(restored.snapshot(), book.snapshot())
    assert np.array_equal(restored.take_fills(), book.take_fills())


def test_snapshot_keeps_orders_outside_band(Book):
    book = Book(0, 100)
    book.limit(1, BUY, 5, 10)
    book.limit(2, SELL, 95, 10)
    book.set_band(10, 90)
    for restored in (Book.from_snapshot(book.snapshot()), pickle.loads(pickle.dumps(book))):
        same_snapshot(restored.snapshot(), book.snapshot())
        assert restored.band == (10, 90)
        checked(restored)


def test_pickle(Book):
    book = Book(0, 100)
    book.limit(1, BUY, 40, 5, owner=2)
    book.limit(2, BUY, 40, 6, owner=3)
    restored = pickle.loads(pickle.dumps(book))
    same_snapshot(restored.snapshot(), book.snapshot())
    assert type(restored) is Book


def test_from_snapshot_refuses_bad_snapshots(Book):
    good = Book(0, 100)
    good.limit(1, BUY, 40, 5)
    good.limit(2, SELL, 60, 5)
    snap = good.snapshot()

    def spoiled(**changes):
        s = {k: np.array(v) for k, v in snap.items()}
        s.update(changes)
        return s

    for bad in [spoiled(side=np.array([BUY, 3], np.int8)),
                spoiled(qty=np.array([5, 0])),
                spoiled(id=np.array([1, 1])),
                spoiled(price=np.array([60, 60])),              # crossed
                spoiled(price=np.array([40, 40]), side=np.array([BUY, SELL], np.int8)),
                spoiled(band=np.array([0, 30])),                # a bid above limit-up
                spoiled(qty=np.array([5]))]:
        with pytest.raises(ValueError):
            Book.from_snapshot(bad)
    with pytest.raises(ValueError, match="'owner'"):
        Book.from_snapshot({k: v for k, v in snap.items() if k != "owner"})
    with pytest.raises(TypeError):
        Book.from_snapshot(spoiled(price=np.array([40.0, 60.0])))


@pytest.mark.parametrize("column, values", [
    ("side", np.array([257, -1])),
    ("owner", np.array([2**32 + 3, -1])),
    ("id", np.array([2**64 - 1, 2], dtype=np.uint64)),
], ids=["side", "owner", "id"])
def test_from_snapshot_refuses_values_that_do_not_fit(Book, column, values):
    # Unchecked casts once made side=257 a BUY, owner=2**32+3 owner 3 and id=2**64-1 id -1.
    snap = {"band": np.array([0, 100]), "id": np.array([1, 2]), "side": np.array([BUY, SELL]),
            "price": np.array([40, 60]), "qty": np.array([5, 5]), "owner": np.array([-1, -1])}
    snap[column] = values
    with pytest.raises(ValueError, match=column):
        Book.from_snapshot(snap)


# ---------------------------------------------------------------------- fills

def test_take_fills_drains(Book):
    book = Book(0, 100)
    assert book.take_fills().dtype == FILL_DTYPE and book.pending_fills == 0
    book.limit(1, SELL, 50, 2, owner=5)
    book.limit(2, SELL, 51, 2, owner=6)
    book.market(3, BUY, 1, owner=7)
    # A batch keeps its fills to itself: they do not go to the per-call buffer.
    result = book.submit(rows((MARKET, 4, BUY, 0, 2, 8)))
    assert [(int(f["taker_id"]), int(f["maker_id"])) for f in result.fills] == [(4, 1), (4, 2)]
    book.market(5, BUY, 1, owner=9)
    assert book.pending_fills == 2
    fills = book.take_fills()
    assert fills.dtype == FILL_DTYPE
    assert fills.tolist() == [(3, 1, 50, 1, 7, 5, BUY, MARKET), (5, 2, 51, 1, 9, 6, BUY, MARKET)]
    assert len(book.take_fills()) == 0 and book.pending_fills == 0
    # Arrays handed out stay valid while the book goes on.
    for id in range(10, 200):
        book.limit(id, SELL, 60, 1)
    book.market(300, BUY, 190)
    assert fills.tolist() == [(3, 1, 50, 1, 7, 5, BUY, MARKET), (5, 2, 51, 1, 9, 6, BUY, MARKET)]
    assert len(book.take_fills()) == 190


def test_owner_routing_in_fills(Book):
    book = Book(0, 100)
    book.limit(1, BUY, 50, 3, owner=11)
    book.limit(2, BUY, 49, 3, owner=12)
    book.limit(3, BUY, 49, 3)                   # no owner
    result = book.submit(rows((MARKET, 4, SELL, 0, 8, 2**31 - 1)))
    fills = result.fills
    assert fills["maker_owner"].tolist() == [11, 12, -1]
    assert fills["taker_owner"].tolist() == [2**31 - 1] * 3
    assert fills["taker_side"].tolist() == [SELL] * 3
    assert fills["qty"].tolist() == [3, 3, 2]
    # Lots each owner sold or bought add up.
    bought = {int(o): int(fills["qty"][fills["maker_owner"] == o].sum())
              for o in np.unique(fills["maker_owner"])}
    assert bought == {-1: 2, 11: 3, 12: 3}


# ---------------------------------------------------------------------- links a call leaves owed

# A per-call order leaves the queue links it would wait on for the book's next call to
# write (Book._link_next).  Each history ends with such a call at level 100, where orders
# 1, 2 and 3 rest in that order; each next call then reads or changes that queue.
OWING_CALLS = {
    "cancel the middle": lambda book: book.cancel(2),
    "cancel the head": lambda book: book.cancel(1),
    "cancel the tail": lambda book: book.cancel(3),
    "queue behind the tail": lambda book: book.limit(4, BUY, 100, 5),
    "reduce the middle to nothing": lambda book: book.reduce(2, 10),
    "execute the middle": lambda book: book.execute(2, 10),
}
NEXT_CALLS = {
    "queue": lambda book: book.queue(100),
    "depth": lambda book: book.depth(BUY, 3),
    "snapshot": lambda book: type(book).from_snapshot(book.snapshot()).queue(100),
    "pickle": lambda book: pickle.loads(pickle.dumps(book)).queue(100),
    "band move": lambda book: (book.set_band(50, 150), book.queue(100)),
    "sweep per call": lambda book: (book.market(9, SELL, 25), fills_of(book)),
    "sweep in a batch": lambda book: book.submit(rows((MARKET, 9, SELL, 0, 25))).fills.tolist(),
    "cancel each left": lambda book: [book.cancel(id) for id in book.queue(100)[0].tolist()],
    "queue another": lambda book: (book.limit(9, BUY, 100, 1), book.queue(100)),
}


@pytest.mark.parametrize("owing", OWING_CALLS)
@pytest.mark.parametrize("next_call", NEXT_CALLS)
def test_links_a_call_leaves_owed_are_in_place_for_the_next(owing, next_call):
    seen = []
    for Book in (EngineBook, ReferenceBook):
        book = Book(0, 200)
        for id in (1, 2, 3):
            book.limit(id, BUY, 100, 10)
        OWING_CALLS[owing](book)
        outcome = NEXT_CALLS[next_call](book)
        checked(book)
        seen.append((repr(outcome), [a.tolist() for a in book.queue(100)], fills_of(book)))
    assert seen[0] == seen[1]


def test_a_batch_after_calls_writes_its_links_at_once():
    """Rejected calls owe nothing, and a batch does not leave its own links for later: the
    cancel in it relinks the queue its sweep then walks."""
    book = EngineBook(0, 200)
    for id in (1, 2, 3):
        book.limit(id, BUY, 100, 10)
    with pytest.raises(ValueError):
        book.cancel(99)
    book.cancel(2)
    with pytest.raises(ValueError):
        book.limit(1, BUY, 100, 10)          # a duplicate id: owes nothing more
    result = book.submit(rows((LIMIT, 5, BUY, 100, 1), (CANCEL, 3, 0, 0, 0), (MARKET, 9, SELL, 0, 30)))
    assert result.fills["maker_id"].tolist() == [1, 5]
    assert len(checked(book)) == 0


# ---------------------------------------------------------------------- queries

def test_queries(Book):
    book = Book(0, 100)
    assert (book.best_bid(), book.best_ask(), len(book)) == (None, None, 0)
    assert [a.tolist() for a in book.depth(BUY, 5)] == [[], []]
    for id, side, price, qty in [(1, BUY, 40, 3), (2, BUY, 40, 4), (3, BUY, 35, 1),
                                 (4, SELL, 60, 2), (5, SELL, 65, 5), (6, SELL, 61, 1)]:
        book.limit(id, side, price, qty, owner=id * 10)
    prices, qtys = book.depth(BUY, 5)
    assert prices.dtype == np.int64 and qtys.dtype == np.int64
    assert (prices.tolist(), qtys.tolist()) == ([40, 35], [7, 1])
    assert [a.tolist() for a in book.depth(SELL, 2)] == [[60, 61], [2, 1]]
    assert [a.tolist() for a in book.depth(SELL, 0)] == [[], []]
    assert (book.volume(BUY), book.volume(SELL)) == (8, 8)
    assert book.order(2) == (BUY, 40, 4, 20) and book.order(4) == (SELL, 60, 2, 40)
    assert book.order(7) is None
    ids, qtys, owners = book.queue(40)
    assert (ids.dtype, qtys.dtype, owners.dtype) == (np.int64, np.int64, np.int32)
    assert (ids.tolist(), qtys.tolist(), owners.tolist()) == ([1, 2], [3, 4], [10, 20])
    for price in (50, -10**15, 10**15):
        assert [a.tolist() for a in book.queue(price)] == [[], [], []]
    assert len(book) == 6 and book.band == (0, 100)


def test_sweep_across_many_empty_levels():
    """A deep level at the touch and a few far-apart levels on a grid of a million
    ticks: each sweep must find the next price across every tier of the bitmap."""
    hi = 1_000_000
    for Book in (EngineBook, ReferenceBook):
        book = Book(0, hi)
        prices = [hi - 1, hi - 64, hi - 4097, 700_001, 262_143, 262_144 - 64 * 64, 4095, 64, 63, 0]
        next_id = 0
        for price in prices:
            for _ in range(50 if price == hi - 1 else 2):
                book.limit(next_id, BUY, price, 1)
                next_id += 1
        book.limit(next_id, SELL, hi, 1)
        seen = []
        while book.best_bid() is not None:
            seen.append(book.best_bid())
            depth = int(book.depth(BUY, 1)[1][0])
            assert book.market(10**6 + len(seen), SELL, depth) == depth
            checked(book)
        assert seen == prices
        # And upwards: asks from the bottom of the grid to the top.
        for id, price in enumerate(reversed(prices)):
            book.limit(2 * 10**6 + id, SELL, price + 1, 1)
        seen = []
        while book.best_ask() is not None:
            seen.append(book.best_ask())
            book.market(3 * 10**6 + len(seen), BUY, 1)
            checked(book)
        assert seen == [p + 1 for p in reversed(prices)] + [hi]


def test_large_and_negative_ids(Book):
    book = Book(-100, 100)
    ids = [INT64_MIN, INT64_MIN + 1, -1, 0, 1, 2**62, INT64_MAX - 1, INT64_MAX] + [
        k << 54 for k in range(-8, 8)]                  # same low bits, different high bits
    ids = list(dict.fromkeys(ids))
    for k, id in enumerate(ids):
        book.limit(id, BUY if k % 2 else SELL, -1 - k if k % 2 else 1 + k, k + 1, owner=k)
    for k, id in enumerate(ids):
        assert book.order(id)[2:] == (k + 1, k)
    with pytest.raises(ValueError, match="DUPLICATE_ID"):
        book.limit(INT64_MAX, BUY, -50, 1)
    assert book.cancel(INT64_MIN) == 1
    assert book.reduce(INT64_MAX, 1) > 0
    for id in ids[1::3]:
        book.cancel(id)
    live = [id for i, id in enumerate(ids) if i % 3 != 1 and id != INT64_MIN]
    assert sorted(book.snapshot()["id"].tolist()) == sorted(live)
    assert all(book.order(id) is not None for id in live)
    fills = book.submit(rows((MARKET, INT64_MIN, BUY, 0, 10**9))).fills
    assert INT64_MIN in fills["taker_id"].tolist()
    checked(book)


def test_many_orders_grow_the_book_and_cancel_in_any_order():
    rng = np.random.default_rng(7)
    book = EngineBook(0, 2000)
    ref = ReferenceBook(0, 2000)
    n = 5000
    ids = rng.permutation(np.unique(rng.integers(-(2**62), 2**62, 2 * n))[:n])
    prices = rng.integers(0, 1000, n)
    orders = make_orders(id=ids, side=BUY, kind=LIMIT, price=prices, qty=rng.integers(1, 9, n))
    for b in (book, ref):
        assert not b.submit(orders).reject.any()
    book.check_invariants()
    cancels = make_orders(id=rng.permutation(ids)[: n - 100], kind=CANCEL)
    result = book.submit(cancels)
    assert np.array_equal(result.results, ref.submit(cancels).results)
    book.check_invariants()
    same_snapshot(book.snapshot(), ref.snapshot())
    assert len(book) == 100


def _laid_out(ids, layout):
    """`ids` as given ("sequence": they stay in the id index's window) or each sent to a
    distinct far-flung id ("scattered": the hash table holds them)."""
    ids = np.asarray(ids, dtype=np.int64)
    if layout == "sequence":
        return ids
    # An odd multiplier is a bijection mod 2**62: distinct ids stay distinct.
    return ((ids.astype(object) * 0x9E3779B97F4A7C15) % 2**62 + 2**61).astype(np.int64)


@pytest.mark.parametrize("layout", ["sequence", "scattered"])
def test_growth_rehashes_live_orders_and_skips_freed_ones(layout):
    # Free nodes (left by fills and cancels) sit among live ones when the id index grows.
    rng = np.random.default_rng(11)
    book, ref = EngineBook(0, 2000), ReferenceBook(0, 2000)
    next_id = 1
    for _ in range(4):
        n = 1500
        ids = _laid_out(np.arange(next_id, next_id + n), layout)
        next_id += n
        bids = make_orders(id=ids, side=BUY, kind=LIMIT, price=rng.integers(0, 1000, n),
                           qty=rng.integers(1, 9, n))
        doomed = rng.permutation(ref.snapshot()["id"])[: len(ref) // 3]
        cancels = make_orders(id=doomed, kind=np.full(len(doomed), CANCEL))
        sell = make_orders(id=_laid_out([next_id], layout), side=SELL, kind=MARKET, qty=[2000])
        next_id += 1
        for batch in (cancels, bids, sell):
            assert np.array_equal(book.submit(batch).results, ref.submit(batch).results)
        book.check_invariants()
    same_snapshot(book.snapshot(), ref.snapshot())
    hashed = book._id_index()["hashed"]
    assert hashed == 0 if layout == "sequence" else hashed >= len(book) - 1


@pytest.mark.parametrize("layout", ["sequence", "scattered"])
def test_limits_that_trade_then_rest_are_found_by_id(layout):
    # A new limit's duplicate-id lookup leaves the empty id-index slot the order will take.
    # When its own fills take makers out of the index first, or the index grows, the order
    # must look again: each of them is found by id afterwards and refuses a duplicate.
    rng = np.random.default_rng(5)
    book, ref = EngineBook(0, 2000), ReferenceBook(0, 2000)
    n = 8000                                # past the first growth of the window or the table
    ids = _laid_out(np.arange(1, n + 1), layout)
    side = rng.choice([BUY, SELL], n)
    price = 1000 + np.where(side == BUY, rng.integers(-5, 3, n), rng.integers(-2, 6, n))
    orders = make_orders(id=ids, side=side, kind=LIMIT, price=price, qty=rng.integers(1, 9, n))
    result = book.submit(orders)
    expected = ref.submit(orders)
    assert np.array_equal(result.results, expected.results)
    assert np.array_equal(result.fills, expected.fills)
    assert ((result.filled > 0) & (result.remaining > 0)).sum() > 100
    book.check_invariants()
    snap = book.snapshot()
    same_snapshot(snap, ref.snapshot())
    assert all(book.order(int(i))[2] == q for i, q in zip(snap["id"], snap["qty"]))
    again = book.submit(make_orders(id=snap["id"], side=BUY, kind=LIMIT, price=1, qty=1))
    assert (again.reject == Reject.DUPLICATE_ID).all()


def _ids_sharing_a_home_slot(slots=1024):
    """Two ids that Fibonacci hashing (engine/_book.pyx, `_home`) sends to the same slot of
    a hash table of `slots` slots, a fresh book's size; both far from its id window."""
    shift, seen = 64 - slots.bit_length() + 1, {}
    for oid in range(10**9, 10**9 + 100_000):
        home = ((oid * 0x9E3779B97F4A7C15) & (2**64 - 1)) >> shift
        if home in seen:
            return seen[home], oid
        seen[home] = oid


@pytest.mark.parametrize("path", ["batch", "per-call"])
def test_a_limit_whose_fill_empties_its_probe_run_is_still_found(path):
    # The buy's duplicate-id lookup passes the ask's slot and stops at the next; filling the
    # ask empties its slot, so the buy must enter the table where a lookup will now look.
    ask, buy = _ids_sharing_a_home_slot()
    book = EngineBook(0, 200)
    book.limit(1, BUY, 0, 1)                # the id window stays at id 1, not at `ask`
    if path == "batch":
        book.submit(make_orders(id=[ask, buy], side=[SELL, BUY], kind=LIMIT, price=100, qty=[1, 2]))
    else:
        book.limit(ask, SELL, 100, 1)
        book.limit(buy, BUY, 100, 2)
    assert book.order(buy) == (BUY, 100, 1, -1)
    assert book.order(ask) is None
    assert book._id_index()["hashed"] == 1
    book.check_invariants()
    with pytest.raises(ValueError, match="DUPLICATE_ID"):
        book.limit(buy, BUY, 99, 1)


def _sweep(makers, first_id=1):
    """Resting asks and one market buy through all of them: `makers` fills (48 bytes each)."""
    asks = make_orders(id=np.arange(first_id, first_id + makers), side=SELL, kind=LIMIT,
                       price=1000 + np.arange(makers) % 5, qty=1)
    buy = make_orders(id=[first_id + makers], side=BUY, kind=MARKET, qty=[makers])
    return asks, buy


@pytest.mark.parametrize("makers", [20_000, 30_000])
@pytest.mark.parametrize("path", ["batch", "per-call"])
def test_big_fill_buffers_grow_and_hand_over_intact(makers, path):
    # Fill buffers past a megabyte are mapped and grown in place (engine/_blocks.h); handed
    # over, they are trimmed, and 20,000 fills trim back below the megabyte.
    book, ref = EngineBook(0, 100_000), ReferenceBook(0, 100_000)
    asks, buy = _sweep(makers)
    for b in (book, ref):
        b.submit(asks)
    if path == "batch":
        fills = book.submit(buy).fills
    else:
        book.market(makers + 1, BUY, makers)
        fills = book.take_fills()
    assert len(fills) == makers
    assert np.array_equal(fills, ref.submit(buy).fills)
    book.check_invariants()


def test_batch_fills_padding_is_zero():
    # A batch writes each fill whole, padding included (engine_stream in engine/_blocks.h):
    # the bytes `np.save` or a hash sees are the same every run, and no stack bytes leak.
    end = max(offset + dtype.itemsize for dtype, offset in FILL_DTYPE.fields.values())
    assert end < FILL_DTYPE.itemsize                 # the layout does have padding
    batch = np.concatenate(_sweep(5_000))
    first = EngineBook(0, 100_000).submit(batch).fills
    assert not first.view(np.uint8).reshape(len(first), -1)[:, end:].any()
    assert EngineBook(0, 100_000).submit(batch).fills.tobytes() == first.tobytes()


def test_reused_blocks_never_overwrite_live_arrays():
    # Freed big buffers are kept and handed out again (engine/_blocks.h): arrays still alive
    # keep their contents while later batches run, grow and free theirs.  Past 32,768
    # messages a batch's results are a mapped block too.
    book = EngineBook(0, 100_000)
    kept = []
    for round_ in range(12):
        done = book.submit(np.concatenate(_sweep(30_000 + 5_000 * (round_ % 3), 1 + round_ * 100_000)))
        if round_ % 2 == 0:
            kept += [(done.fills, done.fills.copy()), (done.results, done.results.copy())]
        del done
    for live, copy in kept:
        assert np.array_equal(live, copy)


def test_results_in_a_reused_block_are_written_whole():
    # A batch's results may land in the block of an earlier batch's, freed and kept with
    # what it held: every row of the new batch must be written, rejects and all.
    n = 40_000
    # Left behind: every field of the results set (buys rest, IOC sells fill and cancel).
    stale = make_orders(id=np.arange(n), side=np.where(np.arange(n) % 2, SELL, BUY),
                        kind=np.where(np.arange(n) % 2, IOC, LIMIT), price=100,
                        qty=np.where(np.arange(n) % 2, 9, 5))
    stale["qty"][::1000] = 0
    left = EngineBook(0, 1000).submit(stale).results
    assert all(left[field].any() for field in ("filled", "remaining", "cancelled", "reject"))
    del left
    orders = make_orders(id=np.arange(n), side=np.where(np.arange(n) % 2, BUY, SELL),
                         kind=LIMIT, price=np.where(np.arange(n) % 2, 100, 101), qty=1 + np.arange(n) % 7)
    orders["qty"][::1000] = 0                               # some rejects in the new batch too
    for round_ in range(3):
        book, ref = EngineBook(0, 1000), ReferenceBook(0, 1000)
        got, want = book.submit(orders), ref.submit(orders)
        assert np.array_equal(got.results, want.results)
        assert np.array_equal(got.fills, want.fills)
        del got


def _mapped_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize in /proc/self/status")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the mapped size from /proc")
@pytest.mark.parametrize("path", ["batch", "per-call"])
def test_blocks_taken_whole_are_given_back_whole(path):
    # A growing pool or fill buffer, and a batch's first fill buffer, take a kept block that
    # fits whole, up to twice what they asked for (engine/_blocks.h); resized or freed by any
    # other size, part of the mapping would stay behind.  Rounds alternate sizes, so that
    # each takes the other's blocks.
    sweeps = {makers: _sweep(makers) for makers in (36_000, 60_000)}
    expected = {makers: ReferenceBook(0, 100_000).submit(np.concatenate(sweep)).fills
                for makers, sweep in sweeps.items()}
    mapped = []
    for round_ in range(40):
        makers = 60_000 if round_ % 2 else 36_000
        asks, buy = sweeps[makers]
        book = EngineBook(0, 100_000)
        if path == "batch":         # a big batch: results and fills in kept blocks
            fills = book.submit(np.concatenate([asks, buy])).fills
        else:                       # the pool, then the per-call fill buffer, grow
            book.submit(asks)
            book.market(makers + 1, BUY, makers)
            fills = book.take_fills()
        assert np.array_equal(fills, expected[makers])
        del book, fills
        mapped.append(_mapped_bytes())
    # Python's own allocations move the mapped size by an arena or so, a megabyte.
    assert mapped[-1] - mapped[3] < 3 << 20, [m >> 20 for m in mapped]


def test_a_pool_in_a_kept_block_holds_only_what_it_asked_for():
    # A growing order pool may move into a bigger kept block (engine/_blocks.h); it keeps
    # only the size it asked for, so a book's memory does not depend on what earlier books
    # left behind.
    asks, _ = _sweep(100_000)

    def seeded_bytes(orders):
        book = EngineBook(0, 100_000)
        book.submit(asks[:orders])
        return book.nbytes

    alone = seeded_bytes(40_000)
    seeded_bytes(100_000)               # its pool of 131,072 orders is kept once freed
    assert seeded_bytes(40_000) == alone


def test_batches_in_threads_share_the_block_cache_safely():
    # Batches run without the GIL, so two threads allocate and free blocks at once.
    import threading
    batch = np.concatenate(_sweep(40_000))
    expected = EngineBook(0, 100_000).submit(batch)
    failures = []

    def work():
        for _ in range(8):
            done = EngineBook(0, 100_000).submit(batch)
            if not (np.array_equal(done.fills, expected.fills)
                    and np.array_equal(done.results, expected.results)):
                failures.append(len(done.fills))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_a_book_refuses_other_threads_while_a_batch_runs():
    # A batch runs without the GIL. A call from another thread on the same book meanwhile
    # would race with it (take_fills used to hand numpy the buffer the batch was writing,
    # and crash the process): it raises instead, and changes nothing.
    import threading
    n = 1_000_000
    orders = make_orders(id=np.arange(n), side=np.where(np.arange(n) % 2, BUY, SELL),
                         kind=LIMIT, price=500, qty=1)     # each buy trades with the sell before
    book = EngineBook(0, 1000)
    out = {}
    batch = threading.Thread(target=lambda: out.setdefault("result", book.submit(orders)))
    placed = [0]

    def place():                            # a bid far below the batch's prices: harmless
        book.limit(n + 1, BUY, 10, 1)       # whenever it lands outside the batch
        placed[0] += 1

    calls = [book.take_fills, place, lambda: book.cancel(n + 1), book.best_bid,
             lambda: book.depth(BUY, 3), book.snapshot, lambda: len(book),
             lambda: book.order(0), lambda: book.submit(orders[:0]), lambda: book.set_band(0, 1000)]
    refused = 0
    batch.start()
    while batch.is_alive():
        for call in calls:
            try:
                call()
            except RuntimeError as error:
                assert "another thread" in str(error)
                refused += 1
            except ValueError:              # cancel of n + 1 when it is not resting
                pass
    batch.join()
    assert refused > 0                      # the calls met the batch running
    result = out["result"]
    assert int(result.fills["qty"].sum()) == int(result.filled.sum()) == n // 2
    assert (result.reject == 0).all()
    book.check_invariants()
    assert len(book) == (book.order(n + 1) is not None)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_process_forked_while_batches_run_can_run_batches():
    # The forking thread holds the block cache's lock across the fork and both sides let it
    # go: a child forked while another thread is mid-batch must not find the lock taken.
    import threading
    import time
    import warnings
    batch = np.concatenate(_sweep(30_000))
    expected = EngineBook(0, 100_000).submit(batch).fills
    stop = threading.Event()

    def work():
        while not stop.is_set():
            EngineBook(0, 100_000).submit(batch)

    worker = threading.Thread(target=work)
    worker.start()
    pending, codes = set(), []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)     # fork with a thread running
            for _ in range(10):
                pid = os.fork()
                if pid == 0:                # child: one batch, then leave without cleanup
                    ok = np.array_equal(EngineBook(0, 100_000).submit(batch).fills, expected)
                    os._exit(0 if ok else 1)
                pending.add(pid)
        deadline = time.monotonic() + 30
        while pending and time.monotonic() < deadline:
            for pid in list(pending):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    pending.discard(pid)
                    codes.append(os.waitstatus_to_exitcode(status))
            time.sleep(0.02)
        assert not pending, f"{len(pending)} children hung"
        assert codes == [0] * 10
    finally:
        stop.set()
        worker.join()
        for pid in pending:                 # hung children: end them
            os.kill(pid, 9)
            os.waitpid(pid, 0)


# ---------------------------------------------------------------------- strategies

@given(data=st.data())
def test_order_streams_are_accepted_row_by_row(data):
    lo, hi = data.draw(st.sampled_from([(0, 40), (-1000, 1000), (5, 5)]))
    seed = data.draw(seeded_books(lo, hi, depth_profiles(max_levels=4, max_lots=6))) \
        if hi > lo else None
    stream = data.draw(order_streams(lo, hi, max_size=30, after=seed))
    assert stream.dtype == ORDER_DTYPE
    book, ref = EngineBook(lo, hi), ReferenceBook(lo, hi)
    if seed is not None:
        book.submit(seed)
        ref.submit(seed)
    result = book.submit(stream)
    assert not result.reject.any()
    assert np.array_equal(result.results, ref.submit(stream).results)
    book.check_invariants()


@given(book=seeded_books(0, 100, [5, 4, 3], returns="book", max_orders_per_level=2))
def test_seeded_books_follow_the_profile(book):
    assert isinstance(book, EngineBook)
    bids, asks = book.depth(BUY, 10), book.depth(SELL, 10)
    assert bids[1].tolist() == [5, 4, 3][: len(bids[1])]
    assert asks[1].tolist() == [5, 4, 3][: len(asks[1])]
    assert book.best_bid() < book.best_ask()
    book.check_invariants()


@given(data=st.data())
def test_strategy_options(data):
    book = data.draw(seeded_books(-20, 20, [3, 2], asks=st.just([1]), gaps=st.integers(1, 4),
                                  returns="reference", first_id=500))
    assert isinstance(book, ReferenceBook)
    assert book.depth(SELL, 5)[1].tolist() in ([1], [])
    assert all(id >= 500 for id in book.snapshot()["id"].tolist())
    stream = data.draw(order_streams(-20, 20, min_size=5, max_size=10, kinds=(LIMIT, CANCEL),
                                     after=seeded_orders(book)))
    assert 5 <= len(stream) <= 10 and set(stream["kind"].tolist()) <= {LIMIT, CANCEL}
    assert not book.submit(stream).reject.any()


def seeded_orders(book):
    snap = book.snapshot()
    return make_orders(id=snap["id"], side=snap["side"], price=snap["price"], qty=snap["qty"],
                       owner=snap["owner"], kind=LIMIT) if len(snap["id"]) else None


# ---------------------------------------------------------------------- totals and fill kinds

def test_totals_never_overflow(Book):
    book = Book(0, 10)
    book.limit(1, BUY, 5, 2**62)
    book.limit(2, BUY, 5, 2**62 - 2)
    before = book.snapshot()
    with pytest.raises(ValueError, match="TOO_LARGE"):
        book.limit(3, BUY, 4, 2)                 # would take the bid total past 2**63 - 1
    same_snapshot(book.snapshot(), before)
    result = book.submit(make_orders(id=[3, 4], side=[BUY, BUY], kind=[LIMIT, MARKET],
                                     price=[4, 0], qty=[2, 2], flags=[0, QUEUE_AT_LIMIT]))
    assert result.reject.tolist() == [Reject.TOO_LARGE, Reject.TOO_LARGE]
    same_snapshot(book.snapshot(), before)
    assert book.volume(BUY) == 2**63 - 2
    book.limit(5, BUY, 4, 1)                     # exactly up to the limit is fine
    assert book.volume(BUY) == 2**63 - 1
    # Selling into it needs no room on the bid side: an IOC never rests.
    assert book.ioc(6, SELL, 5, 3) == 3


def test_fills_name_the_taker_kind(Book):
    book = Book(0, 100)
    book.limit(1, SELL, 50, 10)
    book.limit(-1, BUY, 40, 10)                  # -1 is a legal caller id
    book.market(-2, BUY, 1)
    book.ioc(-3, BUY, 50, 1)
    book.fok(-4, BUY, 50, 1)
    book.limit(-5, BUY, 50, 1)
    book.execute(1, 1)
    book.execute(-1, 1)
    fills = book.take_fills()
    assert fills["taker_kind"].tolist() == [MARKET, IOC, FOK, LIMIT, EXECUTE, EXECUTE]
    assert fills["taker_id"].tolist() == [-2, -3, -4, -5, -1, -1]
    assert fills["taker_side"].tolist() == [BUY, BUY, BUY, BUY, BUY, SELL]
