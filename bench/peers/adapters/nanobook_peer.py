"""nanobook (PyPI): a Rust (PyO3) exchange simulator whose ``Exchange`` is a
price-time-priority limit order book with integer prices.

Mapping
- limit: ``submit_limit("buy"/"sell", price, qty)`` (GTC); the engine numbers orders
  itself, so the caller's ids map to its ids through a dict.
- market sell: its own ``submit_market``, which cancels what it cannot fill.  It has no
  band; every bid in the workloads rests inside the band.
- cancel: ``cancel(order_id)``.
- fills: ``SubmitResult.filled_quantity``.
- The exchange also keeps every trade and event in memory (its replay log); the
  adapter leaves that on, as it is part of what the engine does per message.

Known defect (0.19.2, found on the mixed workload): the cancel of order 80660 (message
45,433; a bid at 99980, 4th of 17 in its queue) returns success and marks the order
cancelled, but its 69 lots stay in the level (the level still shows 534 lots in 17
orders instead of 465 in 16).  From then on fills go to the wrong orders, and at message
48,166 (a buy of 24 at 100019) ``submit_limit`` never returns.  The watchdog ends that
run; the cascade workload has no cancels and runs correctly.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import BUY, LIMIT, MARKET, CANCEL  # noqa: E402

import nanobook  # noqa: E402


class Nanobook(harness.Engine):
    name = "nanobook"
    distribution = "nanobook"
    notes = ("own market order; own ids mapped by dict; fills from SubmitResult; "
             "keeps a trade/event log",)

    stall_seconds = 60.0     # a full replay takes a few seconds when it works

    def check(self, workload, messages):
        if any(kind == CANCEL for kind, *_ in messages):
            self.notes.append("0.19.2 bug: a cancel (mixed msg 45,433) reports success but "
                              "leaves the order's lots in its level; later fills go to the "
                              "wrong orders and submit_limit loops forever at msg 48,166")

    def new_book(self):
        return nanobook.Exchange(), {}

    def seed(self, state, seed_rows):
        book, ids = state
        for oid, side, price, qty in seed_rows:
            ids[oid] = book.submit_limit("buy" if side == BUY else "sell", price, qty).order_id

    def replay(self, state, messages):
        book, ids = state
        submit_limit, submit_market, cancel = book.submit_limit, book.submit_market, book.cancel
        traded = 0
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                result = submit_limit("buy" if side == BUY else "sell", price, qty)
                ids[oid] = result.order_id
                traded += result.filled_quantity
            elif kind == CANCEL:
                result = cancel(ids.pop(oid))
                if not result.success:
                    raise RuntimeError(f"cancel of live order {oid} failed: {result.error}")
            elif kind == MARKET:
                traded += submit_market("buy" if side == BUY else "sell", qty).filled_quantity
            else:
                raise ValueError(f"unexpected kind {kind}")
        return traded


if __name__ == "__main__":
    harness.main(Nanobook)
