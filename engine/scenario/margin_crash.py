"""The 2015-style margin-trading crash: the main job.

``margin_crash`` is the main job: a 2015-style margin-trading crash.  A few hundred
thousand A-share margin accounts (collateral ratios lognormal around a median of 280%,
lines 130% call / 110% force, restore to 145%, forced sells queued at limit-down) hold
a stock whose book has a realistic depth profile; a block sale opens the first
session, the band is the previous close +-10% each session, forced sells stuck at
limit-down are resubmitted at the next day's floor, called accounts are forced after
one session's grace, and background market makers refill bids but pull them when the
price gaps or falls fast.  ``engine.report.format_report`` prints what the book went through.

Prices are ticks of 0.01 (the stock starts at 100.00 = 10,000 ticks), quantities lots.
"""
from __future__ import annotations

import numpy as np

from engine import BUY, SELL, LIMIT, ORDER_DTYPE
from engine._book import Book
from engine.accounts import Accounts, MarginRule
from engine.cascade import Cascade, Shock, LiquidityProvider

__all__ = ["margin_crash", "margin_crash_setup", "humped_book", "TICK", "START_PRICE"]

TICK = 0.01          # currency per tick
START_PRICE = 10_000  # ticks


def humped_book(rng, price, bid_levels=6_000, ask_levels=600, depth_per_tick=60.0):
    """A book with a humped bid depth profile: thin at the touch, thickest a few
    percent away, thinning and gappier far out; asks above."""
    distance = np.arange(1, bid_levels + 1)
    # expected lots per tick: ramps up over the first 1%, then decays slowly
    shape = np.minimum(1.0, 0.2 + distance / (0.01 * price)) * np.exp(-distance / (0.25 * price))
    occupied = rng.random(bid_levels) < np.clip(1.2 * shape, 0.05, 1.0)
    levels = distance[occupied]
    lots = depth_per_tick * shape[occupied] / np.clip(1.2 * shape[occupied], 0.05, 1.0)
    orders_per_level = rng.integers(1, 4, len(levels))
    prices = np.repeat(price - levels, orders_per_level)
    mean = np.repeat(lots / orders_per_level, orders_per_level)
    qty = np.maximum(1, rng.gamma(2.0, mean / 2.0)).astype(np.int64)
    ask_distance = np.arange(1, ask_levels + 1)
    ask_prices = price + ask_distance
    ask_qty = np.maximum(1, rng.gamma(2.0, depth_per_tick / 2.0, ask_levels)).astype(np.int64)
    n = len(prices) + ask_levels
    rows = np.zeros(n, ORDER_DTYPE)
    rows["id"] = np.arange(1, n + 1)
    rows["kind"] = LIMIT
    rows["owner"] = -1
    rows["side"][:len(prices)] = BUY
    rows["side"][len(prices):] = SELL
    rows["price"][:len(prices)] = prices
    rows["price"][len(prices):] = ask_prices
    rows["qty"][:len(prices)] = qty
    rows["qty"][len(prices):] = ask_qty
    # Within a level, time priority follows the order of arrival: shuffle arrivals.
    rows = rows[rng.permutation(n)]
    rows["id"] = np.arange(1, n + 1)
    book = Book(1, 2 * price, capacity=n)
    result = book.submit(rows)
    assert not result.reject.any()
    return book


def margin_crash_setup(seed=2015, accounts=300_000, median_ratio=2.8, ratio_sigma=0.40,
                       min_ratio=1.15, position_lots=40.0, price=START_PRICE):
    """The book and the population of the margin crash (before any shock).

    Parameters
    ----------
    seed : int
        Everything random derives from it (``np.random.SeedSequence(seed).spawn``).
    accounts : int
        Margin accounts.
    median_ratio, ratio_sigma, min_ratio : float
        Collateral ratios are lognormal with this median and log-sd, floored at
        `min_ratio` (the most levered start between the force and call lines, as
        in the weeks before the 2015 crash).
    position_lots : float
        Mean position per account, lots (lognormal, sd 1 in logs).

    Returns
    -------
    (Book, Accounts)
    """
    book_seed, account_seed = np.random.SeedSequence(seed).spawn(2)
    book = humped_book(np.random.default_rng(book_seed), price)
    rng = np.random.default_rng(account_seed)
    shares = np.maximum(1, rng.lognormal(np.log(position_lots) - 0.5, 1.0, accounts)).astype(np.int64)
    ratio = np.maximum(min_ratio, median_ratio * np.exp(rng.normal(0.0, ratio_sigma, accounts)))
    # Cash 0: the collateral is the stock bought with own money and the loan.
    debt = np.floor(shares * price / ratio).astype(np.int64)
    population = Accounts.margin(cash=np.zeros(accounts, np.int64), shares=shares, debt=debt,
                                 rule=MarginRule.a_share())
    return book, population


def margin_crash(seed=2015, accounts=300_000, sessions=8, limit=0.10, shock_fraction=1.0,
                 providers=True, record_tape=True):
    """Run the 2015-style margin-trading crash and return its CascadeResult.

    Parameters
    ----------
    seed : int
        Seed of the book, the population and the market makers.
    accounts : int
        Number of margin accounts (a few hundred thousand by default).
    sessions : int
        Trading sessions the crash may run over.
    limit : float
        Daily price limit (0.10 main board).
    shock_fraction : float
        The opening block sale, as a fraction of the bid depth within 3% of the price.
    providers : bool
        Add background market makers that refill bids and withdraw on gaps.

    Returns
    -------
    CascadeResult
        With ``scenario`` (the parameters) attached.
    """
    book, population = margin_crash_setup(seed=seed, accounts=accounts)
    start = book.best_bid()
    prices, qtys = book.depth(BUY, len(book))
    near = int(qtys[prices >= start * 0.97].sum())
    makers = []
    if providers:
        makers = [LiquidityProvider(size=40, levels=8, spacing=3, every=25, gap_ticks=15,
                                    drop_ticks=int(0.02 * start), window=400, pause=3000,
                                    decay=0.15)]
    cascade = Cascade(book, population, mark="last", limit=limit, sessions=sessions,
                      queued="resubmit", providers=makers, seed=seed, record_tape=record_tape)
    result = cascade.run(Shock.sell(max(1, int(shock_fraction * near))))
    result.scenario = {"name": "margin-trading crash (2015 style)", "seed": seed,
                       "accounts": accounts, "sessions": sessions, "limit": limit,
                       "rule": "A-share margin: call 130%, force 110%, restore 145%, "
                               "forced sells queue at limit-down",
                       "median_ratio": 2.8, "providers": len(makers)}
    return result
