"""Side-by-side: firesale against the matching engines a Python user can pip install.

Runs the two standard workloads (bench/workloads.py) in one go through
- firesale's batch path (``Book.submit``) and per-call path (``book.limit`` ...),
- the pure-Python reference (``engine/reference.py``),
- every peer engine from PyPI, each in a subprocess of its own virtual environment
  ``bench/peers/.venv`` (created and filled here; peers are never firesale dependencies),
then checks that every engine traded the same volume as firesale and prints one
markdown table per workload.

Every engine gets the same protocol (bench/peers/harness.py): a fresh book per timed
run, seeded with the workload's 100,000 resting orders (untimed), then the messages
replayed one by one (timed); the median of the runs is reported.

Usage: ``make bench-peers`` or ``python bench/peers/run.py [--repeat N] [--quick]
[--only NAME[,NAME...]] [--list]``.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ADAPTERS = HERE / "adapters"
VENV = HERE / ".venv"
STAMPS = VENV / "peer-installs"
RESULT_TAG = "PEER_RESULT "
INFO_TAG = "PEER_INFO "

# The peer environment reads the workload files with numpy.
PEER_BASE = ["numpy==2.4.6"]

# (row name, adapter script, pinned requirements, where it runs).  "project" runs in the
# interpreter running this script (the project venv, firesale built in place).
ENGINES = [
    ("firesale-batch", "firesale_batch.py", [], "project"),
    ("firesale-call", "firesale_percall.py", [], "project"),
    ("reference", "reference_peer.py", [], "project"),
    ("liquibook", "liquibook_peer.py", ["liquibook==2.0.1"], "peers"),
    ("cython-orderbook", "cython_orderbook_peer.py",
     ["cython-orderbook==0.1.2", "sortedcontainers==2.4.0"], "peers"),
    ("akhil4n-orderbook", "akhil4n_orderbook_peer.py",
     ["akhil4n-orderbook==0.1.1", "sortedcontainers==2.4.0"], "peers"),
    ("orderly-chaos", "orderly_chaos_peer.py", ["orderly-chaos==0.2.0"], "peers"),
    ("limit-order-book", "limit_order_book_peer.py", ["limit-order-book==2.0.0"], "peers"),
    ("obook", "obook_peer.py", ["obook==0.1.0"], "peers"),
    ("lightmatchingengine", "lightmatchingengine_peer.py", ["lightmatchingengine==2019.1.4"], "peers"),
    ("litebook", "litebook_peer.py", ["litebook==0.0.1"], "peers"),
    ("pyorderbook", "pyorderbook_peer.py", ["pyorderbook==0.4.9"], "peers"),
    ("manticore-orderbook", "manticore_orderbook_peer.py",
     ["manticore-orderbook==1.0.1", "tabulate==0.9.0"], "peers"),
    ("fastlob", "fastlob_peer.py", ["fastlob==0.0.24", "sortedcontainers==2.4.0", "termcolor==2.5.0"],
     "peers"),
    ("nanobook", "nanobook_peer.py", ["nanobook==0.19.2"], "peers"),
]

# Packages that were read and cannot run the workloads at all: listed, not dropped.
NOT_RUNNABLE = [
    ("ghul-orderbook", "0.0.4",
     "no matching: a store of bids and asks by string id with float prices "
     "(add/remove/set amount, best prices); orders never cross"),
    ("cpp-binance-orderbook", "0.0.3",
     "no matching and no order ids: replays Binance depth-diff CSVs into price levels "
     "and computes metrics"),
    ("order-book", "0.6.1",
     "no matching: bmoscon's C price-level (L2) book for market data, no orders or ids"),
    ("orderbook", "0.1.2",
     "Python 2 code (print statements): does not import on Python 3"),
    ("order-matching", "0.12.0",
     "every message costs O(resting orders): cancel scans all levels for the id, each "
     "add re-sorts the whole expiry bucket (one list of every order), each trade draws a "
     "Faker UUID; ~10^10 Python steps per workload, so it cannot finish one"),
]

FIRESALE = "firesale-batch"        # the yardstick: ratios and traded volume are against it
FIRESALE_CALL = "firesale-call"   # the like-for-like yardstick for one-call-per-message peers


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per engine (median)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: the first 50,000 messages of each workload, 2 runs")
    parser.add_argument("--only", default="",
                        help="comma-separated engine names (firesale's two paths always run)")
    parser.add_argument("--workload", default="mixed,cascade", help="comma-separated workloads")
    parser.add_argument("--limit", type=int, default=0, help="replay only the first N messages")
    parser.add_argument("--budget", type=float, default=90.0,
                        help="per engine and workload: stop repeating after this many seconds")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="per engine and workload: give up after this many seconds")
    parser.add_argument("--reinstall", action="store_true",
                        help="retry peer installs that failed before")
    parser.add_argument("--json", metavar="PATH", help="also write every result as JSON")
    parser.add_argument("--list", action="store_true", help="list the engines and exit")
    args = parser.parse_args(argv)
    if args.quick:
        args.limit = args.limit or 50_000
        args.repeat = min(args.repeat, 2)
    return args


# ---------------------------------------------------------------- environments

def peer_python():
    return VENV / "bin" / "python"


def ensure_venv():
    if not peer_python().exists():
        print(f"creating {VENV.relative_to(ROOT)}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    STAMPS.mkdir(exist_ok=True)


def pip_install(requirements, log_name):
    """Install `requirements` into the peer venv; returns None or the reason it failed."""
    stamp_ok = STAMPS / f"{log_name}.ok"
    stamp_fail = STAMPS / f"{log_name}.fail"
    wanted = " ".join(requirements)
    if stamp_ok.exists() and stamp_ok.read_text() == wanted:
        return None
    if stamp_fail.exists() and not ARGS.reinstall:
        recorded = stamp_fail.read_text().split("\n", 1)
        if recorded[0] == wanted:
            return recorded[1] if len(recorded) > 1 else "install failed"
    print(f"installing {wanted} into {VENV.relative_to(ROOT)}", flush=True)
    proc = subprocess.run([str(peer_python()), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", *requirements],
                          capture_output=True, text=True)
    if proc.returncode == 0:
        stamp_ok.write_text(wanted)
        stamp_fail.unlink(missing_ok=True)
        return None
    lines = [l for l in (proc.stderr + proc.stdout).splitlines()
             if l.strip() and not l.startswith("WARNING")]
    reason = "pip install failed: " + (lines[-1].strip() if lines else f"exit {proc.returncode}")
    (STAMPS / f"{log_name}.log").write_text(proc.stdout + proc.stderr)
    stamp_fail.write_text(wanted + "\n" + reason)
    stamp_ok.unlink(missing_ok=True)
    return reason


# ---------------------------------------------------------------- running

def load_workloads(names):
    """``{name: (npz path, band, seed_orders, messages)}``, generating what is missing."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import workloads
    out = {}
    for name in names:
        seed_orders, messages = workloads.load(name)
        path = workloads.CACHE / f"{name}-v{workloads.VERSION}-seed1.npz"
        assert path.exists(), path
        out[name] = (path, workloads.BAND, seed_orders, messages)
    return out


def workload_facts(band, seed_orders, messages):
    """What a peer without a band relies on: nothing in the stream reaches outside it."""
    import numpy as np
    from engine import LIMIT, MARKET, CANCEL
    lo, hi = band
    limits = messages[messages["kind"] == LIMIT]
    kinds = {int(k): int(n) for k, n in zip(*np.unique(messages["kind"], return_counts=True))}
    return {
        "limits": kinds.get(LIMIT, 0), "markets": kinds.get(MARKET, 0),
        "cancels": kinds.get(CANCEL, 0), "other": len(messages) - sum(kinds.values()),
        "outside_band": int(((limits["price"] < lo) | (limits["price"] > hi)).sum()
                            + ((seed_orders["price"] < lo) | (seed_orders["price"] > hi)).sum()),
    }


def run_engine(name, script, where, path, band, workload, args):
    python = sys.executable if where == "project" else str(peer_python())
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)
    if where == "project":
        env["PYTHONPATH"] = str(ROOT)
    command = [python, str(ADAPTERS / script), str(path), "--workload", workload,
               "--lo", str(band[0]), "--hi", str(band[1]), "--repeat", str(args.repeat),
               "--budget", str(args.budget)]
    if args.limit:
        command += ["--limit", str(args.limit)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env,
                              timeout=args.timeout, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return {"engine": name, "status": "error",
                "reason": f"timed out after {args.timeout:.0f} s"}
    wall = time.perf_counter() - started
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG):])
            result["wall_seconds"] = wall
            if result.get("status") == "error":
                result["stderr_tail"] = proc.stderr.strip().splitlines()[-3:]
            return result
    info = next((json.loads(line[len(INFO_TAG):]) for line in proc.stdout.splitlines()
                 if line.startswith(INFO_TAG)), {})
    if info and "Timeout" in proc.stderr:
        reason = (f"stuck: a run (seed + replay) did not finish in {info['stall_seconds']:.0f} s "
                  "and was ended by the watchdog")
    else:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        reason = f"exit {proc.returncode}: " + (tail[-1] if tail else "no output")
    return {"engine": name, "status": "error", "reason": reason,
            "version": info.get("version"), "notes": info.get("notes", [])}


# ---------------------------------------------------------------- report

def fmt_rate(rate):
    if rate >= 1e6:
        return f"{rate / 1e6:,.2f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:,.1f}k"
    return f"{rate:,.0f}"


def table(workload, rows, facts):
    firesale = next((r for r in rows if r["key"] == FIRESALE and r.get("status") == "ok"), None)
    per_call = next((r for r in rows if r["key"] == FIRESALE_CALL and r.get("status") == "ok"), None)
    ref_rate = firesale["msgs_per_s"] if firesale else None
    call_rate = per_call["msgs_per_s"] if per_call else None
    ref_volume = firesale["traded_volume"] if firesale else None
    messages = firesale["messages"] if firesale else "?"
    lines = [f"### {workload}: {messages:,} messages, "
             f"{facts['limits']:,} limits / {facts['markets']:,} market sells / "
             f"{facts['cancels']:,} cancels after 100,000 seed orders"
             if firesale else f"### {workload}", "",
             "| engine | version | msgs/s (median) | vs firesale batch | vs firesale per call "
             "| traded volume matches | notes |",
             "| --- | --- | ---: | ---: | ---: | :---: | --- |"]
    for r in rows:
        notes = list(r.get("notes") or ())
        if r.get("status") == "ok":
            rate = f"{fmt_rate(r['msgs_per_s'])} ({r['runs']} run{'s' if r['runs'] != 1 else ''})"
            ratio = f"{r['msgs_per_s'] / ref_rate:.3g}x" if ref_rate else "?"
            call_ratio = f"{r['msgs_per_s'] / call_rate:.3g}x" if call_rate else "?"
            if ref_volume is None:
                match = "?"
            elif r["traded_volume"] == ref_volume:
                match = "yes"
            else:
                match = "**no**"
                notes.insert(0, f"traded {r['traded_volume']:,} vs firesale {ref_volume:,}"
                             + (f" ({r['mismatch']})" if r.get("mismatch") else ""))
            if r.get("volume_from"):
                notes.append(f"volume from a {r['volume_from']}")
        else:
            rate, ratio, call_ratio, match = (
                "not run" if r.get("status") == "unsupported" else "failed"), "", "", "n/a"
            notes = [r.get("reason", "failed")] + ([n for n in notes] if r.get("status") == "error" else [])
        lines.append(f"| {r['label']} | {r.get('version', '?')} | {rate} | {ratio} | {call_ratio} | {match} | "
                     + "; ".join(notes).replace("|", "/") + " |")
    if firesale:
        lines.append("")
        lines.append(f"firesale traded {ref_volume:,} lots."
                     + (" Every limit and seed price is inside the band "
                        "[limit-down, limit-up], so engines without a band see the same book."
                        if facts["outside_band"] == 0 else
                        f" {facts['outside_band']} limit prices lie outside the band: "
                        "engines without a band do not clamp them as firesale does."))
    return "\n".join(lines)


def main():
    global ARGS
    ARGS = args = parse_args()
    if args.list:
        for name, script, requirements, where in ENGINES:
            print(f"{name:20} {where:8} {' '.join(requirements)}")
        for name, version, reason in NOT_RUNNABLE:
            print(f"{name:20} {'skipped':8} {name}=={version}: {reason}")
        return 0
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = only - {e[0] for e in ENGINES} - {n[0] for n in NOT_RUNNABLE}
    if unknown:
        sys.exit(f"unknown engine(s) {sorted(unknown)}; --list shows the names")
    selected = [e for e in ENGINES if not only or e[0] in only or e[0] in (FIRESALE, FIRESALE_CALL)]
    workload_names = [w.strip() for w in args.workload.split(",") if w.strip()]

    print("loading workloads (generated once, cached under bench/.data) ...", flush=True)
    loaded = load_workloads(workload_names)

    install_failures = {}
    if any(where == "peers" for *_, where in selected):
        ensure_venv()
        base_failure = pip_install(PEER_BASE, "base")
        for name, script, requirements, where in selected:
            if where != "peers":
                continue
            failure = base_failure or pip_install(requirements, name)
            if failure:
                install_failures[name] = failure

    labels = {"firesale-batch": "firesale batch", "firesale-call": "firesale per call",
              "reference": "reference (pure Python)"}
    all_results = {}
    reports = []
    for workload in workload_names:
        path, band, seed_orders, messages = loaded[workload]
        facts = workload_facts(band, seed_orders, messages[:args.limit] if args.limit else messages)
        rows = []
        for name, script, requirements, where in selected:
            version = requirements[0].split("==")[1] if requirements else None
            if name in install_failures:
                result = {"engine": name, "status": "error", "reason": install_failures[name],
                          "version": version}
            else:
                print(f"[{workload}] {name} ...", end=" ", flush=True)
                result = run_engine(name, script, where, path, band, workload, args)
                print(f"{result.get('status')} "
                      + (f"{fmt_rate(result['msgs_per_s'])} msgs/s, traded {result['traded_volume']:,}"
                         if result.get("status") == "ok" else result.get("reason", "")), flush=True)
            result.setdefault("version", version or "?")
            result["key"] = name
            result["label"] = labels.get(name, name)
            rows.append(result)
        for name, version, reason in NOT_RUNNABLE:
            if not only or name in only:
                rows.append({"key": name, "label": name, "version": version,
                             "status": "unsupported", "reason": reason})
        all_results[workload] = {"facts": facts, "rows": rows}
        reports.append(table(workload, rows, facts))

    print()
    print(f"Command: {' '.join(['python', 'bench/peers/run.py', *sys.argv[1:]])}  "
          f"(python {platform.python_version()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print("Each engine: fresh book per run, 100,000 seed orders rested untimed, the messages "
          "replayed one call each (firesale batch: one submit), median of the runs.")
    print()
    print("\n\n".join(reports))
    if args.json:
        Path(args.json).write_text(json.dumps(all_results, indent=1, default=str))
    return 0


ARGS = None

if __name__ == "__main__":
    sys.exit(main())
