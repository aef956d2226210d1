"""Invariants of every cascade: conservation, every forced order accounted for, every
crossed account handled, nobody liquidated above its line, trigger order respected;
and the metamorphic properties (more leverage, deeper book)."""
import numpy as np
from hypothesis import given, settings, assume, strategies as st

import engine
from engine import _accounts, _cascade
from engine.accounts import Accounts, MarginRule
from engine.cascade import Cascade, Shock, LiquidityProvider, FORCED_ID_BASE
from engine.testing.cascade_strategies import (
    build_book, book_levels, accounts, cascade_configs, shocks, margin_accounts, margin_rules,
)

SELL_ALL_MARKET = MarginRule(force=1.10, call=None, restore=1.45, policy="all", style="market")


def run(bids, asks, population, config, shock, providers=()):
    before = population.columns()
    book = build_book(engine.Book, bids, asks)
    bid_volume, ask_volume = book.volume(engine.BUY), book.volume(engine.SELL)
    result = Cascade(book, population, providers=providers, **config).run(shock)
    return before, book, bid_volume, ask_volume, result


def check_invariants(before, book, bid_volume, ask_volume, result):
    accounts = result.accounts
    orders, tape = result.orders, result.tape
    book.check_invariants()
    # Every forced order: sent lots = filled + cancelled + still resting, and what the
    # book holds under its id is exactly what the ledger says is resting.
    for k, o in enumerate(orders):
        resting = book.order(FORCED_ID_BASE + k)
        left = resting[2] if resting is not None else 0
        assert o["qty"] == o["filled"] + o["cancelled"] + left
        assert (o["status"] == _cascade.RESTING) == (left > 0)
        assert o["status"] != _cascade.PENDING or o["filled"] == o["cancelled"] == 0
    # A retry follows a cut order of its account from an earlier session and keeps its
    # wave; a resubmission keeps the wave of the order it takes over.
    for k in np.flatnonzero(np.isin(orders["cause"], [_cascade.RETRY_CAUSE, _cascade.RESUBMIT_CAUSE])):
        earlier = orders[:k][orders["account"][:k] == orders["account"][k]]
        assert len(earlier) and earlier["wave"][-1] == orders["wave"][k]
        if orders["cause"][k] == _cascade.RETRY_CAUSE:
            assert earlier["cancelled"][-1] > 0 and earlier["session"][-1] < orders["session"][k]
    # A wave sells no more than it sent (each lot counted once however often it is re-sent).
    waves = result.waves
    assert (waves["forced_volume"] <= waves["submitted_volume"]).all()
    # Lots: what the accounts lost is what forced orders sold.
    forced = tape[tape["seller"] == _cascade.FORCED_SELLER]
    sold = before["shares"] - accounts.shares
    assert (sold >= 0).all()
    assert sold.sum() == orders["filled"].sum() == forced["qty"].sum()
    per_account = np.bincount(orders["account"], weights=orders["filled"], minlength=len(sold)) \
        if len(orders) else np.zeros(len(sold))
    assert (per_account == sold).all()
    # Cash: proceeds of each account's fills = cash gained + debt repaid.
    proceeds = np.zeros(len(sold), np.int64)
    owner = np.where(forced["taker_side"] == engine.SELL, forced["taker_owner"], forced["maker_owner"])
    np.add.at(proceeds, owner, forced["price"] * forced["qty"])
    gained = (accounts.cash - before["cash"]) + (before["debt"] - accounts.debt)
    assert (gained == proceeds).all()
    # The book: bids lost exactly what sells took from them (no providers here).
    sells = tape[tape["taker_side"] == engine.SELL]
    assert bid_volume - book.volume(engine.BUY) - result.withdrawn == sells["qty"].sum()
    # Bad debt only for closed accounts, never negative.
    assert (accounts.bad_debt >= 0).all()
    closed = accounts.state == _accounts.CLOSED
    assert (accounts.bad_debt[~closed] == 0).all()
    assert (accounts.shares[closed] == 0).all()
    # Every idle account left is on the safe side of its line at the final mark.
    idle = np.isin(accounts.state, [_accounts.STATIC, _accounts.HEAP, _accounts.IDLE_NONE])
    assert not (idle & accounts.crossed(result.final_mark, result.final_mark_half)).any()


def check_trigger_order(initial, result, mark="last"):
    """First liquidations caused by the price come in trigger order (highest first), and
    each account was crossed (mark <= its trigger) when it was chosen.

    `initial` is a copy of the ledger before the run.  Accounts crossed at one mark are
    chosen in (trigger desc, account asc) order.  With ``mark="mid"`` the mark can be the
    exact mid t + 1/2: it crosses only the accounts of trigger t whose line lies above it
    (``crossed(t, half=True)``), and the others of trigger t come later, at a lower mark.
    So a tie on the trigger is in account order, or, when a mid t + 1/2 split it, in
    account order among those crossed at t + 1/2 and then among the rest."""
    orders = result.orders
    first = {}
    for k, o in enumerate(orders):
        first.setdefault(int(o["account"]), k)
    triggers, ties = [], {}
    for account, k in sorted(first.items(), key=lambda item: item[1]):
        o = orders[k]
        if o["cause"] != 0:
            continue
        trigger = int(initial.trigger[account])
        assert o["mark"] <= trigger, "liquidated above its line"
        triggers.append(trigger)
        ties.setdefault(trigger, []).append(account)
    assert triggers == sorted(triggers, reverse=True)
    for trigger, chosen in ties.items():
        if chosen == sorted(chosen):
            continue
        assert mark == "mid", (trigger, chosen)
        at_mid = initial.crossed(trigger, half=True)
        split = sorted(a for a in chosen if at_mid[a]), sorted(a for a in chosen if not at_mid[a])
        assert chosen == split[0] + split[1], (trigger, chosen)
        assert all(orders[first[a]]["mark"] == trigger for a in split[0])


@given(book_levels(), accounts(), cascade_configs(), shocks())
def test_invariants(levels, population, config, shock):
    bids, asks = levels
    initial = population.copy()
    before, book, bid_volume, ask_volume, result = run(bids, asks, population, config, shock)
    check_invariants(before, book, bid_volume, ask_volume, result)
    check_trigger_order(initial, result, config["mark"])


@given(book_levels(), margin_accounts(rule=margin_rules(cooldown=True)), cascade_configs(), shocks())
def test_invariants_with_chunk_cooldowns(levels, population, config, shock):
    """Chunks with cooldowns are not in the reference cascade: hold them to the invariants."""
    bids, asks = levels
    initial = population.copy()
    before, book, bid_volume, ask_volume, result = run(bids, asks, population, config, shock)
    check_invariants(before, book, bid_volume, ask_volume, result)
    check_trigger_order(initial, result, config["mark"])


@settings(max_examples=50)
@given(book_levels(), margin_accounts(max_accounts=15, rule=margin_rules(cooldown=True)),
       margin_accounts(max_accounts=15, rule=margin_rules(cooldown=True)), cascade_configs(),
       st.integers(1, 600))
def test_invariants_with_mixed_cooldowns(levels, first, second, config, qty):
    """Two rules with different chunks and cooldowns in one population: the cooldown
    queue releases each account when its own cooldown is over."""
    bids, asks = levels
    population = Accounts.concat(first, second)
    initial = population.copy()
    before, book, bid_volume, ask_volume, result = run(bids, asks, population, config,
                                                       Shock.sell(qty))
    check_invariants(before, book, bid_volume, ask_volume, result)
    check_trigger_order(initial, result, config["mark"])
    # a chunk after a cooldown keeps the wave of its liquidation
    orders = result.orders
    for k in np.flatnonzero(orders["cause"] == _cascade.CHUNK_CAUSE):
        earlier = orders[:k][orders["account"][:k] == orders["account"][k]]
        assert len(earlier) and earlier["wave"][-1] == orders["wave"][k]


@settings(max_examples=50)
@given(book_levels(), margin_accounts(), shocks())
def test_invariants_with_providers(levels, population, shock):
    bids, asks = levels
    before = population.columns()
    initial = population.copy()
    book = build_book(engine.Book, bids, asks)
    provider = LiquidityProvider(size=5, levels=3, every=2, gap_ticks=5, drop_ticks=20,
                                 window=10, pause=5)
    result = Cascade(book, population, limit=0.05, sessions=3, providers=[provider]).run(shock)
    book.check_invariants()
    orders = result.orders
    for k, o in enumerate(orders):
        resting = book.order(FORCED_ID_BASE + k)
        assert o["qty"] == o["filled"] + o["cancelled"] + (resting[2] if resting else 0)
    sold = before["shares"] - population.shares
    assert sold.sum() == orders["filled"].sum()
    per_account = np.bincount(orders["account"], weights=orders["filled"], minlength=len(sold)) \
        if len(orders) else np.zeros(len(sold))
    assert (per_account == sold).all()
    # Cash: each account's forced fills (as taker, or as a resting maker that a
    # provider's bid took) = cash gained + debt repaid.
    tape = result.tape
    forced = tape[tape["seller"] == _cascade.FORCED_SELLER]
    assert forced["qty"].sum() == sold.sum()
    owner = np.where(forced["taker_side"] == engine.SELL, forced["taker_owner"], forced["maker_owner"])
    proceeds = np.zeros(len(sold), np.int64)
    np.add.at(proceeds, owner, forced["price"] * forced["qty"])
    gained = (population.cash - before["cash"]) + (before["debt"] - population.debt)
    assert (gained == proceeds).all()
    # Providers are paid for what they bought: their bids filled by sells.
    lp_bought = tape["qty"][((tape["maker_owner"] == _cascade.LP_OWNER) & (tape["taker_side"] == engine.SELL))
                            | ((tape["taker_owner"] == _cascade.LP_OWNER) & (tape["taker_side"] == engine.BUY))]
    assert lp_bought.sum() == result.lp_bought
    check_trigger_order(initial, result)


def _population(shares, cash, debt, rule=SELL_ALL_MARKET):
    return Accounts.margin(cash=cash, shares=shares, debt=debt, rule=rule)


@st.composite
def leverage_pairs(draw):
    n = draw(st.integers(1, 40))
    shares = np.array(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)), np.int64)
    cash = np.array(draw(st.lists(st.integers(0, 2000), min_size=n, max_size=n)), np.int64)
    ratio = np.array(draw(st.lists(st.floats(1.0, 1.6), min_size=n, max_size=n)))
    debt = ((cash + shares * 1000) / ratio).astype(np.int64)
    extra = np.array(draw(st.lists(st.integers(0, 5000), min_size=n, max_size=n)), np.int64)
    return shares, cash, debt, debt + extra


@given(book_levels(), leverage_pairs(), st.integers(1, 600), st.sampled_from(["last", "bid"]),
       st.sampled_from([None, 0.05]))
def test_more_leverage_never_fewer_liquidations(levels, pair, qty, mark, limit):
    bids, asks = levels
    shares, cash, debt, more_debt = pair
    config = {"mark": mark, "limit": limit}
    low = Cascade(build_book(engine.Book, bids, asks), _population(shares, cash, debt),
                  **config).run(Shock.sell(qty))
    high = Cascade(build_book(engine.Book, bids, asks), _population(shares, cash, more_debt),
                   **config).run(Shock.sell(qty))
    assert set(low.accounts_liquidated()) <= set(high.accounts_liquidated())
    assert high.summary()["forced_volume"] >= low.summary()["forced_volume"]


@given(book_levels(), st.data(), leverage_pairs(), st.integers(1, 600))
def test_deeper_book_never_bigger_gap(levels, data, pair, qty):
    bids, asks = levels
    extra = data.draw(st.lists(st.integers(0, 30), min_size=len(bids), max_size=len(bids)))
    deeper = [(p, q + e) for (p, q), e in zip(bids, extra)]
    # Deeper: more lots at every level, and new levels only between existing ones (a
    # level below the whole thin book would be reached only because the thin book ran
    # dry, where it records no trade at all).
    lowest, highest = min(p for p, _ in bids), max(p for p, _ in bids)
    added = data.draw(st.lists(st.integers(lowest, highest), max_size=10, unique=True))
    deeper += [(p, 5) for p in sorted(set(added) - {p for p, _ in bids}, reverse=True)]
    shares, cash, debt, _ = pair
    thin = Cascade(build_book(engine.Book, bids, asks), _population(shares, cash, debt)).run(Shock.sell(qty))
    deep = Cascade(build_book(engine.Book, deeper, asks), _population(shares, cash, debt)).run(Shock.sell(qty))
    assert deep.summary()["max_gap_ticks"] <= thin.summary()["max_gap_ticks"]
    assert deep.end_price >= thin.end_price


@given(book_levels(), accounts(), cascade_configs(), shocks(), st.integers(0, 2**32))
def test_deterministic(levels, population, config, shock, seed):
    bids, asks = levels
    provider = LiquidityProvider(size=3, levels=2, every=3, gap_ticks=3)
    results = []
    for _ in range(2):
        book = build_book(engine.Book, bids, asks)
        results.append(Cascade(book, population.copy(), providers=[provider], seed=seed,
                               **config).run(shock))
    a, b = results
    assert a.tape.tobytes() == b.tape.tobytes()
    assert a.orders.tobytes() == b.orders.tobytes()
    assert a.path.tobytes() == b.path.tobytes()
    assert a.accounts.cash.tobytes() == b.accounts.cash.tobytes()
