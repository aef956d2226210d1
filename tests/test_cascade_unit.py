"""Unit tests of accounts, rules, presets, bad input and cascade behaviours."""
import math

import numpy as np
import pytest

import engine
from engine import _accounts, _cascade
from engine.accounts import (
    Accounts, MarginRule, PerpRule, SwapRule, A_SHARE_MARGIN, REG_T, TRIGGER_NONE,
)
from engine.cascade import Cascade, Shock, LiquidityProvider, FORCED_ID_BASE, band_around
from engine.testing.cascade_strategies import build_book


def flat_book(levels=200, qty=10, mid=1000, asks=0):
    return build_book(engine.Book, [(mid - k, qty) for k in range(1, levels + 1)],
                      [(mid + k, qty) for k in range(1, asks + 1)])


# ---------------------------------------------------------------------- closed forms

def test_margin_trigger_is_the_highest_crossed_tick():
    # c + q p < 1.1 d  <=>  p < (1.1*1000 - 100) / 1 = 1000  -> trigger 999
    acc = Accounts.margin(cash=[100], shares=[1], debt=[1000], rule=MarginRule(force=1.10))
    assert acc.trigger[0] == 999
    assert not acc.crossed(1000)[0] and acc.crossed(999)[0]
    ratio = acc.collateral_ratio(1000)[0]
    assert ratio == pytest.approx(1.1)       # exactly on the line is not crossed


def test_trigger_matches_brute_force():
    rng = np.random.default_rng(0)
    n = 300
    cash = rng.integers(0, 5000, n)
    shares = rng.integers(0, 50, n)
    debt = rng.integers(0, 80_000, n)
    acc = Accounts.margin(cash=cash, shares=shares, debt=debt, rule=MarginRule(force=1.3, restore=1.5))
    def crossed(i, p):
        return 10000 * (int(cash[i]) + int(shares[i]) * p) < 13000 * int(debt[i])

    for i in range(n):
        t = int(acc.trigger[i])
        if shares[i] == 0 or debt[i] == 0:
            assert t == TRIGGER_NONE
        else:
            assert crossed(i, t) and not crossed(i, t + 1)


def test_accounts_without_debt_or_shares_never_cross():
    acc = Accounts.margin(cash=[0, 10], shares=[0, 5], debt=[10, 0])
    assert (acc.trigger == TRIGGER_NONE).all()
    assert not acc.crossed(1).any()


def test_perp_liquidation_and_bankruptcy_prices():
    # collateral 100, 10 lots at 100: equity = 100 + 10 (p - 100); mmr 1%:
    # liquidation where 100 + 10p - 1000 < 0.01 * 10 p  ->  p < 900 / 9.9 = 90.9  -> 90
    rule = PerpRule(tiers=((math.inf, 0.01),))
    acc = Accounts.perp(collateral=[100], size=[10], entry=[100], rule=rule)
    assert acc.trigger[0] == 90
    assert acc.bankruptcy_price()[0] == 90    # equity >= 0 from p = 90
    assert acc.line_bps[0] == 100


def test_perp_tiers_by_entry_notional():
    rule = PerpRule(tiers=((1000, 0.004), (10_000, 0.01), (math.inf, 0.05)))
    acc = Accounts.perp(collateral=[10, 100, 1000], size=[1, 50, 500], entry=[100, 100, 100], rule=rule)
    assert acc.line_bps.tolist() == [40, 100, 500]


def test_swap_stop_line_and_fraction():
    # margin 200 on 10 lots at 100: financing 800, stop 0.8 x 200 = 160:
    # 10 p - 800 < 160  <=>  p < 96  -> trigger 95
    acc = Accounts.swap(margin=[200], shares=[10], entry=[100], rule=SwapRule(stop=0.8, close=0.5))
    assert acc.debt[0] == 800 and acc.floor_value[0] == 160 * 10000   # 1/10000 tick-lots
    assert acc.trigger[0] == 95
    book = build_book(engine.Book, [(95, 100)], [], band=(1, 200))
    result = Cascade(book, acc).run(Shock.gap(95))
    assert result.orders["qty"].tolist() == [5]        # half the position
    assert acc.shares[0] == 5


def test_presets():
    assert A_SHARE_MARGIN.force == 1.10 and A_SHARE_MARGIN.call == 1.30
    assert A_SHARE_MARGIN.restore == 1.45 and A_SHARE_MARGIN.withdraw == 3.00
    assert A_SHARE_MARGIN.style == "floor" and A_SHARE_MARGIN.grace == 1
    assert REG_T.force == 0.25 and REG_T.restore == 0.30 and REG_T.basis == "equity"
    # 25% maintenance: equity / market value < 0.25 (here exactly when the price < 100).
    acc = Accounts.margin(cash=[0], shares=[100], debt=[7500], rule=REG_T)
    assert acc.crossed(99)[0] and not acc.crossed(100)[0]


# ---------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs, field", [
    (dict(cash=[0, 0], shares=[1, -1], debt=[1, 1]), "shares"),
    (dict(cash=[0, 0], shares=[1, 1], debt=[1, -5]), "debt"),
    (dict(cash=[-1, 0], shares=[1, 1], debt=[1, 1]), "cash"),
    (dict(cash=[0, 0], shares=[1, 1], debt=[1.0, float("nan")]), "debt"),
    (dict(cash=[0, 0], shares=[1.5, 1], debt=[1, 1]), "shares"),
    (dict(cash=[0, 0], shares=[1, 1, 1], debt=[1, 1]), "shares"),
    (dict(cash=[0, 0], shares=[1, 1], debt=[1]), "debt"),
    (dict(cash=[0, 0], shares=[[1, 1]], debt=[1, 1]), "shares"),
])
def test_bad_margin_input_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Accounts.margin(**kwargs)


def test_bad_types():
    with pytest.raises(TypeError, match="shares"):
        Accounts.margin(cash=[0], shares=["a"], debt=[1])
    with pytest.raises(TypeError, match="rule"):
        Accounts.margin(cash=[0], shares=[1], debt=[1], rule=PerpRule())


@pytest.mark.parametrize("kwargs, field", [
    (dict(force=1.3, call=1.2), "call"),
    (dict(force=1.1, restore=1.05), "restore"),
    (dict(force=1.1, call=1.3, warning=1.2), "warning"),
    (dict(force=float("nan")), "force"),
    (dict(force=-1.0), "force"),
    (dict(policy="some"), "policy"),
    (dict(style="stop"), "style"),
    (dict(grace=-1), "grace"),
])
def test_rules_out_of_order(kwargs, field):
    with pytest.raises(ValueError, match=field):
        MarginRule(**kwargs)


def test_perp_and_swap_bad_input():
    with pytest.raises(ValueError, match="entry"):
        Accounts.perp(collateral=[1], size=[1], entry=[0])
    with pytest.raises(ValueError, match="size"):
        Accounts.perp(collateral=[1], size=[-1], entry=[10])
    with pytest.raises(ValueError, match="tiers"):
        PerpRule(tiers=((100, 0.01), (50, 0.02)))
    with pytest.raises(ValueError, match="margin"):
        Accounts.swap(margin=[2000], shares=[1], entry=[100])
    with pytest.raises(ValueError, match="close"):
        SwapRule(close=0)


def test_cascade_bad_arguments():
    book = flat_book()
    acc = Accounts.margin(cash=[0], shares=[1], debt=[1])
    with pytest.raises(ValueError, match="mark"):
        Cascade(book, acc, mark="close")
    with pytest.raises(ValueError, match="limit"):
        Cascade(book, acc, limit=1.5)
    with pytest.raises(ValueError, match="sessions"):
        Cascade(book, acc, sessions=0)
    with pytest.raises(ValueError, match="queued"):
        Cascade(book, acc, queued="drop")
    with pytest.raises(TypeError, match="book"):
        Cascade(object(), acc)
    with pytest.raises(ValueError, match="qty"):
        Shock.sell(0)
    with pytest.raises(ValueError, match="no bids"):
        Cascade(engine.Book(1, 10), acc).run(Shock.sell(1))
    cascade = Cascade(book, acc)
    cascade.run(Shock.sell(1))
    with pytest.raises(RuntimeError):
        cascade.run(Shock.sell(1))


# ---------------------------------------------------------------------- behaviour

def test_chain_reaction_waves_and_summary():
    # Book: 10 lots at each tick below 1000.  Account k is crossed at 990 - 3 k and
    # holds 30 lots (three levels' worth), so each forced sale crosses the next account.
    book = flat_book(levels=300)
    n = 5
    trigger = np.array([990 - 3 * k for k in range(n)])
    shares = np.full(n, 30)
    debt = (shares * trigger * 10 + 10) // 11 + 1      # p* = 1.1 d / q lands on trigger
    acc = Accounts.margin(cash=np.zeros(n, int), shares=shares, debt=debt,
                          rule=MarginRule(force=1.1, call=None, policy="all"))
    assert acc.trigger.tolist() == trigger.tolist()
    result = Cascade(book, acc).run(Shock.sell(100))
    s = result.summary()
    assert result.orders["account"].tolist() == [0, 1, 2, 3, 4]
    assert result.orders["wave"].tolist() == [1, 2, 3, 4, 5]
    assert s["forced_volume"] == 150 and s["forced_orders"] == 5
    assert s["accounts_liquidated"] == 5 and s["waves"] == 5
    assert s["start_price"] == 999 and s["end_price"] == 999 - 24
    assert s["amplification"] == pytest.approx(2.5)
    assert s["levels_emptied"] == 25 and s["max_gap_ticks"] == 1
    assert s["depth_consumed"] == pytest.approx(250 / 3000)
    # VWAP slippage: 25 levels of 10 lots at 0..24 ticks below 999
    assert s["vwap_slippage_ticks"] == pytest.approx(12.0)
    assert s["bad_debt"] == int(acc.bad_debt.sum())
    assert result.waves["forced_volume"].tolist() == [0, 30, 30, 30, 30, 30]
    assert result.waves["branching_ratio"][0] == pytest.approx(0.3)
    for key in ("start_price", "end_price", "forced_volume", "forced_orders",
                "accounts_liquidated", "waves", "levels_emptied", "max_gap_ticks",
                "depth_consumed", "vwap_slippage_ticks", "bad_debt", "unfilled_at_limit",
                "amplification"):
        assert key in s
    # Owners and waves on the tape.
    forced = result.tape[result.tape["seller"] == _cascade.FORCED_SELLER]
    assert set(forced["taker_owner"].tolist()) == {0, 1, 2, 3, 4}
    assert forced["wave"].min() == 1


def test_restore_policy_sells_just_enough():
    # cash 0, 100 lots, debt 88_000: ratio at 999 = 1.135...; force 1.2, restore 1.5.
    acc = Accounts.margin(cash=[0], shares=[100], debt=[88_000],
                          rule=MarginRule(force=1.2, call=None, restore=1.5, policy="restore"))
    book = build_book(engine.Book, [(999, 10_000)], [])
    result = Cascade(book, acc).run(Shock.sell(1))
    x = int(result.orders["qty"][0])
    # after selling x at 999: (100 - x) 999 / (88000 - 999 x) >= 1.5, and x - 1 is not enough
    assert (100 - x) * 999 * 10 >= 15 * (88_000 - 999 * x)
    assert (100 - x + 1) * 999 * 10 < 15 * (88_000 - 999 * (x - 1))
    assert acc.shares[0] == 100 - x and acc.state[0] != _accounts.CLOSED


def test_limit_down_queue_sessions_and_resubmit():
    # 20 lots of bids down to 990; the band is 1000 +- 1%: floor 990.
    bids = [(999 - k, 2) for k in range(10)]
    book = build_book(engine.Book, bids + [(900, 1000)], [])
    acc = Accounts.margin(cash=[0], shares=[50], debt=[46_000],
                          rule=MarginRule(force=1.1, call=None, policy="all", style="floor"))
    result = Cascade(book, acc, limit=0.05, sessions=5, prev_close=1000).run(Shock.sell(5))
    s = result.summary()
    assert result.sessions[0]["band"] == (950, 1050)
    assert [row["close"] for row in result.sessions[:2]] == [950, 903]   # closed limit-down
    assert result.sessions[0]["queued_at_close"] > 0
    assert len(result.sessions) > 1
    # Resubmitted at each new floor until the bids at 900 are reached.
    assert (result.orders["cause"] == 2).any()
    assert acc.shares[0] == 0 and s["unfilled_at_limit"] == 0
    bands = [row["band"][0] for row in result.sessions]
    assert bands == sorted(bands, reverse=True)


def test_keep_policy_leaves_orders_queued():
    bids = [(999 - k, 2) for k in range(10)]
    book = build_book(engine.Book, bids + [(900, 1000)], [])
    acc = Accounts.margin(cash=[0], shares=[50], debt=[46_000],
                          rule=MarginRule(force=1.1, call=None, policy="all", style="floor"))
    result = Cascade(book, acc, limit=0.05, sessions=3, queued="keep", prev_close=1000).run(Shock.sell(5))
    assert result.summary()["unfilled_at_limit"] == 35
    k = int(np.flatnonzero(result.orders["status"] == _cascade.RESTING)[0])
    assert book.order(FORCED_ID_BASE + k)[1] == 950
    assert len(result.orders) == 1


def test_forced_orders_behind_a_just_cancelled_order_are_found():
    """A run refuses a book holding an earlier run's forced orders; it finds them by walking
    the queues, right after a per-call cancel relinked one (the book writes the links it
    left for its next call first)."""
    book = flat_book(levels=10)
    for id in (10_001, 10_002, FORCED_ID_BASE + 3):
        book.limit(id, engine.SELL, 1500, 5)
    book.cancel(10_002)
    acc = Accounts.margin(cash=[0], shares=[10], debt=[9_300], rule=MarginRule(force=1.1))
    with pytest.raises(ValueError, match="FORCED_ID_BASE"):
        _cascade.Engine(book, acc)      # the check, with no other call to the book before it
    with pytest.raises(ValueError, match="FORCED_ID_BASE"):
        Cascade(book, acc).run(Shock.sell(1))


def test_market_style_cut_by_band_blocks_until_next_session():
    bids = [(999 - k, 2) for k in range(10)]
    book = build_book(engine.Book, bids + [(900, 1000)], [])
    acc = Accounts.margin(cash=[0], shares=[50], debt=[46_000],
                          rule=MarginRule(force=1.1, call=None, policy="all", style="market"))
    result = Cascade(book, acc, limit=0.01, sessions=1, prev_close=1000).run(Shock.sell(5))
    assert result.summary()["cut_volume"] > 0
    assert acc.state[0] == _accounts.BLOCKED
    # Market sells cut at the floor trade nothing, so the price (and the band) stays:
    # the account retries once a session, cut every time (the liquidity black hole).
    book2 = build_book(engine.Book, bids + [(900, 1000)], [])
    acc2 = Accounts.margin(cash=[0], shares=[50], debt=[49_000],
                           rule=MarginRule(force=1.1, call=None, policy="all", style="market"))
    result2 = Cascade(book2, acc2, limit=0.01, sessions=4, prev_close=1000).run(Shock.sell(5))
    assert len(result2.sessions) == 4 and len(result2.orders) == 4
    assert acc2.shares[0] == 35 and acc2.state[0] == _accounts.BLOCKED


def test_margin_call_grace_counted_in_sessions():
    # Ratio 1.2 at 999: under the 1.3 call line, above the 1.1 force line.
    debt = 999 * 100 * 10 // 12
    for grace in (0, 1, 2):
        book = flat_book(levels=400, qty=100)
        acc = Accounts.margin(cash=[0], shares=[100], debt=[debt],
                              rule=MarginRule(force=1.1, call=1.3, restore=1.45, grace=grace))
        result = Cascade(book, acc, limit=0.10, sessions=6).run(Shock.sell(1))
        assert len(result.orders) == 1
        order = result.orders[0]
        assert order["cause"] == 1                    # margin call
        # called at the close of session 0, forced at the close of session `grace`,
        # sent in the session after it
        forced = result.tape[result.tape["seller"] == _cascade.FORCED_SELLER]
        assert forced["session"].min() == grace + 1


def test_gap_shock_withdraws_bids():
    book = flat_book(levels=100)
    acc = Accounts.margin(cash=[0], shares=[10], debt=[9000], rule=MarginRule(force=1.1, call=None))
    result = Cascade(book, acc, mark="bid").run(Shock.gap(950))
    assert result.withdrawn == 490 and book.best_bid() <= 950
    assert result.summary()["amplification"] is None
    assert len(result.orders) == 1


def test_ioc_style_limited_below_mark():
    book = build_book(engine.Book, [(999, 1), (990, 100)], [])
    acc = Accounts.margin(cash=[0], shares=[10], debt=[9_500],
                          rule=MarginRule(force=1.1, call=None, policy="all", style="ioc", ioc_offset=3))
    result = Cascade(book, acc).run(Shock.sell(1))
    assert result.orders["price"][0] == 996 and result.orders["filled"][0] == 0
    assert result.orders["cancelled"][0] == 10


def test_providers_refill_and_withdraw():
    book = flat_book(levels=300, qty=5)
    n = 200
    rng = np.random.default_rng(1)
    shares = rng.integers(5, 20, n)
    trigger = 999 - rng.integers(0, 150, n)
    debt = shares * trigger * 10 // 11 + 1
    rule = MarginRule(force=1.1, call=None, policy="all")
    calm = LiquidityProvider(size=8, levels=6, spacing=3, every=2)
    nervous = LiquidityProvider(size=8, levels=6, spacing=3, every=2, gap_ticks=2, pause=3)
    results = []
    for providers in ((), (calm,), (nervous,)):
        b = flat_book(levels=300, qty=5)
        acc = Accounts.margin(cash=np.zeros(n, int), shares=shares, debt=debt, rule=rule)
        results.append(Cascade(b, acc, providers=providers).run(Shock.sell(50)))
    none, calm_r, nervous_r = results
    # Makers that stay absorb the cascade; makers that pull their bids when the price
    # gaps let it run (the liquidity black hole emerges).
    assert calm_r.lp_quoted > 0 and calm_r.lp_bought > 0 and calm_r.lp_withdrawn == 0
    assert calm_r.end_price > none.end_price
    assert len(calm_r.accounts_liquidated()) < len(none.accounts_liquidated())
    assert nervous_r.lp_withdrawn > 0
    assert nervous_r.end_price < calm_r.end_price
    assert len(nervous_r.accounts_liquidated()) > len(calm_r.accounts_liquidated())


def test_chunked_liquidation_with_cooldown():
    book = flat_book(levels=200, qty=10)
    # Selling repays debt; this account stays crossed until the last chunk.
    acc = Accounts.margin(cash=[0], shares=[100], debt=[99_000],
                          rule=MarginRule(force=1.1, call=None, policy="all", chunk=20, cooldown=5))
    result = Cascade(book, acc).run(Shock.sell(1))
    assert result.orders["qty"].tolist() == [20] * 5
    assert (result.orders["cause"][1:] == 3).all()
    assert acc.shares[0] == 0
    # Each chunk sells two whole levels, so the best bid moves once per chunk: the path
    # shows the event of every chunk, and chunks are cooldown + 1 events apart.
    events = result.path["event"][1:]
    assert len(events) == 5 and result.path["bid"][1:].tolist() == [997, 995, 993, 991, 989]
    assert np.diff(events).tolist() == [6] * 4
    assert result.events == events[-1]


def test_ledger_order_restored_and_accounts_copy():
    rng = np.random.default_rng(2)
    n = 100
    shares = rng.integers(1, 10, n)
    debt = (shares * 1000 / rng.uniform(1.0, 2.0, n)).astype(np.int64)
    acc = Accounts.margin(cash=np.zeros(n, int), shares=shares, debt=debt,
                          rule=MarginRule(force=1.1, call=None, policy="all"))
    start = acc.copy()
    result = Cascade(flat_book(), acc).run(Shock.sell(200))
    assert (start.shares == shares).all()                  # the copy did not move
    # The run permutes the rows into trigger order and back: every row must be its
    # own account again.  Untouched accounts are exactly as they started ...
    touched = np.zeros(n, bool)
    touched[result.orders["account"]] = True
    assert 0 < touched.sum() < n
    for name, column in start.columns().items():
        assert (acc.columns()[name][~touched] == column[~touched]).all(), name
    # ... and each liquidated account lost what its own orders sold, for what they sold.
    sold = start.shares - acc.shares
    assert (sold == np.bincount(result.orders["account"], weights=result.orders["filled"],
                                minlength=n)).all()
    forced = result.tape[result.tape["seller"] == _cascade.FORCED_SELLER]
    proceeds = np.bincount(forced["taker_owner"], weights=forced["price"] * forced["qty"], minlength=n)
    assert ((acc.cash - start.cash) + (start.debt - acc.debt) == proceeds).all()
    # the liquidated accounts are those crossed at some mark the run went through
    assert (start.trigger[touched] >= result.final_mark).all()
    # triggers match the ledger row by row
    fresh = Accounts.margin(cash=acc.cash, shares=acc.shares, debt=acc.debt,
                            rule=MarginRule(force=1.1, call=None, policy="all"))
    assert (fresh.trigger == acc.trigger).all()


def test_band_around():
    assert band_around(1000, 0.10) == (900, 1100)
    assert band_around(1005, 0.10) == (905, 1106)       # 904.5 and 1105.5 round half up
    assert band_around(1000, 0.05) == (950, 1050)
    assert band_around(15, 0.10) == (14, 17)            # 13.5 -> 14, 16.5 -> 17
    assert band_around(5, 0.5) == (3, 8)                # 2.5 -> 3, 7.5 -> 8


def test_concat_populations():
    a = Accounts.margin(cash=[0], shares=[10], debt=[9000], rule=MarginRule(force=1.1, call=None))
    b = Accounts.perp(collateral=[100], size=[10], entry=[1000], rule=PerpRule(tiers=((math.inf, 0.01),)))
    both = Accounts.concat(a, b)
    assert len(both) == 2 and both.kind().tolist() == [_accounts.MARGIN, _accounts.PERP]
    assert both.trigger.tolist() == [a.trigger[0], b.trigger[0]]
    assert both.trigger.tolist() == [989, 999]
    result = Cascade(flat_book(levels=200, qty=10), both).run(Shock.sell(150))
    # The shock takes the price to 985: the perp (trigger 999) goes first, its IOC at
    # the bankruptcy price 990 finds no bid and is cut; then the margin account sells
    # back to its restore line.
    assert result.orders["account"].tolist() == [1, 0]
    assert result.orders["price"][0] == 990 and result.orders["cancelled"][0] == 10
    assert both.state[1] == _accounts.BLOCKED
    assert both.state[0] in (_accounts.STATIC, _accounts.HEAP, _accounts.IDLE_NONE)
    assert both.shares.tolist() == [10 - int(result.orders["filled"][1]), 10]
    assert result.orders["filled"][1] == result.orders["qty"][1] > 0


def test_bytes_per_account():
    n = 10_000
    acc = Accounts.margin(cash=np.zeros(n, int), shares=np.ones(n, int), debt=np.ones(n, int))
    assert acc.nbytes / n <= 64


def test_accounts_and_results_pickle():
    import copy
    import pickle
    acc = Accounts.margin(cash=[0, 5], shares=[10, 3], debt=[9000, 100], rule=A_SHARE_MARGIN)
    back = pickle.loads(pickle.dumps(acc))
    assert type(back) is type(acc)
    for name in ("cash", "shares", "debt", "trigger", "state", "line_bps"):
        assert getattr(back, name).tolist() == getattr(acc, name).tolist()
    for twin in (acc.copy(), copy.copy(acc)):     # each with a ledger of its own
        assert twin.shares.tolist() == acc.shares.tolist()
        assert not np.shares_memory(twin.shares, acc.shares)
    # The unpickled ledger runs a cascade as the original does: its rules came along.
    result = Cascade(flat_book(), acc.copy()).run(Shock.sell(50))
    assert len(result.tape)
    assert Cascade(flat_book(), back).run(Shock.sell(50)).tape.tobytes() == result.tape.tobytes()
    again = pickle.loads(pickle.dumps(result))
    assert again.tape.tobytes() == result.tape.tobytes()
    assert again.summary()["forced_volume"] == result.summary()["forced_volume"]


def test_a_running_cascade_holds_its_book():
    # Each step of a cascade changes the book without the GIL, as a batch does: a call on
    # the book from another thread meanwhile raises instead of racing it.
    import threading
    n = 300_000
    rng = np.random.default_rng(5)
    shares = rng.integers(1, 20, n)
    debt = (shares * 1000 / rng.uniform(1.0, 1.3, n)).astype(np.int64)
    accounts = Accounts.margin(cash=np.zeros(n, np.int64), shares=shares, debt=debt)
    book = flat_book(levels=400, qty=10_000)
    out = {}
    run = threading.Thread(target=lambda: out.setdefault(
        "result", Cascade(book, accounts).run(Shock.sell(1000))))
    refused = 0
    run.start()
    while run.is_alive():
        try:
            book.best_bid()
        except RuntimeError:
            refused += 1
    run.join()
    assert refused > 0
    assert len(out["result"].orders) > 0
    book.check_invariants()
