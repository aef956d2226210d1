"""The id index: a window of ids looked up by position, and a hash table for the rest.

Callers usually number orders in sequence, and those ids should stay in the window; ids
that fall outside it (random, far, descending, at the int64 edges) go to the hash
table.  The window grows, slides up (its oldest ids move to the hash table) and, while
empty, moves anywhere, but never over an id the hash table holds.  Whatever the ids,
the book must behave as the reference does; these tests drive id patterns meant to
make the window move, with a small starting window as well as the default one.
"""
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import event, given, settings, strategies as st

from engine import Book, BUY, SELL, LIMIT, MARKET, CANCEL, make_orders
from engine._book import _set_window_min
from engine.reference import ReferenceBook

INT64_MIN, INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
LO, HI = 1000, 1100


@contextmanager
def window_min(size):
    old = _set_window_min(size)
    try:
        yield
    finally:
        _set_window_min(old)


def _limits(ids, side=BUY, price=1040, qty=1):
    return make_orders(id=ids, side=side, kind=LIMIT, price=price, qty=qty)


def _cancels(ids):
    return make_orders(id=ids, kind=CANCEL)


def test_ids_in_sequence_stay_in_the_window():
    book = Book(LO, HI)
    book.submit(_limits(np.arange(1, 200_001)))
    index = book._id_index()
    assert index["hashed"] == 0
    assert index["window_size"] >= 200_000
    assert len(book) == 200_000
    book.check_invariants()


def test_random_ids_go_to_the_hash_table_and_are_all_found():
    ids = np.random.default_rng(7).integers(INT64_MIN, INT64_MAX, size=20_000, dtype=np.int64)
    ids = np.unique(ids)
    book = Book(LO, HI)
    assert not book.submit(_limits(ids)).reject.any()
    assert book._id_index()["hashed"] >= len(ids) - 1    # one may move the empty window
    book.check_invariants()
    result = book.submit(_cancels(ids[::-1]))
    assert not result.reject.any() and len(book) == 0
    book.check_invariants()


def test_random_ids_after_the_window_empties_stay_in_the_hash_table():
    rng = np.random.default_rng(11)
    ids = rng.permutation(np.unique(rng.integers(1, 2**62, size=3_000, dtype=np.int64)))
    book = Book(LO, HI)
    book.submit(_limits(ids[:1000]))
    assert book._id_index()["hashed"] == 999     # the window moved to the first id
    # Empty the window; the hash table's ids span almost any place it could move to, so
    # the ids that follow go to the hash table too (but for one, if it moved).
    book.submit(_cancels(ids[:1000:7]))
    book.submit(_limits(ids[1000:]))
    assert book._id_index()["hashed"] >= len(book) - 1
    book.check_invariants()
    assert not book.submit(_cancels(np.setdiff1d(ids, ids[:1000:7]))).reject.any()
    assert len(book) == 0
    book.check_invariants()


def test_a_slide_moves_the_oldest_live_ids_to_the_hash_table():
    with window_min(8):
        book = Book(LO, HI)
    # The oldest orders stay while a long run of later ids rests and leaves: the book stays
    # small, so the window slides rather than grows, past the oldest ids.
    book.submit(_limits([1, 2, 3], side=SELL, price=1090))
    for first in range(10, 2_000, 10):
        book.submit(_limits(np.arange(first, first + 10)))
        book.submit(_cancels(np.arange(first, first + 10)))
    index = book._id_index()
    assert index["window_base"] > 3 and index["hashed"] == 3
    book.check_invariants()
    assert book.cancel(2) == 1 and book.cancel(1) == 1 and book.cancel(3) == 1
    assert book._id_index()["hashed"] == 0
    book.check_invariants()


def test_a_slide_shrinks_a_hash_table_its_ids_have_left():
    book = Book(LO, HI)
    book.submit(_limits(np.arange(1, 1001)))                 # in the window
    far = 10**15 + 1000 * np.arange(5000)                    # far above it: hashed
    book.submit(_limits(far))
    grown = book._id_index()
    assert grown["hashed"] == 5000 and grown["hash_slots"] >= 2 * 5000
    book.submit(_cancels(far[100:]))
    book.submit(_cancels(np.arange(1, 901)))
    # An id just above the window, in a window under half full: it slides (the ids below
    # its new base go to the hash table) and the hash table, now under a fifth full, shrinks.
    book.limit(4096 + 10, BUY, 1040, 1)
    index = book._id_index()
    assert index["window_base"] > 1 and index["hash_slots"] < grown["hash_slots"]
    assert index["hash_slots"] >= 2 * index["hashed"]
    book.check_invariants()
    live = np.concatenate([np.arange(901, 1001), far[:100], [4096 + 10]])
    assert not book.submit(_cancels(live)).reject.any() and len(book) == 0
    book.check_invariants()


def test_the_window_never_moves_over_an_id_in_the_hash_table():
    with window_min(8):
        book = Book(LO, HI)
    book.submit(_limits([1, 2]))
    book.limit(100, BUY, 1040, 5)             # far above the window: to the hash table
    assert book._id_index()["hashed"] == 1
    # The window grows and slides towards 100, and must find it a duplicate on the way.
    result = book.submit(_limits(np.arange(3, 300)))
    assert np.flatnonzero(result.reject).tolist() == [100 - 3]
    index = book._id_index()
    assert index["window_base"] + index["window_size"] <= 100     # it stopped below 100
    assert index["hashed"] >= 300 - 100                             # and later ids hashed
    book.check_invariants()
    assert book.reduce(100, 2) == 3
    assert book.cancel(100) == 3
    book.check_invariants()


@pytest.mark.parametrize("start", [INT64_MAX - 50, INT64_MIN, -25])
def test_ids_at_the_edges_of_int64(start):
    with window_min(8):
        book = Book(LO, HI)
    ids = [start + k for k in range(51) if start + k <= INT64_MAX]
    book.submit(_limits(ids))
    book.check_invariants()
    book.submit(_cancels(ids[::3]))
    book.check_invariants()
    others = [v for v in (INT64_MIN, INT64_MAX, 0) if v not in ids]
    assert not book.submit(_limits(others, side=SELL, price=1090)).reject.any()
    book.check_invariants()
    assert sorted(book.snapshot()["id"].tolist()) == sorted(set(ids) - set(ids[::3]) | set(others))


def test_a_window_at_the_top_of_int64_does_not_wrap_round_to_the_bottom():
    # Found by the id-pattern property: an id just past INT64_MIN is, modulo 2**64, just
    # above a window ending at INT64_MAX, and sliding there went over ids the hash table held.
    with window_min(64):
        book = Book(LO, HI)
    bottom = [INT64_MIN + k for k in (5, 15, 30)]
    book.submit(_limits([INT64_MAX - 3, INT64_MAX]))       # the window moves to the top
    book.submit(_limits(bottom))                             # these go to the hash table
    book.submit(_limits(np.arange(INT64_MAX - 60, INT64_MAX - 3)))
    book.submit(_limits([INT64_MIN + 57]))                  # "just above" only modulo 2**64
    book.check_invariants()
    with pytest.raises(ValueError, match="DUPLICATE_ID"):
        book.limit(INT64_MIN + 15, BUY, 1040, 1)
    assert all(book.cancel(i) == 1 for i in bottom + [INT64_MIN + 57])
    book.check_invariants()


def test_an_empty_window_moves_to_the_next_id():
    book = Book(LO, HI)
    book.submit(_limits(np.arange(1, 100)))
    book.submit(_cancels(np.arange(1, 100)))
    book.submit(_limits(np.arange(10**15, 10**15 + 5_000)))
    index = book._id_index()
    assert index["hashed"] == 0 and index["window_base"] > 10**14
    book.check_invariants()


def test_window_sizes_are_checked():
    for bad in (0, 7, 12, 1 << 20):
        with pytest.raises(ValueError, match="power of two"):
            _set_window_min(bad)


# ---------------------------------------------------------------------- property

def _id_stream(rng, pattern, n, state):
    """`n` new ids following `pattern`, from `state["next"]` on (ids already used are
    skipped later by the caller, so collisions become duplicate-id rejects in both books)."""
    nxt = state["next"]
    if pattern == "sequence":
        ids = nxt + np.arange(n)
    elif pattern == "gaps":                  # steps of up to a few window sizes
        ids = nxt + np.cumsum(rng.integers(1, 40, size=n))
    elif pattern == "jump":                  # one far jump, then a sequence
        ids = nxt + int(rng.integers(10**6, 10**12)) + np.arange(n)
    elif pattern == "descending":
        ids = nxt - np.arange(n)
    elif pattern == "random":
        return rng.integers(INT64_MIN, INT64_MAX, size=n, dtype=np.int64)
    else:                                    # "edge": near either end of int64
        base = INT64_MAX - 200 if rng.random() < 0.5 else INT64_MIN
        return (base + rng.integers(0, 200, size=n)).astype(np.int64)
    ids = np.clip(ids, INT64_MIN, INT64_MAX).astype(np.int64)
    state["next"] = int(ids.max()) + 1 if pattern != "descending" else int(ids.min()) - 1
    return ids


PATTERNS = ("sequence", "gaps", "jump", "descending", "random", "edge")


@settings(max_examples=150)
@given(seed=st.integers(0, 2**32 - 1), window=st.sampled_from([8, 64, 4096]),
       steps=st.lists(st.tuples(st.sampled_from(PATTERNS), st.sampled_from([1, 20, 400]),
                                st.floats(0, 1), st.booleans()), min_size=1, max_size=12))
def test_any_id_pattern_matches_the_reference(seed, window, steps):
    """Batches of new orders whose ids follow a mix of patterns, each followed by cancels
    of random live orders and sometimes a sweep: the book agrees with the reference on
    every fill and result, and its index stays consistent."""
    rng = np.random.default_rng(seed)
    with window_min(window):
        book = Book(LO, HI)
    ref = ReferenceBook(LO, HI)
    state = {"next": int(rng.integers(-1000, 1000))}
    for pattern, n, cancel_share, sweep in steps:
        ids = _id_stream(rng, pattern, n, state)
        side = np.where(rng.random(n) < 0.5, BUY, SELL)
        price = np.where(side == BUY, rng.integers(1001, 1050, n), rng.integers(1051, 1100, n))
        batch = [_limits(ids, side=side, price=price, qty=rng.integers(1, 5, n))]
        live = np.array(sorted(ref._by_id), dtype=np.int64)
        gone = int(len(live) * cancel_share)
        if gone:
            batch.append(_cancels(rng.choice(live, size=gone, replace=False)))
        if sweep:
            batch.append(make_orders(id=[state["next"] + 10**13], side=SELL, kind=MARKET,
                                     qty=int(rng.integers(1, 200))))
        batch = np.concatenate(batch)
        before = book._id_index()
        got, want = book.submit(batch), ref.submit(batch)
        after = book._id_index()
        if after["window_size"] > before["window_size"]:
            event("the window grew")
        if after["window_base"] > before["window_base"]:
            event("the window moved up")
        if after["window_base"] < before["window_base"]:
            event("the window moved down")
        if after["hashed"]:
            event("the hash table held ids")
        assert np.array_equal(got.fills, want.fills)
        assert np.array_equal(got.results, want.results)
        assert len(book) == len(ref)
        book.check_invariants()
