"""fastlob (PyPI): a pure-Python limit order book (SortedDict of price levels, Decimal
prices and quantities at 2 decimals, 8-character random string ids, a lock per side and
a background thread that expires good-till-date orders).

Mapping
- limit: ``lob(OrderParams(side, price, qty))`` (GTC); the caller's ids map to its ids.
- market sell: it has no market order (a limit priced through the touch executes as
  one), so an aggressive limit at the band floor whose unfilled rest is cancelled at once.
- cancel: ``lob.cancel(orderid)``.
- fills: the sum of ``result.execprices()`` (executed quantity per price) of every result
  whose kind is not LIMIT (an order that rested without trading has no execprices, and
  the getter raises on it; ``n_orders_matched()`` cannot tell, since it does not count a
  partial fill of the last resting order).
- Logging stays at the library's default level (warnings only).
"""
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import BUY, LIMIT, MARKET, CANCEL  # noqa: E402

from fastlob import Orderbook, OrderParams, OrderSide, ResultType  # noqa: E402


class Fastlob(harness.Engine):
    name = "fastlob"
    distribution = "fastlob"
    notes = ("no market order: limit at the band floor, rest cancelled; own ids mapped by dict; "
             "volume from execprices",)

    def new_book(self):
        logging.getLogger().setLevel(logging.WARNING)
        return Orderbook(name="bench", start=True), {}

    def close(self, state):
        state[0].stop()

    def seed(self, state, seed_rows):
        book, ids = state
        for oid, side, price, qty in seed_rows:
            result = book.process(OrderParams(OrderSide.BID if side == BUY else OrderSide.ASK, price, qty))
            if not result.success():
                raise RuntimeError(f"fastlob refused seed order {oid}: {result.messages()}")
            ids[oid] = result.orderid()

    def replay(self, state, messages):
        book, ids = state
        process, cancel = book.process, book.cancel
        bid, ask = OrderSide.BID, OrderSide.ASK
        placed = ResultType.LIMIT          # rested without trading: no execprices
        floor, ceiling = self.band
        traded = 0
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                result = process(OrderParams(bid if side == BUY else ask, price, qty))
                ids[oid] = result.orderid()
                if result.kind() != placed:
                    traded += sum(result.execprices().values())
            elif kind == CANCEL:
                if not cancel(ids.pop(oid)).success():
                    raise RuntimeError(f"cancel of live order {oid} failed")
            elif kind == MARKET:
                result = process(OrderParams(bid if side == BUY else ask,
                                             ceiling if side == BUY else floor, qty))
                filled = sum(result.execprices().values()) if result.kind() != placed else 0
                traded += filled
                if filled < qty:
                    cancel(result.orderid())
            else:
                raise ValueError(f"unexpected kind {kind}")
        return int(traded)


if __name__ == "__main__":
    harness.main(Fastlob)
