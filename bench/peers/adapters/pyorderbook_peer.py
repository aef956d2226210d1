"""pyorderbook (PyPI): a pure-Python book (a heap of price levels per side, a dict queue
per level, Decimal prices, UUID ids).

Mapping
- limit: ``book.match(Order(side, symbol, price, qty))``; the caller's ids map to the
  ``Order`` objects (``cancel`` takes the object).
- market sell: it has no market order, so an aggressive limit at the band floor whose
  unfilled rest is cancelled at once.
- cancel: ``book.cancel(order)``.  It leaves an emptied level in the heap until a sweep
  reaches it, which is harmless for matching.
- fills: the incoming order's ``original_quantity - quantity`` after ``match``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import BUY, LIMIT, MARKET, CANCEL  # noqa: E402

from pyorderbook import Book, Order, Side  # noqa: E402

SYMBOL = "X"


class PyOrderBook(harness.Engine):
    name = "pyorderbook"
    distribution = "pyorderbook"
    notes = ("no market order: limit at the band floor, rest cancelled; cancel by Order object via dict",)

    def new_book(self):
        return Book(), {}

    def seed(self, state, seed_rows):
        book, orders = state
        for oid, side, price, qty in seed_rows:
            order = Order(Side.BID if side == BUY else Side.ASK, SYMBOL, price, qty)
            book.match(order)
            orders[oid] = order

    def replay(self, state, messages):
        book, orders = state
        match, cancel = book._match, book.cancel
        bid, ask = Side.BID, Side.ASK
        floor, ceiling = self.band
        traded = 0
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                order = Order(bid if side == BUY else ask, SYMBOL, price, qty)
                match(order)
                orders[oid] = order
                traded += qty - order.quantity
            elif kind == CANCEL:
                cancel(orders.pop(oid))
            elif kind == MARKET:
                order = Order(bid if side == BUY else ask, SYMBOL, ceiling if side == BUY else floor, qty)
                match(order)
                traded += qty - order.quantity
                if order.quantity:
                    cancel(order)
            else:
                raise ValueError(f"unexpected kind {kind}")
        return traded


if __name__ == "__main__":
    harness.main(PyOrderBook)
