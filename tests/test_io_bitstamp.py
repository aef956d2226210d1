"""Bitstamp order-level log: loader, replay against the exchange's snapshots."""
import json
import lzma
from pathlib import Path

import pytest

from engine import BUY, SELL
from engine.io import bitstamp
from engine.io.decimals import FormatError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LOG = DATA / "bitstamp_btcusd_2015-05-01" / "2015-05-01.log.xz"


def order(event, order_id, price, amount, side):
    return ("order_" + event, {"price": price, "amount": amount, "datetime": "1430438404", "id": order_id,
                               "order_type": 0 if side == BUY else 1})


def book(bids, asks):
    return ("order_book", {"bids": [list(x) for x in bids], "asks": [list(x) for x in asks]})


def write(path, records, raw_lines=()):
    lines = [f"{1430438404000 + i} {event} {json.dumps(body)}" for i, (event, body) in enumerate(records)]
    with lzma.open(path, "wt") as handle:
        handle.write("\n".join(lines + list(raw_lines)) + "\n")
    return path


def small_log():
    # Before the log: bids 10 @ 100.00 (order 1) and 5 @ 99.00 (order 2), asks 4 @ 101.00 (order 3),
    # and an ask of 7 @ 105.00 (order 4) beyond what the first snapshot shows (depth 1 here).
    return [
        book([("100.00", "10.00000000")], [("101.00", "4.00000000")]),
        order("created", 11, "100.00", "1.00000000", SELL),          # crosses: trades 1 with order 1
        order("deleted", 11, "100.00", "0.00000000", SELL),
        order("changed", 1, "100.00", "9.00000000", BUY),            # pre-existing, first sighting
        ("trade", {"price": 100.0, "amount": 1.0, "id": 1}),
        order("created", 10, "100.50", "2.00000000", BUY),
        order("deleted", 1, "100.00", "9.00000000", BUY),            # pre-existing, cancelled
        book([("100.50", "2.00000000"), ("99.00", "5.00000000")], [("101.00", "4.00000000")]),
        order("deleted", 3, "101.00", "4.00000000", SELL),           # pre-existing, cancelled
        order("created", 12, "101.50", "1.00000000", SELL),
        book([("100.50", "2.00000000"), ("99.00", "5.00000000")],
             [("101.50", "1.00000000"), ("105.00", "7.00000000")]),  # 105.00 seen for the first time
        order("created", 13, "100.50", "3.00000000", SELL),          # sweeps: created at the first price,
        order("changed", 13, "100.50", "1.00000000", SELL),          # then moved level by level
        order("deleted", 10, "100.50", "0.00000000", BUY),
        order("changed", 13, "99.00", "1.00000000", SELL),
        order("changed", 13, "99.00", "0.00000000", SELL),
        order("deleted", 13, "99.00", "0.00000000", SELL),
        book([("99.00", "4.00000000")], [("101.50", "1.00000000"), ("105.00", "7.00000000")]),
    ]


def test_small_log_agrees_with_every_snapshot(tmp_path):
    report = bitstamp.replay(write(tmp_path / "s.log.xz", small_log()), keep_disagreements=5)
    assert report.snapshots == 3
    assert report.snapshots_agreeing == 3, report.disagreements
    assert report.discovered_levels == 4          # two seeded, 99.00 and 105.00 discovered
    assert report.pre_existing_events == 3 and report.repriced == 1
    assert report.engine_volume == 4 * 10 ** 8 and report.trade_volume == 10 ** 8
    assert report.book.depth(BUY, 5)[1].tolist() == [4 * 10 ** 8]
    report.book.check_invariants()


@pytest.mark.parametrize("raw, field, problem", [
    ("1430438404999 order_created {bad", None, "not JSON"),
    ("1430438404999 order_cancelled {}", "event", "unknown event"),
    ("x order_created {}", None, "expected '<local_ms> <event> <json>'"),
    ('1430438404999 order_created {"price": "1.00", "amount": "1", "id": 5, "order_type": 2}', "order_type",
     "expected 0 or 1"),
    ('1430438404999 order_created {"price": "1.00", "amount": "1", "order_type": 0}', "id", "integer"),
    ('1430438404999 order_created {"amount": "1", "id": 5, "order_type": 0}', "price", "missing"),
    ('1430438404999 order_created {"price": "1.001", "amount": "1", "id": 5, "order_type": 0}', "price",
     "finer than the unit"),
    ('1430438404999 order_created {"price": "1.00", "amount": "1.000000001", "id": 5, "order_type": 0}',
     "amount", "finer than the unit"),
    ('1430438404999 order_book {"bids": [["1.00"]], "asks": []}', "bids", "[price, amount]"),
    ('1430438404999 order_created {"price": "1.00", "amount": "1", "id": 5, "order_type": true}',
     "order_type", "expected 0 or 1"),                            # JSON true is not side 1
    ('1430438404999 trade {"price": "1.00", "amount": "-0.5"}', "amount", "must be positive"),
])
def test_malformed_lines(tmp_path, raw, field, problem):
    path = write(tmp_path / "bad.log.xz", small_log()[:2], raw_lines=[raw])
    with pytest.raises(FormatError) as raised:
        bitstamp.load(path)
    assert raised.value.line == 3 and raised.value.field == field
    assert problem in str(raised.value) and "bad.log.xz:3" in str(raised.value)


def test_trade_records_printed_as_floats_are_rounded_to_the_lot(tmp_path):
    records = small_log()[:1] + [("trade", {"price": 236.61000000000001, "amount": 9.9999999999999995e-07,
                                            "id": 1})]
    data = bitstamp.load(write(tmp_path / "t.log.xz", records))
    assert data.price[1] == 23661 and data.amount[1] == 100


@pytest.fixture(scope="module")
def recorded():
    if not LOG.is_file():
        pytest.skip(f"shared Bitstamp log not found at {LOG}")
    return bitstamp.replay(LOG)


def test_log_replays_in_agreement_with_the_snapshots(recorded):
    report = recorded
    assert report.snapshots == 5010
    # Measured: 98.94% of snapshots identical on all 20 levels a side, 99.90% on the
    # best bid and ask, 0.28% of level slots differ (pre-existing orders are only known
    # from the snapshots; see engine.io.bitstamp).
    assert report.snapshots_agreeing / report.snapshots >= 0.985, report.first_disagreement
    assert report.snapshots_top_agreeing / report.snapshots >= 0.998
    assert report.levels_differing / report.levels_compared <= 0.005
    # The engine's own matching of crossing orders accounts for the recorded trades.
    assert abs(report.engine_volume - report.trade_volume) <= report.trade_volume * 1e-6
    report.book.check_invariants()


def test_log_snapshot_seeds_a_book():
    if not LOG.is_file():
        pytest.skip(f"shared Bitstamp log not found at {LOG}")
    book = bitstamp.snapshot_book(LOG, index=0)
    assert len(book) == 40
    assert book.best_bid() == 23647 and book.best_ask() == 23664
    assert book.depth(SELL, 1)[1][0] == 379520000                 # 3.7952 BTC


def test_a_disagreeing_snapshot_is_reported(tmp_path):
    records = small_log()
    records[-1] = book([("99.00", "4.50000000")], [("101.50", "1.00000000"), ("105.00", "7.00000000")])
    report = bitstamp.replay(write(tmp_path / "wrong.log.xz", records))
    assert report.snapshots_agreeing == 2 and report.levels_differing == 1
    assert "bid level 1: file 99.00 x 4.50000000, engine 99.00 x 4.00000000" in report.first_disagreement


def test_a_snapshot_with_one_side_empty_centres_the_band_on_the_other(tmp_path):
    # The rows are zero-padded to 20 levels: a missing bid side is not a bid at 0.
    path = write(tmp_path / "asks.log.xz", [book([], [("236.50", "1.00000000")])])
    seeded = bitstamp.snapshot_book(path)
    lo, hi = seeded.band
    assert lo < 23650 < hi and (lo + hi) // 2 in range(23640, 23660)
    assert seeded.best_bid() is None and seeded.best_ask() == 23650
    seeded.limit(99, SELL, 23660, 1)                              # inside the band
