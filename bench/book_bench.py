"""Order-book throughput and memory on the two standard workloads (see workloads.py).

Each engine replays the same messages on a freshly seeded book; only the replay is
timed.  Paths measured in the same run:

- ``firesale batch``: ``Book.submit`` on the whole message array;
- ``firesale per-call``: ``book.limit`` / ``book.market`` / ``book.cancel`` once per
  message from a Python loop, as an embedding simulator would call it;
- ``reference``: the pure-Python ``engine.reference.ReferenceBook`` (batch ``submit``);
- ``flat C``: the flat-array C book in ``flat_book.c``, the yardstick the batch path's
  target was set against.  Its runs alternate with the batch path's, so that both see the
  same spells of a shared machine.
"""
import statistics
import time

import numpy as np

import engine
from engine import LIMIT, MARKET, CANCEL

import flat_book
import workloads


FLAT_PATH = "flat C (bench/flat_book.c)"


def seeded(seed_orders, factory=engine.Book):
    book = factory(*workloads.BAND)
    book.submit(seed_orders)
    book.take_fills()
    return book


def per_call_plan(book, messages):
    """The replay as ``(bound method, args)`` pairs, built before the clock starts."""
    limit, market, cancel = book.limit, book.market, book.cancel
    plan = []
    for oid, price, qty, owner, side, kind, flags in messages.tolist():
        if kind == LIMIT:
            plan.append((limit, (oid, side, price, qty, owner)))
        elif kind == MARKET:
            plan.append((market, (oid, side, qty, owner)))
        elif kind == CANCEL:
            plan.append((cancel, (oid,)))
        else:
            raise ValueError(f"workload has kind {kind}, which the per-call replay does not map")
    return plan


def replay_per_call(plan):
    for call, args in plan:
        call(*args)


def time_batch(seed_orders, messages, factory=engine.Book, clock=time.perf_counter):
    """Seconds for one ``submit`` of `messages` on `clock`, and the traded volume."""
    book = seeded(seed_orders, factory)
    started = clock()
    result = book.submit(messages)
    elapsed = clock() - started
    return elapsed, int(result.fills["qty"].sum()), book


def time_per_call(seed_orders, messages, clock=time.perf_counter):
    """Seconds for one per-call replay of `messages` on `clock`, and the traded volume."""
    book = seeded(seed_orders)
    plan = per_call_plan(book, messages)
    started = clock()
    replay_per_call(plan)
    elapsed = clock() - started
    return elapsed, int(book.take_fills()["qty"].sum()), book


def flat_seeded(seed_orders, messages):
    """A flat C book with the workload's resting orders, and the messages checked and ready."""
    ids = int(max(seed_orders["id"].max(), messages["id"].max())) + 1
    # Room for twice as many fills as messages (B trades about one a message): a buffer
    # that grows in the timed run would charge the yardstick for copying it.
    book = flat_book.FlatBook(*workloads.BAND, ids, fills=2 * len(messages))
    book.submit(seed_orders)
    book.take_fills()
    return book, book.prepare(messages)


def time_flat(seed_orders, messages, clock=time.perf_counter):
    """Seconds for the flat C book to run `messages` on `clock`, and the traded volume."""
    book, batch = flat_seeded(seed_orders, messages)
    started = clock()
    book.run(batch)
    elapsed = clock() - started
    return elapsed, int(book.take_fills()["qty"].sum()), book


def reference_factory():
    from engine.reference import ReferenceBook
    return ReferenceBook


def measure(name, repeat=7, reference_repeat=1):
    """Median seconds and msgs/s of each path on workload `name`, plus memory per order."""
    seed_orders, messages = workloads.load(name)
    n = len(messages)
    rows = []
    volumes = {}

    def add(path, runs, volume, note=""):
        median = statistics.median(runs)
        volumes[path] = volume
        rows.append({"workload": name, "path": path, "messages": n, "runs": len(runs),
                     "median_s": median, "min_s": min(runs), "max_s": max(runs),
                     "msgs_per_s": n / median, "traded": volume, "note": note})

    runs, flat_runs = [], []
    for _ in range(repeat):
        elapsed, volume, book = time_batch(seed_orders, messages)
        runs.append(elapsed)
        elapsed, flat_volume, _ = time_flat(seed_orders, messages)
        flat_runs.append(elapsed)
    add("firesale batch", runs, volume)
    end_bytes = book.nbytes / max(len(book), 1)
    seeded_book = seeded(seed_orders)
    seed_bytes = seeded_book.nbytes / len(seeded_book)

    runs = []
    for _ in range(max(3, repeat // 2)):   # each run builds a million-call plan first: slower
        elapsed, volume, _ = time_per_call(seed_orders, messages)
        runs.append(elapsed)
    add("firesale per-call", runs, volume)

    runs = []
    for _ in range(reference_repeat):
        elapsed, volume, _ = time_batch(seed_orders, messages, reference_factory())
        runs.append(elapsed)
    add("reference (pure Python)", runs, volume)
    add(FLAT_PATH, flat_runs, flat_volume)

    firesale_volume = volumes["firesale batch"]
    for row in rows:
        if row["traded"] != firesale_volume:
            row["note"] = f"traded {row['traded']} lots, firesale {firesale_volume}: MISMATCH"
    return rows, {"workload": name, "seeded_bytes_per_order": seed_bytes,
                  "end_bytes_per_order": end_bytes, "seeded_orders": len(seeded_book),
                  "end_orders": len(book)}
