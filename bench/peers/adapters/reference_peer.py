"""The pure-Python reference book (engine/reference.py), through its per-call methods.

It is imported only here, when it runs: while engine/reference.py is not written yet
the row says so instead of failing the whole table.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import LIMIT, MARKET, CANCEL  # noqa: E402


def _reference_class():
    try:
        from engine import reference
    except ImportError as exc:
        raise harness.Unsupported(f"engine/reference.py is not importable yet ({exc})")
    for name in ("ReferenceBook", "Book", "RefBook"):
        if hasattr(reference, name):
            return getattr(reference, name)
    raise harness.Unsupported("engine/reference.py defines no ReferenceBook class")


class Reference(harness.Engine):
    name = "reference (pure Python)"
    distribution = "firesale"
    notes = ("engine.reference, per-call methods",)

    def version(self):
        import engine
        return engine.__version__

    def check(self, workload, messages):
        self.book_class = _reference_class()

    def new_book(self):
        return self.book_class(*self.band)

    def seed(self, book, seed_rows):
        if hasattr(book, "submit"):
            import numpy as np
            from engine import ORDER_DTYPE, LIMIT as K_LIMIT
            orders = np.zeros(len(seed_rows), ORDER_DTYPE)
            orders["owner"] = -1
            orders["kind"] = K_LIMIT
            ids, sides, prices, qtys = zip(*seed_rows)
            orders["id"], orders["side"], orders["price"], orders["qty"] = ids, sides, prices, qtys
            book.submit(orders)
            return
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
    harness.main(Reference)
