"""Regressions: one test per confirmed review finding (the reviewer's repro, made exact)."""
import math
from decimal import Decimal, ROUND_HALF_UP
from fractions import Fraction

import numpy as np
import pytest

import engine
from engine import _accounts, _cascade
from engine.accounts import Accounts, MarginRule, PerpRule, SwapRule, REG_T
from engine.cascade import Cascade, Shock, LiquidityProvider, FORCED_ID_BASE, band_around
from engine.cascade_reference import ReferenceCascade
from engine.reference import ReferenceBook
from engine.report import format_report
from engine.testing.cascade_strategies import build_book


def flat_book(levels=200, qty=10, mid=1000):
    return build_book(engine.Book, [(mid - k, qty) for k in range(1, levels + 1)], [])


def limit_down_book():
    return build_book(engine.Book, [(999 - k, 2) for k in range(10)] + [(900, 1000)], [])


# 1 -------------------------------------------------------------------------------

def test_no_limit_keeps_the_band_over_several_sessions():
    book = build_book(engine.Book, [(999, 1), (990, 100)], [])
    band = book.band
    acc = Accounts.margin(cash=[0], shares=[10], debt=[9_500],
                          rule=MarginRule(force=1.1, call=None, policy="all", style="ioc", ioc_offset=3))
    result = Cascade(book, acc, sessions=2).run(Shock.sell(1))
    assert len(result.sessions) == 2
    assert [row["band"] for row in result.sessions] == [band, band]
    assert book.band == band
    # the IOC cut at 996 blocks the account; it retries in session 1 (and is cut again)
    assert result.orders["session"].tolist() == [0, 1]


# 2 -------------------------------------------------------------------------------

def test_margin_calls_are_judged_at_the_session_close():
    rule = MarginRule(force=1.10, call=1.30, restore=1.45, grace=0, policy="all", style="floor")
    # Account 0 is forced at once and queues at limit-down (950).  Account 1's ratio is
    # 10 x 990 / 7500 = 1.32 at the last mark but 10 x 950 / 7500 = 1.267 at the close.
    acc = Accounts.margin(cash=[0, 0], shares=[50, 10], debt=[46_000, 7_500], rule=rule)
    result = Cascade(limit_down_book(), acc, limit=0.05, sessions=3, prev_close=1000).run(Shock.sell(5))
    assert result.sessions[0]["close"] == 950
    calls = result.orders[result.orders["account"] == 1]
    assert len(calls) >= 1 and calls["cause"][0] == _cascade.CALL_CAUSE
    assert calls["session"][0] == 1               # called and forced at session 0's close


# 3 -------------------------------------------------------------------------------

def test_perp_restore_sells_only_back_to_the_restore_line():
    rule = PerpRule(tiers=((math.inf, 0.05),), policy="restore", restore=0.20, style="market")
    acc = Accounts.perp(collateral=[150], size=[10], entry=[100], rule=rule)
    book = build_book(engine.Book, [(99, 1), (89, 1000)], [], band=(1, 200))
    start = acc.copy()
    result = Cascade(book, acc).run(Shock.sell(2))
    o = result.orders[0]
    mark = int(o["mark"])
    equity = (150 - 1000) + 10 * mark
    keep = equity * 10000 // (2000 * mark)        # largest position with equity / notional >= 20%
    assert o["qty"] == 10 - keep < 10
    assert acc.shares[0] == keep > 0
    reference = ReferenceCascade(build_book(engine.Book, [(99, 1), (89, 1000)], [], band=(1, 200)),
                                 start).run(Shock.sell(2))
    assert [x["qty"] for x in reference.orders] == result.orders["qty"].tolist()


# 4 -------------------------------------------------------------------------------

def test_second_run_with_forced_orders_resting_is_refused():
    rule = MarginRule(force=1.1, call=None, policy="all", style="floor")
    book = limit_down_book()
    acc = Accounts.margin(cash=[0, 0], shares=[10, 50], debt=[9_300, 46_000], rule=rule)
    first = Cascade(book, acc, limit=0.05, sessions=1, prev_close=1000).run(Shock.sell(5))
    resting = np.flatnonzero(first.orders["status"] == _cascade.RESTING)
    assert len(resting) == 1
    book.set_band(1, 2000)
    ledger = acc.columns()
    orders_in_book = len(book)
    with pytest.raises(ValueError, match="earlier run"):
        Cascade(book, acc).run(Shock.sell(1))
    # nothing moved: the ledger, the book and the old order are as they were
    for name, column in acc.columns().items():
        assert (column == ledger[name]).all(), name
    assert len(book) == orders_in_book
    assert book.order(FORCED_ID_BASE + int(resting[0]))[3] == 1
    # a fresh ledger on the same book is refused too: the old order's id would be reused
    other = Accounts.margin(cash=[0], shares=[10], debt=[9_300], rule=rule)
    with pytest.raises(ValueError, match="FORCED_ID_BASE"):
        Cascade(book, other).run(Shock.sell(1))
    # once the old order is cancelled, a new ledger may run on the book
    book.cancel(FORCED_ID_BASE + int(resting[0]))
    Cascade(book, other).run(Shock.sell(1))


def test_second_run_after_a_blocked_run_is_allowed_and_conserves_lots():
    rule = MarginRule(force=1.1, call=None, policy="all", style="market")
    book = limit_down_book()
    acc = Accounts.margin(cash=[0], shares=[50], debt=[46_000], rule=rule)
    Cascade(book, acc, limit=0.01, sessions=1, prev_close=1000).run(Shock.sell(5))
    assert acc.state[0] == _accounts.BLOCKED
    before = int(acc.shares[0])
    book.set_band(1, 2000)
    second = Cascade(book, acc).run(Shock.sell(1))
    assert before - acc.shares[0] == second.orders["filled"].sum()
    assert second.rejects == 0


# 5 -------------------------------------------------------------------------------

def test_band_is_the_exchange_rounding_of_close_times_one_minus_limit():
    def exchange(close, limit):
        lo = (Decimal(close) * (1 - Decimal(str(limit)))).quantize(Decimal(1), ROUND_HALF_UP)
        hi = (Decimal(close) * (1 + Decimal(str(limit)))).quantize(Decimal(1), ROUND_HALF_UP)
        return max(1, int(lo)), int(hi)

    for limit in (0.10, 0.20, 0.05):
        for close in list(range(1, 3000)) + [10_005, 99_995, 123_455]:
            assert band_around(close, limit) == exchange(close, limit), (close, limit)
    assert band_around(1005, 0.10) == (905, 1106)


# 6 -------------------------------------------------------------------------------

def test_mid_mark_crosses_at_the_true_mid():
    # 10 lots, debt 901, force 1.10: crossed iff 10 p < 991.1 iff p < 99.11.
    acc = Accounts.margin(cash=[0], shares=[10], debt=[901], rule=MarginRule(force=1.10, call=None, policy="all"))
    book = build_book(engine.Book, [(99, 1000)], [(100, 10)], band=(1, 200))
    result = Cascade(book, acc, mark="mid").run(Shock.sell(1))
    assert len(result.orders) == 0                 # mid 99.5: ratio 1.104 >= 1.10
    assert result.final_mark == 99 and result.final_mark_half
    # just below the line at the mid (10 x 99.5 < 1.1 x 905 = 995.5): crossed
    acc = Accounts.margin(cash=[0], shares=[10], debt=[905], rule=MarginRule(force=1.10, call=None, policy="all"))
    book = build_book(engine.Book, [(99, 1000)], [(100, 10)], band=(1, 200))
    result = Cascade(book, acc, mark="mid").run(Shock.sell(1))
    assert result.orders["account"].tolist() == [0]
    assert acc.crossed(99, half=True).tolist() == [False]   # closed now
    probe = Accounts.margin(cash=[0, 0], shares=[10, 10], debt=[901, 905],
                            rule=MarginRule(force=1.10, call=None))
    assert probe.crossed(99, half=True).tolist() == [False, True]


def test_a_mid_half_a_tick_above_a_shared_trigger_splits_the_tie():
    # Both triggers are 99 (crossed iff 10 p < 991.1 and 10 p < 995.5), but only account 1
    # is crossed at the mid 99.5 after the shock.  It goes first, in wave 1, and account 0
    # is crossed only by its sale (mid 95.5), in wave 2: not in account order, and right.
    # The invariant test's trigger-order check used to expect account 0 first.
    rule = MarginRule(force=1.10, call=None, policy="all", style="market")
    acc = Accounts.margin(cash=[0, 0], shares=[10, 10], debt=[901, 905], rule=rule)
    assert acc.trigger.tolist() == [99, 99]
    assert acc.crossed(99, half=True).tolist() == [False, True]
    bids, asks = [(99, 1), (98, 5), (90, 1000)], [(101, 10)]
    reference = ReferenceCascade(build_book(ReferenceBook, bids, asks, band=(1, 200)), acc.copy(),
                                 mark="mid").run(Shock.sell(1))
    result = Cascade(build_book(engine.Book, bids, asks, band=(1, 200)), acc, mark="mid").run(Shock.sell(1))
    assert result.orders[["account", "wave", "mark"]].tolist() == \
        [(o["account"], o["wave"], o["mark"]) for o in reference.orders] == [(1, 1, 99), (0, 2, 95)]
    assert (result.orders["cause"] == _cascade.PRICE_CAUSE).all()


# 7 -------------------------------------------------------------------------------

def test_summary_is_a_snapshot_of_its_run():
    acc = Accounts.margin(cash=[0], shares=[50], debt=[49_000],
                          rule=MarginRule(force=1.1, call=None, policy="all", style="market"))
    book = limit_down_book()
    first = Cascade(book, acc, limit=0.01, sessions=1, prev_close=1000).run(Shock.sell(5))
    assert first.summary()["bad_debt"] == 0
    book.set_band(1, 2000)
    second = Cascade(book, acc).run(Shock.sell(1))
    assert second.summary()["bad_debt"] == int(acc.bad_debt.sum()) > 0
    assert first.summary()["bad_debt"] == 0         # unchanged by the second run


# 8 -------------------------------------------------------------------------------

def test_session_counts_use_the_session_an_order_was_sent_in():
    debt = 999 * 100 * 10 // 12            # ratio 1.2 at 999: under the call line, above force
    acc = Accounts.margin(cash=[0], shares=[100], debt=[debt],
                          rule=MarginRule(force=1.1, call=1.3, restore=1.45, grace=1))
    result = Cascade(flat_book(levels=400, qty=100), acc, limit=0.10, sessions=4).run(Shock.sell(1))
    assert result.orders[["cause", "session"]].tolist() == [(_cascade.CALL_CAUSE, 2)]
    assert [row["forced_orders"] for row in result.sessions] == [0, 0, 1]
    forced = result.tape[result.tape["seller"] == _cascade.FORCED_SELLER]
    assert set(forced["session"].tolist()) == {2}


# 9 -------------------------------------------------------------------------------

def test_volume_at_counts_forced_volume_only():
    book = flat_book(levels=300)
    n = 5
    trigger = np.array([990 - 3 * k for k in range(n)])
    shares = np.full(n, 30)
    debt = (shares * trigger * 10 + 10) // 11 + 1
    acc = Accounts.margin(cash=np.zeros(n, int), shares=shares, debt=debt,
                          rule=MarginRule(force=1.1, call=None, policy="all"))
    s = Cascade(book, acc).run(Shock.sell(100)).summary(distances=(10, 20))
    # the 100-lot shock alone eats levels 999..990 (everything within 10 ticks)
    assert s["volume_at"][10] == {0.25: 0, 0.5: 0, 0.9: 0}
    # within 20 ticks of 999 (21 levels, 210 lots): 25% goes with the shock; 50% (105)
    # needs 5 more, gone in the first 10-lot forced fill; 90% (189) after 90 forced lots
    assert s["volume_at"][20] == {0.25: 0, 0.5: 10, 0.9: 90}


# 10 ------------------------------------------------------------------------------

def test_providers_after_a_gap_quote_below_the_new_bid():
    book = build_book(engine.Book, [(1000 - k, 10) for k in range(1, 101)], [(1001, 5)])
    margin = Accounts.margin(cash=[0] * 3, shares=[10] * 3, debt=[9000] * 3,
                             rule=MarginRule(force=1.1, call=None, policy="all"))
    result = Cascade(book, margin, mark="bid",
                     providers=[LiquidityProvider(size=20, levels=3, every=1)]).run(Shock.gap(950))
    assert result.bid_after_shock == 950
    lp_fills = result.tape[result.tape["maker_owner"] == _cascade.LP_OWNER]
    assert len(lp_fills) and lp_fills["price"].max() <= 950
    # no sale traded above the post-gap bid
    sells = result.tape[result.tape["taker_side"] == engine.SELL]
    assert sells["price"].max() <= 950


# 11 ------------------------------------------------------------------------------

def test_cooldowns_of_different_lengths_do_not_block_each_other():
    book = build_book(engine.Book, [(1000 - k, 100) for k in range(1, 201)], [])
    slow = Accounts.margin(cash=[0], shares=[30], debt=[29_700],
                           rule=MarginRule(force=1.1, call=None, policy="all", chunk=10, cooldown=50))
    fast = Accounts.margin(cash=[0], shares=[30], debt=[29_600],
                           rule=MarginRule(force=1.1, call=None, policy="all", chunk=10, cooldown=1))
    result = Cascade(book, Accounts.concat(slow, fast)).run(Shock.sell(1))
    # the fast account's chunks go every other event, not behind the slow one's 50
    assert result.orders["account"].tolist() == [0, 1, 1, 1, 0, 0]


# 12 ------------------------------------------------------------------------------

@pytest.mark.parametrize("cooldown", [0, 5])
def test_chunks_keep_their_liquidations_wave(cooldown):
    acc = Accounts.margin(cash=[0], shares=[100], debt=[99_000],
                          rule=MarginRule(force=1.1, call=None, policy="all", chunk=20, cooldown=cooldown))
    result = Cascade(flat_book(), acc).run(Shock.sell(1))
    assert result.orders["wave"].tolist() == [1] * 5
    assert result.orders["cause"].tolist() == [_cascade.PRICE_CAUSE] + [_cascade.CHUNK_CAUSE] * 4
    assert result.summary()["waves"] == 1
    assert result.waves["submitted_volume"].tolist() == [1, 100]


def test_retries_keep_their_wave_and_are_counted_once():
    acc = Accounts.margin(cash=[0], shares=[50], debt=[49_000],
                          rule=MarginRule(force=1.1, call=None, policy="all", style="market"))
    result = Cascade(limit_down_book(), acc, limit=0.01, sessions=4, prev_close=1000).run(Shock.sell(5))
    assert result.orders["wave"].tolist() == [1, 1, 1, 1]
    assert result.orders["cause"].tolist() == [_cascade.PRICE_CAUSE] + [_cascade.RETRY_CAUSE] * 3
    assert result.orders["session"].tolist() == [0, 1, 2, 3]
    waves = result.waves
    assert waves["submitted_volume"].tolist() == [5, 50]       # the 35 cut lots once
    assert result.summary()["waves"] == 1


def test_a_retry_asking_more_than_was_cut_counts_the_extra_lots_once():
    # Account 0's ioc restore sale is cut whole (72 lots); its retry, decided next session
    # at a lower price, asks 77: the wave sent 150 + 72 + 5 new lots and sold 227.
    a = Accounts.margin(cash=[0], shares=[100], debt=[91_000],
                        rule=MarginRule(force=1.1, call=None, restore=1.45, policy="restore", style="ioc"))
    b = Accounts.margin(cash=[0], shares=[150], debt=[140_000],
                        rule=MarginRule(force=1.1, call=None, restore=1.45, policy="all", style="market"))
    book = build_book(engine.Book, [(999, 1), (998, 5), (990, 100), (980, 200)], [])
    result = Cascade(book, Accounts.concat(a, b), sessions=2).run(Shock.sell(1))
    assert result.orders[["account", "qty", "cancelled", "cause"]].tolist() == [
        (1, 150, 0, _cascade.PRICE_CAUSE), (0, 72, 72, _cascade.PRICE_CAUSE), (0, 77, 0, _cascade.RETRY_CAUSE)]
    assert result.waves[["submitted_volume", "forced_volume"]].tolist() == [(1, 0), (227, 227)]


def test_margin_call_wave_follows_the_sell_that_made_the_close():
    debt = 999 * 100 * 10 // 12
    acc = Accounts.margin(cash=[0], shares=[100], debt=[debt],
                          rule=MarginRule(force=1.1, call=1.3, restore=1.45, grace=0))
    result = Cascade(flat_book(levels=400, qty=100), acc, limit=0.10, sessions=3).run(Shock.sell(1))
    # the shock (wave 0) made session 0's close
    assert result.orders[["cause", "wave"]].tolist() == [(_cascade.CALL_CAUSE, 1)]


# 13 ------------------------------------------------------------------------------

def test_reg_t_maintenance_is_exact():
    acc = Accounts.margin(cash=[0], shares=[1000], debt=[75_001], rule=REG_T)
    # equity / market value at 100 = 24,999 / 100,000 < 25%
    assert acc.line_bps[0] == 2500
    assert acc.crossed(100)[0] and not acc.crossed(101)[0]
    acc = Accounts.margin(cash=[0], shares=[1000], debt=[69_999],
                          rule=MarginRule.reg_t(maintenance=0.30, house=0.35))
    # 30,001 / 100,000 >= 30%: not crossed at 100; crossed at 99 (29,001 / 99,000)
    assert not acc.crossed(100)[0] and acc.crossed(99)[0]
    # cash is netted into the debit balance: equity = cash + shares p - debt
    acc = Accounts.margin(cash=[5_000], shares=[1000], debt=[80_000], rule=REG_T)
    p = int(acc.trigger[0])
    assert 4 * (5_000 + 1000 * p - 80_000) < 1000 * p
    assert not 4 * (5_000 + 1000 * (p + 1) - 80_000) < 1000 * (p + 1)


def test_reg_t_restore_sells_back_to_the_house_requirement():
    acc = Accounts.margin(cash=[0], shares=[1000], debt=[80_000], rule=REG_T)
    book = build_book(engine.Book, [(99, 100_000)], [], band=(1, 200))
    start = acc.copy()
    result = Cascade(book, acc).run(Shock.sell(1))
    x = int(result.orders["qty"][0])
    q, d, p = 1000, 80_000, 99
    left, debt = q - x, d - x * p
    equity = left * p - debt                                 # selling at p leaves it unchanged
    assert equity == q * p - d
    assert 10 * equity >= 3 * left * p                       # back at 30% of market value
    assert 10 * equity < 3 * (left + 1) * p                  # one lot fewer would not be
    reference = ReferenceCascade(build_book(engine.Book, [(99, 100_000)], [], band=(1, 200)),
                                 start).run(Shock.sell(1))
    assert [o["qty"] for o in reference.orders] == [x]


# 14 ------------------------------------------------------------------------------

def test_swap_stop_value_is_exact():
    acc = Accounts.swap(margin=[12_343], shares=[1], entry=[20_000], rule=SwapRule(stop=0.8))
    stop = Fraction(8, 10) * 12_343                      # 9874.4
    debt = int(acc.debt[0])
    for p in (17_531, 17_532):
        assert bool(acc.crossed(p)[0]) == (p - debt < stop)
    assert acc.trigger[0] == 17_531


# 15 ------------------------------------------------------------------------------

def test_triggers_of_blocked_accounts_are_current_after_a_run():
    rule = MarginRule(force=1.1, call=None, policy="all", style="market")
    acc = Accounts.margin(cash=[0], shares=[50], debt=[46_000], rule=rule)
    Cascade(limit_down_book(), acc, limit=0.01, sessions=1, prev_close=1000).run(Shock.sell(5))
    assert acc.state[0] == _accounts.BLOCKED
    fresh = Accounts.margin(cash=acc.cash, shares=acc.shares, debt=acc.debt, rule=rule)
    assert acc.trigger[0] == fresh.trigger[0]
    for p in range(960, 1000):
        assert acc.crossed(p)[0] == fresh.crossed(p)[0]


# Second cascade review (2026-11-21) -----------------------------------------------

def test_a_restore_quantity_past_int64_sells_the_whole_position():
    # Ratio basis: the exact lots to restore the line are about 2 * 2**64 with this (valid)
    # debt; clamped to the position in 128 bits, not wrapped to a few lots.
    q, p = 100, 999
    rule = MarginRule(force=1.0, call=None, restore=1.0001, policy="restore", style="market")
    debt = (2 * 2**64 * p + 10000 * q * p) // 10001
    assert debt <= 2**62
    acc = Accounts.margin(cash=[0], shares=[q], debt=[debt], rule=rule)
    reference = ReferenceCascade(build_book(ReferenceBook, [(999, 1000)], []),
                                 acc, mark="bid").run(Shock.sell(1))
    result = Cascade(build_book(engine.Book, [(999, 1000)], []), acc.copy(), mark="bid").run(Shock.sell(1))
    assert result.orders["qty"].tolist() == [o["qty"] for o in reference.orders] == [q]


def test_provider_drop_test_reads_only_prices_the_run_recorded():
    # Cooldown jumps move the event clock on with no trade: the events jumped over carry
    # the last price.  Every trade here is at 999 or 998, a one-tick fall, so a provider
    # that withdraws on a fall of more than one tick never does, whatever the cooldown.
    for cooldown in (100, 200, 1000):
        acc = Accounts.margin(cash=[0], shares=[6], debt=[5800], rule=MarginRule(
            force=1.1, call=None, restore=1.45, policy="all", chunk=2, cooldown=cooldown))
        lp = LiquidityProvider(size=2, levels=2, every=1, pause=0, drop_ticks=1, window=50)
        book = build_book(engine.Book, [(1000 - k, 2) for k in range(1, 30)], [])
        result = Cascade(book, acc, providers=[lp]).run(Shock.sell(3))
        assert set(result.tape["price"].tolist()) <= {998, 999}
        assert result.lp_withdrawn == 0, cooldown


def test_providers_quote_past_an_earlier_runs_resting_quotes():
    lp = LiquidityProvider(size=10, levels=3, every=1)

    def population():
        return Accounts.margin(cash=[0] * 3, shares=[10] * 3, debt=[9000, 8950, 8900],
                               rule=MarginRule(force=1.1, call=None, restore=1.45, policy="all"))

    book = build_book(engine.Book, [(999, 5), (990, 50), (980, 50)], [])
    first = Cascade(book, population(), providers=[lp]).run(Shock.sell(5))
    assert first.lp_quoted > 0
    again = Cascade(book, population(), providers=[lp]).run(Shock.sell(5))
    prices, qtys = book.depth(engine.BUY, 100)
    rebuilt = build_book(engine.Book, list(zip(prices.tolist(), qtys.tolist())), [])
    assert again.lp_quoted == Cascade(rebuilt, population(), providers=[lp]).run(Shock.sell(5)).lp_quoted > 0


def test_bad_shocks_and_settings_are_refused_before_anything_moves():
    with pytest.raises(ValueError, match="qty"):
        Shock.sell(2**63)
    with pytest.raises(ValueError, match="price"):
        Shock.gap(-5)
    with pytest.raises(ValueError, match="price"):
        Shock.gap(2**63)
    with pytest.raises(ValueError, match="window"):
        LiquidityProvider(size=1, window=2**61)
    with pytest.raises(ValueError, match="size"):
        LiquidityProvider(size=2**63)
    acc = Accounts.margin(cash=[0], shares=[10], debt=[9000], rule=MarginRule(force=1.1))
    book = flat_book()
    with pytest.raises(ValueError, match="seed"):
        Cascade(book, acc, seed=2**64)
    with pytest.raises(ValueError, match="limit"):
        Cascade(book, acc, limit=0.00004)           # rounds to 0 basis points: no band
    lp = LiquidityProvider(size=50, levels=3, every=1)
    assert Cascade(book, acc, providers=(p for p in [lp])).providers == (lp,)
    # Every integer setting is checked one way: wrong type, then range (int32 fields too).
    with pytest.raises(TypeError, match="size"):
        LiquidityProvider(size=1.5)
    with pytest.raises(ValueError, match="cooldown"):
        MarginRule(force=1.1, cooldown=2**40)       # an int32 field: it used to overflow numpy
    with pytest.raises(ValueError, match="prev_close"):
        Cascade(book, acc, prev_close=0)


def test_a_ledger_left_blocked_is_judged_afresh_by_engine_and_reference():
    rule = MarginRule(force=1.10, call=None, restore=1.45, policy="all", style="market")
    acc = Accounts.margin(cash=[0], shares=[10], debt=[9500], rule=rule)
    bids = [(999, 3), (980, 100)]
    Cascade(build_book(engine.Book, bids, []), acc, limit=0.01).run(Shock.sell(1))
    assert _accounts.STATE_NAMES[int(acc.state[0])] == "blocked"     # the band cut its sale
    reference = ReferenceCascade(build_book(ReferenceBook, bids, []), acc).run(Shock.sell(1))
    again = acc.copy()
    result = Cascade(build_book(engine.Book, bids, []), again).run(Shock.sell(1))
    assert result.orders[["account", "qty", "filled"]].tolist() == \
        [(o["account"], o["qty"], o["filled"]) for o in reference.orders] == [(0, 8, 8)]
    assert again.shares.tolist() == reference.shares == [0]


def test_a_session_band_the_grid_cannot_hold_ends_the_run_with_a_reason():
    # At 10^8 ticks a 5% band is 10^7 ticks wide; from session 3 the band and the forced
    # sell queued at an earlier floor span more than MAX_LEVELS.  The run used to raise
    # mid-way with no result; it now ends at the last close and says why.
    mid = 100_000_000
    rule = MarginRule(force=1.1, call=None, restore=1.45, policy="all", style="floor")
    acc = Accounts.margin(cash=[0], shares=[1000], debt=[mid * 1000 * 10 // 11 + 10**6], rule=rule)
    book = build_book(engine.Book, [(mid - 1, 1)], [(mid + 1, 5)], band=(mid - 500, mid + 500))
    result = Cascade(book, acc, limit=0.05, sessions=6).run(Shock.sell(1))
    assert len(result.sessions) == 3
    assert result.stopped.startswith("session 3 not opened") and "ticks" in result.stopped
    assert result.summary()["stopped"] == result.stopped
    assert book.band == result.sessions[-1]["band"]           # set_band refused, changed nothing
    book.check_invariants()
    assert _accounts.STATE_NAMES[int(acc.state[0])] == "liquidating"
    assert "Stopped early: session 3" in format_report(result)
    normal = Cascade(flat_book(), Accounts.margin(cash=[0], shares=[10], debt=[9000],
                                                  rule=MarginRule(force=1.1))).run(Shock.sell(5))
    assert normal.stopped is None and normal.summary()["stopped"] is None
