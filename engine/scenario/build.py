"""From a validated scenario and a seed to a book, accounts, providers, a cascade and a shock.

Randomness: ``np.random.SeedSequence(seed).spawn(2 + groups)`` gives the book's stream
(child 0, the same as ``engine.scenario.margin_crash.margin_crash_setup`` uses for its book) and one
stream per account group (children 2..).  A margin group draws its population with
``engine.scenario.margin_crash.margin_crash_setup`` (the first margin group with the scenario seed
itself, so the margin-crash preset reproduces ``engine.scenario.margin_crash.margin_crash``); the
market makers' jitter uses the scenario seed.  Same scenario and seed, same bytes out.

``scale`` shrinks or grows a scenario while keeping its shape: account counts, resting
depth (generated or recorded, level by level), market-maker sizes and an absolute shock
size are multiplied by it.  Every resting order keeps at least one lot, so a book scaled
far down is relatively deeper than the original (use it for quick runs and tests).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

import numpy as np

from engine._book import Book
from engine._records import BUY, SELL, LIMIT, ORDER_DTYPE
from engine.accounts import Accounts, SwapRule
from engine.cascade import Cascade, LiquidityProvider, Shock
from engine.scenario.schema import margin_rule, perp_rule

__all__ = ["Setup", "build", "draw", "child_seed"]


def child_seed(seed_sequence):
    """A non-negative 63-bit integer seed from a ``numpy.random.SeedSequence``.

    Parameters
    ----------
    seed_sequence : numpy.random.SeedSequence

    Returns
    -------
    int
    """
    state = seed_sequence.generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def draw(rng, dist, n):
    """`n` draws of a validated distribution table, as float64.

    Parameters
    ----------
    rng : numpy.random.Generator
    dist : dict
        ``{"dist": "fixed" | "uniform" | "lognormal" | "choice", ...}`` with optional
        ``min`` / ``max`` clips.
    n : int

    Returns
    -------
    numpy.ndarray
    """
    kind = dist["dist"]
    if kind == "fixed":
        return np.full(n, dist["value"], np.float64)
    if kind == "uniform":
        values = rng.uniform(dist["low"], dist["high"], n)
    elif kind == "lognormal":
        values = dist["median"] * np.exp(rng.normal(0.0, dist["sigma"], n))
    else:
        weights = dist.get("weights")
        p = None if weights is None else np.asarray(weights) / np.sum(weights)
        values = rng.choice(np.asarray(dist["values"], np.float64), size=n, p=p)
    return np.clip(values, dist.get("min", -np.inf), dist.get("max", np.inf))


@dataclass
class Setup:
    """Everything a scenario run needs, built and ready.

    Attributes
    ----------
    book : engine.Book
    accounts : engine.Accounts
        The groups concatenated in file order.
    groups : list of dict
        Per group: ``label``, ``kind``, ``count`` and ``first`` (index of its first
        account in `accounts`).
    providers : list of engine.LiquidityProvider
    cascade : engine.Cascade
    shock : engine.Shock
    start_price : int
        The pre-shock best bid.
    tick_value, lot_size : float
        Currency per tick and units per lot (for reports).
    """

    book: Book
    accounts: Accounts
    groups: List[dict]
    providers: List[LiquidityProvider]
    cascade: Cascade
    shock: Shock
    start_price: int
    tick_value: float
    lot_size: float
    notes: List[str] = field(default_factory=list)


def _humped_book(spec, rng, scale):
    from engine.scenario.margin_crash import humped_book

    return humped_book(rng, spec["price"], bid_levels=spec["bid_levels"],
                           ask_levels=spec["ask_levels"],
                           depth_per_tick=spec["depth_per_tick"] * scale)


def _recorded_book(spec, scale):
    from engine.io.seed import RECORDED_BOOKS, recorded_book

    book = recorded_book(spec["name"], band_fraction=spec["band_fraction"])
    entry = RECORDED_BOOKS[spec["name"]]
    if scale != 1.0:
        # Shrink every level by the same factor (at least one lot stays), keeping prices.
        bid_p, bid_q = book.depth(BUY, len(book))
        ask_p, ask_q = book.depth(SELL, len(book))
        n = len(bid_p) + len(ask_p)
        rows = np.zeros(n, ORDER_DTYPE)
        rows["id"] = np.arange(1, n + 1)
        rows["kind"] = LIMIT
        rows["owner"] = -1
        rows["side"] = np.concatenate([np.full(len(bid_p), BUY), np.full(len(ask_p), SELL)])
        rows["price"] = np.concatenate([bid_p, ask_p])
        rows["qty"] = np.maximum(1, np.rint(np.concatenate([bid_q, ask_q]) * scale)).astype(np.int64)
        lo, hi = book.band
        book = Book(lo, hi, capacity=n)
        book.submit(rows)
    return book, float(entry.tick), float(entry.lot)


def _margin_group(group, n, seed, price):
    from engine.scenario.margin_crash import margin_crash_setup

    _, population = margin_crash_setup(seed=seed, accounts=n, median_ratio=group["median_ratio"],
                                       ratio_sigma=group["ratio_sigma"],
                                       min_ratio=group["min_ratio"],
                                       position_lots=group["position_lots"], price=price)
    rule = margin_rule(group["rule"])
    if rule == margin_rule({"preset": "a_share"}):
        return population
    # Same draws under the scenario's own rule.
    return Accounts.margin(cash=np.asarray(population.cash), shares=np.asarray(population.shares),
                           debt=np.asarray(population.debt), rule=rule)


def _lots(values):
    return np.maximum(1, np.rint(values)).astype(np.int64)


def _entries(rng, dist, n, price):
    return np.maximum(1, np.rint(price * (1.0 + draw(rng, dist, n)))).astype(np.int64)


def _perp_group(group, n, rng, price, currency_per_tick_lot):
    size = _lots(draw(rng, group["size"], n))
    leverage = draw(rng, group["leverage"], n)
    entry = _entries(rng, group["entry"], n, price)
    collateral = np.floor(size * entry / leverage).astype(np.int64)
    return Accounts.perp(collateral=collateral, size=size, entry=entry,
                         rule=perp_rule(group["rule"], currency_per_tick_lot))


def _swap_group(group, n, rng, price):
    shares = _lots(draw(rng, group["shares"], n))
    leverage = draw(rng, group["leverage"], n)
    entry = _entries(rng, group["entry"], n, price)
    margin = np.ceil(shares * entry / leverage).astype(np.int64)
    rule = group["rule"]
    return Accounts.swap(margin=margin, shares=shares, entry=entry,
                         rule=SwapRule(stop=rule["stop"], close=rule["close"],
                                       style=rule["style"], ioc_offset=rule["ioc_offset"]))


def _knock_in_group(group, n, rng, price):
    # A dealer's hedge of autocallables with a knock-in barrier at `barrier` x the note's
    # reference price: the ledger's swap kind with the position fully funded (nothing
    # borrowed, so never any bad debt) and the stop line at the barrier, so the hedge
    # (or `dump` of it) is sold exactly when the price crosses the barrier.
    hedge = _lots(draw(rng, group["hedge"], n))
    reference = _entries(rng, group["reference"], n, price)
    rule = group["rule"]
    return Accounts.swap(margin=hedge * reference, shares=hedge, entry=reference,
                         rule=SwapRule(stop=group["barrier"], close=group["dump"],
                                       style=rule["style"], ioc_offset=rule["ioc_offset"]))


def _scaled_count(count, scale):
    return 0 if count == 0 else max(1, int(round(count * scale)))


def build(scenario, seed=None):
    """Build the book, accounts, market makers, cascade and shock of a scenario.

    Parameters
    ----------
    scenario : dict
        A validated scenario (``engine.scenario.validate`` / ``load`` / ``preset``).
    seed : int, optional
        Overrides the scenario's own ``seed``.

    Returns
    -------
    Setup

    Raises
    ------
    ValueError
        If the book has no bids, or a gap shock's price is not below the best bid.
    FileNotFoundError
        If a recorded book's data file is missing.
    """
    seed = scenario["seed"] if seed is None else int(seed)
    scale = scenario["scale"]
    groups = scenario["accounts"]
    children = np.random.SeedSequence(seed).spawn(2 + len(groups))
    spec = scenario["book"]
    if spec["kind"] == "humped":
        book = _humped_book(spec, np.random.default_rng(children[0]), scale)
        tick_value, lot_size = spec["tick_value"], spec["lot_size"]
    else:
        book, tick_value, lot_size = _recorded_book(spec, scale)
    start = book.best_bid()
    if start is None:
        raise ValueError("the scenario's book has no bids")
    populations, info, first, first_margin = [], [], 0, True
    for k, group in enumerate(groups):
        n = _scaled_count(group["count"], scale)
        rng = np.random.default_rng(children[2 + k])
        if group["kind"] == "margin":
            population = _margin_group(group, n, seed if first_margin else child_seed(children[2 + k]),
                                       start if spec["kind"] == "recorded" else spec["price"])
            first_margin = False
        elif group["kind"] == "perp":
            population = _perp_group(group, n, rng, start, tick_value * lot_size)
        elif group["kind"] == "swap":
            population = _swap_group(group, n, rng, start)
        else:
            population = _knock_in_group(group, n, rng, start)
        populations.append(population)
        info.append({"label": group["label"], "kind": group["kind"], "count": n, "first": first})
        first += n
    accounts = populations[0] if len(populations) == 1 else Accounts.concat(*populations)
    providers = []
    for p in scenario["providers"]:
        params = {k: v for k, v in p.items() if k != "drop_fraction"}
        params["size"] = max(1, int(round(p["size"] * scale)))
        if "drop_fraction" in p:
            params["drop_ticks"] = max(1, int(p["drop_fraction"] * start))
        providers.append(LiquidityProvider(**params))
    shock = _shock(scenario["shock"], book, start, scale)
    session = scenario["session"]
    cascade = Cascade(book, accounts, mark=session["mark"],
                      limit=None if session["limit"] == "none" else session["limit"],
                      sessions=session["sessions"], queued=session["queued"],
                      providers=providers, seed=seed)
    return Setup(book=book, accounts=accounts, groups=info, providers=providers, cascade=cascade,
                 shock=shock, start_price=int(start), tick_value=tick_value, lot_size=lot_size)


def _shock(spec, book, start, scale):
    if spec["kind"] == "sell":
        if "qty" in spec:
            return Shock.sell(max(1, int(round(spec["qty"] * scale))))
        prices, qtys = book.depth(BUY, len(book))
        near = int(qtys[prices >= start * (1.0 - spec["within"])].sum())
        return Shock.sell(max(1, int(spec["depth_fraction"] * near)))
    price = spec["price"] if "price" in spec else int(start * (1.0 - spec["drop"]))
    if price >= start:
        raise ValueError(f"shock.price {price} must be below the best bid {start}")
    return Shock.gap(price)
