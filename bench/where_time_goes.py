"""Where the book's time goes: the figures the README's "Where the time goes" and
bench/NOTES.md quote.

- Instructions a message on workloads A and B (batch, and A again with every id mapped to
  a random one, as in bench/id_order.py) and a call (per-call path on A), counted by
  ``valgrind --tool=cachegrind``: the count of a run that replays the workload
  minus the count of the same run without the replay.  Repeatable on any machine load.
- Data reads that miss the first-level cache, a message, the same way: cachegrind
  simulates the cache (this machine's L1 geometry), so the count is repeatable too, and
  tells what a change does to the waits on memory that instruction counts do not show.
- The same counts for the flat C book (bench/flat_book.c), the yardstick the batch path's
  target was set against, on A and B.
- Instructions a forced order in a margin cascade of 200,000 accounts (the cascade
  benchmark's workload), counted the same way.
- How far B walks the best bid down, how long the makers its sweeps trade against had
  rested, in messages, and how many makers its sweeps take at each level and each sweep.

Run ``python bench/where_time_goes.py`` (needs valgrind).
"""
import os
import re
import shutil
from functools import partial
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import book_bench  # noqa: E402
import flat_book  # noqa: E402
import workloads  # noqa: E402

# What one child runs: seed the book, then replay (or not) one way.
CHILD = """
import sys
sys.path.insert(0, {here!r})
import book_bench, workloads, id_order
seed, messages = workloads.load({name!r})
if {random_ids!r}:
    seed, messages = id_order.random_ids(seed, messages)
book = book_bench.seeded(seed)
plan = book_bench.per_call_plan(book, messages) if {per_call!r} else None
if {replay!r}:
    book_bench.replay_per_call(plan) if {per_call!r} else book.submit(messages)
"""

# The same for the flat C book.
FLAT_CHILD = """
import sys
sys.path.insert(0, {here!r})
import book_bench, workloads
seed, messages = workloads.load({name!r})
book, batch = book_bench.flat_seeded(seed, messages)
if {replay!r}:
    book.run(batch)
"""

# The same for a margin cascade: build its book and ledger, then run it (or not).
CASCADE_CHILD = """
import sys
sys.path.insert(0, {here!r})
import cascade_bench
from engine.cascade import Cascade, Shock
book, accounts = cascade_bench.workload({accounts!r})
if {replay!r}:
    Cascade(book, accounts, mark="last", record_tape=True).run(Shock.sell(1000))
"""
CASCADE_ACCOUNTS = 200_000


def child(name, per_call, replay, random_ids=False):
    """The code of one child run on workload `name` (bench/line_counts.py runs it too)."""
    return CHILD.format(here=str(HERE), name=name, per_call=per_call, replay=replay,
                        random_ids=random_ids)


def instructions(name, per_call, replay, random_ids=False):
    """(instructions, first-level data read misses) of one child run."""
    return _count(child(name, per_call, replay, random_ids), misses=True)


def flat_instructions(name, replay):
    return _count(FLAT_CHILD.format(here=str(HERE), name=name, replay=replay), misses=True)


def cascade_instructions(replay):
    return _count(CASCADE_CHILD.format(here=str(HERE), accounts=CASCADE_ACCOUNTS, replay=replay),
                  misses=False)[0]


def cachegrind(code, cache_sim, out_file="/dev/null"):
    """Run `code` in a child Python under cachegrind (with its cache simulated or not, the
    per-line counts written to `out_file`); return the summary it prints."""
    env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1")
    return subprocess.run(["valgrind", "--tool=cachegrind", f"--cache-sim={'yes' if cache_sim else 'no'}",
                           f"--cachegrind-out-file={out_file}", sys.executable, "-c", code],
                          env=env, capture_output=True, text=True, check=True).stderr


def _count(code, misses):
    """(instructions, first-level data read misses or None) of running `code`."""
    out = cachegrind(code, cache_sim=misses)
    refs = int(re.search(r"I\s+refs:\s+([\d,]+)", out).group(1).replace(",", ""))
    if not misses:
        return refs, None
    # "D1  misses:  total  ( reads rd + writes wr)"
    read_misses = re.search(r"D1\s+misses:\s+[\d,]+\s+\(\s*([\d,]+) rd", out).group(1)
    return refs, int(read_misses.replace(",", ""))


def replay_b():
    """B's walk of the best bid (ticks) and its fills."""
    seed, messages = workloads.load("cascade")
    book = book_bench.seeded(seed)
    start = book.best_bid()
    fills = book.submit(messages).fills
    return start - book.best_bid(), fills


def main():
    walk, fills = replay_b()
    # ids count the messages of B; the seed orders count as arriving just before it
    ages = fills["taker_id"] - fills["maker_id"]
    print(f"B: the best bid walks down {walk:,} ticks")
    print(f"B: makers had rested a median {int(np.median(ages)):,} messages when they traded "
          f"(10th-90th percentile {int(np.percentile(ages, 10)):,}-{int(np.percentile(ages, 90)):,})")
    per_level = np.unique(fills["price"], return_counts=True)[1]
    per_sweep = np.unique(fills["taker_id"], return_counts=True)[1]
    print(f"B: sweeps took a median {int(np.median(per_level)):,} makers at each level they "
          f"reached, {per_sweep.mean():.2f} a sweep")
    if shutil.which("valgrind") is None:
        print("valgrind not found: no instruction counts")
        return
    flat_book.library()     # built now, or the first flat child counted would build it
    runs = [(label, name, partial(instructions, name, per_call, random_ids=random_ids))
            for label, name, per_call, random_ids in (
                ("A batch", "mixed", False, False), ("B batch", "cascade", False, False),
                ("A batch, random ids", "mixed", False, True), ("A per call", "mixed", True, False))]
    runs += [(f"{label}, flat C book", name, partial(flat_instructions, name))
             for label, name in (("A", "mixed"), ("B", "cascade"))]
    for label, name, count in runs:
        n = len(workloads.load(name)[1])
        (ran, ran_misses), (idle, idle_misses) = count(replay=True), count(replay=False)
        print(f"{label}: {(ran - idle) / n:,.0f} instructions and "
              f"{(ran_misses - idle_misses) / n:.2f} first-level cache read misses a message")
    # Every account is liquidated with one forced order (cascade_bench's workload).
    extra = cascade_instructions(True) - cascade_instructions(False)
    print(f"Cascade ({CASCADE_ACCOUNTS:,} accounts): {extra / CASCADE_ACCOUNTS:,.0f} "
          "instructions a forced order")


if __name__ == "__main__":
    main()
