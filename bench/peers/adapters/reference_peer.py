"""The pure-Python reference book (engine/reference.py), through the same per-call replay
as firesale's per-call path."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from firesale_percall import FiresalePerCall  # noqa: E402


class Reference(FiresalePerCall):
    name = "reference (pure Python)"
    notes = ("engine.reference, per-call methods",)

    def new_book(self):
        from engine.reference import ReferenceBook
        return ReferenceBook(*self.band)


if __name__ == "__main__":
    harness.main(Reference)
