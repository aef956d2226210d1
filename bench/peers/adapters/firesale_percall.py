"""firesale's per-call path: one `book.limit` / `book.market` / `book.cancel` call a message."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import LIMIT, MARKET, CANCEL  # noqa: E402


class FiresalePerCall(harness.Engine):
    name = "firesale (per call)"
    distribution = "firesale"
    notes = ("book.limit/market/cancel per message; fills drained once with take_fills",)

    def version(self):
        import engine
        return engine.__version__

    def new_book(self):
        import engine
        return engine.Book(*self.band)

    def seed(self, book, seed_rows):
        for oid, side, price, qty in seed_rows:
            book.limit(oid, side, price, qty)

    def replay(self, book, messages):
        limit, market, cancel = book.limit, book.market, book.cancel
        traded = 0
        for kind, oid, side, price, qty in messages:
            if kind == LIMIT:
                traded += limit(oid, side, price, qty)
            elif kind == CANCEL:
                cancel(oid)
            elif kind == MARKET:
                traded += market(oid, side, qty)
            else:
                raise ValueError(f"unexpected kind {kind}")
        book.take_fills()
        return traded


if __name__ == "__main__":
    harness.main(FiresalePerCall)
