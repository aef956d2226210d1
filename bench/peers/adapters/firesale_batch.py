"""firesale's batch path: the whole message array in one `Book.submit` call."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402


class FiresaleBatch(harness.Engine):
    name = "firesale (batch)"
    distribution = "firesale"
    notes = ("Book.submit on the ORDER_DTYPE array, no GIL",)
    wants_array = True

    def version(self):
        import engine
        return engine.__version__

    def new_book(self):
        import engine
        return engine.Book(*self.band)

    def seed(self, book, seed_orders):
        result = book.submit(seed_orders)
        assert not result.reject.any(), "seed orders rejected"

    def replay(self, book, messages):
        result = book.submit(messages)
        rejected = int((result.reject != 0).sum())
        if rejected and not any("rejected" in n for n in self.notes):
            self.notes.append(f"{rejected} messages rejected")
        return int(result.fills["qty"].sum())


if __name__ == "__main__":
    harness.main(FiresaleBatch)
