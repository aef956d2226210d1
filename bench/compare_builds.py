"""Compare two or more builds of the engine on workloads A and B, batch or per call.

    python bench/compare_builds.py BUILD [BUILD ...] [--rounds N] [--clock wall|cpu]
                                   [--path batch|per-call] [--ids sequence|random]

Each BUILD is a folder holding an ``engine`` package built in place (a checkout or a copy
of one after ``python setup.py build_ext --inplace``).  Every round runs each build once,
in turn, in a fresh process (best of three replays on a fresh seeded book each); the
table gives each build's median and range over the rounds and, for each build after the
first, the median of its rate over the first build's round by round, with the number of
rounds in which it was the faster.  On a shared machine the
host's load moves throughput by tens of percent from one minute to the next, so builds
are compared round by round, never from runs made at different times.  ``--clock cpu``
times the thread's CPU time, which leaves out time the host took the core away.
``--ids random`` replays the workloads with every id mapped to a random 62-bit one
(bench/id_order.py), as callers that do not number their orders in sequence would.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent

_ONE_RUN = """
import sys, time, json
sys.path.insert(0, {bench!r})
import workloads, book_bench, id_order
clock = time.thread_time if {cpu} else time.perf_counter
out = {{}}
for name in ("mixed", "cascade"):
    seed, msgs = workloads.load(name)
    if {random_ids}:
        seed, msgs = id_order.random_ids(seed, msgs)
    timed = book_bench.time_batch if {batch} else book_bench.time_per_call
    best = min(timed(seed, msgs, clock=clock)[0] for _ in range(3))
    out[name] = len(msgs) / best
print(json.dumps(out))
"""


def run_once(build, cpu, batch=True, random_ids=False):
    env = dict(os.environ, PYTHONPATH=str(Path(build).resolve()), OPENBLAS_NUM_THREADS="1")
    code = _ONE_RUN.format(bench=str(BENCH), cpu=cpu, batch=batch, random_ids=random_ids)
    # Run from a folder with no `engine` in it: `python -c` puts its working folder first on
    # sys.path, and the checkout's own `engine` would shadow the build under test.
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=tempfile.gettempdir(), check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("builds", nargs="+", help="folders holding a built engine package")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--path", choices=("batch", "per-call"), default="batch")
    parser.add_argument("--ids", choices=("sequence", "random"), default="sequence")
    args = parser.parse_args(argv)
    for build in args.builds:
        if not (Path(build) / "engine").is_dir():
            parser.error(f"{build} holds no engine package")
    rates = {build: {"mixed": [], "cascade": []} for build in args.builds}
    for _ in range(args.rounds):
        for build in args.builds:
            for name, rate in run_once(build, args.clock == "cpu", args.path == "batch",
                                       args.ids == "random").items():
                rates[build][name].append(rate)
    print(f"{args.path} msgs/s, ids in {args.ids}, median (min-max) of {args.rounds} "
          f"alternating rounds, {args.clock} clock")
    print(f"{'build':40} {'A mixed':>24} {'B cascade':>24}")
    digits = 1 if args.path == "batch" else 2
    for build, by_name in rates.items():
        cells = [f"{statistics.median(v) / 1e6:.{digits}f}M "
                 f"({min(v) / 1e6:.{digits}f}-{max(v) / 1e6:.{digits}f})"
                 for v in by_name.values()]
        print(f"{build:40} {cells[0]:>24} {cells[1]:>24}")
    # The load moves every build's rate together within a round, so a ratio taken round by
    # round is steadier than a ratio of the medians.
    first = args.builds[0]
    for build in args.builds[1:]:
        cells = []
        for name in ("mixed", "cascade"):
            ratios = [b / a for a, b in zip(rates[first][name], rates[build][name])]
            faster = sum(r > 1 for r in ratios)
            cells.append(f"{statistics.median(ratios):.3f}x, {faster} of {len(ratios)} faster")
        print(f"{build + ' / first, by round':40} {cells[0]:>24} {cells[1]:>24}")


if __name__ == "__main__":
    main()
