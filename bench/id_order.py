"""Both paths with order ids in sequence and with the same messages under random ids.

    python bench/id_order.py [--rounds N] [--path batch|per-call]

What the order of a caller's ids does.  Each round replays workloads A and B on fresh
seeded books, once with the workload's own ids (numbered in sequence) and once with every
id mapped to a random 62-bit id, the two in turn (which goes first alternates), and the
table gives the medians over the rounds.  Ids in sequence live in the id index's window
(engine/_book.pyx), looked up by position; random ones go to its hash table.  Per call,
the gap is also the id prefetch (PREFETCH_NEXT_ID, which bets on ids in sequence) and
CPython's ints: a random id is three 30-bit digits where the workload's are one.  To see
what a change of the engine does to random ids, compare builds on them:
``python bench/compare_builds.py OTHER_BUILD . --ids random``.
"""
import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import book_bench  # noqa: E402
import workloads  # noqa: E402

RANDOM_IDS_SEED = 20261121


def random_ids(seed_orders, messages):
    """The workload with each id replaced by a random 62-bit id (the same one everywhere,
    and the same mapping in every run)."""
    rng = np.random.default_rng(RANDOM_IDS_SEED)
    top = int(max(seed_orders["id"].max(), messages["id"].max())) + 1
    mapping = rng.integers(1, 2**62, size=top)
    if len(np.unique(mapping)) < top:
        raise RuntimeError("two ids drew the same random id")
    seed_orders, messages = seed_orders.copy(), messages.copy()
    seed_orders["id"] = mapping[seed_orders["id"]]
    messages["id"] = mapping[messages["id"]]
    return seed_orders, messages


def replay(seed_orders, messages, batch):
    """Messages a second for one replay on a fresh seeded book."""
    timed = book_bench.time_batch if batch else book_bench.time_per_call
    return len(messages) / timed(seed_orders, messages)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--path", choices=("batch", "per-call"), default="per-call")
    args = parser.parse_args(argv)
    batch = args.path == "batch"
    print(f"{args.path} msgs/s, median (min-max) of {args.rounds} alternating rounds")
    print(f"{'workload':<12}{'ids in sequence':>24}{'random ids':>24}")
    for name, label in (("mixed", "A mixed"), ("cascade", "B cascade")):
        seed_orders, messages = workloads.load(name)
        shuffled = random_ids(seed_orders, messages)
        rates = {"sequence": [], "random": []}
        for round_ in range(args.rounds):
            runs = [("sequence", (seed_orders, messages)), ("random", shuffled)]
            for key, workload in runs[::-1] if round_ % 2 else runs:
                rates[key].append(replay(*workload, batch))
        cells = [f"{statistics.median(r) / 1e6:.2f}M ({min(r) / 1e6:.2f}-{max(r) / 1e6:.2f})"
                 for r in rates.values()]
        print(f"{label:<12}{cells[0]:>24}{cells[1]:>24}")


if __name__ == "__main__":
    main()
