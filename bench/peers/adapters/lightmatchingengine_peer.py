"""lightmatchingengine (PyPI): a pure-Python matching engine keeping each side as a dict
of price -> list of orders.

Mapping
- limit: ``add_order(instmt, price, qty, side)`` (side 1 buy, 2 sell); the engine numbers
  orders itself, so the caller's ids map to its ids through a dict.
- market sell: its own market order (price 0).  It trades down the bids, but what it
  cannot fill is *rested* as an ask at price 0 (the code appends any remainder to the
  book whatever the price), where it would trade with every later buy.  The adapter
  therefore cancels that remainder at once, which is the market-order semantics the
  workloads need.  It has no band; every bid in the workloads rests inside the band.
- cancel: ``cancel_order(order_id, instmt)`` (a linear scan of the price level's list).
- fills: the aggressive order's ``cum_qty``.
- Each step of a sweep takes ``min``/``max`` over all price levels of the other side.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import BUY, LIMIT, MARKET, CANCEL  # noqa: E402

from lightmatchingengine.lightmatchingengine import LightMatchingEngine, Side  # noqa: E402

INSTRUMENT = "X"


class LightMatching(harness.Engine):
    name = "lightmatchingengine"
    distribution = "lightmatchingengine"
    notes = ("own market order (price 0), its unfilled rest cancelled by the adapter "
             "(the engine would rest it as an ask at 0); own ids mapped by dict",)

    def new_book(self):
        return LightMatchingEngine(), {}

    def seed(self, state, seed_rows):
        engine, ids = state
        for oid, side, price, qty in seed_rows:
            order, trades = engine.add_order(INSTRUMENT, price, qty, Side.BUY if side == BUY else Side.SELL)
            ids[oid] = order.order_id

    def replay(self, state, messages):
        engine, ids = state
        add, cancel = engine.add_order, engine.cancel_order
        buy, sell = Side.BUY, Side.SELL
        traded = 0
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                order, trades = add(INSTRUMENT, price, qty, buy if side == BUY else sell)
                traded += order.cum_qty
                if order.leaves_qty:
                    ids[oid] = order.order_id
            elif kind == CANCEL:
                if cancel(ids.pop(oid), INSTRUMENT) is None:
                    raise RuntimeError(f"cancel of live order {oid} failed")
            elif kind == MARKET:
                order, trades = add(INSTRUMENT, 0, qty, buy if side == BUY else sell)
                traded += order.cum_qty
                if order.leaves_qty:
                    cancel(order.order_id, INSTRUMENT)
            else:
                raise ValueError(f"unexpected kind {kind}")
        return traded


if __name__ == "__main__":
    harness.main(LightMatching)
