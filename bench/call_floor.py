"""How much of a per-call replay is Python's own: the same replay through methods that do nothing.

    python bench/call_floor.py [--rounds N]

The per-call path (`book.limit`, `book.market`, `book.cancel`) pays for CPython's loop, the
argument tuple and the method call before the engine sees a message.  This builds (with
pyximport, into a temporary folder) a Cython class whose methods take the same arguments as
`engine.Book`'s and return 0, replays each workload's per-call plan (book_bench.per_call_plan)
through it and through a fresh seeded book, the two in turn, and prints each one's median
time a call: the do-nothing replay is the floor no per-call engine method can go under.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import book_bench  # noqa: E402
import workloads  # noqa: E402

# The same signatures and the same kind of method (a def method of a cdef class) as engine.Book.
NO_OP_SOURCE = """
cdef class NoOpBook:
    def limit(self, id, side, price, qty, owner=-1, bint queue_at_limit=False):
        return 0
    def market(self, id, side, qty, owner=-1, bint queue_at_limit=False):
        return 0
    def cancel(self, id):
        return 0
"""


def no_op_book(folder):
    """A NoOpBook, compiled in `folder`."""
    import pyximport
    (Path(folder) / "call_floor_no_op.pyx").write_text(NO_OP_SOURCE)
    sys.path.insert(0, str(folder))
    pyximport.install(build_dir=str(Path(folder) / "build"), language_level=3)
    import call_floor_no_op
    return call_floor_no_op.NoOpBook()


def replay_seconds(plan):
    started = time.thread_time()
    book_bench.replay_per_call(plan)
    return time.thread_time() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        no_op = no_op_book(folder)
        print(f"per-call replay, ns a call on the CPU clock, median (min-max) of {args.rounds} "
              "alternating rounds")
        print(f"{'workload':<12}{'methods doing nothing':>26}{'engine.Book':>26}")
        for name, label in (("mixed", "A mixed"), ("cascade", "B cascade")):
            seed_orders, messages = workloads.load(name)
            floor_plan = book_bench.per_call_plan(no_op, messages)
            floor, engine_runs = [], []
            for _ in range(args.rounds):
                floor.append(replay_seconds(floor_plan))
                engine_runs.append(book_bench.time_per_call(seed_orders, messages,
                                                            clock=time.thread_time)[0])
            cells = [f"{statistics.median(r) / len(messages) * 1e9:.0f} "
                     f"({min(r) / len(messages) * 1e9:.0f}-{max(r) / len(messages) * 1e9:.0f})"
                     for r in (floor, engine_runs)]
            print(f"{label:<12}{cells[0]:>26}{cells[1]:>26}")


if __name__ == "__main__":
    main()
