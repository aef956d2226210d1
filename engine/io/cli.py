"""``firesale replay ...``: replay a recorded market through the engine and report.

``engine.cli`` registers the command with `add_replay_parser`.
"""
from __future__ import annotations

import sys

__all__ = ["add_replay_parser"]


def _rates(report, messages, unit="messages"):
    engine_rate = messages / report.engine_seconds if report.engine_seconds > 0 else float("inf")
    return (f"  {messages:,} {unit}: parse {report.parse_seconds:.3f} s, engine {report.engine_seconds:.4f} s "
            f"({engine_rate / 1e6:.2f}M {unit}/s), checking {report.check_seconds:.3f} s")


def _run_lobster(args):
    from engine.io import lobster
    report = lobster.replay(args.message_csv, args.orderbook_csv, levels=args.levels, stop_at=args.stop_at,
                            tick=args.tick, check=not args.no_check)
    print(report.summary())
    print(_rates(report, report.messages))
    return 0


def _run_binance(args):
    from engine.io import binance
    report = binance.replay(args.file, band_fraction=args.band_fraction, check=not args.no_check)
    print(report.summary())
    print(_rates(report, report.level_updates, "level updates"))
    return 0


def _run_bitstamp(args):
    from engine.io import bitstamp
    report = bitstamp.replay(args.file, band_fraction=args.band_fraction)
    print(report.summary())
    print(_rates(report, report.operations, "engine operations"))
    return 0


def _guarded(run):
    def call(args):
        from engine.io.decimals import FormatError
        try:
            return run(args)
        except (FormatError, FileNotFoundError) as error:
            print(f"firesale replay: {error}", file=sys.stderr)
            return 2
    return call


def add_replay_parser(subparsers):
    """Register ``replay lobster|binance|bitstamp`` on an argparse subparsers object.

    Each leaf parser sets ``func``: call ``args.func(args)``; it prints the agreement
    report and the replay rate (parse and engine time separately) and returns the exit
    status (0, or 2 for a malformed or missing file).

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``parser.add_subparsers()``.

    Returns
    -------
    argparse.ArgumentParser
        The ``replay`` parser.
    """
    replay = subparsers.add_parser(
        "replay", help="replay recorded market data through the engine and check it against the file",
        description="Replay recorded market data through engine.Book and report how well the "
                    "book agrees with what the file says, with parse and engine time.")
    formats = replay.add_subparsers(dest="format", metavar="FORMAT", required=True)

    lob = formats.add_parser("lobster", help="LOBSTER message + orderbook CSV pair (NASDAQ)")
    lob.add_argument("message_csv", metavar="MESSAGE_CSV")
    lob.add_argument("orderbook_csv", metavar="ORDERBOOK_CSV")
    lob.add_argument("--levels", type=int, default=None, help="levels a side to compare (default: all)")
    lob.add_argument("--stop-at", type=int, default=None, help="apply only the first N messages")
    lob.add_argument("--tick", type=int, default=None,
                     help="LOBSTER price units (dollars x 10000) per tick (default: gcd of prices)")
    lob.add_argument("--no-check", action="store_true", help="time the batch run only")
    lob.set_defaults(func=_guarded(_run_lobster))

    bnc = formats.add_parser("binance", help="Binance USD-M depth stream recording (snapshot + diffs)")
    bnc.add_argument("file", metavar="FILE")
    bnc.add_argument("--band-fraction", type=float, default=0.5,
                     help="band either side of the snapshot mid, as a fraction of it (default 0.5)")
    bnc.add_argument("--no-check", action="store_true", help="time the batch run only")
    bnc.set_defaults(func=_guarded(_run_binance))

    bst = formats.add_parser("bitstamp", help="Bitstamp order-level log with top-20 snapshots")
    bst.add_argument("file", metavar="FILE")
    bst.add_argument("--band-fraction", type=float, default=0.5,
                     help="band either side of the first snapshot's mid (default 0.5)")
    bst.set_defaults(func=_guarded(_run_bitstamp))
    return replay
