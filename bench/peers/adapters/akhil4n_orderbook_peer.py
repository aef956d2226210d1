"""akhil4n-orderbook (PyPI): the pure-Python original of cython-orderbook (same author,
same SortedDict + OrderedDict design, installed as the top-level module ``orderbook``).

Mapping as for cython-orderbook: ``add_limit_order(Order(side, price, qty))``, the
package's own ``MarketOrder`` for market sells (trades until the bids run out, drops
the rest; every bid in the workloads is inside the band), cancel by the package's own
string ids mapped from the caller's, traded volume summed from ``book.trade_log``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import BUY, LIMIT, MARKET, CANCEL  # noqa: E402

from orderbook import OrderBook, Order, MarketOrder, OrderSide  # noqa: E402


class Akhil4nOrderbook(harness.Engine):
    name = "akhil4n-orderbook"
    distribution = "akhil4n-orderbook"
    notes = ("own MarketOrder; own string ids mapped by dict; volume from trade_log",)

    def new_book(self):
        return OrderBook(), {}

    def seed(self, state, seed_rows):
        book, ids = state
        add = book.add_limit_order
        for oid, side, price, qty in seed_rows:
            order = Order(OrderSide.BID if side == BUY else OrderSide.ASK, price, qty)
            add(order)
            ids[oid] = order.order_id

    def replay(self, state, messages):
        book, ids = state
        add_limit, add_market, cancel = book.add_limit_order, book.add_market_order, book.cancel_order
        bid, ask = OrderSide.BID, OrderSide.ASK
        start = len(book.trade_log)
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                order = Order(bid if side == BUY else ask, price, qty)
                add_limit(order)
                ids[oid] = order.order_id
            elif kind == CANCEL:
                if not cancel(ids.pop(oid)):
                    raise RuntimeError(f"cancel of live order {oid} failed")
            elif kind == MARKET:
                add_market(MarketOrder(bid if side == BUY else ask, qty))
            else:
                raise ValueError(f"unexpected kind {kind}")
        return sum(trade.quantity_filled for trade in book.trade_log[start:])


if __name__ == "__main__":
    harness.main(Akhil4nOrderbook)
