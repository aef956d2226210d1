"""cython-orderbook (PyPI): a Cython build of a SortedDict + OrderedDict order book.

Mapping
- limit: ``OrderBook.add_limit_order(Order(side, qty, price))``; prices are passed as
  ints (the README uses Decimal, the code only compares and hashes them).
- market sell: the package's own market order, ``add_market_order(Order(side, qty))``;
  it trades until the bids run out and drops the rest.  Every bid in the workloads
  rests inside the band, so it stops at the same level as firesale's banded market sell.
- cancel: ``cancel_order(order_id)`` with the package's own string ids (a process-wide
  counter), mapped from the caller's ids through a dict.
- fills: every fill appends a ``Trade`` dataclass (with a ``datetime.now()`` stamp) to
  ``book.trade_log``; the traded volume is summed from it.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import BUY, LIMIT, MARKET, CANCEL  # noqa: E402

from cython_orderbook import OrderBook, Order, OrderSide  # noqa: E402


class CythonOrderbook(harness.Engine):
    name = "cython-orderbook"
    distribution = "cython-orderbook"
    notes = ("own market order; own string ids mapped by dict; volume from trade_log",)

    def new_book(self):
        book = OrderBook()
        return book, {}

    def seed(self, state, seed_rows):
        book, ids = state
        add = book.add_limit_order
        for oid, side, price, qty in seed_rows:
            order = Order(OrderSide.BID if side == BUY else OrderSide.ASK, qty, price)
            add(order)
            ids[oid] = order.order_id

    def replay(self, state, messages):
        book, ids = state
        add_limit, add_market, cancel = book.add_limit_order, book.add_market_order, book.cancel_order
        bid, ask = OrderSide.BID, OrderSide.ASK
        start = len(book.trade_log)
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                order = Order(bid if side == BUY else ask, qty, price)
                add_limit(order)
                ids[oid] = order.order_id
            elif kind == CANCEL:
                if not cancel(ids.pop(oid)):
                    raise RuntimeError(f"cancel of live order {oid} failed")
            elif kind == MARKET:
                add_market(Order(bid if side == BUY else ask, qty))
            else:
                raise ValueError(f"unexpected kind {kind}")
        return sum(trade.quantity_filled for trade in book.trade_log[start:])


if __name__ == "__main__":
    harness.main(CythonOrderbook)
