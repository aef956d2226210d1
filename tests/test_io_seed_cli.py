"""Seeded books from recorded snapshots, and the ``replay`` command line."""
from pathlib import Path

import pytest

import engine
from engine import BUY, SELL
from engine.io import RECORDED_BOOKS, recorded_book, lobster
from engine.cli import build_parser, main

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.parametrize("name", sorted(RECORDED_BOOKS))
def test_recorded_books_seed_real_depth(name):
    entry = RECORDED_BOOKS[name]
    if not (DATA / entry.relative_path).is_file():
        pytest.skip(f"shared data file {entry.relative_path} not found under {DATA}")
    book = recorded_book(name, data=DATA)
    assert isinstance(book, engine.Book) and len(book) > 0
    bid, ask = book.best_bid(), book.best_ask()
    lo, hi = book.band
    assert lo < bid < ask < hi and hi - lo + 1 <= engine.MAX_LEVELS
    # Room for a cascade: the band reaches well below the deepest bid.
    assert lo <= bid * 0.6
    # A forced market sell walks the real book.
    before = book.volume(BUY)
    filled = book.market(1, SELL, before // 2)
    assert filled == before // 2 and book.best_bid() < bid
    book.check_invariants()


def test_unknown_recorded_book():
    with pytest.raises(KeyError, match="unknown recorded book"):
        recorded_book("nasdaq_aapl")
    with pytest.raises(FileNotFoundError):
        recorded_book(sorted(RECORDED_BOOKS)[0], data="/nonexistent")


def test_parser_registers_the_three_formats():
    parser = build_parser()
    args = parser.parse_args(["replay", "lobster", "m.csv", "o.csv", "--levels", "5"])
    assert (args.format, args.message_csv, args.orderbook_csv, args.levels) == ("lobster", "m.csv", "o.csv", 5)
    assert parser.parse_args(["replay", "binance", "f.gz"]).file == "f.gz"
    assert callable(parser.parse_args(["replay", "bitstamp", "f.xz"]).func)


def test_replay_lobster_command(tmp_path, capsys):
    lobster.generate(tmp_path / "m.csv", tmp_path / "o.csv", messages=300, seed=3)
    assert main(["replay", "lobster", str(tmp_path / "m.csv"), str(tmp_path / "o.csv")]) == 0
    out = capsys.readouterr().out
    assert "differing 0 (agreement 100.000%)" in out and "parse" in out and "engine" in out


def test_replay_command_reports_a_malformed_file(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("34200.0,1,4,100,1000000\n")
    (tmp_path / "o.csv").write_text("9999999999,0,1000000,100\n")
    assert main(["replay", "lobster", str(tmp_path / "m.csv"), str(tmp_path / "o.csv")]) == 2
    assert "m.csv:1" in capsys.readouterr().err
