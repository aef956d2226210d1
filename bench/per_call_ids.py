"""The per-call path with order ids in sequence and with the same messages under random ids.

    python bench/per_call_ids.py [--rounds N]

What the order of a caller's ids does to the per-call path.  Each round replays workloads A
and B per call on fresh seeded books, once with the workload's own ids (numbered in
sequence) and once with every id mapped to a random 62-bit id, the two in turn (which goes
first alternates), and the table gives the medians over the rounds.  The gap is not the
id-table prefetch alone (PREFETCH_NEXT_ID in engine/_book.pyx, which bets on ids in
sequence): a random id is also three of CPython's 30-bit digits where the workload's are
one.  To measure the prefetch by itself, compare a build without it:
``python bench/compare_builds.py OTHER_BUILD . --path per-call``.
"""
import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import book_bench  # noqa: E402
import workloads  # noqa: E402


def random_ids(seed_orders, messages, rng):
    """The workload with each id replaced by a random 62-bit id (the same one everywhere)."""
    top = int(max(seed_orders["id"].max(), messages["id"].max())) + 1
    mapping = rng.integers(1, 2**62, size=top)
    if len(np.unique(mapping)) < top:
        raise RuntimeError("two ids drew the same random id")
    seed_orders, messages = seed_orders.copy(), messages.copy()
    seed_orders["id"] = mapping[seed_orders["id"]]
    messages["id"] = mapping[messages["id"]]
    return seed_orders, messages


def replay(seed_orders, messages):
    """Calls a second for one per-call replay on a fresh seeded book."""
    return len(messages) / book_bench.time_per_call(seed_orders, messages)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(20261121)
    print(f"per-call calls/s, median (min-max) of {args.rounds} alternating rounds")
    print(f"{'workload':<12}{'ids in sequence':>24}{'random ids':>24}")
    for name, label in (("mixed", "A mixed"), ("cascade", "B cascade")):
        seed_orders, messages = workloads.load(name)
        shuffled = random_ids(seed_orders, messages, rng)
        rates = {"sequence": [], "random": []}
        for round_ in range(args.rounds):
            runs = [("sequence", (seed_orders, messages)), ("random", shuffled)]
            for key, workload in runs[::-1] if round_ % 2 else runs:
                rates[key].append(replay(*workload))
        cells = [f"{statistics.median(r) / 1e6:.2f}M ({min(r) / 1e6:.2f}-{max(r) / 1e6:.2f})"
                 for r in rates.values()]
        print(f"{label:<12}{cells[0]:>24}{cells[1]:>24}")


if __name__ == "__main__":
    main()
