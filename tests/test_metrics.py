"""engine.metrics on hand-built tapes and depth profiles."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import engine
from engine import metrics
from engine.testing.cascade_strategies import build_book


def tape(rows):
    out = np.zeros(len(rows), engine.FILL_DTYPE)
    for i, (taker, price, qty, side) in enumerate(rows):
        out[i]["taker_id"] = taker
        out[i]["price"] = price
        out[i]["qty"] = qty
        out[i]["taker_side"] = side
    return out


PRICES = np.array([100, 99, 97, 96, 90])
QTYS = np.array([10, 10, 10, 10, 10])


def test_depth_exhaustion_counts_only_pre_shock_depth():
    # 10 at 100 and 10 at 99 eaten, 4 at 97; 5 at 95 is not a profile level; a buy is ignored.
    t = tape([(1, 100, 10, -1), (1, 99, 10, -1), (2, 97, 4, -1), (3, 95, 5, -1), (4, 101, 7, 1)])
    r = metrics.depth_exhaustion(t, PRICES, QTYS, start_price=100, distances=(None, 1, 3),
                                 fractions=(0.25, 0.5, 0.9))
    assert r["levels"] == 5 and r["levels_emptied"] == 2
    assert r["depth"] == 50 and r["consumed"] == 24 and r["fraction"] == pytest.approx(0.48)
    within1 = r["by_distance"][1]
    assert within1["depth"] == 20 and within1["fraction"] == 1.0
    # 25% of the 20 lots within 1 tick is gone after the first fill (10 lots)
    assert within1["volume_at"] == {0.25: 10, 0.5: 10, 0.9: 20}
    within3 = r["by_distance"][3]
    assert within3["depth"] == 30 and within3["consumed"] == 24
    assert within3["volume_at"][0.25] == 10 and within3["volume_at"][0.5] == 20
    assert within3["volume_at"][0.9] is None
    assert r["by_distance"][None]["volume_at"][0.25] == 20   # 12.5 lots needed: after 2 fills


def test_traded_more_than_the_level_held_is_capped():
    t = tape([(1, 100, 25, -1)])
    r = metrics.depth_exhaustion(t, PRICES, QTYS)
    assert r["consumed"] == 10 and r["levels_emptied"] == 1


def test_count_mask_selects_the_volume_that_counts():
    t = tape([(1, 100, 10, -1), (2, 99, 10, -1)])
    r = metrics.depth_exhaustion(t, PRICES, QTYS, distances=(1,), fractions=(0.5, 1.0),
                                 count=np.array([False, True]))
    assert r["by_distance"][1]["volume_at"] == {0.5: 0, 1.0: 10}


def test_price_gaps_and_sweeps():
    t = tape([(1, 100, 1, -1), (1, 99, 1, -1), (2, 95, 1, -1), (2, 90, 2, -1), (3, 91, 1, 1)])
    g = metrics.price_gaps(t, start_price=100)
    assert g["max_gap_ticks"] == 5 and g["max_down_gap_ticks"] == 5
    assert g["gaps"].tolist() == [0, -1, -4, -5, 1]
    ids, empty = metrics.sweep_gaps(t)
    assert ids.tolist() == [1, 2, 3]
    assert empty.tolist() == [0, 4, 0]     # order 2 traded at 95 and 90: 94..91 were empty


def test_price_gaps_with_path():
    path = np.zeros(3, [("bid", np.int64), ("ask", np.int64)])
    path["bid"] = [100, 97, -1]
    path["ask"] = [101, 101, 101]
    g = metrics.price_gaps(tape([]), path=path)
    assert g["max_gap_ticks"] == 0 and g["max_bid_gap_ticks"] == 3 and g["max_spread_ticks"] == 4


def test_vwap_slippage():
    t = tape([(1, 100, 1, -1), (1, 96, 3, -1)])
    assert metrics.vwap_slippage(t, 100) == pytest.approx(3.0)
    assert metrics.vwap_slippage(t[:0], 100) is None


def test_depth_profile_from_a_book():
    book = build_book(engine.Book, [(999, 5), (997, 7)], [(1001, 3)])
    prices, qtys = metrics.depth_profile(book)
    assert prices.tolist() == [999, 997] and qtys.tolist() == [5, 7]


def test_metrics_on_a_users_own_simulation():
    """The metrics only need a tape and a profile: run a plain book and measure it."""
    book = build_book(engine.Book, [(1000 - k, 10) for k in range(1, 50)], [])
    prices, qtys = metrics.depth_profile(book)
    result = book.submit(engine.make_orders(id=[1001, 1002], side=[-1, -1], kind=[engine.MARKET] * 2,
                                            qty=[25, 40]))
    r = metrics.depth_exhaustion(result.fills, prices, qtys)
    assert r["consumed"] == 65 and r["levels_emptied"] == 6
    assert metrics.price_gaps(result.fills, 999)["max_gap_ticks"] == 1


def test_bad_input():
    with pytest.raises(ValueError, match="levels"):
        metrics.depth_exhaustion(tape([]), [1, 2], [1])
    with pytest.raises(TypeError, match="tape"):
        metrics.traded_by_price(np.zeros(3), [1], 1)


def _naive_exhaustion(rows, prices, qtys, start_price, side, distance, fractions):
    """Row by row: each hit eats what is left of the first profile level at its price."""
    index = {}
    for i, p in enumerate(prices):
        index.setdefault(p, i)
    within = [distance is None or 0 <= (start_price - p) * side <= distance for p in prices]
    depth = sum(q for q, w in zip(qtys, within) if w)
    traded, left = [0] * len(prices), list(qtys)
    eaten = volume = 0
    volume_at = {f: None for f in fractions}
    for _, price, qty, taker_side in rows:
        volume += qty if taker_side == -side else 0
        i = index.get(price) if taker_side == -side else None
        if i is not None:
            traded[i] += qty
            if within[i]:
                take = min(qty, left[i])
                left[i] -= take
                eaten += take
        for f in fractions:
            if volume_at[f] is None and depth and eaten >= f * depth:
                volume_at[f] = volume
    consumed = sum(min(t, q) for t, q, w in zip(traded, qtys, within) if w)
    return traded, depth, consumed, volume_at


@given(data=st.data())
def test_depth_exhaustion_matches_a_row_by_row_count(data):
    side = data.draw(st.sampled_from([1, -1]))
    prices = data.draw(st.lists(st.integers(90, 110), min_size=1, max_size=8))
    qtys = data.draw(st.lists(st.integers(0, 20), min_size=len(prices), max_size=len(prices)))
    rows = data.draw(st.lists(st.tuples(st.just(1), st.integers(88, 112), st.integers(1, 15),
                                        st.sampled_from([1, -1])), max_size=30))
    start = data.draw(st.integers(90, 110))
    distance = data.draw(st.sampled_from([None, 0, 3, 10]))
    fractions = (0.25, 0.5, 1.0)
    r = metrics.depth_exhaustion(tape(rows), prices, qtys, start_price=start, distances=(distance,),
                                 fractions=fractions, side=side)
    traded, depth, consumed, volume_at = _naive_exhaustion(rows, prices, qtys, start, side,
                                                           distance, fractions)
    assert metrics.traded_by_price(tape(rows), prices, side).tolist() == traded
    entry = r["by_distance"][distance]
    assert (entry["depth"], entry["consumed"]) == (depth, consumed)
    assert entry["volume_at"] == volume_at
