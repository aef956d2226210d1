"""Replay throughput on real and generated market data, parse and engine time apart.

``rows()`` returns one dict per format (binance, bitstamp, lobster generated) with
``format``, ``messages``, ``parse_seconds``, ``engine_seconds``, ``msgs_per_s``
(messages / engine seconds) and ``total`` (parse + engine + checking seconds); the
``make bench`` table calls it.  Run alone: ``python bench/replay_bench.py``.

What a "message" is per format:

- binance: one level update of a ``depthUpdate`` diff (the engine runs a cancel and,
  unless the qty is 0, a limit for each);
- bitstamp: one engine operation made from the order events (limit, reduce, cancel);
- lobster: one message of the generated file (one engine operation for types 1-4).

The engine time is the median of `repeats` runs of the whole replay program as one
``Book.submit`` batch on a freshly seeded book.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.io import binance, bitstamp, lobster   # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BINANCE = DATA / "binance_btcusdt_2024-08-08" / "usdm_btcusdt_20240808.gz"
BITSTAMP = DATA / "bitstamp_btcusd_2015-05-01" / "2015-05-01.log.xz"
LOBSTER_MESSAGES = 100_000


def _row(name, messages, report, engine_seconds):
    return {"format": name, "messages": messages, "parse_seconds": report.parse_seconds,
            "engine_seconds": engine_seconds, "msgs_per_s": messages / engine_seconds if engine_seconds else 0.0,
            "total": report.parse_seconds + report.engine_seconds + report.check_seconds}


def rows(repeats=5, lobster_messages=LOBSTER_MESSAGES):
    """Replay each format and time it.

    Parameters
    ----------
    repeats : int, optional
        Engine runs per format; the median is reported.
    lobster_messages : int, optional
        Size of the generated LOBSTER run.

    Returns
    -------
    list of dict
        One per format found (the shared files are skipped when absent).
    """
    out = []
    if BINANCE.is_file():
        report = binance.replay(BINANCE)
        data = binance.load(BINANCE)
        seconds = statistics.median([report.engine_seconds] + [binance.replay(data, check=False).engine_seconds
                                                 for _ in range(repeats - 1)])
        out.append(_row("binance", report.level_updates, report, seconds))
    if BITSTAMP.is_file():
        report = bitstamp.replay(BITSTAMP)
        data = bitstamp.load(BITSTAMP)
        seconds = statistics.median([report.engine_seconds] + [bitstamp.replay(data).engine_seconds
                                                 for _ in range(repeats - 1)])
        out.append(_row("bitstamp", report.operations, report, seconds))
    with tempfile.TemporaryDirectory() as folder:
        message_csv, orderbook_csv = Path(folder) / "message.csv", Path(folder) / "orderbook.csv"
        lobster.generate(message_csv, orderbook_csv, messages=lobster_messages, seed=1)
        report = lobster.replay(message_csv, orderbook_csv)
        seconds = statistics.median([report.engine_seconds] + [lobster.replay(message_csv, orderbook_csv, check=False).engine_seconds
                                                 for _ in range(repeats - 1)])
        out.append(_row("lobster (generated)", report.messages, report, seconds))
    return out


def markdown(table):
    """The rows as a markdown table."""
    lines = ["| format | messages | parse s | engine s | msgs/s (engine) | total s |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in table:
        lines.append(f"| {row['format']} | {row['messages']:,} | {row['parse_seconds']:.3f} | "
                     f"{row['engine_seconds']:.4f} | {row['msgs_per_s'] / 1e6:.2f}M | {row['total']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(rows()))
