"""Where a batch's instructions go, by function and by line of engine/_book.pyx.

    python bench/line_counts.py [--workload mixed|cascade] [--top N]

Runs ``valgrind --tool=cachegrind`` on a child that seeds the workload's book and replays
it with ``Book.submit``, and on the same child without the replay, and gives, a message,
the difference: instructions and first-level data misses (reads and writes) of each
function of engine/_book.pyx (inlined code counts where its source lines are), then of its
busiest lines.  Like ``where_time_goes.py`` its counts do not move with the machine's load.

Cachegrind counts lines of the generated engine/_book.c; Cython marks which .pyx line each
stretch of C comes from (``/* "engine/_book.pyx":627``), which maps them back.  So the
engine must be built in place from this checkout, with the .c file beside it and with
debug line information (Python's own CFLAGS give ``-g``; ``make build`` does all this).
"""
import argparse
import bisect
import collections
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYX = ROOT / "engine" / "_book.pyx"
GENERATED = ROOT / "engine" / "_book.c"

sys.path.insert(0, str(HERE))

import where_time_goes  # noqa: E402
import workloads  # noqa: E402

# A Cython marker comment naming the .pyx line the C after it comes from.
MARKER = re.compile(r'/\* "engine/_book\.pyx":(\d+)')
# A function's first line in the .pyx: `def name(`, `cdef [inline] type name(`, ...
DEFINITION = re.compile(r"^\s*(?:cpdef|cdef|def)\s+(?:inline\s+)?(?:[\w.*]+\s+)*?(\w+)\(")


def pyx_line_of_c_lines():
    """For each line of engine/_book.c, the engine/_book.pyx line it comes from (or None)."""
    mapping, current = [None], None
    with open(GENERATED) as generated:
        for line in generated:
            marker = MARKER.search(line)
            if marker:
                current = int(marker.group(1))
            mapping.append(current)
    return mapping


def functions_of_pyx_lines():
    """(first lines, names) of the functions in engine/_book.pyx, in order."""
    starts, names = [], []
    for number, line in enumerate(PYX.read_text().splitlines(), 1):
        match = DEFINITION.match(line)
        if match:
            starts.append(number)
            names.append(match.group(1))
    return starts, names


def cachegrind(replay, name):
    """Per .c line of engine/_book.c: [instructions, first-level misses] of one child run."""
    code = where_time_goes.child(name, per_call=False, replay=replay)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder, "cachegrind.out")
        where_time_goes.cachegrind(code, cache_sim=True, out_file=out)
        return _per_line(out.read_text().splitlines())


def _per_line(lines):
    counts = collections.defaultdict(lambda: [0, 0])
    events, ours = [], False
    for line in lines:
        if line.startswith("events:"):
            events = line.split()[1:]
            ir, misses = events.index("Ir"), [events.index("D1mr"), events.index("D1mw")]
        elif line.startswith("fl="):
            ours = line[3:].strip().endswith("engine/_book.c")
        elif ours and line[:1].isdigit():
            fields = [int(x) for x in line.split()]
            values = fields[1:] + [0] * (len(events) - len(fields) + 1)   # trailing zeros left out
            entry = counts[fields[0]]
            entry[0] += values[ir]
            entry[1] += sum(values[m] for m in misses)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", choices=sorted(workloads.MAKERS), default="cascade")
    parser.add_argument("--top", type=int, default=30, help="busiest lines to print")
    args = parser.parse_args(argv)
    if not GENERATED.exists():
        parser.error(f"{GENERATED} is missing: build the engine in place (make build)")
    n = len(workloads.load(args.workload)[1])
    ran, idle = cachegrind(True, args.workload), cachegrind(False, args.workload)
    pyx_of = pyx_line_of_c_lines()
    by_line = collections.defaultdict(lambda: [0, 0])
    for c_line in set(ran) | set(idle):
        pyx_line = pyx_of[c_line] if c_line < len(pyx_of) else None
        for k in (0, 1):
            by_line[pyx_line][k] += ran[c_line][k] - idle[c_line][k]
    starts, names = functions_of_pyx_lines()
    by_function = collections.defaultdict(lambda: [0, 0])
    for pyx_line, (instructions, misses) in by_line.items():
        k = bisect.bisect_right(starts, pyx_line) - 1 if pyx_line else -1
        name = names[k] if k >= 0 else "(no .pyx line: module C)"
        by_function[name][0] += instructions
        by_function[name][1] += misses
    total = sum(v[0] for v in by_line.values())
    print(f"{args.workload}: {total / n:,.1f} instructions and "
          f"{sum(v[1] for v in by_line.values()) / n:.2f} first-level misses a message in "
          f"engine/_book.c (the replay less the same run without it, {n:,} messages)\n")
    print("| function (inlined code counted in it) | instructions | misses |\n|---|---:|---:|")
    for name, (instructions, misses) in sorted(by_function.items(), key=lambda kv: -kv[1][0]):
        if abs(instructions) / n >= 0.5:
            print(f"| {name} | {instructions / n:.1f} | {misses / n:.2f} |")
    source = PYX.read_text().splitlines()
    print("\n| line | instructions | misses | source |\n|---:|---:|---:|---|")
    busiest = sorted(((v, k) for k, v in by_line.items() if k), key=lambda item: -item[0][0])
    for (instructions, misses), pyx_line in busiest[:args.top]:
        text = source[pyx_line - 1].strip().replace("|", "\\|")[:70]
        print(f"| {pyx_line} | {instructions / n:.1f} | {misses / n:.2f} | `{text}` |")


if __name__ == "__main__":
    main()
