"""orderly-chaos (PyPI): a header-only C++17 price-time book behind a C API, driven from
Python through ctypes.

Mapping (one to one; the package has every operation the workloads use)
- limit: ``book.limit_buy/limit_sell(order_id, quantity, price)``, integer ticks and the
  caller's integer ids; returns the quantity filled at once.
- market sell: its own market order (immediate-or-cancel: the rest is discarded).  It has
  no band; every bid in the workloads rests inside the band, so it stops where firesale's
  banded market sell stops.
- cancel: ``book.cancel(order_id)``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import BUY, LIMIT, MARKET, CANCEL  # noqa: E402

from orderly_chaos import LimitOrderBook  # noqa: E402


class OrderlyChaos(harness.Engine):
    name = "orderly-chaos"
    distribution = "orderly-chaos"
    notes = ("ctypes; own market order (IOC); caller's ids; fills from return values",)

    def new_book(self):
        return LimitOrderBook()

    def seed(self, book, seed_rows):
        for oid, side, price, qty in seed_rows:
            (book.limit_buy if side == BUY else book.limit_sell)(oid, qty, price)

    def replay(self, book, messages):
        limit_buy, limit_sell = book.limit_buy, book.limit_sell
        market_buy, market_sell, cancel = book.market_buy, book.market_sell, book.cancel
        traded = 0
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                traded += (limit_buy if side == BUY else limit_sell)(oid, qty, price)
            elif kind == CANCEL:
                cancel(oid)
            elif kind == MARKET:
                traded += (market_buy if side == BUY else market_sell)(oid, qty)
            else:
                raise ValueError(f"unexpected kind {kind}")
        return traded


if __name__ == "__main__":
    harness.main(OrderlyChaos)
