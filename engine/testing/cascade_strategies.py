"""Hypothesis strategies for accounts, books and cascade scenarios.

Hypothesis is an optional (test) dependency: importing this module needs it.

- :func:`book_levels`: a small bid/ask depth profile around a mid price;
- :func:`margin_accounts`, :func:`perp_accounts`, :func:`swap_accounts`: small
  populations (``engine.Accounts``) with leverage around the line;
- :func:`cascade_configs`: keyword arguments for ``engine.Cascade`` (mark rule, band
  limit or none, sessions, queued policy);
- :func:`shocks`: ``Shock.sell`` or ``Shock.gap``;
- :func:`scenarios`: all of the above at once, as a dict.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from engine.accounts import Accounts, MarginRule, PerpRule, SwapRule
from engine.cascade import Shock

__all__ = ["MID", "book_levels", "margin_rules", "margin_accounts", "perp_accounts",
           "swap_accounts", "accounts", "cascade_configs", "shocks", "scenarios",
           "build_book"]

MID = 1000          # mid price of the generated books, ticks
BAND = (500, 1500)  # their band


@st.composite
def book_levels(draw, max_levels=40, max_qty=40, mid=MID):
    """``(bids, asks)``: lists of ``(price, qty)``, bids below `mid`, asks above it."""
    bid_offsets = draw(st.lists(st.integers(1, 120), min_size=1, max_size=max_levels, unique=True))
    ask_offsets = draw(st.lists(st.integers(1, 60), min_size=0, max_size=max_levels // 2, unique=True))
    bids = [(mid - o, draw(st.integers(1, max_qty))) for o in sorted(bid_offsets)]
    asks = [(mid + o, draw(st.integers(1, max_qty))) for o in sorted(ask_offsets)]
    return bids, asks


def build_book(cls, bids, asks, band=BAND):
    """A book of class `cls` (``engine.Book`` or ``ReferenceBook``) with those levels,
    one order per level, ids 1.. in the order given (bids first)."""
    book = cls(*band)
    oid = 1
    for price, qty in bids:
        book.limit(oid, 1, price, qty)
        oid += 1
    for price, qty in asks:
        book.limit(oid, -1, price, qty)
        oid += 1
    return book


@st.composite
def margin_rules(draw, chunked=True, cooldown=False):
    """Margin rules on the collateral-ratio basis (lines 1.05..1.65) or on the equity /
    market value basis (FINRA-style lines 0.10..0.45)."""
    basis = draw(st.sampled_from(["ratio", "ratio", "equity"]))
    if basis == "ratio":
        force = draw(st.sampled_from([1.05, 1.10, 1.20, 1.30]))
        call = draw(st.sampled_from([None, force, force + 0.2]))
        restore = draw(st.sampled_from([force + 0.15, force + 0.35]))
    else:
        force = draw(st.sampled_from([0.10, 0.25, 0.30]))
        call = draw(st.sampled_from([None, force, force + 0.05]))
        restore = draw(st.sampled_from([force + 0.05, force + 0.15]))
    return MarginRule(force=force, call=call, restore=restore, basis=basis,
                      grace=draw(st.integers(0, 2)),
                      policy=draw(st.sampled_from(["all", "restore"])),
                      style=draw(st.sampled_from(["market", "ioc", "floor"])),
                      ioc_offset=draw(st.integers(0, 20)),
                      chunk=draw(st.sampled_from([0, 0, 3, 10])) if chunked else 0,
                      cooldown=draw(st.integers(0, 5)) if cooldown else 0)


@st.composite
def margin_accounts(draw, max_accounts=40, price=MID, rule=None):
    """Margin accounts whose collateral ratio at `price` is spread around 1.0..1.8
    (`rule`: a MarginRule, or a strategy of them; default :func:`margin_rules`)."""
    n = draw(st.integers(1, max_accounts))
    shares = np.array(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)), np.int64)
    ratio = np.array(draw(st.lists(st.floats(0.9, 1.8), min_size=n, max_size=n)))
    cash = np.array(draw(st.lists(st.integers(0, 2000), min_size=n, max_size=n)), np.int64)
    debt = ((cash + shares * price) / ratio).astype(np.int64)
    if rule is None:
        rule = margin_rules()
    if not isinstance(rule, MarginRule):
        rule = draw(rule)
    return Accounts.margin(cash=cash, shares=shares, debt=debt, rule=rule)


@st.composite
def perp_accounts(draw, max_accounts=30, price=MID):
    """Long perpetual positions at 5x..100x entered around `price` (close all, or
    restore equity / notional to 5% or 10%)."""
    n = draw(st.integers(1, max_accounts))
    size = np.array(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)), np.int64)
    entry = np.array(draw(st.lists(st.integers(price - 30, price + 60), min_size=n, max_size=n)), np.int64)
    leverage = np.array(draw(st.lists(st.sampled_from([5, 10, 20, 50, 100]), min_size=n, max_size=n)))
    collateral = (size * entry) // leverage
    policy = draw(st.sampled_from(["all", "restore"]))
    rule = PerpRule(tiers=((10_000, 0.005), (float("inf"), 0.02)),
                    policy=policy, restore=draw(st.sampled_from([0.05, 0.10])) if policy == "restore" else 0.0,
                    style=draw(st.sampled_from(["ioc", "market", "floor"])))
    return Accounts.perp(collateral=collateral, size=size, entry=entry, rule=rule)


@st.composite
def swap_accounts(draw, max_accounts=30, price=MID):
    """Swap-financed funds at about 4-5x with a stop line."""
    n = draw(st.integers(1, max_accounts))
    shares = np.array(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)), np.int64)
    entry = np.array(draw(st.lists(st.integers(price - 20, price + 40), min_size=n, max_size=n)), np.int64)
    margin = (shares * entry) * draw(st.sampled_from([20, 25])) // 100
    rule = SwapRule(stop=draw(st.sampled_from([0.8, 0.9])), close=draw(st.sampled_from([1.0, 0.9, 0.5])),
                    style=draw(st.sampled_from(["market", "floor"])))
    return Accounts.swap(margin=margin, shares=shares, entry=entry, rule=rule)


def accounts():
    """Any kind of small population."""
    return st.one_of(margin_accounts(), perp_accounts(), swap_accounts())


@st.composite
def cascade_configs(draw, sessions=True):
    """Keyword arguments for ``engine.Cascade`` (no providers)."""
    config = {"mark": draw(st.sampled_from(["last", "bid", "mid"]))}
    if sessions and draw(st.booleans()):
        # limit None: several sessions in the book's own band (crypto: no daily limit)
        config["limit"] = draw(st.sampled_from([None, 0.02, 0.05, 0.10]))
        config["sessions"] = draw(st.integers(1, 4))
        config["queued"] = draw(st.sampled_from(["resubmit", "keep"]))
    return config


def shocks(max_qty=600, mid=MID):
    return st.one_of(st.integers(1, max_qty).map(Shock.sell),
                     st.integers(mid - 100, mid - 1).map(Shock.gap))


@st.composite
def scenarios(draw):
    """A whole scenario: {"bids", "asks", "accounts", "config", "shock"}."""
    bids, asks = draw(book_levels())
    return {"bids": bids, "asks": asks, "accounts": draw(accounts()),
            "config": draw(cascade_configs()), "shock": draw(shocks())}
