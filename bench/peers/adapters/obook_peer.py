"""obook (PyPI): ctypes bindings of the intrepidkarthi/orderbook C++ matching engine.

Mapping
- limit: ``submit(user, side, price, qty)`` (GTC limit); the engine numbers orders itself,
  so the caller's ids map to its ids through a dict.
- user: the engine cancels an incoming order that would trade with a resting order of the
  same user (self-trade prevention), so every order is sent as its own user (its id).
- market sell: its own market order (``type=MARKET``), which cancels what it cannot fill.
  It has no band; every bid in the workloads rests inside the band.
- cancel: ``cancel(order_id, user)``.
- fills: ``events()`` drained after every message, traded volume summed from the TRADE
  events.  Drained less often, obook 0.1.0 hands back TRADE events whose fields belong to
  later trades (first 50,000 mixed messages, drained every 256: 60,016 lots traded
  instead of 61,282; every message: 61,282, as firesale), so per-message draining is the
  only correct way to get its fills.
- capacity: ``Book(max_orders=...)`` is fixed; sized to hold every order of the workload.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import BUY, LIMIT, MARKET, CANCEL  # noqa: E402

import obook  # noqa: E402


class Obook(harness.Engine):
    name = "obook"
    distribution = "obook"
    notes = ("ctypes; own market order; own ids mapped by dict; one user per order "
             "(self-trade prevention); fills from TRADE events drained after every message "
             "(drained less often its TRADE events come back corrupted)",)

    def prepare(self, messages):
        self.capacity = 200_000 + len(messages)
        return messages

    def new_book(self):
        return obook.Book(max_orders=self.capacity), {}

    def seed(self, state, seed_rows):
        book, ids = state
        for oid, side, price, qty in seed_rows:
            result = book.submit(oid, obook.BUY if side == BUY else obook.SELL, price, qty)
            ids[oid] = result.order_id
        book.events()

    def replay(self, state, messages):
        book, ids = state
        submit, cancel, events = book.submit, book.cancel, book.events
        ob_buy, ob_sell, ob_market = obook.BUY, obook.SELL, obook.MARKET
        trade, rejected, done = obook.EventKind.TRADE, obook.Status.REJECTED, obook.Status.CANCELLED
        traded = 0
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                result = submit(oid, ob_buy if side == BUY else ob_sell, price, qty)
                if result.status == rejected:
                    raise RuntimeError(f"obook rejected order {oid}: {result.reason.name}")
                ids[oid] = result.order_id
            elif kind == CANCEL:
                result = cancel(ids.pop(oid), oid)
                if result.status != done:
                    raise RuntimeError(f"obook refused to cancel {oid}: {result.reason.name}")
            elif kind == MARKET:
                submit(oid, ob_buy if side == BUY else ob_sell, 0, qty, ob_market)
            else:
                raise ValueError(f"unexpected kind {kind}")
            for event in events():
                if event.kind == trade:
                    traded += event.qty
        return traded


if __name__ == "__main__":
    harness.main(Obook)
