"""limit-order-book (PyPI, Kautenja): a C++ price-time book (red-black trees of levels,
hash map of ids) driven from Python through ctypes.

Mapping
- limit: ``limit_buy/limit_sell(order_id, quantity, price)`` with the caller's ids.
- market sell: its own ``market_sell(order_id, quantity)``, which trades down the bids and
  discards the rest.  It has no band; every bid in the workloads rests inside the band.
- cancel: ``cancel(order_id)``.
- fills: the engine reports none (no callback, no return value), so the timed runs only
  send the orders, and the traded volume comes from one more, untimed replay that reads
  the opposite side's resting volume before and after every order.

Version 3.x needs Python >= 3.13; 2.0.0 is the newest that installs on 3.11.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import BUY, LIMIT, MARKET, CANCEL  # noqa: E402

from limit_order_book import LimitOrderBook  # noqa: E402


class LimitOrderBookPeer(harness.Engine):
    name = "limit-order-book"
    distribution = "limit-order-book"
    notes = ("ctypes; own market order; caller's ids",)

    def new_book(self):
        return LimitOrderBook()

    def seed(self, book, seed_rows):
        for oid, side, price, qty in seed_rows:
            (book.limit_buy if side == BUY else book.limit_sell)(oid, qty, price)

    def replay(self, book, messages):
        limit_buy, limit_sell = book.limit_buy, book.limit_sell
        market_buy, market_sell, cancel = book.market_buy, book.market_sell, book.cancel
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                (limit_buy if side == BUY else limit_sell)(oid, qty, price)
            elif kind == CANCEL:
                cancel(oid)
            elif kind == MARKET:
                (market_buy if side == BUY else market_sell)(oid, qty)
            else:
                raise ValueError(f"unexpected kind {kind}")
        return None

    def traded_volume(self, seed_rows, messages):
        book = self.new_book()
        self.seed(book, seed_rows)
        traded = 0
        for kind, oid, side, price, qty in messages:
            if kind == CANCEL:
                book.cancel(oid)
                continue
            opposite = book.volume_sell if side == BUY else book.volume_buy
            before = opposite()
            if kind == LIMIT:
                (book.limit_buy if side == BUY else book.limit_sell)(oid, qty, price)
            else:
                (book.market_buy if side == BUY else book.market_sell)(oid, qty)
            traded += before - opposite()
        return traded


if __name__ == "__main__":
    harness.main(LimitOrderBookPeer)
