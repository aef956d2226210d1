"""litebook (PyPI): a Rust (PyO3) limit order book with float prices and quantities.

Mapping
- limit: ``book.add(book.create_order(side, price, qty))`` with ``tick_size=1.0`` so a
  tick is one price unit; integer prices and lots are exact as floats at these sizes.
  The engine names orders with UUID strings, mapped from the caller's ids by a dict.
- market sell: it has no market order, so an aggressive limit at the band floor whose
  unfilled rest is cancelled at once.
- cancel: ``book.cancel(uuid)``.
- fills: ``add`` returns the list of ``Fill`` objects; traded volume is their quantities.
- It prices each fill at the incoming order's limit, not the resting order's (an
  aggressive sell at the floor trades everything at the floor); volume is unaffected.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import BUY, LIMIT, MARKET, CANCEL  # noqa: E402

import litebook  # noqa: E402


class Litebook(harness.Engine):
    name = "litebook"
    distribution = "litebook"
    notes = ("no market order: limit at the band floor, rest cancelled; UUID ids mapped by dict; "
             "fills priced at the taker's limit (volume unaffected)",)

    def new_book(self):
        return litebook.OrderBook(tick_size=1.0), {}

    def seed(self, state, seed_rows):
        book, ids = state
        buy, sell = litebook.OrderType.Buy, litebook.OrderType.Sell
        for oid, side, price, qty in seed_rows:
            order = book.create_order(buy if side == BUY else sell, float(price), float(qty))
            book.add(order)
            ids[oid] = order.id

    def replay(self, state, messages):
        book, ids = state
        create, add, cancel = book.create_order, book.add, book.cancel
        buy, sell = litebook.OrderType.Buy, litebook.OrderType.Sell
        floor, ceiling = float(self.band[0]), float(self.band[1])
        traded = 0.0
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                order = create(buy if side == BUY else sell, float(price), float(qty))
                fills = add(order)
                ids[oid] = order.id
                for fill in fills:
                    traded += fill.quantity
            elif kind == CANCEL:
                if not cancel(ids.pop(oid)):
                    raise RuntimeError(f"cancel of live order {oid} failed")
            elif kind == MARKET:
                order = create(buy if side == BUY else sell, ceiling if side == BUY else floor, float(qty))
                filled = 0.0
                for fill in add(order):
                    filled += fill.quantity
                traded += filled
                if filled < qty:
                    cancel(order.id)
            else:
                raise ValueError(f"unexpected kind {kind}")
        return int(round(traded))


if __name__ == "__main__":
    harness.main(Litebook)
