"""The flat-array C book (``bench/flat_book.c``): built with the C compiler that builds
Python's extensions, loaded with ctypes, and run on whole batches.

It is the yardstick ``make bench`` measures firesale's batch path against in the same run.
The issue set the 30M messages a second target against "a flat-array C engine" at about 50M
on this machine; this one is ours, written plainly, and the machine's speed moves with its
host's load, so the two are timed in alternate runs and compared by their ratio.

Only what the yardstick runs is taken: LIMIT, MARKET and CANCEL without flags, new-order ids
from 0 to a bound given up front.  Anything else raises ``ValueError`` before the book is
touched.
"""
import ctypes
import functools
from pathlib import Path

import numpy as np

from engine import FILL_DTYPE, LIMIT, MARKET, CANCEL, ORDER_DTYPE, RESULT_DTYPE
from engine._book import _check_orders
from engine._checks import INT32_MAX, integer

import c_library

SOURCE = Path(__file__).resolve().parent / "flat_book.c"
# firesale keeps its sides' totals in int64 and refuses as TOO_LARGE an order that could take
# one past 2**63 - 1; the C book keeps no totals and does not check.  New orders' lots summed
# over everything a book is given stay below this, so firesale never refuses one.
MAX_TOTAL_QTY = 2**62
FLAT_BAD_ID, FLAT_NO_MEMORY = -2, -1        # flat_submit's codes when it stops
POINTER, I64 = ctypes.c_void_p, ctypes.c_int64
SIGNATURES = {
    "flat_new": (POINTER, [I64, I64, I64, I64]),
    "flat_free": (None, [POINTER]),
    "flat_submit": (ctypes.c_int, [POINTER, POINTER, I64, POINTER]),
    "flat_fill_count": (I64, [POINTER]),
    "flat_take_fills": (None, [POINTER, POINTER]),
    "flat_resting": (I64, [POINTER]),
    "flat_best_bid": (I64, [POINTER]),
    "flat_best_ask": (I64, [POINTER]),
    "flat_layout": (None, [POINTER]),
}


@functools.cache
def library():
    """The built C book (built on first use, and again whenever the source or flags change)."""
    lib = c_library.load(SOURCE, SIGNATURES)
    _check_layouts(lib)
    return lib


def _check_layouts(lib):
    """The C structs' sizes and offsets are those of the numpy records."""
    expected = []
    for dtype in (ORDER_DTYPE, FILL_DTYPE, RESULT_DTYPE):
        expected += [dtype.itemsize] + [dtype.fields[name][1] for name in dtype.names]
    layout = np.zeros(len(expected), np.int64)
    lib.flat_layout(layout.ctypes.data)
    if layout.tolist() != expected:
        raise RuntimeError(f"flat_book.c's structs {layout.tolist()} no longer match the "
                           f"engine's records {expected}")


def check_stream(orders, ids):
    """Raise ValueError unless the C book can run `orders` (an ORDER_DTYPE array) exactly as
    firesale would.  (A new order with an id outside the array is refused even where
    firesale would reject the row for another reason.)"""
    if not np.isin(orders["kind"], (LIMIT, MARKET, CANCEL)).all():
        raise ValueError("the flat C book runs LIMIT, MARKET and CANCEL only")
    if orders["flags"].any():
        raise ValueError("the flat C book takes no flags")
    new = orders["kind"] != CANCEL
    if (orders["id"][new] < 0).any() or (orders["id"][new] >= ids).any():
        raise ValueError(f"the flat C book takes new-order ids from 0 to {ids - 1}")


class _Batch:
    """Messages checked and copied (the caller's array may change afterwards), with room for
    their results."""
    __slots__ = ("orders", "results", "done")

    def __init__(self, orders, results):
        self.orders, self.results, self.done = orders, results, False


class FlatBook:
    """The C book for prices `lo`..`hi` and order ids 0..`ids` - 1, with room for
    `fills` fills before its buffer grows."""

    def __init__(self, lo, hi, ids, fills=0):
        ids = integer(ids, "ids", 1, INT32_MAX)          # its links are int32
        integer(hi - lo + 1, "the band's width in ticks", 1, INT32_MAX)
        self._lib = library()
        self._book = self._lib.flat_new(lo, hi, ids, fills)
        if not self._book:
            raise MemoryError("cannot allocate the flat C book")
        self.ids = ids
        self._total_qty = 0
        self._broken = False

    def __del__(self):
        book, self._book = getattr(self, "_book", None), None
        if book:
            self._lib.flat_free(book)

    def submit(self, orders):
        """Run `orders`; return their RESULT_DTYPE results (fills wait for `take_fills`)."""
        batch = self.prepare(orders)
        self.run(batch)
        return batch.results

    def prepare(self, orders):
        """Check and copy `orders` and make room for their results, so that `run` does nothing
        else (the benchmark times `run` alone)."""
        # As Book.submit takes them (TypeError or ValueError naming what is wrong), and a copy
        # of its own: the caller's array may change before `run`.
        orders = np.array(_check_orders(orders), order="C", copy=True)
        check_stream(orders, self.ids)
        new_qty = orders["qty"][orders["kind"] != CANCEL]
        total = self._total_qty + int(np.maximum(new_qty, 0).sum(dtype=np.float64))
        if total >= MAX_TOTAL_QTY:
            raise ValueError("the flat C book takes new orders of fewer than 2**62 lots in all")
        self._total_qty = total
        results = np.empty(len(orders), RESULT_DTYPE)
        results.fill(0)         # its pages in now, not in the timed run
        return _Batch(orders, results)

    def run(self, batch):
        """Run a batch from `prepare`, once."""
        if self._broken:
            raise RuntimeError("this flat C book ran out of memory in a batch: make a new one")
        if batch.done:
            raise ValueError("this batch has run already")
        batch.done = True
        code = self._lib.flat_submit(self._book, batch.orders.ctypes.data, len(batch.orders),
                                     batch.results.ctypes.data)
        if code == FLAT_BAD_ID:     # prepare's checks make this unreachable
            raise ValueError("a new order's id is outside the flat C book's array")
        if code == FLAT_NO_MEMORY:
            self._broken = True
            raise MemoryError("the flat C book cannot grow its fill buffer")

    def take_fills(self):
        """The fills since the last call, as a FILL_DTYPE array."""
        fills = np.zeros(self._lib.flat_fill_count(self._book), FILL_DTYPE)
        self._lib.flat_take_fills(self._book, fills.ctypes.data)
        return fills

    def __len__(self):
        return self._lib.flat_resting(self._book)

    def best_bid(self):
        price = self._lib.flat_best_bid(self._book)
        return None if price == np.iinfo(np.int64).min else price

    def best_ask(self):
        price = self._lib.flat_best_ask(self._book)
        return None if price == np.iinfo(np.int64).min else price
