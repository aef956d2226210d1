"""The flat C book that `make bench` measures the batch path against (bench/flat_book.c)
runs the messages it takes exactly as engine.Book does: same fills in the same order, same
results and reject codes, same book afterwards.  Otherwise its speed would be a yardstick
for some other work."""
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

import engine
from engine import BUY, SELL, LIMIT, MARKET, CANCEL, IOC, ORDER_DTYPE, QUEUE_AT_LIMIT

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import flat_book  # noqa: E402

LO, HI = 90, 110
IDS = 40


def _orders(rows):
    return np.array(rows, dtype=ORDER_DTYPE)


# Rows (id, price, qty, owner, side, kind, flags): ids from a small range, so that
# duplicates and cancels of ids not resting come up; prices through both band edges;
# now and then a bad side or a quantity <= 0.
new_rows = st.tuples(
    st.integers(0, IDS - 1),
    st.integers(LO - 3, HI + 3),
    st.one_of(st.integers(1, 30), st.integers(-2, 0)),
    st.integers(-1, 5),
    st.one_of(st.sampled_from([BUY, SELL]), st.integers(-3, 3)),
    st.sampled_from([LIMIT, LIMIT, LIMIT, MARKET]),
    st.just(0),
)
# Cancels also of ids outside the array, which the C book must find not resting.
cancels = st.builds(lambda id, qty: (id, 0, qty, -1, 0, CANCEL, 0),
                    st.integers(-3, IDS + 2), st.integers(-2, 5))
rows = st.one_of(new_rows, new_rows, cancels)
batches = st.lists(st.lists(rows, max_size=40), min_size=1, max_size=4)


def _books():
    return engine.Book(LO, HI), flat_book.FlatBook(LO, HI, IDS)


def _same_book(book, flat):
    assert len(flat) == len(book)
    assert flat.best_bid() == book.best_bid()
    assert flat.best_ask() == book.best_ask()


@given(batches)
def test_runs_what_it_takes_as_the_book_does(batches):
    book, flat = _books()
    for rows in batches:
        orders = _orders(rows)
        expected = book.submit(orders)
        results = flat.submit(orders)
        np.testing.assert_array_equal(flat.take_fills(), expected.fills)
        np.testing.assert_array_equal(results, expected.results)
        _same_book(book, flat)


def test_a_cascade_that_empties_a_side_and_refills_it():
    book, flat = _books()
    rows = [(i, 100 - i % 7, 5, i % 3, BUY, LIMIT, 0) for i in range(20)]
    rows += [(20, 0, 1000, -1, SELL, MARKET, 0), (21, 95, 3, 2, BUY, LIMIT, 0),
             (22, LO - 5, 10, -1, SELL, LIMIT, 0), (23, 104, 4, -1, SELL, LIMIT, 0),
             (24, HI + 2, 9, -1, BUY, LIMIT, 0)]
    orders = _orders(rows)
    expected = book.submit(orders)
    results = flat.submit(orders)
    np.testing.assert_array_equal(flat.take_fills(), expected.fills)
    np.testing.assert_array_equal(results, expected.results)
    assert expected.results["filled"][20] == 100       # the sell took the whole bid side
    _same_book(book, flat)


@pytest.mark.parametrize("row, match", [
    ((1, 100, 5, -1, BUY, IOC, 0), "LIMIT, MARKET and CANCEL"),
    ((1, 100, 5, -1, BUY, LIMIT, QUEUE_AT_LIMIT), "no flags"),
    ((IDS, 100, 5, -1, BUY, LIMIT, 0), "ids from 0"),
    ((-1, 100, 5, -1, SELL, MARKET, 0), "ids from 0"),
])
def test_refuses_what_it_would_not_run_as_the_book_does(row, match):
    _, flat = _books()
    flat.submit(_orders([(3, 100, 5, -1, BUY, LIMIT, 0)]))
    with pytest.raises(ValueError, match=match):
        flat.submit(_orders([(4, 101, 5, -1, BUY, LIMIT, 0), row]))
    assert len(flat) == 1 and flat.best_bid() == 100       # nothing of the batch ran
    assert len(flat.take_fills()) == 0


def test_refuses_streams_whose_totals_could_overflow():
    _, flat = _books()
    big = (1, 100, 2**61, -1, BUY, LIMIT, 0)
    flat.submit(_orders([big]))
    with pytest.raises(ValueError, match="2\\*\\*62"):
        flat.submit(_orders([(2, 101, 2**61, -1, BUY, LIMIT, 0)]))
    assert len(flat) == 1


def test_cancels_count_no_lots_towards_the_overflow_guard():
    # A cancel's qty is ignored, even the one whose absolute value is itself negative.
    book, flat = _books()
    orders = _orders([(1, 0, -2**63, -1, 0, CANCEL, 0), (2, 100, 2**61, -1, BUY, LIMIT, 0),
                      (3, 100, 2**61, -1, BUY, LIMIT, 0)])
    with pytest.raises(ValueError, match="2\\*\\*62"):
        flat.submit(orders)
    np.testing.assert_array_equal(flat.submit(orders[:2]), book.submit(orders[:2]).results)


def test_runs_the_rows_of_a_view_and_not_what_lies_between_them():
    book, flat = _books()
    every = _orders([(1, 100, 5, -1, BUY, LIMIT, 0), (10**9, 101, 5, -1, BUY, LIMIT, 0),
                     (2, 99, 5, -1, BUY, LIMIT, 0), (10**9, 98, 5, -1, BUY, LIMIT, 0)])
    view = every[::2]
    np.testing.assert_array_equal(flat.submit(view), book.submit(view).results)
    _same_book(book, flat)
    assert len(flat) == 2


def test_a_prepared_batch_is_its_own_copy():
    book, flat = _books()
    orders = _orders([(1, 100, 5, -1, BUY, LIMIT, 0)])
    batch = flat.prepare(orders)
    orders["id"] = 10**9            # the caller's array changes; the prepared batch does not
    flat.run(batch)
    assert len(flat) == 1 and flat.best_bid() == 100


def test_a_batch_runs_once():
    _, flat = _books()
    batch = flat.prepare(_orders([(1, 100, 5, -1, BUY, LIMIT, 0)]))
    flat.run(batch)
    with pytest.raises(ValueError, match="already"):
        flat.run(batch)
