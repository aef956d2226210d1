"""What every engine adapter shares: load a workload, seed, replay, time, report.

An adapter is a script in ``bench/peers/adapters/`` that subclasses `Engine` and calls
`main`.  It runs in the interpreter that has its engine installed (the peer venv for
PyPI peers, the project's venv for firesale and the reference), so this module needs
numpy alone.  The output is one line ``PEER_RESULT {json}`` on stdout, which
``run.py`` reads; anything else an engine prints is ignored.

A message is a tuple ``(kind, id, side, price, qty)`` of Python ints with firesale's
codes (``LIMIT=1, MARKET=2, CANCEL=5``, ``BUY=1, SELL=-1``).  Converting the numpy
rows to these tuples, and an adapter's own `prepare`, happen before the clock starts:
what is timed is the engine taking the messages one by one, as a caller would.
"""
import argparse
import faulthandler
import gc
import json
import os
import statistics
import sys
import time
import traceback

import numpy as np

BUY, SELL = 1, -1
LIMIT, MARKET, CANCEL = 1, 2, 5
RESULT_TAG = "PEER_RESULT "
INFO_TAG = "PEER_INFO "      # printed before the timed runs: survives an engine that hangs


class Unsupported(Exception):
    """Raised by an adapter whose engine cannot run a workload faithfully (the reason)."""


class Engine:
    """One engine under test.  Subclasses fill in the hooks below.

    Attributes
    ----------
    name : str
        Row name in the table.
    distribution : str or None
        The installed distribution whose version is reported (None: `version` says it).
    notes : list of str
        How the workload maps onto the engine (shown in the table's notes column).
    """

    name = "?"
    distribution = None
    notes = ()
    # A run (seeding and timed replay) that takes longer than this is taken to be stuck
    # (a native call that never returns cannot be interrupted from Python, and a
    # quadratic engine would take hours): faulthandler ends the process, run.py reports it.
    stall_seconds = 300.0
    # True: `prepare`/`seed` get the numpy ORDER_DTYPE arrays instead of tuples.
    wants_array = False

    def __init__(self, band):
        self.band = band          # (lo, hi) in ticks: the workload's limit-down / limit-up
        self.notes = list(self.notes)

    def version(self):
        from importlib.metadata import version
        return version(self.distribution) if self.distribution else "?"

    def check(self, workload, messages):
        """Raise `Unsupported` if the engine cannot run `messages` faithfully (may also
        add workload-specific notes)."""

    def prepare(self, messages):
        """Turn the message tuples into whatever `replay` wants (untimed)."""
        return messages

    def new_book(self):
        raise NotImplementedError

    def seed(self, book, seed_rows):
        """Rest the seed orders, rows ``(id, side, price, qty)`` (untimed)."""
        raise NotImplementedError

    def replay(self, book, prepared):
        """Send every message (timed).  Returns the traded volume (lots) if the engine
        reports fills as it goes, else None and `traded_volume` is asked afterwards."""
        raise NotImplementedError

    def close(self, book):
        """Release a book after a run (stop its threads, free its handle)."""

    def traded_volume(self, seed_rows, messages):
        """Traded volume of one untimed replay, for engines whose `replay` cannot count it."""
        raise NotImplementedError


def _rows(array, fields):
    return list(zip(*(array[f].tolist() for f in fields)))


def main(engine_class):
    parser = argparse.ArgumentParser(description=f"Replay a workload through {engine_class.name}.")
    parser.add_argument("data", help="workload .npz (seed_orders, messages)")
    parser.add_argument("--workload", default="?")
    parser.add_argument("--lo", type=int, required=True, help="band floor, ticks")
    parser.add_argument("--hi", type=int, required=True, help="band ceiling, ticks")
    parser.add_argument("--limit", type=int, default=0, help="replay only the first N messages")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (median is reported)")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="stop repeating once the timed runs took this many seconds")
    args = parser.parse_args()
    out = {"engine": engine_class.name, "workload": args.workload}
    try:
        out.update(_run(engine_class, args))
    except Unsupported as why:
        out.update(status="unsupported", reason=str(why))
    except Exception as exc:  # report, do not hide: run.py puts it in the notes column
        traceback.print_exc()
        out.update(status="error", reason=f"{type(exc).__name__}: {exc}")
    sys.stdout.flush()
    print(RESULT_TAG + json.dumps(out), flush=True)
    sys.stderr.flush()
    # Some engines leave non-daemon threads behind (expiry timers): do not wait for them.
    os._exit(0)


def _run(engine_class, args):
    data = np.load(args.data)
    seed_orders, messages = data["seed_orders"], data["messages"]
    if args.limit:
        messages = messages[:args.limit]
    engine = engine_class((args.lo, args.hi))
    out = {"version": engine.version(), "messages": int(len(messages))}
    seed_rows = _rows(seed_orders, ("id", "side", "price", "qty"))
    message_rows = _rows(messages, ("kind", "id", "side", "price", "qty"))
    engine.check(args.workload, message_rows)
    print(INFO_TAG + json.dumps({"version": out["version"], "notes": engine.notes,
                                 "stall_seconds": engine.stall_seconds}), flush=True)
    prepared = engine.prepare(messages if engine.wants_array else message_rows)
    seconds, volumes = [], []
    for run in range(max(1, args.repeat)):
        faulthandler.dump_traceback_later(engine.stall_seconds, exit=True)
        book = engine.new_book()
        try:
            engine.seed(book, seed_orders if engine.wants_array else seed_rows)
            gc.collect()
            start = time.perf_counter()
            volume = engine.replay(book, prepared)
            seconds.append(time.perf_counter() - start)
        finally:
            faulthandler.cancel_dump_traceback_later()
            engine.close(book)
        volumes.append(volume)
        del book
        if sum(seconds) >= args.budget:
            break
    if volumes[0] is None:
        volume = engine.traded_volume(seed_rows, message_rows)
        out["volume_from"] = "separate untimed replay"
    else:
        volume = volumes[0]
        if len(set(volumes)) > 1:
            engine.notes.append(f"traded volume differs between runs: {sorted(set(volumes))}")
    median = statistics.median(seconds)
    out.update(status="ok", runs=len(seconds), seconds=seconds, median_seconds=median,
               msgs_per_s=len(messages) / median if median > 0 else float("inf"),
               traded_volume=int(volume), notes=engine.notes,
               python=sys.version.split()[0], pid=os.getpid())
    return out
