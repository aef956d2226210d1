"""Binance USD-M futures depth stream: loader, sequence-checked replay, snapshot seeding.

The recorded file holds one record a line, ``<local_ns> <json>``: websocket messages
``{"stream": ..., "data": {...}}`` with ``data.e`` one of ``depthUpdate`` (``b``/``a``
lists of ``[price, qty]`` strings, qty 0 deletes the level; ``U``/``u``/``pu`` update
ids), ``trade`` and ``bookTicker``, plus one REST depth snapshot (no ``stream``
wrapper; ``bids``/``asks``/``lastUpdateId``).

Binance publishes levels, not orders, so each level is one synthetic resting order
(id ``level_id(price, side)``).  The replay follows Binance's own recipe for a local
book: diffs with ``u < lastUpdateId`` are stale and dropped, the first diff applied
must straddle the snapshot (``U <= lastUpdateId <= u``), and every later diff's ``pu``
must equal the previous diff's ``u``; a break raises `SequenceGap`, it is never skipped.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from itertools import chain

import numpy as np

from engine import BUY, SELL, LIMIT, CANCEL
from engine.io._common import band_around, level_id, levels_book, orders as empty_orders, touch_mid
from engine.io.decimals import FormatError, open_text, parse_fixed, to_units

__all__ = ["load", "replay", "snapshot_book", "BinanceData", "BinanceReport", "SequenceGap",
           "PRICE_SCALE", "QTY_SCALE"]

PRICE_SCALE = 1     # tick 0.10 USDT
QTY_SCALE = 3       # lot 0.001 BTC


class SequenceGap(FormatError):
    """A depth diff that does not continue the previous one (``pu`` != previous ``u``)."""


@dataclass
class BinanceData:
    """A loaded Binance recording, as numpy columns.

    Attributes
    ----------
    path : str
    snapshot_line, last_update_id : int
        Where the REST snapshot is and its ``lastUpdateId``.
    snapshot_bids, snapshot_asks : tuple of numpy.ndarray
        ``(prices, qtys)`` in ticks and lots, as listed.
    diff_line, diff_first, diff_last, diff_prev : numpy.ndarray of int64
        Per depth diff: line, ``U``, ``u``, ``pu``.
    diff_start : numpy.ndarray of int64
        Offset of each diff's first level update (length diffs + 1).
    level_side, level_price, level_qty : numpy.ndarray
        Level updates of all diffs, in order (bids of a diff first, then asks).
    ticker_line, ticker_update, ticker_bid, ticker_bid_qty, ticker_ask, ticker_ask_qty
        Per ``bookTicker`` record.
    trade_price, trade_qty : numpy.ndarray of int64
    trade_buyer_maker : numpy.ndarray of bool
    """

    path: str
    snapshot_line: int
    last_update_id: int
    snapshot_bids: tuple
    snapshot_asks: tuple
    diff_line: np.ndarray
    diff_first: np.ndarray
    diff_last: np.ndarray
    diff_prev: np.ndarray
    diff_start: np.ndarray
    level_side: np.ndarray
    level_price: np.ndarray
    level_qty: np.ndarray
    ticker_line: np.ndarray
    ticker_update: np.ndarray
    ticker_bid: np.ndarray
    ticker_bid_qty: np.ndarray
    ticker_ask: np.ndarray
    ticker_ask_qty: np.ndarray
    trade_price: np.ndarray
    trade_qty: np.ndarray
    trade_buyer_maker: np.ndarray

    @property
    def levels_updated(self):
        """Number of level updates in all diffs."""
        return len(self.level_price)


def _field(path, line, record, name, kind=None):
    try:
        value = record[name]
    except (KeyError, TypeError):
        raise FormatError(path, line, name, "missing") from None
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise FormatError(path, line, name, f"expected an integer, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise FormatError(path, line, name, f"expected a decimal string, got {value!r}")
    if kind is list and not isinstance(value, list):
        raise FormatError(path, line, name, f"expected a list of [price, qty], got {type(value).__name__}")
    return value


def _pairs(path, line, record, name):
    levels = _field(path, line, record, name, list)
    for entry in levels:
        if (not isinstance(entry, list) or len(entry) < 2 or not isinstance(entry[0], str)
                or not isinstance(entry[1], str)):
            raise FormatError(path, line, name, f"expected [price, qty] strings, got {entry!r}")
    return levels


def load(path):
    """Load a Binance USD-M recording (``<local_ns> <json>`` a line, gzip allowed).

    Prices and quantities are parsed from their decimal text to ticks (0.10) and lots
    (0.001) exactly, in numpy batches after the JSON pass.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    BinanceData

    Raises
    ------
    FormatError
        On a malformed line (not ``<int> <json>``, missing or ill-typed field, a price
        off the 0.10 grid, ...), naming file, line and field; or when the file holds no
        snapshot or more than one.
    """
    path = str(path)
    diff_line, diff_first, diff_last, diff_prev, diff_counts = [], [], [], [], []
    bid_lists, ask_lists, level_lines = [], [], []
    ticker_line, ticker_update, ticker_text = [], [], []
    trade_line, trade_text, trade_maker = [], [], []
    snapshot = None
    with open_text(path) as handle:
        for number, raw in enumerate(handle, 1):
            stamp, _, body = raw.partition(b" ")
            if not stamp.isdigit() or not body.strip():
                raise FormatError(path, number, "local_ns", "expected '<local_ns> <json>'")
            try:
                record = json.loads(body)
            except ValueError as error:
                raise FormatError(path, number, None, f"not JSON ({error})") from None
            if not isinstance(record, dict):
                raise FormatError(path, number, None, "expected a JSON object")
            if "lastUpdateId" in record:
                if snapshot is not None:
                    raise FormatError(path, number, "lastUpdateId",
                                      f"a second snapshot (the first is on line {snapshot[0]})")
                snapshot = (number, _field(path, number, record, "lastUpdateId", int),
                            _pairs(path, number, record, "bids"), _pairs(path, number, record, "asks"))
                continue
            data = _field(path, number, record, "data")
            event = _field(path, number, data, "e")
            if event == "depthUpdate":
                diff_line.append(number)
                diff_first.append(_field(path, number, data, "U", int))
                diff_last.append(_field(path, number, data, "u", int))
                diff_prev.append(_field(path, number, data, "pu", int))
                bids = _pairs(path, number, data, "b")
                asks = _pairs(path, number, data, "a")
                bid_lists.append(bids)
                ask_lists.append(asks)
                diff_counts.append((len(bids), len(asks)))
            elif event == "bookTicker":
                ticker_line.append(number)
                ticker_update.append(_field(path, number, data, "u", int))
                ticker_text.append((_field(path, number, data, "b", str), _field(path, number, data, "B", str),
                                    _field(path, number, data, "a", str), _field(path, number, data, "A", str)))
            elif event == "trade":
                trade_line.append(number)
                trade_text.append((_field(path, number, data, "p", str), _field(path, number, data, "q", str)))
                trade_maker.append(bool(_field(path, number, data, "m")))
    if snapshot is None:
        raise FormatError(path, None, "lastUpdateId", "no REST depth snapshot in the file")

    counts = np.array(diff_counts, np.int64).reshape(-1, 2)
    per_diff = counts.sum(1)
    lines = np.repeat(np.array(diff_line, np.int64), per_diff)
    # Level updates in file order: a diff's bids, then its asks.
    sides = np.concatenate([np.concatenate([np.full(b, BUY, np.int8), np.full(a, SELL, np.int8)])
                            for b, a in counts]) if len(counts) else np.empty(0, np.int8)
    flat = list(chain.from_iterable(chain(b, a) for b, a in zip(bid_lists, ask_lists)))
    prices = parse_fixed([p for p, _ in flat] or [b"0"], PRICE_SCALE, path=path, lines=lines, field="price")
    qtys = parse_fixed([q for _, q in flat] or [b"0"], QTY_SCALE, path=path, lines=lines, field="qty")
    if not flat:
        prices, qtys = prices[:0], qtys[:0]
    negative = np.flatnonzero((prices <= 0) | (qtys < 0))
    if len(negative):
        row = int(negative[0])
        raise FormatError(path, int(lines[row]), "price" if prices[row] <= 0 else "qty",
                          "must be positive")

    snap_line, last_update_id, snap_bids, snap_asks = snapshot

    def side_levels(pairs, name):
        at = [snap_line] * len(pairs)
        level_prices = parse_fixed([p for p, _ in pairs] or [b"1"], PRICE_SCALE, path=path,
                                   lines=at or [snap_line], field=f"{name}.price")[:len(pairs)]
        level_qtys = parse_fixed([q for _, q in pairs] or [b"1"], QTY_SCALE, path=path,
                                 lines=at or [snap_line], field=f"{name}.qty")[:len(pairs)]
        # A snapshot lists resting levels: a price or quantity that is not positive is no level.
        if len(pairs) and (level_prices.min() <= 0 or level_qtys.min() <= 0):
            field = "price" if level_prices.min() <= 0 else "qty"
            raise FormatError(path, snap_line, f"{name}.{field}", "must be positive")
        return level_prices, level_qtys

    tickers = np.array(ticker_text, dtype=object).reshape(-1, 4)
    ticker_lines = np.array(ticker_line, np.int64)

    def ticker_column(column, scale, name):
        if not len(tickers):
            return np.empty(0, np.int64)
        return parse_fixed(tickers[:, column].astype(str), scale, path=path, lines=ticker_lines, field=name)

    trades = np.array(trade_text, dtype=object).reshape(-1, 2)
    trade_lines = np.array(trade_line, np.int64)
    return BinanceData(
        path=path, snapshot_line=snap_line, last_update_id=last_update_id,
        snapshot_bids=side_levels(snap_bids, "bids"), snapshot_asks=side_levels(snap_asks, "asks"),
        diff_line=np.array(diff_line, np.int64), diff_first=np.array(diff_first, np.int64),
        diff_last=np.array(diff_last, np.int64), diff_prev=np.array(diff_prev, np.int64),
        diff_start=np.concatenate([[0], np.cumsum(per_diff)]).astype(np.int64),
        level_side=sides, level_price=prices, level_qty=qtys,
        ticker_line=ticker_lines, ticker_update=np.array(ticker_update, np.int64),
        ticker_bid=ticker_column(0, PRICE_SCALE, "b"), ticker_bid_qty=ticker_column(1, QTY_SCALE, "B"),
        ticker_ask=ticker_column(2, PRICE_SCALE, "a"), ticker_ask_qty=ticker_column(3, QTY_SCALE, "A"),
        trade_price=(parse_fixed(trades[:, 0].astype(str), PRICE_SCALE, path=path, lines=trade_lines,
                                 field="p") if len(trades) else np.empty(0, np.int64)),
        trade_qty=(parse_fixed(trades[:, 1].astype(str), QTY_SCALE, path=path, lines=trade_lines,
                               field="q") if len(trades) else np.empty(0, np.int64)),
        trade_buyer_maker=np.array(trade_maker, bool),
    )


def load_snapshot(path):
    """Read only as far as the REST snapshot (for seeding; much faster than `load`).

    Returns
    -------
    BinanceData
        With the snapshot filled in and every stream column empty.

    Raises
    ------
    FormatError
        When the file has no snapshot or it is malformed.
    """
    path = str(path)
    with open_text(path) as handle:
        for number, raw in enumerate(handle, 1):
            if b'"lastUpdateId"' not in raw:
                continue
            stamp, _, body = raw.partition(b" ")
            try:
                record = json.loads(body)
            except ValueError as error:
                raise FormatError(path, number, None, f"not JSON ({error})") from None
            last = _field(path, number, record, "lastUpdateId", int)
            sides = []
            for name in ("bids", "asks"):
                pairs = _pairs(path, number, record, name)
                at = [number] * max(len(pairs), 1)
                sides.append((parse_fixed([p for p, _ in pairs] or ["1"], PRICE_SCALE, path=path, lines=at,
                                          field=f"{name}.price")[:len(pairs)],
                              parse_fixed([q for _, q in pairs] or ["1"], QTY_SCALE, path=path, lines=at,
                                          field=f"{name}.qty")[:len(pairs)]))
            empty = np.empty(0, np.int64)
            return BinanceData(path, number, last, sides[0], sides[1], empty, empty, empty, empty,
                               np.zeros(1, np.int64), np.empty(0, np.int8), empty, empty,
                               empty, empty, empty, empty, empty, empty, empty, empty, np.empty(0, bool))
    raise FormatError(path, None, "lastUpdateId", "no REST depth snapshot in the file")


def _applied_diffs(data):
    """Indices of the diffs to apply after the snapshot, checking the sequence.

    Raises SequenceGap when the first diff after the stale ones does not straddle the
    snapshot or a later diff does not continue its predecessor.
    """
    last = data.last_update_id
    fresh = np.flatnonzero(data.diff_last >= last)
    if not len(fresh):
        raise SequenceGap(data.path, None, "u", f"no depth diff reaches the snapshot's lastUpdateId {last}")
    first = int(fresh[0])
    if data.diff_first[first] > last:
        raise SequenceGap(data.path, int(data.diff_line[first]), "U",
                          f"first diff after the snapshot starts at U={int(data.diff_first[first])}, "
                          f"after lastUpdateId {last}: updates in between are missing")
    chosen = np.arange(first, len(data.diff_last))
    # Every diff from the first applied on must be fresh and continue the previous one.
    broken = np.flatnonzero(data.diff_prev[chosen[1:]] != data.diff_last[chosen[:-1]])
    if len(broken):
        k = int(chosen[1:][broken[0]])
        raise SequenceGap(data.path, int(data.diff_line[k]), "pu",
                          f"pu={int(data.diff_prev[k])} but the previous diff (line "
                          f"{int(data.diff_line[k - 1])}) ended at u={int(data.diff_last[k - 1])}: "
                          f"a gap in the depth stream")
    return chosen


def _program(data, chosen, band):
    """Engine operations for the chosen diffs, the end of each diff's slice, and the
    number of level updates dropped for lying outside `band`.

    A level update becomes a CANCEL of the level's synthetic order and, unless the new
    qty is 0, a LIMIT for the new qty.  Within a diff every cancel comes before every
    limit, so a level moving from one side to the other never meets itself.
    """
    starts, ends = data.diff_start[chosen], data.diff_start[chosen + 1]
    counts = ends - starts
    index = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)]) if len(chosen) else np.empty(0, np.int64)
    diff_of = np.repeat(np.arange(len(chosen)), counts)
    price = data.level_price[index]
    inside = (price >= band[0]) & (price <= band[1])
    outside = int(np.count_nonzero(~inside))
    index, diff_of, price = index[inside], diff_of[inside], price[inside]
    qty = data.level_qty[index]
    side = data.level_side[index]
    ids = level_id(price, side)
    cancels = empty_orders(len(index))
    cancels["id"] = ids
    cancels["kind"] = CANCEL
    adds_mask = qty > 0
    adds = empty_orders(int(adds_mask.sum()))
    adds["id"] = ids[adds_mask]
    adds["kind"] = LIMIT
    adds["side"] = side[adds_mask]
    adds["price"] = price[adds_mask]
    adds["qty"] = qty[adds_mask]
    ops = np.concatenate([cancels, adds])
    diff_key = np.concatenate([diff_of, diff_of[adds_mask]])
    phase = np.concatenate([np.zeros(len(cancels), np.int8), np.ones(len(adds), np.int8)])
    order = np.lexsort((phase, diff_key))          # stable: file order within a phase
    ops = ops[order]
    op_end = np.searchsorted(diff_key[order], np.arange(len(chosen)), side="right")
    return np.ascontiguousarray(ops), op_end, outside


def snapshot_band(data, band_fraction=0.5):
    """The band of a replay or seeded book: `band_fraction` of the snapshot's mid price
    either side of it (crypto has no limit-up / limit-down; levels quoted further away,
    such as bids at 560 USDT, stay out of the book)."""
    mid = touch_mid(data.snapshot_bids[0], data.snapshot_asks[0])
    return band_around(mid, mid, band_fraction)


def snapshot_book(source, band_fraction=0.5):
    """A Book seeded with the recording's REST snapshot (1000 levels a side on the
    shared file), one synthetic resting order per level, for cascades on real depth.

    Parameters
    ----------
    source : str, os.PathLike or BinanceData
        The recording or its loaded data.
    band_fraction : float, optional
        Band room either side of the snapshot's mid price, as a fraction of it
        (levels outside are left out).

    Returns
    -------
    engine.Book
        Prices in ticks of 0.10 USDT, quantities in lots of 0.001 BTC.
    """
    data = source if isinstance(source, BinanceData) else load_snapshot(source)
    bid_p, bid_q = data.snapshot_bids
    ask_p, ask_q = data.snapshot_asks
    lo, hi = band = snapshot_band(data, band_fraction)
    keep_bids = bid_p >= lo
    keep_asks = ask_p <= hi
    return levels_book(bid_p[keep_bids], bid_q[keep_bids], ask_p[keep_asks], ask_q[keep_asks], band)


@dataclass
class BinanceReport:
    """What the Binance replay found.

    Attributes
    ----------
    diffs_applied, stale_diffs, level_updates : int
        Diffs applied after the snapshot, diffs dropped as stale (``u < lastUpdateId``),
        level updates applied.
    operations : int
        Engine operations made from them (a cancel per update, a limit per non-zero qty).
    tickers, tickers_aligned, tickers_agreeing, tickers_price_agreeing : int
        ``bookTicker`` records, those whose update id falls between two diffs (so the
        book at that id is known), those whose best bid/ask price and qty all agree, and
        those whose prices agree.
    tickers_inside_diff, tickers_bracketed : int
        Records whose update id falls inside a diff's range (not alignable exactly),
        and those of them matching the book before or after that diff (informational).
    tickers_untouched, tickers_untouched_agreeing : int
        Records inside a diff that updates no level at or better than the best bid and
        ask before it (so the top of book is the same throughout the diff), and those
        agreeing with the book.
    first_disagreement : str or None
    engine_trades : int
        Fills the engine made (a level update crossing the book); 0 for a consistent stream.
    rejected_limits : int
        Level updates the engine refused (outside the band, ...); 0 expected.
    new_levels : int
        Level updates for levels the book did not hold (their cancel found nothing).
    trades : int
        ``trade`` records in the file.
    outside_band, band
        Level updates left out for lying outside the band, and the band in ticks.
    book : engine.Book
        The book after the last diff.
    parse_seconds, engine_seconds, check_seconds : float
    """

    diffs_applied: int
    stale_diffs: int
    level_updates: int
    operations: int
    tickers: int
    tickers_aligned: int
    tickers_agreeing: int
    tickers_price_agreeing: int
    first_disagreement: str | None
    engine_trades: int
    rejected_limits: int
    new_levels: int
    trades: int
    outside_band: int
    band: tuple
    book: object
    parse_seconds: float
    engine_seconds: float
    check_seconds: float
    tickers_inside_diff: int = 0
    tickers_bracketed: int = 0
    tickers_untouched: int = 0
    tickers_untouched_agreeing: int = 0

    @property
    def agreement(self):
        """Fraction of aligned bookTicker records that agree in full."""
        return self.tickers_agreeing / self.tickers_aligned if self.tickers_aligned else 1.0

    @property
    def messages(self):
        """Level updates applied (the replay's messages)."""
        return self.level_updates

    @property
    def messages_per_second(self):
        """Level updates per second of engine time."""
        return self.level_updates / self.engine_seconds if self.engine_seconds > 0 else math.inf

    def summary(self):
        """A few lines for people."""
        lines = [
            f"Binance replay: {self.diffs_applied:,} diffs applied ({self.stale_diffs} stale dropped), "
            f"{self.level_updates:,} level updates, {self.operations:,} engine operations, sequence unbroken",
            f"  bookTicker: {self.tickers:,} records, {self.tickers_aligned:,} aligned with a diff boundary, "
            f"{self.tickers_agreeing:,} agree on best bid/ask price and qty "
            f"({100 * self.agreement:.3f}%), {self.tickers_price_agreeing:,} on prices",
            f"  not alignable (inside a diff's update range, in diffs that move the top of book): "
            f"{self.tickers_inside_diff - self.tickers_untouched:,}; "
            f"{self.tickers_bracketed:,} of them match the book before or after their diff"
            + (f"; inside diffs that leave the top untouched: {self.tickers_untouched:,}, "
               f"{self.tickers_untouched_agreeing:,} agreeing" if self.tickers_untouched else ""),
            f"  engine-made trades {self.engine_trades}, rejected level updates {self.rejected_limits}, "
            f"new levels {self.new_levels:,}, updates outside the band {tuple(to_units(self.band, PRICE_SCALE))} "
            f"left out {self.outside_band:,}; recorded trades {self.trades:,}",
        ]
        if self.first_disagreement:
            lines.append(f"  first disagreement: {self.first_disagreement}")
        return "\n".join(lines)


def replay(path, band_fraction=0.5, *, check=True):
    """Replay a Binance recording: snapshot, then every diff with sequence checking, and
    compare the book with every ``bookTicker`` record that can be aligned.

    A bookTicker with update id ``t`` is aligned when ``t`` lies between the end of a
    diff and the start of the next (``u_k <= t < U_k+1``): then the book after diff
    ``k`` is the book at ``t``.  Records inside a diff's update range, or before the
    snapshot's state is reached, cannot be aligned.

    Parameters
    ----------
    path : str, os.PathLike or BinanceData
        The recording, or its data already loaded (parse time then counts only the
        sequence check and the program build).
    band_fraction : float, optional
        Band either side of the snapshot's mid price, as a fraction of it.
    check : bool, optional
        Step diff by diff comparing with bookTicker (false: only the timed batch run).

    Returns
    -------
    BinanceReport

    Raises
    ------
    FormatError
        On a malformed line.
    SequenceGap
        When the diffs do not chain from the snapshot without a gap.
    """
    started = time.perf_counter()
    data = path if isinstance(path, BinanceData) else load(path)
    chosen = _applied_diffs(data)
    band = snapshot_band(data, band_fraction)
    ops, op_end, outside = _program(data, chosen, band)
    parse_seconds = time.perf_counter() - started

    book = snapshot_book(data, band_fraction)
    started = time.perf_counter()
    batch = book.submit(ops)
    engine_seconds = time.perf_counter() - started
    is_limit = ops["kind"] == LIMIT
    report = BinanceReport(
        diffs_applied=len(chosen), stale_diffs=int(chosen[0]) if len(chosen) else len(data.diff_last),
        level_updates=int((data.diff_start[chosen + 1] - data.diff_start[chosen]).sum()),
        operations=len(ops), tickers=len(data.ticker_update), tickers_aligned=0, tickers_agreeing=0,
        tickers_price_agreeing=0, first_disagreement=None, engine_trades=len(batch.fills),
        rejected_limits=int(np.count_nonzero(is_limit & (batch.reject != 0))),
        new_levels=int(np.count_nonzero(~is_limit & (batch.reject != 0))), trades=len(data.trade_price),
        outside_band=outside, band=band,
        book=book, parse_seconds=parse_seconds, engine_seconds=engine_seconds, check_seconds=0.0)
    if check:
        started = time.perf_counter()
        _compare_tickers(report, data, chosen, ops, op_end, snapshot_book(data, band_fraction))
        report.check_seconds = time.perf_counter() - started
    return report


def _compare_tickers(report, data, chosen, ops, op_end, book):
    count = len(chosen)
    top = np.zeros((count, 4), np.int64)        # bid, bid qty, ask, ask qty after each diff
    begin = 0
    for k in range(count):
        end = op_end[k]
        if end > begin:
            book.submit(ops[begin:end])
            begin = end
        bid_p, bid_q = book.depth(BUY, 1)
        ask_p, ask_q = book.depth(SELL, 1)
        if len(bid_p):
            top[k, 0], top[k, 1] = bid_p[0], bid_q[0]
        if len(ask_p):
            top[k, 2], top[k, 3] = ask_p[0], ask_q[0]
    last, first = data.diff_last[chosen], data.diff_first[chosen]
    t = data.ticker_update
    k = np.searchsorted(last, t, side="right") - 1
    valid = k >= 0
    safe = np.clip(k, 0, max(count - 1, 0))
    next_first = np.where(safe + 1 < count, first[np.minimum(safe + 1, count - 1)], np.iinfo(np.int64).max)
    aligned = valid & ((t == last[safe]) | ((safe + 1 < count) & (t < next_first)))
    recorded = np.stack([data.ticker_bid, data.ticker_bid_qty, data.ticker_ask, data.ticker_ask_qty], axis=1)
    ours = top[safe]
    agree = aligned & np.all(ours == recorded, axis=1)
    price_agree = aligned & (ours[:, 0] == recorded[:, 0]) & (ours[:, 2] == recorded[:, 2])
    # A record inside diff k+1's update range saw the book part-way through that diff:
    # not checkable exactly, but its top should match the book before or after the diff.
    inside = valid & ~aligned & (safe + 1 < count)
    after = top[np.minimum(safe + 1, count - 1)]
    bracketed = inside & (np.all(ours == recorded, axis=1) | np.all(after == recorded, axis=1))
    # Inside a diff that updates no level at or better than the best bid and ask it
    # started from, the top of book cannot have moved: those records align too.
    starts, ends = data.diff_start[chosen], data.diff_start[chosen + 1]
    level_diff = np.repeat(np.arange(count), ends - starts)
    level_rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)]) if count else np.empty(0, np.int64)
    price, side = data.level_price[level_rows], data.level_side[level_rows]
    best_bid_before = np.concatenate([[np.iinfo(np.int64).max], top[:-1, 0]])[level_diff]
    best_ask_before = np.concatenate([[0], top[:-1, 2]])[level_diff]
    touches = ((side == BUY) & (price >= best_bid_before)) | ((side == SELL) & (price <= best_ask_before))
    touched = np.zeros(count + 1, bool)
    touched[level_diff[touches]] = True
    touched[0] = True           # the first diff straddles the snapshot: no known "before"
    untouched = inside & ~touched[np.minimum(safe + 1, count)]
    report.tickers_untouched = int(untouched.sum())
    report.tickers_untouched_agreeing = int((untouched & np.all(ours == recorded, axis=1)).sum())
    report.tickers_inside_diff = int(inside.sum())
    report.tickers_bracketed = int(bracketed.sum())
    report.tickers_aligned = int(aligned.sum())
    report.tickers_agreeing = int(agree.sum())
    report.tickers_price_agreeing = int(price_agree.sum())
    report.book = book
    bad = np.flatnonzero(aligned & ~agree)
    if len(bad):
        row = int(bad[0])
        names = ("bid", "bid qty", "ask", "ask qty")
        scales = (PRICE_SCALE, QTY_SCALE, PRICE_SCALE, QTY_SCALE)
        parts = [f"{name} file {to_units([recorded[row, c]], s)[0]} engine {to_units([ours[row, c]], s)[0]}"
                 for c, (name, s) in enumerate(zip(names, scales)) if recorded[row, c] != ours[row, c]]
        report.first_disagreement = (f"{data.path}:{int(data.ticker_line[row])} (u={int(t[row])}, after diff "
                                     f"line {int(data.diff_line[chosen[safe[row]]])}): " + ", ".join(parts))
