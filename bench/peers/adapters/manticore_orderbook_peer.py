"""manticore-orderbook (PyPI): a pure-Python order book with a strategy per order type,
a pub/sub event manager, a lock per call and a background expiry thread.

Mapping
- limit: ``add_order("buy"/"sell", price, qty, order_id=str(id))``; it takes the caller's
  ids (as strings).
- market sell: its own market order (``order_type="MARKET"``), which trades down the bids
  and rejects (drops) what it cannot fill.  It has no band; every bid in the workloads
  rests inside the band.
- cancel: ``cancel_order(str(id))``.
- fills: a ``TRADE_EXECUTED`` subscriber sums the trade quantities.
- Logging is switched off (``enable_logging=False``), as a benchmark user would.
"""
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import BUY, LIMIT, MARKET, CANCEL  # noqa: E402

from manticore_orderbook import OrderBook, EventManager, EventType  # noqa: E402


class _Volume:
    """Sums traded quantity; `on_trade` is the subscriber (called as handler(event_type, data))."""

    def __init__(self):
        self.traded = 0

        def on_trade(event_type, data):
            self.traded += data["quantity"]
        self.on_trade = on_trade


class Manticore(harness.Engine):
    name = "manticore-orderbook"
    distribution = "manticore-orderbook"
    notes = ("own market order; caller's ids as strings; fills from a TRADE_EXECUTED subscriber",)

    def new_book(self):
        events = EventManager(enable_logging=False)
        volume = _Volume()
        events.subscribe(EventType.TRADE_EXECUTED, volume.on_trade)
        book = OrderBook("X", enable_logging=False, event_manager=events)
        logging.getLogger("manticore_orderbook").setLevel(logging.ERROR)
        return book, volume

    def seed(self, state, seed_rows):
        book, volume = state
        for oid, side, price, qty in seed_rows:
            book.add_order("buy" if side == BUY else "sell", price, qty, order_id=str(oid))

    def replay(self, state, messages):
        book, volume = state
        add, cancel = book.add_order, book.cancel_order
        start = volume.traded
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                add("buy" if side == BUY else "sell", price, qty, order_id=str(oid))
            elif kind == CANCEL:
                if not cancel(str(oid)):
                    raise RuntimeError(f"cancel of live order {oid} failed")
            elif kind == MARKET:
                add("buy" if side == BUY else "sell", None, qty, order_id=str(oid), order_type="MARKET")
            else:
                raise ValueError(f"unexpected kind {kind}")
        return volume.traded - start


if __name__ == "__main__":
    harness.main(Manticore)
