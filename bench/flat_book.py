"""The flat-array C book (``bench/flat_book.c``): built with the C compiler that builds
Python's extensions, loaded with ctypes, and run on whole batches.

It is the yardstick ``make bench`` measures firesale's batch path against in the same run:
the issue's 30M messages a second was set against "a flat-array C engine" at about 50M on
this machine, and the machine's speed moves with its host's load, so the ratio of the two
in one run says more than either figure alone.

Only what the yardstick runs is taken: LIMIT, MARKET and CANCEL without flags, ids from 0
to a bound given up front.  Anything else raises ``ValueError`` before the book is touched.
"""
import ctypes
import hashlib
import shlex
import subprocess
import sysconfig
from pathlib import Path

import numpy as np

from engine import FILL_DTYPE, LIMIT, MARKET, CANCEL, ORDER_DTYPE, RESULT_DTYPE

SOURCE = Path(__file__).resolve().parent / "flat_book.c"
BUILD_DIR = Path(__file__).resolve().parent / ".data"
FLAGS = ["-O3", "-fPIC", "-shared"]         # as firesale's release build
# Lots summed over a stream stay below this, so no total the C book keeps can overflow
# (firesale would reject such an order as TOO_LARGE, and the C book does not check).
MAX_TOTAL_QTY = 2**62
_library = None


def _compiler():
    return shlex.split(sysconfig.get_config_var("CC") or "cc")


def library():
    """The built C book (built on first use, and again whenever the source or flags change)."""
    global _library
    if _library is not None:
        return _library
    source = SOURCE.read_bytes()
    stamp = hashlib.sha256(source + " ".join(_compiler() + FLAGS).encode()).hexdigest()[:16]
    target = BUILD_DIR / f"flat_book-{stamp}.so"
    if not target.exists():
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".tmp.so")
        done = subprocess.run(_compiler() + FLAGS + ["-o", str(partial), str(SOURCE)],
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"cannot build {SOURCE.name}:\n{done.stderr}")
        partial.replace(target)
        for old in BUILD_DIR.glob("flat_book-*.so"):     # builds of earlier sources
            if old != target:
                old.unlink(missing_ok=True)
    lib = ctypes.CDLL(str(target))
    pointer, i64 = ctypes.c_void_p, ctypes.c_int64
    for name, result, args in [
        ("flat_new", pointer, [i64, i64, i64, i64]),
        ("flat_free", None, [pointer]),
        ("flat_submit", ctypes.c_int, [pointer, pointer, i64, pointer]),
        ("flat_fill_count", i64, [pointer]),
        ("flat_take_fills", None, [pointer, pointer]),
        ("flat_resting", i64, [pointer]),
        ("flat_best_bid", i64, [pointer]),
        ("flat_best_ask", i64, [pointer]),
    ]:
        function = getattr(lib, name)
        function.restype, function.argtypes = result, args
    _library = lib
    return lib


def _check_layouts():
    """The C structs' sizes and offsets are those of the numpy records."""
    expected = {ORDER_DTYPE: (32, {"id": 0, "price": 8, "qty": 16, "owner": 24, "side": 28,
                                   "kind": 29, "flags": 30}),
                FILL_DTYPE: (48, {"taker_id": 0, "maker_id": 8, "price": 16, "qty": 24,
                                  "taker_owner": 32, "maker_owner": 36, "taker_side": 40,
                                  "taker_kind": 41}),
                RESULT_DTYPE: (32, {"filled": 0, "remaining": 8, "cancelled": 16, "reject": 24})}
    for dtype, (size, offsets) in expected.items():
        actual = {name: dtype.fields[name][1] for name in dtype.names}
        if dtype.itemsize != size or actual != offsets:
            raise RuntimeError(f"flat_book.c's structs no longer match {dtype}")


def check_stream(orders, ids):
    """Raise ValueError unless the C book can run `orders` exactly as firesale would."""
    if orders.dtype != ORDER_DTYPE or orders.ndim != 1:
        raise ValueError("orders must be a one-dimensional ORDER_DTYPE array")
    if not np.isin(orders["kind"], (LIMIT, MARKET, CANCEL)).all():
        raise ValueError("the flat C book runs LIMIT, MARKET and CANCEL only")
    if orders["flags"].any():
        raise ValueError("the flat C book takes no flags")
    new = orders["kind"] != CANCEL
    if len(orders) and ((orders["id"][new] < 0).any() or (orders["id"][new] >= ids).any()):
        raise ValueError(f"the flat C book takes new-order ids from 0 to {ids - 1}")


class _Batch:
    __slots__ = ("orders", "results", "done")

    def __init__(self, orders, results):
        self.orders, self.results, self.done = orders, results, False


class FlatBook:
    """The C book for prices `lo`..`hi` and order ids 0..`ids` - 1, with room for
    `fills` fills before its buffer grows."""

    def __init__(self, lo, hi, ids, fills=0):
        if not 0 < ids < 2**31 or not 0 < hi - lo + 1 < 2**31:
            raise ValueError("the flat C book takes fewer than 2**31 ids and ticks")
        _check_layouts()
        self._lib = library()
        self._book = self._lib.flat_new(lo, hi, ids, fills)
        if not self._book:
            raise MemoryError("cannot allocate the flat C book")
        self.ids = ids
        self._total_qty = 0

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
        """Check `orders` and make room for their results, so that `run` does nothing else
        (the benchmark times `run` alone)."""
        check_stream(orders, self.ids)
        total = self._total_qty + int(np.abs(orders["qty"]).sum(dtype=np.float64))
        if total >= MAX_TOTAL_QTY:
            raise ValueError("the flat C book takes streams of fewer than 2**62 lots in all")
        self._total_qty = total
        results = np.empty(len(orders), RESULT_DTYPE)
        results.fill(0)         # its pages in now, not in the timed run
        return _Batch(orders, results)

    def run(self, batch):
        """Run a batch from `prepare`, once."""
        if batch.done:
            raise ValueError("this batch has run already")
        batch.done = True
        if self._lib.flat_submit(self._book, batch.orders.ctypes.data, len(batch.orders),
                                 batch.results.ctypes.data):
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
