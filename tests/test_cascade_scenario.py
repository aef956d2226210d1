"""The margin-crash scenario (the main job) on a small population: deterministic,
accounting exact, report readable."""
import numpy as np

from engine import _cascade
from engine.report import format_report
from engine.scenario.margin_crash import margin_crash, margin_crash_setup


def test_margin_crash_is_deterministic_and_conserves_lots():
    a = margin_crash(seed=11, accounts=20_000, sessions=4)
    b = margin_crash(seed=11, accounts=20_000, sessions=4)
    assert a.tape.tobytes() == b.tape.tobytes()
    assert a.orders.tobytes() == b.orders.tobytes()
    _, start = margin_crash_setup(seed=11, accounts=20_000)
    sold = start.shares - a.accounts.shares
    assert sold.sum() == a.orders["filled"].sum()
    forced = a.tape[a.tape["seller"] == _cascade.FORCED_SELLER]
    assert forced["qty"].sum() == sold.sum()
    s = a.summary()
    assert s["rejects"] == 0
    assert s["start_price"] > s["end_price"]
    # Every session's band is the previous close x (1 -+ 10%), rounded half up.
    for previous, row in zip(a.sessions, a.sessions[1:]):
        lo, hi = row["band"]
        assert lo == (previous["close"] * 9 + 5) // 10


def test_margin_crash_report():
    result = margin_crash(seed=3, accounts=20_000, sessions=3)
    text = format_report(result)
    for needle in ("Price:", "Session", "forced volume", "accounts liquidated", "levels emptied",
                   "largest gap between trades", "bad debt", "unfilled at limit-down",
                   "amplification", "depth consumed"):
        assert needle in text
    ratio = np.median(margin_crash_setup(seed=3, accounts=20_000)[1].collateral_ratio(10_000))
    assert 2.5 < ratio < 3.1
