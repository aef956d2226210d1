"""The kernel's share of a replay: page faults and system time, batch and per call.

    python bench/kernel_time.py [--replays N]

Replays workloads A and B N times in one process (default 8), each on a fresh seeded book
freed before the next, as a simulator or a benchmark loop would, and prints for each path
the median over the replays after the first two (a process's first replays meet fresh
memory however blocks are kept) of:

- the minor page faults the replay took: each is a page of memory touched for the first
  time, which the kernel must find and zero;
- the system and user CPU time of the process during the replay (``getrusage``), and the
  system time's share of the two.

Unlike throughput, page faults hardly move with the load on the machine, so this is the
figure to compare builds by when a change is about memory (engine/_blocks.h).  To measure
another build, run from a folder with no ``engine`` in it, with the build first on
``PYTHONPATH``.
"""
import argparse
import resource
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import book_bench  # noqa: E402
import workloads  # noqa: E402

WARM_REPLAYS = 2


def _usage():
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_minflt, used.ru_stime, used.ru_utime


def replay_costs(name, per_call, replays):
    """(faults, system s, user s) of each of `replays` replays of workload `name`."""
    seed, messages = workloads.load(name)
    costs = []
    for _ in range(replays):
        book = book_bench.seeded(seed)
        plan = book_bench.per_call_plan(book, messages) if per_call else None
        before = _usage()
        if per_call:
            book_bench.replay_per_call(plan)
            fills = book.take_fills()
        else:
            done = book.submit(messages)
        after = _usage()
        costs.append(tuple(b - a for a, b in zip(before, after)))
        # Free this replay's book and arrays before the next one is seeded.
        if per_call:
            del fills, plan
        else:
            del done
        del book
    return costs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replays", type=int, default=8)
    args = parser.parse_args(argv)
    if args.replays <= WARM_REPLAYS:
        parser.error(f"--replays must be over {WARM_REPLAYS}")
    import engine
    print(f"engine from {Path(engine.__file__).parent}; medians of replays "
          f"{WARM_REPLAYS + 1}-{args.replays} in one process")
    print(f"{'workload':10} {'path':9} {'page faults':>12} {'system ms':>10} {'user ms':>9} "
          f"{'system share':>13}")
    for name, label in (("mixed", "A mixed"), ("cascade", "B cascade")):
        for path in ("batch", "per-call"):
            costs = replay_costs(name, path == "per-call", args.replays)[WARM_REPLAYS:]
            faults, system, user = (statistics.median(c[k] for c in costs) for k in range(3))
            share = system / (system + user) if system + user else 0.0
            print(f"{label:10} {path:9} {faults:12,.0f} {system * 1e3:10.1f} {user * 1e3:9.1f} "
                  f"{share:13.1%}")


if __name__ == "__main__":
    main()
