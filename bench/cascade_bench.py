"""Cascade benchmarks: forced orders per second end to end, bytes per account, and the
scaling of cost with the population (10^4 .. 10^7 accounts, time / (n log n)).

The workload: a book of resting bids (one order per ~`per_level` lots, ``orders``
resting orders in all, ``levels`` ticks below MID) and a population of margin accounts
whose trigger prices are spread uniformly over the top ``trigger_span`` ticks, dense
enough that every wave crosses the next (the cascade is supercritical), so that a
small shock liquidates most of the population.  Timed end to end: the shock, the whole
event loop, and building the result arrays (tape, path, forced orders), without the
post-hoc summary.  ``book_replay_seconds`` replays the same stream (shock and forced
sells, same sizes) through a fresh copy of the book's batch path in the same run: the
share of the time that is the book's own matching.

Run ``python bench/cascade_bench.py`` (add ``--max-accounts 10000000`` for the 10^7
point; it needs about 5 GB).  ``rows()`` returns the table for ``make bench``.
"""
from __future__ import annotations

import argparse
import math
import os
import resource
import time

import numpy as np

import engine
from engine import BUY, LIMIT, ORDER_DTYPE
from engine.accounts import Accounts, MarginRule
from engine.cascade import Cascade, Shock

MID = 1_000_000   # ticks; the grid spans MID/2 .. 3 MID/2
RULE = MarginRule(force=1.10, call=None, restore=1.45, policy="all", style="market")


def build_book(orders, levels, seed):
    """`orders` resting bids over `levels` ticks below MID (lognormal sizes)."""
    rng = np.random.default_rng(seed)
    rows = np.zeros(orders, ORDER_DTYPE)
    rows["id"] = np.arange(1, orders + 1)
    rows["side"] = BUY
    rows["kind"] = LIMIT
    rows["price"] = MID - 1 - (np.arange(orders) * levels) // orders
    rows["qty"] = np.maximum(1, rng.lognormal(2.5, 0.6, orders)).astype(np.int64)
    rows["owner"] = -1
    book = engine.Book(MID // 2, MID + MID // 2, capacity=orders)
    result = book.submit(rows)
    assert not result.reject.any()
    return book, int(rows["qty"].sum())


def build_accounts(n, trigger_span, seed, top=MID - 1):
    """`n` margin accounts (cash 0) with triggers uniform over [top - span, top]."""
    rng = np.random.default_rng(seed)
    shares = rng.integers(5, 16, n).astype(np.int64)
    trigger = top - rng.integers(0, trigger_span, n)
    # p* = (f d - c) / q  ->  d = q p* / f, nudged so the integer trigger is p*.
    debt = (shares * trigger * 10000) // 11000 + 1
    return Accounts.margin(cash=np.zeros(n, np.int64), shares=shares, debt=debt, rule=RULE)


def workload(n_accounts, n_orders=None, seed=7):
    """A book and a population sized so that the cascade runs through the population.

    The depth per tick is ~ 20 x orders / levels lots; the accounts' triggers are
    spread so that the lots each tick's accounts sell are about twice that depth.
    """
    n_orders = n_orders if n_orders is not None else n_accounts
    levels = max(1000, n_orders // 50)
    book, depth = build_book(n_orders, levels, seed)
    per_tick = depth / levels
    lots = 10 * n_accounts
    span = max(10, int(lots / (2 * per_tick)))
    span = min(span, levels - 1)
    accounts = build_accounts(n_accounts, span, seed + 1)
    return book, accounts


def _book_replay(n_accounts, n_orders, seed, forced):
    """Seconds the book's batch path takes for the same stream (shock + forced sells),
    on a fresh copy of the same book: the part of the cascade's time the book itself costs."""
    book, _ = workload(n_accounts, n_orders, seed)
    orders = np.zeros(len(forced) + 1, ORDER_DTYPE)
    orders["id"] = np.arange(len(orders)) + (1 << 62)
    orders["side"] = -1
    orders["kind"] = engine.MARKET
    orders["qty"][0] = 1000
    orders["qty"][1:] = forced["qty"]
    orders["owner"][0] = -1
    orders["owner"][1:] = forced["account"]
    started = time.perf_counter()
    book.submit(orders)
    return time.perf_counter() - started


def run_once(n_accounts, n_orders=None, seed=7, record_tape=True, replay_book=True):
    """Build the workload, then time the cascade end to end; returns one measurement."""
    book, accounts = workload(n_accounts, n_orders, seed)
    cascade = Cascade(book, accounts, mark="last", record_tape=record_tape)
    started = time.perf_counter()
    result = cascade.run(Shock.sell(1000))
    elapsed = time.perf_counter() - started
    replay = _book_replay(n_accounts, n_orders, seed, result.orders) if replay_book else float("nan")
    return {
        "accounts": n_accounts,
        "resting_orders": n_orders if n_orders is not None else n_accounts,
        "accounts_liquidated": len(result.accounts_liquidated()),
        "forced_orders": int(len(result.orders)),
        "fills": int(len(result.tape)),
        "seconds": elapsed,
        "book_replay_seconds": replay,
        "forced_orders_per_s": len(result.orders) / elapsed,
        # the ledger columns plus the trigger index (one int32 row order per account)
        "bytes_per_account": (accounts.nbytes + 4 * n_accounts) / n_accounts,
        "run_bytes_per_account": (accounts.nbytes + result.loop_nbytes) / n_accounts,
    }


def _median_run(n, repeats, **kw):
    runs = [run_once(n, **kw) for _ in range(repeats)]
    runs.sort(key=lambda r: r["seconds"])
    return runs[len(runs) // 2]


def _row(name, r, base):
    n = r["accounts"]
    per = r["seconds"] / (n * math.log2(n)) * 1e9
    return {"name": name, "accounts": n, "resting_orders": r["resting_orders"],
            "accounts_liquidated": r["accounts_liquidated"], "forced_orders": r["forced_orders"],
            "fills": r["fills"], "seconds": r["seconds"],
            "book_replay_seconds": r["book_replay_seconds"],
            "forced_orders_per_s": r["forced_orders_per_s"],
            "bytes_per_account": r["bytes_per_account"],
            "ns_per_n_log2_n": per, "vs_smallest": per / base if base else 1.0}


def rows(max_accounts=None, repeats=5, scaling=(10_000, 100_000, 1_000_000, 10_000_000)):
    """The make-bench table: the 10^6 headline run, then the scaling series
    (time / (n log2 n), and that normalised by the smallest n).

    `max_accounts` (default: $FIRESALE_BENCH_MAX_ACCOUNTS or 10^6) caps the series;
    the 10^7 point needs about 5 GB and two minutes.
    """
    if max_accounts is None:
        max_accounts = int(os.environ.get("FIRESALE_BENCH_MAX_ACCOUNTS", 1_000_000))
    headline = _median_run(1_000_000, repeats)
    runs = {}
    for n in scaling:
        if n > max_accounts:
            continue
        # Every point is a median of `repeats` runs in one process: a first run on memory the
        # machine has not handed out before pays for providing it (at 10^7, ~3 GB of first
        # touches are most of the run), later runs reuse it, as a long-lived process would.
        runs[n] = headline if n == 1_000_000 else _median_run(n, repeats)
    smallest = min(runs) if runs else 1_000_000
    base = runs[smallest]["seconds"] / (smallest * math.log2(smallest)) * 1e9 if runs else None
    out = [_row("cascade 1M accounts x 1M resting orders", headline, base)]
    for n, r in sorted(runs.items()):
        out.append(_row(f"scaling n={n:,}", r, base))
    return out


def _print(table):
    print(f"{'run':40} {'accounts':>10} {'liquidated':>10} {'forced':>10} {'fills':>10} "
          f"{'seconds':>8} {'book':>7} {'forced/s':>12} {'B/acct':>7} {'ns/(n lg n)':>11} {'norm':>5}")
    for r in table:
        print(f"{r['name']:40} {r['accounts']:>10} {r['accounts_liquidated']:>10} "
              f"{r['forced_orders']:>10} {r['fills']:>10} {r['seconds']:>8.3f} "
              f"{r['book_replay_seconds']:>7.3f} "
              f"{r['forced_orders_per_s']:>12,.0f} {r['bytes_per_account']:>7.1f} "
              f"{r['ns_per_n_log2_n']:>11.2f} {r['vs_smallest']:>5.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-accounts", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    _print(rows(args.max_accounts, args.repeats))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9   # kB on Linux
    print(f"took {time.perf_counter() - started:.0f} s; peak memory {peak_gb:.1f} GB")
