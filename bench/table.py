"""`make bench`: the benchmark table (medians of several runs, ratios measured in the same run).

Sections: order-book throughput on workloads A and B (firesale batch, per-call and the
pure-Python reference), memory per resting order, and, where those modules exist, the
cascade and replay benchmarks.
"""
import argparse
import importlib
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import book_bench  # noqa: E402

TARGETS = {"firesale batch": 30e6, "firesale per-call": 6e6}


def book_section(repeat):
    lines = ["## Order book (`make bench`)", "",
             "| workload | path | messages | runs | median ms | min-max ms | msgs/s (median) | vs reference | target |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    memory, batch_rate = [], {}
    for name, label in (("mixed", "A mixed"), ("cascade", "B cascade")):
        rows, mem = book_bench.measure(name, repeat=repeat)
        memory.append(mem)
        reference = next(r for r in rows if r["path"].startswith("reference"))
        for r in rows:
            target = TARGETS.get(r["path"])
            verdict = "" if target is None else (
                f"{target / 1e6:.0f}M: {'met' if r['msgs_per_s'] >= target else 'NOT met'}")
            ratio = r["msgs_per_s"] / reference["msgs_per_s"]
            lines.append(f"| {label} | {r['path']} | {r['messages']:,} | {r['runs']} | "
                         f"{r['median_s'] * 1e3:.1f} | {r['min_s'] * 1e3:.1f}-{r['max_s'] * 1e3:.1f} | "
                         f"{r['msgs_per_s'] / 1e6:.2f}M | {ratio:.0f}x | "
                         f"{verdict} {r['note']} |")
            if r["path"] == "firesale batch":
                batch_rate[name] = r["msgs_per_s"]
    lines += ["", f"Workload A / B batch throughput: {batch_rate['mixed'] / batch_rate['cascade']:.2f} "
              "(target: A within 2x of B)", "",
              "| workload | resting orders | bytes per resting order (target <= 64) |", "|---|---:|---:|"]
    for m in memory:
        lines.append(f"| {m['workload']} seeded | {m['seeded_orders']:,} | {m['seeded_bytes_per_order']:.1f} |")
        if m["workload"] == "mixed":   # B drains the book; the pool keeps its peak size
            lines.append(f"| {m['workload']} end | {m['end_orders']:,} | {m['end_bytes_per_order']:.1f} |")
    return lines


def optional_section(module_name, title):
    """Rows from bench/<module_name>.py's rows(), as a markdown table."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return []
    rows = module.rows()
    if not rows:
        return []
    keys = list(rows[0])
    lines = [f"## {title}", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{v:,.3f}" if isinstance(v, float) else (f"{v:,}" if isinstance(v, int) else str(v))
                 for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    # The machines are shared: runs of the same build differ by a quarter, so take many.
    parser.add_argument("--repeat", type=int, default=15, help="runs per firesale batch measurement")
    parser.add_argument("--book-only", action="store_true")
    args = parser.parse_args(argv)
    print(f"# firesale benchmarks ({platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()})\n")
    sections = [book_section(args.repeat)]
    if not args.book_only:
        sections.append(optional_section("cascade_bench", "Cascade"))
        sections.append(optional_section("replay_bench", "Replay of recorded data"))
    for lines in sections:
        if lines:
            print("\n".join(lines), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
