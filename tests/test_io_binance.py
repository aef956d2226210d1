"""Binance USD-M depth stream: loader, sequence checking, replay against the shared file."""
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from engine import BUY, SELL
from engine.io import binance
from engine.io.binance import SequenceGap
from engine.io.decimals import FormatError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RECORDING = DATA / "binance_btcusdt_2024-08-08" / "usdm_btcusdt_20240808.gz"
needs_recording = pytest.mark.skipif(not RECORDING.is_file(),
                                     reason=f"shared Binance recording not found at {RECORDING}")


def diff(first, last, prev, bids=(), asks=()):
    return {"stream": "btcusdt@depth@0ms", "data": {"e": "depthUpdate", "U": first, "u": last, "pu": prev,
                                                    "b": [list(x) for x in bids], "a": [list(x) for x in asks]}}


def ticker(update, bid, bid_qty, ask, ask_qty):
    return {"stream": "btcusdt@bookTicker",
            "data": {"e": "bookTicker", "u": update, "b": bid, "B": bid_qty, "a": ask, "A": ask_qty}}


SNAPSHOT = {"lastUpdateId": 100, "bids": [["100.0", "1.000"], ["99.9", "2.000"]],
            "asks": [["100.1", "1.500"], ["100.2", "3.000"]]}


def write(path, records, raw_lines=()):
    lines = [f"{1_000_000 + i} {json.dumps(r)}" for i, r in enumerate(records)] + list(raw_lines)
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def small_stream():
    return [
        diff(80, 90, 79, bids=[("100.0", "9.000")]),            # stale: u < lastUpdateId
        diff(91, 105, 90, bids=[("100.0", "1.200")]),           # buffered, straddles the snapshot
        SNAPSHOT,
        ticker(105, "100.0", "1.200", "100.1", "1.500"),        # aligned: u == diff.u
        diff(110, 120, 105, bids=[("100.0", "0.000"), ("99.8", "4.000")], asks=[("100.1", "0.500")]),
        ticker(107, "100.0", "1.200", "100.1", "1.500"),        # aligned: between diffs
        ticker(115, "99.9", "2.000", "100.1", "0.500"),         # inside a diff: not aligned
        ticker(120, "99.9", "2.000", "100.1", "0.500"),
        diff(121, 130, 120, bids=[("100.1", "1.000")], asks=[("100.1", "0.000")]),   # a level changes side
        ticker(130, "100.1", "1.000", "100.2", "3.000"),
    ]


def test_small_stream_replays_and_aligns(tmp_path):
    report = binance.replay(write(tmp_path / "s.gz", small_stream()))
    assert report.stale_diffs == 1 and report.diffs_applied == 3
    assert (report.tickers, report.tickers_aligned, report.tickers_agreeing) == (5, 4, 4)
    assert report.engine_trades == 0 and report.rejected_limits == 0
    assert report.book.best_bid() == 1001 and report.book.best_ask() == 1002
    assert report.book.depth(BUY, 3)[1].tolist() == [1000, 2000, 4000]


def test_a_gap_raises_naming_the_line(tmp_path):
    records = small_stream()
    records[8] = diff(121, 130, 119, bids=[("100.1", "1.000")])     # pu != previous u
    with pytest.raises(SequenceGap) as raised:
        binance.replay(write(tmp_path / "gap.gz", records))
    assert raised.value.line == 9 and raised.value.field == "pu"
    assert "gap" in str(raised.value)


def test_a_missing_start_raises(tmp_path):
    records = small_stream()
    records[1] = diff(101, 105, 90, bids=[("100.0", "1.200")])      # starts after lastUpdateId
    with pytest.raises(SequenceGap, match="updates in between are missing"):
        binance.replay(write(tmp_path / "late.gz", records))


@pytest.mark.parametrize("raw, field, problem", [
    ("1000 {not json", None, "not JSON"),
    ("garbage", "local_ns", "expected '<local_ns> <json>'"),
    ('1000 {"data": {"e": "depthUpdate", "U": 1, "u": 2, "b": [], "a": []}}', "pu", "missing"),
    ('1000 {"data": {"e": "depthUpdate", "U": 1, "u": "2", "pu": 0, "b": [], "a": []}}', "u", "integer"),
    ('1000 {"data": {"e": "depthUpdate", "U": 1, "u": 2, "pu": 0, "b": [["1.0"]], "a": []}}', "b", "[price, qty]"),
    ('1000 {"data": {"e": "depthUpdate", "U": 1, "u": 2, "pu": 0, "b": [["100.05", "1.0"]], "a": []}}',
     "price", "finer than the unit"),
    ('1000 {"data": {"e": "depthUpdate", "U": 1, "u": 2, "pu": 0, "b": [["100.0", "1.0001"]], "a": []}}',
     "qty", "finer than the unit"),
    ('1000 {"data": {"e": "bookTicker", "u": 2, "b": "1.0", "B": "x", "a": "1.1", "A": "1"}}', "B",
     "not a decimal number"),
])
def test_malformed_lines(tmp_path, raw, field, problem):
    path = write(tmp_path / "bad.gz", small_stream()[:3], raw_lines=[raw])
    with pytest.raises(FormatError) as raised:
        binance.load(path)
    assert raised.value.line == 4 and raised.value.field == field
    assert problem in str(raised.value) and "bad.gz:4" in str(raised.value)


def test_no_snapshot(tmp_path):
    with pytest.raises(FormatError, match="no REST depth snapshot"):
        binance.load(write(tmp_path / "none.gz", [diff(1, 2, 0)]))


@pytest.fixture(scope="module")
def recorded():
    if not RECORDING.is_file():
        pytest.skip(f"shared Binance recording not found at {RECORDING}")
    return binance.replay(RECORDING)


@needs_recording
def test_recording_replays_with_full_agreement(recorded):
    report = recorded
    assert report.diffs_applied == 6547 and report.stale_diffs == 4
    assert report.level_updates == 443_262
    assert report.tickers == 66_089
    assert report.tickers_aligned >= 600
    assert report.tickers_agreeing == report.tickers_aligned, report.first_disagreement
    assert report.engine_trades == 0 and report.rejected_limits == 0
    report.book.check_invariants()


@needs_recording
def test_recording_snapshot_seeds_a_book():
    book = binance.snapshot_book(RECORDING)
    data = binance.load_snapshot(RECORDING)
    assert len(book) == 2000
    assert book.best_bid() == data.snapshot_bids[0][0] == 618002      # 61800.20 USDT
    assert book.best_ask() == data.snapshot_asks[0][0] == 618003
    prices, qtys = book.depth(BUY, 1000)
    assert np.array_equal(prices, data.snapshot_bids[0]) and np.array_equal(qtys, data.snapshot_bids[1])
    lo, hi = book.band
    assert lo <= prices[-1] and hi >= book.depth(SELL, 1000)[0][-1]


def test_a_disagreeing_ticker_is_reported(tmp_path):
    records = small_stream()
    records[5] = ticker(107, "100.0", "1.300", "100.1", "1.500")          # wrong bid qty
    report = binance.replay(write(tmp_path / "wrong.gz", records))
    assert (report.tickers_aligned, report.tickers_agreeing, report.tickers_price_agreeing) == (4, 3, 4)
    assert "wrong.gz:6" in report.first_disagreement and "bid qty file 1.300 engine 1.200" in report.first_disagreement


def test_a_snapshot_with_one_side_empty_seeds_the_other(tmp_path):
    snapshot = {"lastUpdateId": 10, "bids": [], "asks": [["60000.0", "1.000"]]}
    seeded = binance.snapshot_book(write(tmp_path / "asks.gz", [snapshot]))
    assert seeded.best_bid() is None and seeded.best_ask() == 600000
    lo, hi = seeded.band
    assert lo < 600000 < hi


@pytest.mark.parametrize("bids, field", [([["100.0", "-1.000"]], "bids.qty"), ([["0.0", "1.000"]], "bids.price"),
                                         ([["100.0", "0.000"]], "bids.qty")])
def test_a_snapshot_level_that_is_not_positive_is_refused(tmp_path, bids, field):
    snapshot = {"lastUpdateId": 10, "bids": bids, "asks": [["100.1", "1.000"]]}
    with pytest.raises(FormatError) as raised:
        binance.load(write(tmp_path / "bad.gz", [snapshot]))
    assert raised.value.field == field and "must be positive" in str(raised.value)
