"""Pieces every loader and replay shares: CSV blocks split with numpy, the replay band,
synthetic level orders, and depth rows."""
from __future__ import annotations

import numpy as np

import engine
from engine import BUY, SELL, ORDER_DTYPE
from engine.io.decimals import FormatError, open_text, parse_fixed

# Bytes read from a file per block (cut at the last newline).
BLOCK_BYTES = 1 << 22


def level_id(price, side):
    """Id of the synthetic order standing for a whole level (or for the unknown volume
    resting there before a file began): negative, so it never meets an exchange id.

    Parameters
    ----------
    price : int or numpy.ndarray
        Price in ticks.
    side : int or numpy.ndarray
        BUY or SELL.

    Returns
    -------
    int or numpy.ndarray of int64
    """
    price = np.asarray(price, dtype=np.int64)
    side = np.asarray(side, dtype=np.int64)
    out = -(2 * price + (side == SELL)) - 1
    return int(out) if out.ndim == 0 else out


def band_around(low, high, fraction=0.5, lowest=1):
    """A band ``[lo, hi]`` in ticks reaching `fraction` of the price beyond the lowest and
    highest prices seen, narrowed when needed to fit ``engine.MAX_LEVELS``.

    Crypto markets have no limit-up / limit-down, so the replay band only has to hold
    every price the file shows, with room around it for cascades run on the book.

    Parameters
    ----------
    low, high : int
        Lowest and highest price in ticks.
    fraction : float, optional
        Room on either side as a fraction of the price.
    lowest : int, optional
        Floor for ``lo`` (prices are positive).

    Returns
    -------
    tuple of int

    Raises
    ------
    ValueError
        If the prices alone span more than ``engine.MAX_LEVELS`` ticks.
    """
    low, high = int(low), int(high)
    if high - low + 1 > engine.MAX_LEVELS:
        raise ValueError(f"prices span {high - low + 1} ticks, more than engine.MAX_LEVELS "
                         f"({engine.MAX_LEVELS}); use a coarser tick")
    lo = max(lowest, int(low * (1 - fraction)))
    hi = int(high * (1 + fraction)) + 1
    if hi - lo + 1 > engine.MAX_LEVELS:
        room = (engine.MAX_LEVELS - (high - low + 1)) // 2
        lo = max(lowest, low - room)
        hi = min(high + room, lo + engine.MAX_LEVELS - 1)
    return lo, hi


def touch_mid(bid_prices, ask_prices):
    """The mid of the best bid and the best ask in ticks, where a seeded book's band is
    centred; the one side's best when the other side has no levels.

    Raises
    ------
    ValueError
        If neither side has a level.
    """
    bids, asks = np.asarray(bid_prices), np.asarray(ask_prices)
    if not len(bids) and not len(asks):
        raise ValueError("the snapshot has no levels on either side: no price to centre a band on")
    best_bid = int(bids.max()) if len(bids) else int(asks.min())
    best_ask = int(asks.min()) if len(asks) else int(bids.max())
    return (best_bid + best_ask) // 2


def levels_book(bid_prices, bid_qtys, ask_prices, ask_qtys, band):
    """A Book holding one synthetic resting order per level (id `level_id`).

    Parameters
    ----------
    bid_prices, bid_qtys, ask_prices, ask_qtys : array_like of int
        Levels in ticks and lots (any order; levels with qty 0 are skipped).
    band : tuple of int
        The band ``(lo, hi)``.

    Returns
    -------
    engine.Book

    Raises
    ------
    ValueError
        If the levels are crossed, a price repeats on one side or lies outside the band.
    """
    prices = np.concatenate([np.asarray(bid_prices, np.int64), np.asarray(ask_prices, np.int64)])
    qtys = np.concatenate([np.asarray(bid_qtys, np.int64), np.asarray(ask_qtys, np.int64)])
    sides = np.concatenate([np.full(len(bid_prices), BUY, np.int8),
                            np.full(len(ask_prices), SELL, np.int8)])
    keep = qtys > 0
    prices, qtys, sides = prices[keep], qtys[keep], sides[keep]
    snapshot = {"band": np.array(band, np.int64), "id": level_id(prices, sides), "side": sides,
                "price": prices, "qty": qtys, "owner": np.full(len(prices), -1, np.int32)}
    return engine.Book.from_snapshot(snapshot)


def orders(n):
    """An empty ORDER_DTYPE array of `n` rows, owner -1."""
    out = np.zeros(n, ORDER_DTYPE)
    out["owner"] = -1
    return out


def read_csv_blocks(path, ncols=None):
    """Stream a headerless comma-separated file as blocks of byte-string fields.

    Lines are split with numpy on whole blocks of bytes, so no Python object is made
    per line or per field.

    Parameters
    ----------
    path : str or os.PathLike
    ncols : int, optional
        Fields per line; taken from the first line when None.

    Yields
    ------
    first_line : int
        1-based line number of the block's first row.
    fields : numpy.ndarray
        ``(rows, ncols)`` array of dtype ``S<width>``.

    Raises
    ------
    FormatError
        On a line with the wrong number of fields (naming file and line).
    """
    line_number = 1
    carry = b""
    with open_text(path) as handle:
        while True:
            chunk = handle.read(BLOCK_BYTES)
            data = carry + chunk
            if not chunk:
                if data and not data.endswith(b"\n"):
                    data += b"\n"
                carry = b""
            else:
                cut = data.rfind(b"\n") + 1
                data, carry = data[:cut], data[cut:]
            if data:
                if ncols is None:
                    ncols = data[:data.index(b"\n")].count(b",") + 1
                fields = _split_block(data, ncols, path, line_number)
                yield line_number, fields
                line_number += fields.shape[0]
            if not chunk:
                break


def _split_block(data, ncols, path, first_line):
    raw = np.frombuffer(data, dtype=np.uint8)
    newline = np.flatnonzero(raw == 10)
    comma = raw == 44
    commas_before = np.cumsum(comma)[newline]
    per_line = np.diff(commas_before, prepend=0)
    wrong = np.flatnonzero(per_line != ncols - 1)
    if len(wrong):
        row = int(wrong[0])
        found = int(per_line[row]) + 1
        start = 0 if row == 0 else int(newline[row - 1]) + 1
        text = bytes(raw[start:newline[row]]).decode("ascii", "replace").strip()
        problem = (f"expected {ncols} comma-separated fields, found {found}"
                   + (f" ({text[:60]!r})" if text else " (empty line)"))
        raise FormatError(path, first_line + row, None, problem)
    ends = np.flatnonzero(comma | (raw == 10))
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts
    width = max(int(lengths.max()), 1) if len(lengths) else 1
    index = starts[:, None] + np.arange(width)
    inside = np.arange(width) < lengths[:, None]
    chars = np.where(inside, raw[np.minimum(index, len(raw) - 1)], 0).astype(np.uint8)
    chars[chars == 13] = 0                                   # CRLF line ends
    return np.ascontiguousarray(chars).view(f"S{width}").reshape(len(newline), ncols)


def parse_columns(path, fields, first_line, specs):
    """Parse named columns of a block with `parse_fixed`.

    Parameters
    ----------
    specs : list of (name, column, scale)

    Returns
    -------
    dict of str -> numpy.ndarray of int64
    """
    lines = np.arange(first_line, first_line + fields.shape[0])
    return {name: parse_fixed(fields[:, column], scale, path=str(path), lines=lines, field=name)
            for name, column, scale in specs}
