"""Depth exhaustion and price gaps, from a fill tape and the depth the book had before.

The functions take plain numpy inputs so they work on any simulation's output: a tape
is any structured array with ``price`` and ``qty`` fields (``taker_side`` and
``taker_id`` when present are used as described), in execution order; a depth profile
is two arrays ``(prices, qtys)`` for the side that was hit (``Book.depth(BUY, n)``
gives it).  Prices are ticks, quantities lots.
"""
from __future__ import annotations

import numpy as np

__all__ = ["depth_profile", "traded_by_price", "depth_exhaustion", "price_gaps",
           "sweep_gaps", "vwap_slippage"]


def depth_profile(book, side=1, levels=None):
    """The resting depth of `side` as ``(prices, qtys)``, best first (all levels by default)."""
    n = len(book) if levels is None else levels
    prices, qtys = book.depth(side, n)
    return np.asarray(prices, np.int64), np.asarray(qtys, np.int64)


def _checked_tape(tape):
    tape = np.asarray(tape)
    if tape.dtype.names is None or "price" not in tape.dtype.names or "qty" not in tape.dtype.names:
        raise TypeError("tape must be a structured array with 'price' and 'qty' fields")
    return tape


def _hits(tape, side):
    """Rows of `tape` that traded against resting orders of `side` (bids are hit by sells)."""
    tape = _checked_tape(tape)
    if "taker_side" in tape.dtype.names:
        return tape[tape["taker_side"] == -side]
    return tape


def _level_of(prices, row_prices):
    """The index in `prices` of each of `row_prices` (the first, if a price repeats), or -1."""
    prices = np.asarray(prices, np.int64)
    level = np.full(len(row_prices), -1, np.int64)
    if len(prices) and len(row_prices):
        order = np.argsort(prices, kind="stable")
        sorted_prices = prices[order]
        clipped = np.minimum(np.searchsorted(sorted_prices, row_prices), len(prices) - 1)
        found = sorted_prices[clipped] == row_prices
        level[found] = order[clipped[found]]
    return level


def _traded_at(level, qty, levels):
    """Lots per level from rows at `level` (-1: at none of them), summed exactly in int64."""
    traded = np.zeros(levels, np.int64)
    at = level >= 0
    np.add.at(traded, level[at], np.asarray(qty, np.int64)[at])
    return traded


def traded_by_price(tape, prices, side=1):
    """Lots traded against the hit `side` at each of `prices` (0 where nothing traded)."""
    hits = _hits(tape, side)
    return _traded_at(_level_of(prices, hits["price"]), hits["qty"], len(prices))


def depth_exhaustion(tape, prices, qtys, start_price=None, distances=(None,),
                     fractions=(0.25, 0.5, 0.9), side=1, count=None):
    """How much of the pre-shock depth on the hit side the tape ate.

    Parameters
    ----------
    tape : structured array
        Fills in execution order (fields ``price``, ``qty``; ``taker_side`` if present
        selects the fills that hit `side`).
    prices, qtys : array_like of int
        The depth profile of the hit side before the shock.
    start_price : int, optional
        Reference for distances (default: the best price of the profile).
    distances : sequence of int or None
        Look at the depth within this many ticks of `start_price` (None: all of it).
    fractions : sequence of float
        Report the cumulative volume at which each fraction of that depth was gone.
    side : int
        1 when bids were hit (a sell cascade), -1 for asks.
    count : boolean array, optional
        Which tape rows count toward the cumulative volume (default: every row that
        hit `side`; pass ``tape["seller"] == FORCED_SELLER`` to count forced volume).

    Returns
    -------
    dict
        ``levels`` (non-empty levels in the profile), ``levels_emptied`` (levels whose
        whole pre-shock depth traded), ``depth`` and ``consumed`` (lots), ``fraction``
        (consumed / depth), and ``by_distance``: {distance: {"depth", "consumed",
        "fraction", "levels_emptied", "volume_at": {fraction: volume or None}}}.
    """
    prices = np.asarray(prices, np.int64)
    qtys = np.asarray(qtys, np.int64)
    if prices.shape != qtys.shape:
        raise ValueError(f"prices has {len(prices)} levels, qtys has {len(qtys)}")
    if start_price is None:
        start_price = int(prices.max() if side > 0 else prices.min()) if len(prices) else 0
    tape = _checked_tape(tape)
    hit_mask = (tape["taker_side"] == -side) if "taker_side" in tape.dtype.names \
        else np.ones(len(tape), bool)
    # Each row's level in the profile (-1: it did not hit one), in execution order.
    n_rows = len(tape)
    level = np.where(hit_mask, _level_of(prices, tape["price"]), -1)
    traded = _traded_at(level, tape["qty"], len(prices))
    consumed = np.minimum(traded, qtys)
    distance = (start_price - prices) * side
    counted = hit_mask if count is None else np.asarray(count, bool)
    result = {
        "levels": int(np.count_nonzero(qtys > 0)),
        "levels_emptied": int(np.count_nonzero((qtys > 0) & (traded >= qtys))),
        "depth": int(qtys.sum()),
        "consumed": int(consumed.sum()),
        "fraction": float(consumed.sum() / qtys.sum()) if qtys.sum() else 0.0,
        "by_distance": {},
    }
    # Cumulative consumption along the tape: each hit eats the level at its price
    # until that level's pre-shock depth is gone (vectorised per level with a
    # stable sort by level, so execution order is kept within a level).
    hit_rows = np.flatnonzero(level >= 0)
    eaten_row = np.zeros(n_rows, np.int64)
    if len(hit_rows):
        by_level = hit_rows[np.argsort(level[hit_rows], kind="stable")]
        lv = level[by_level]
        qty = tape["qty"][by_level].astype(np.int64)
        cum = np.cumsum(qty)
        group_start = np.flatnonzero(np.concatenate([[True], lv[1:] != lv[:-1]]))
        base = np.repeat(cum[group_start] - qty[group_start], np.diff(np.append(group_start, len(lv))))
        after = cum - base
        cap = qtys[lv]
        eaten_row[by_level] = np.minimum(after, cap) - np.minimum(after - qty, cap)
    volume_cum = np.cumsum(np.where(counted, tape["qty"], 0).astype(np.int64)) if n_rows else np.zeros(0, np.int64)
    for d in distances:
        within = np.ones(len(prices), bool) if d is None else (distance <= d) & (distance >= 0)
        depth = int(qtys[within].sum())
        entry = {"depth": depth, "consumed": int(consumed[within].sum()),
                 "fraction": float(consumed[within].sum() / depth) if depth else 0.0,
                 "levels_emptied": int(np.count_nonzero(within & (qtys > 0) & (traded >= qtys))),
                 "volume_at": {f: None for f in fractions}}
        if depth and n_rows:
            row_within = np.zeros(n_rows, bool)
            row_within[level >= 0] = within[level[level >= 0]]
            eaten_cum = np.cumsum(np.where(row_within, eaten_row, 0))
            for f in fractions:
                i = int(np.searchsorted(eaten_cum, f * depth, side="left"))
                if i < n_rows:
                    entry["volume_at"][f] = int(volume_cum[i])
        result["by_distance"][d] = entry
    return result


def price_gaps(tape, start_price=None, path=None):
    """Jumps between consecutive trade prices (and in the best bid), in ticks.

    Parameters
    ----------
    tape : structured array
        Fills in execution order (field ``price``).
    start_price : int, optional
        Prepended as trade 0, so a first trade far from the pre-shock price counts.
    path : structured array, optional
        Best-price path with ``bid`` and ``ask`` fields (-1 for none).

    Returns
    -------
    dict
        ``max_gap_ticks`` (largest absolute jump between consecutive trades),
        ``max_down_gap_ticks``, ``gaps`` (the jump array), and with `path`:
        ``max_bid_gap_ticks`` and ``max_spread_ticks`` (spread blow-out).
    """
    prices = np.asarray(tape["price"], np.int64)
    if start_price is not None:
        prices = np.concatenate([[int(start_price)], prices])
    gaps = np.diff(prices)
    out = {
        "max_gap_ticks": int(np.abs(gaps).max()) if len(gaps) else 0,
        "max_down_gap_ticks": int(max(0, -gaps.min())) if len(gaps) else 0,
        "gaps": gaps,
    }
    if path is not None and len(path):
        bids = np.asarray(path["bid"], np.int64)
        asks = np.asarray(path["ask"], np.int64)
        valid = bids >= 0
        b = bids[valid]
        out["max_bid_gap_ticks"] = int(np.abs(np.diff(b)).max()) if len(b) > 1 else 0
        both = (bids >= 0) & (asks >= 0)
        out["max_spread_ticks"] = int((asks[both] - bids[both]).max()) if both.any() else None
    return out


def sweep_gaps(tape):
    """Empty price levels each order swept across in one go.

    Fills of one taker order are consecutive in the tape; an order that traded at
    prices p_first..p_last over k distinct prices crossed ``|p_last - p_first| + 1 - k``
    empty levels.  Returns ``(taker_ids, empty_levels)`` arrays, one row per order.
    """
    tape = np.asarray(tape)
    if len(tape) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ids = tape["taker_id"]
    prices = tape["price"].astype(np.int64)
    start = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
    first = prices[start]
    last_index = np.concatenate([start[1:], [len(tape)]]) - 1
    last = prices[last_index]
    changes = np.concatenate([[0], (prices[1:] != prices[:-1]).astype(np.int64)])
    changes[start] = 0
    distinct = np.add.reduceat(changes, start) + 1
    return ids[start].astype(np.int64), np.abs(last - first) + 1 - distinct


def vwap_slippage(tape, reference_price, mask=None):
    """Volume-weighted distance of the selected fills below `reference_price`, in ticks
    (None when no volume)."""
    tape = np.asarray(tape)
    if mask is not None:
        tape = tape[np.asarray(mask, bool)]
    volume = tape["qty"].astype(np.float64)
    if volume.sum() == 0:
        return None
    return float(((reference_price - tape["price"].astype(np.float64)) * volume).sum() / volume.sum())
