"""A demonstration of the order-book core: forced market sells walking down a seeded book.

The book has a realistic depth profile: resting size grows away from the touch and then
thins out (a hump a few dozen ticks deep, as on real books), order sizes are lognormal,
and bids and asks are symmetric about the mid.  A stream of forced market sells with
lognormal sizes hits the bid side with no refills, and the report says what the book
went through.
"""
import time

import numpy as np

from engine import metrics
from engine._book import Book
from engine._records import BUY, SELL, LIMIT, MARKET, QUEUE_AT_LIMIT, ORDER_DTYPE


def depth_profile_orders(rng, *, mid, levels, orders_per_level, first_id=1, hump_ticks=300):
    """Resting limit orders on both sides of `mid` with a humped depth profile.

    Parameters
    ----------
    rng : numpy.random.Generator
    mid : int
        Mid price in ticks; bids rest at ``mid - k`` and asks at ``mid + k`` for k >= 1.
    levels : int
        Price levels per side.
    orders_per_level : float
        Mean number of orders on a level at the hump of the profile.
    first_id : int
        Id of the first order; ids are consecutive.
    hump_ticks : int
        Distance from the mid at which resting depth peaks.

    Returns
    -------
    numpy.ndarray of ORDER_DTYPE
    """
    distance = np.arange(1, levels + 1)
    # Gamma-shaped intensity: thin at the touch, deepest near `hump_ticks`, thinning beyond.
    shape = (distance / hump_ticks) * np.exp(1 - distance / hump_ticks)
    counts = rng.poisson(orders_per_level * (0.05 + shape), size=(2, levels))
    total = int(counts.sum())
    orders = np.zeros(total, ORDER_DTYPE)
    orders["id"] = np.arange(first_id, first_id + total)
    orders["kind"] = LIMIT
    orders["owner"] = -1
    orders["qty"] = np.maximum(1, rng.lognormal(3.0, 1.0, total)).astype(np.int64)
    bid_count = int(counts[0].sum())
    orders["side"][:bid_count] = BUY
    orders["side"][bid_count:] = SELL
    orders["price"][:bid_count] = mid - np.repeat(distance, counts[0])
    orders["price"][bid_count:] = mid + np.repeat(distance, counts[1])
    # Arrival order across the book is random, as it would be on a real venue.
    return orders[rng.permutation(total)]


def run_demo(seed=7, *, mid=100_000, limit_pct=10, levels=3_000, orders_per_level=120,
             sells=60_000, sell_log_mean=3.5):
    """Seed a book, hit it with forced market sells, and measure what happened.

    Parameters
    ----------
    seed : int
        Seed for the book and the sell stream; the same seed gives the same numbers.
    mid : int
        Pre-shock mid price in ticks.
    limit_pct : int
        Daily price limit in percent (the band is ``mid +- limit_pct%``).
    levels, orders_per_level : int
        Depth profile of the seeded book (see `depth_profile_orders`).
    sells : int
        Number of forced market sells.
    sell_log_mean : float
        Mean of the log of the sell sizes (lognormal, sigma 1).

    Returns
    -------
    dict
        The measurements (see `format_demo`).
    """
    rng = np.random.default_rng(seed)
    lo, hi = mid - mid * limit_pct // 100, mid + mid * limit_pct // 100
    book = Book(lo, hi)
    seed_orders = depth_profile_orders(rng, mid=mid, levels=levels, orders_per_level=orders_per_level)
    book.submit(seed_orders)
    start_bid = book.best_bid()
    bid_prices, bid_qtys = book.depth(BUY, levels)
    sells_qty = np.maximum(1, rng.lognormal(sell_log_mean, 1.0, sells)).astype(np.int64)
    orders = np.zeros(sells, ORDER_DTYPE)
    orders["id"] = np.arange(10**9, 10**9 + sells)
    orders["side"] = SELL
    orders["kind"] = MARKET
    orders["qty"] = sells_qty
    orders["owner"] = -1
    orders["flags"] = QUEUE_AT_LIMIT          # what limit-down stops queues there
    started = time.perf_counter()
    result = book.submit(orders)
    elapsed = time.perf_counter() - started
    fills = result.fills
    exhaustion = metrics.depth_exhaustion(fills, bid_prices, bid_qtys, start_price=start_bid)
    gaps = metrics.price_gaps(fills)
    end_bid = book.best_bid()
    return {
        "seed": seed,
        "band": (lo, hi),
        "resting_orders_before": len(seed_orders),
        "bid_depth_before": int(bid_qtys.sum()),
        "forced_sells": sells,
        "forced_volume": int(sells_qty.sum()),
        "filled_volume": int(result.filled.sum()),
        "queued_at_limit_down": int(result.remaining.sum()),
        "fills": len(fills),
        "start_bid": start_bid,
        "end_bid": end_bid,
        "last_trade": int(fills["price"][-1]) if len(fills) else None,
        "depth_consumed": exhaustion["fraction"],
        "levels_emptied": exhaustion["levels_emptied"],
        "max_gap_ticks": gaps["max_gap_ticks"],
        "seconds": elapsed,
        "messages_per_second": sells / elapsed if elapsed > 0 else float("inf"),
        "fills_per_second": len(fills) / elapsed if elapsed > 0 else float("inf"),
    }


def format_demo(m):
    """The demo's measurements as a readable report."""
    lo, hi = m["band"]
    end_bid = "none (book emptied)" if m["end_bid"] is None else m["end_bid"]
    return "\n".join([
        "firesale: forced market sells into a seeded limit order book",
        f"  seed {m['seed']}, band [{lo}, {hi}] ticks, {m['resting_orders_before']:,} resting orders,"
        f" {m['bid_depth_before']:,} lots bid",
        f"  forced sells      {m['forced_sells']:,} market orders, {m['forced_volume']:,} lots",
        f"  filled            {m['filled_volume']:,} lots in {m['fills']:,} fills",
        f"  queued limit-down {m['queued_at_limit_down']:,} lots",
        f"  best bid          {m['start_bid']} -> {end_bid} ticks (last trade {m['last_trade']})",
        f"  depth consumed    {m['depth_consumed']:.1%} of the bid side",
        f"  levels emptied    {m['levels_emptied']:,}",
        f"  largest gap       {m['max_gap_ticks']} ticks between consecutive trades",
        f"  throughput        {m['messages_per_second'] / 1e6:.1f}M orders/s,"
        f" {m['fills_per_second'] / 1e6:.1f}M fills/s ({m['seconds'] * 1e3:.1f} ms)",
    ])
