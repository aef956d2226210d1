"""liquibook (PyPI): the SWIG wrapper of the C++ LiquiBook matching engine.

Mapping
- limit: ``SimpleOrder(is_buy, price, qty)`` added to a ``DepthOrderBook`` (the
  wrapper's book class; ``SimpleOrderBook`` is not constructible from Python).
- market sell: liquibook's own market order (price 0) with the immediate-or-cancel
  condition, so what does not trade is cancelled instead of resting as a market order.
  Every bid in the workloads rests inside the band, so it trades down to the same
  levels as firesale's band-limited market sell.  The condition must be passed to
  ``book.add(order, oc_immediate_or_cancel)``: given only to the ``SimpleOrder``
  constructor (as the wrapper's API suggests) it is ignored, because the engine reads
  the order's own conditions only when built with ``LIQUIBOOK_ORDER_KNOWS_CONDITIONS``
  (and that code ORs them into the argument, not the tracker).  The unfilled rest then
  stays in the book as a market order at price 0; in the full cascade, where one market
  sell empties the bids (message 309,261), the next buy (a limit at 99999) trades 132
  lots against that rest and the run trades 14,668,973 lots instead of 14,668,959.
- cancel: ``book.cancel(order)`` takes the order object, so the adapter keeps a dict
  from the caller's id to the ``SimpleOrder`` it sent (liquibook numbers orders itself).
- fills: counted by a Python ``OrderListener.on_fill`` (a SWIG director callback per
  fill): that is how a Python user gets fills out of this wrapper.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import BUY, LIMIT, MARKET, CANCEL  # noqa: E402

import liquibook  # noqa: E402


class _FillCounter(liquibook.OrderListener):
    def __init__(self):
        liquibook.OrderListener.__init__(self)
        self.traded = 0

    def on_fill(self, order, matched_order, fill_qty, fill_cost):
        self.traded += fill_qty   # called once per fill (passive + aggressive in one call)

    def on_accept(self, order):
        pass

    def on_cancel(self, order):
        pass

    def on_reject(self, order, reason):
        raise RuntimeError(f"liquibook rejected an order: {reason}")

    def on_cancel_reject(self, order, reason):
        raise RuntimeError(f"liquibook rejected a cancel: {reason}")


class Liquibook(harness.Engine):
    name = "liquibook"
    distribution = "liquibook"
    notes = ("market sell = market order + IOC (IOC passed to add(): set on the order it is "
             "ignored and the rest rests at price 0); cancel via id->order dict; "
             "fills via Python on_fill callback",)

    def new_book(self):
        book = liquibook.DepthOrderBook()
        listener = _FillCounter()
        book.set_order_listener(listener)
        book.listener = listener        # keep it alive as long as the book
        book.orders = {}
        return book

    def seed(self, book, seed_rows):
        orders = book.orders
        order_class = liquibook.SimpleOrder
        add = book.add
        for oid, side, price, qty in seed_rows:
            order = order_class(side == BUY, price, qty)
            orders[oid] = order
            add(order)

    def replay(self, book, messages):
        orders = book.orders
        order_class = liquibook.SimpleOrder
        add, cancel = book.add, book.cancel
        ioc = liquibook.oc_immediate_or_cancel
        listener = book.listener
        start = listener.traded
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                order = order_class(side == BUY, price, qty)
                orders[oid] = order
                add(order)
            elif kind == CANCEL:
                cancel(orders.pop(oid))
            elif kind == MARKET:
                add(order_class(side == BUY, 0, qty), ioc)
            else:
                raise ValueError(f"unexpected kind {kind}")
        return listener.traded - start


if __name__ == "__main__":
    harness.main(Liquibook)
