"""LOBSTER message and orderbook files: loader, replay through ``engine.Book``, writer.

LOBSTER (lobsterdata.com) is the academic standard for NASDAQ limit order books.  A
message file ``TICKER_date_start_end_message_N.csv`` has no header and the columns

    time (seconds after midnight, decimal), type, order id, size (shares),
    price (dollars x 10000), direction (1 buy limit order, -1 sell limit order)

with types 1 new limit order, 2 partial cancellation, 3 deletion, 4 execution of a
visible limit order, 5 execution of a hidden order, 6 cross trade, 7 trading halt.
The orderbook file of the same name holds one row per message, the book after it:
``AskPrice1, AskSize1, BidPrice1, BidSize1, ...`` for N levels, empty levels as price
9999999999 (ask) / -9999999999 (bid) with size 0.

Orders resting before the file began are known only through the orderbook rows.
The replay therefore seeds each level's pre-existing volume as one synthetic order
(id ``level_id(price, side)``, at the head of the queue since it is older than anything
in the file), and a message naming an order the file never created is applied to that
level's synthetic order.  Levels deeper than the first row shows come into view later;
the first time a row shows a level beyond every earlier row, the volume there that no
message explains is pre-existing and is seeded then ("discovered").  Levels once seen
are never adjusted, so every differing row counted is the replay's own.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

import engine
from engine import BUY, SELL, LIMIT, CANCEL, REDUCE, FILL_DTYPE, ORDER_DTYPE
from engine.io._common import (
    band_around, level_id, levels_book, orders as empty_orders, parse_columns, read_csv_blocks,
)
from engine.io.decimals import FormatError, parse_fixed

__all__ = ["read_messages", "read_orderbook", "replay", "LobsterReport", "LobsterWriter",
           "book_from_orderbook", "EMPTY_ASK", "EMPTY_BID", "MESSAGE_COLUMNS"]

EMPTY_ASK = 9999999999
EMPTY_BID = -9999999999
MESSAGE_COLUMNS = ("time", "type", "id", "size", "price", "direction")
# Time is kept as integer nanoseconds after midnight.
TIME_SCALE = 9

NEW, PARTIAL_CANCEL, DELETE, EXECUTE, HIDDEN_EXECUTE, CROSS_TRADE, HALT = range(1, 8)


def read_messages(path):
    """Load a LOBSTER message file into numpy columns, exactly.

    Parameters
    ----------
    path : str or os.PathLike
        The message CSV (optionally ``.gz`` / ``.xz`` / ``.bz2``).

    Returns
    -------
    dict of str -> numpy.ndarray
        ``time_ns`` (int64 nanoseconds after midnight), ``type`` (int8), ``id``, ``size``,
        ``price`` (int64, dollars x 10000), ``direction`` (int8).

    Raises
    ------
    FormatError
        On a malformed line, naming file, line and field.
    """
    specs = [("time_ns", 0, TIME_SCALE), ("type", 1, 0), ("id", 2, 0), ("size", 3, 0),
             ("price", 4, 0), ("direction", 5, 0)]
    parts = {name: [] for name, _, _ in specs}
    for first_line, fields in read_csv_blocks(path, 6):
        columns = parse_columns(path, fields, first_line, specs)
        _check_messages(path, first_line, columns)
        for name in parts:
            parts[name].append(columns[name])
    out = {name: (np.concatenate(chunks) if chunks else np.empty(0, np.int64))
           for name, chunks in parts.items()}
    out["type"] = out["type"].astype(np.int8)
    out["direction"] = out["direction"].astype(np.int8)
    return out


def _check_messages(path, first_line, columns):
    kind = columns["type"]
    checks = [
        ("type", (kind < 1) | (kind > 7), "type must be 1..7"),
        ("direction", (columns["direction"] != 1) & (columns["direction"] != -1),
         "direction must be 1 or -1"),
        ("size", (kind <= EXECUTE) & (columns["size"] <= 0), "size must be > 0"),
        ("price", (kind <= EXECUTE) & (columns["price"] <= 0), "price must be > 0"),
    ]
    for name, bad, problem in checks:
        rows = np.flatnonzero(bad)
        if len(rows):
            row = int(rows[0])
            value = int(columns[name][row])
            raise FormatError(path, first_line + row, name, f"{problem}, got {value}")


def read_orderbook(path):
    """Load a LOBSTER orderbook file as an ``(rows, 4 * levels)`` int64 array.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    numpy.ndarray of int64
        Columns ``AskPrice1, AskSize1, BidPrice1, BidSize1, ...``.

    Raises
    ------
    FormatError
        On a malformed line or a column count that is not a multiple of 4.
    """
    blocks = []
    ncols = None
    for first_line, fields in read_csv_blocks(path):
        if ncols is None:
            ncols = fields.shape[1]
            if ncols % 4:
                raise FormatError(path, first_line, None,
                                  f"an orderbook row has 4 columns per level, found {ncols}")
        names = [f"{kind}{level + 1}" for level in range(ncols // 4)
                 for kind in ("AskPrice", "AskSize", "BidPrice", "BidSize")]
        try:
            # One pass over the whole block; on a bad cell, parse column by column to name it.
            block = parse_fixed(fields.reshape(-1), 0, path=str(path)).reshape(fields.shape)
        except FormatError:
            columns = parse_columns(path, fields, first_line, [(names[c], c, 0) for c in range(ncols)])
            block = np.stack([columns[n] for n in names], axis=1)
        sizes = block[:, 1::2]
        bad = np.argwhere(sizes < 0)
        if len(bad):
            row, level = (int(x) for x in bad[0])
            raise FormatError(path, first_line + row, names[2 * level + 1], "size must be >= 0")
        blocks.append(block)
    if not blocks:
        return np.empty((0, 4), np.int64)
    return np.concatenate(blocks)


def _tick_of(messages, first_row):
    prices = messages["price"][messages["type"] <= EXECUTE]
    seeded = first_row[0::2]
    seeded = seeded[(seeded != EMPTY_ASK) & (seeded != EMPTY_BID) & (seeded > 0)]
    tick = int(np.gcd.reduce(np.concatenate([prices, seeded]).astype(np.int64))) if (
        len(prices) + len(seeded)) else 1
    return max(tick, 1)


def _levels_of_row(row, levels):
    ask_p, ask_q, bid_p, bid_q = row[0::4], row[1::4], row[2::4], row[3::4]
    asks = {int(p): int(q) for p, q in zip(ask_p[:levels], ask_q[:levels]) if q > 0 and p != EMPTY_ASK}
    bids = {int(p): int(q) for p, q in zip(bid_p[:levels], bid_q[:levels]) if q > 0 and p != EMPTY_BID}
    return bids, asks


def book_from_orderbook(orderbook_csv, row=0, tick=None, band_fraction=0.5, first_message=None):
    """A Book seeded with one LOBSTER orderbook row: one synthetic order per level.

    Parameters
    ----------
    orderbook_csv : str or os.PathLike
    row : int, optional
        0-based row to seed from.
    tick : int, optional
        LOBSTER price units (dollars x 10000) per engine tick; by default the greatest
        common divisor of the row's prices.
    band_fraction : float, optional
        Band room either side, as a fraction of the price (see `band_around`).
    first_message : dict, optional
        Internal: undo this message (the one that produced the row) before seeding.

    Returns
    -------
    engine.Book
    """
    book_rows = read_orderbook(orderbook_csv)
    values = book_rows[row]
    if tick is None:
        tick = _tick_of({"price": np.empty(0, np.int64), "type": np.empty(0, np.int8)}, values)
    bids, asks = _levels_of_row(values, book_rows.shape[1] // 4)
    prices = list(bids) + list(asks)
    band = band_around(min(prices) // tick, max(prices) // tick, band_fraction) if prices else (1, 2)
    return _seed(bids, asks, tick, band)


def _seed(bids, asks, tick, band):
    """A book of the price levels `bids` and `asks` (price -> qty, in LOBSTER price units)."""
    odd = [price for price in list(bids) + list(asks) if price % tick]
    if odd:
        raise ValueError(f"orderbook price {odd[0]} is not a multiple of the tick {tick}")
    return levels_book(np.array(list(bids), np.int64) // tick, np.array(list(bids.values()), np.int64),
                       np.array(list(asks), np.int64) // tick, np.array(list(asks.values()), np.int64),
                       band)


@dataclass
class LobsterReport:
    """What `replay` found.

    Attributes
    ----------
    messages : int
        Messages applied.
    rows_compared : int
        Orderbook rows compared with the replayed book (one per message applied).
    rows_differing : int
        Rows whose top `levels` levels differ from the file.
    first_differing_row : int or None
        1-based line of the first differing orderbook row.
    first_difference : str or None
        What differed there (file vs engine).
    levels : int
        Levels compared per side.
    tick : int
        LOBSTER price units per engine tick.
    book : engine.Book
        The book after `stop_at` messages (after all of them when `stop_at` is None).
    executions : numpy.ndarray
        FILL_DTYPE rows for the visible executions (type 4): maker id as in the file
        (pre-existing orders keep their LOBSTER id), ``taker_id`` -1.
    hidden_executions, cross_trades, halts : int
        Counts of messages of types 5, 6, 7 (they do not change the visible book).
    pre_existing_messages : int
        Messages naming an order the file never created (applied to the seeded volume).
    unseen_pre_existing : int
        Of those, messages on levels no row had shown yet (nothing seeded there to
        change; the level's volume is discovered when it comes into view).
    rejected : int
        Other engine operations rejected (a deletion of an order the book does not
        hold, ...); 0 for a consistent file.
    short_reductions : int
        Cancellations and executions that found less volume resting than they name.
    discovered_levels, discovered_volume : int
        Levels that came into view for the first time holding volume no message
        explains (orders resting since before the file began, deeper than the first
        row showed), and that volume; added as synthetic orders at the head of the queue.
    executed_volume : int
        Lots the book traded for the file's visible executions (equal to the file's
        type-4 volume for a consistent file).
    engine_trades : int
        Fills the engine made itself (a new order crossing the book), beyond the
        executions the file reports; 0 for a consistent file.
    parse_seconds, engine_seconds, check_seconds : float
        Time to load the files, to run the messages through the book in one batch, and
        to step through them comparing every row.
    """

    messages: int
    rows_compared: int
    rows_differing: int
    first_differing_row: int | None
    first_difference: str | None
    levels: int
    tick: int
    book: object
    executions: np.ndarray
    hidden_executions: int = 0
    cross_trades: int = 0
    halts: int = 0
    pre_existing_messages: int = 0
    unseen_pre_existing: int = 0
    rejected: int = 0
    short_reductions: int = 0
    engine_trades: int = 0
    executed_volume: int = 0
    parse_seconds: float = 0.0
    engine_seconds: float = 0.0
    check_seconds: float = 0.0
    discovered_levels: int = 0
    discovered_volume: int = 0

    @property
    def agreement(self):
        """Fraction of compared rows that agree with the file."""
        return 1.0 if not self.rows_compared else 1 - self.rows_differing / self.rows_compared

    @property
    def messages_per_second(self):
        """Messages per second of engine time."""
        return self.messages / self.engine_seconds if self.engine_seconds > 0 else math.inf

    def summary(self):
        """A few lines for people."""
        lines = [
            f"LOBSTER replay: {self.messages:,} messages, top {self.levels} levels compared, tick {self.tick}",
            f"  rows compared {self.rows_compared:,}, differing {self.rows_differing:,} "
            f"(agreement {100 * self.agreement:.3f}%)",
        ]
        if self.first_differing_row is not None:
            lines.append(f"  first differing row: line {self.first_differing_row}: {self.first_difference}")
        lines.append(f"  executions {len(self.executions):,}, hidden {self.hidden_executions:,}, "
                     f"cross trades {self.cross_trades:,}, halts {self.halts:,}, "
                     f"messages on pre-existing orders {self.pre_existing_messages:,} "
                     f"({self.unseen_pre_existing:,} before their level came into view)")
        lines.append(f"  pre-existing volume discovered at {self.discovered_levels:,} levels "
                     f"({self.discovered_volume:,} shares) as it came into view")
        lines.append(f"  engine rejects {self.rejected:,}, short reductions {self.short_reductions:,}, "
                     f"engine-made trades {self.engine_trades:,}, executed through the book "
                     f"{self.executed_volume:,} of {int(self.executions['qty'].sum()):,} lots")
        return "\n".join(lines)


def _program(messages, tick):
    """Engine operations for the book-changing messages and, per message, the end of its
    slice of operations."""
    kind = messages["type"]
    count = len(kind)
    index = np.arange(count)
    ids = messages["id"]
    price = messages["price"] // tick
    side = messages["direction"].astype(np.int8)
    changes = kind <= EXECUTE
    # An order is pre-existing when it is named before (or without) its type-1 message.
    new_rows = np.flatnonzero(kind == NEW)
    new_ids, first = np.unique(ids[new_rows], return_index=True)
    first_new = new_rows[first]
    touch = (kind >= PARTIAL_CANCEL) & (kind <= EXECUTE)
    where = np.minimum(np.searchsorted(new_ids, ids), max(len(new_ids) - 1, 0))
    known = (len(new_ids) > 0) & (new_ids[where] == ids) if len(new_ids) else np.zeros(count, bool)
    created_before = known & (first_new[where] < index) if len(new_ids) else known
    pre_existing = touch & ~created_before
    op_ids = np.where(pre_existing, level_id(price, side), ids)

    rows = np.flatnonzero(changes)
    ops = empty_orders(len(rows))
    ops["id"] = op_ids[rows]
    ops["side"] = side[rows]
    ops["price"] = price[rows]
    ops["qty"] = messages["size"][rows]
    # A deletion of a pre-existing order takes its size off the level's seeded volume; an
    # execution trades the named order (or the level's seeded volume) through the book.
    ops["kind"] = np.select([kind[rows] == NEW, (kind[rows] == DELETE) & ~pre_existing[rows],
                             kind[rows] == EXECUTE], [LIMIT, CANCEL, engine.EXECUTE], REDUCE)
    op_end = np.cumsum(changes)
    return ops, op_end, pre_existing, rows


def replay(message_csv, orderbook_csv, levels=None, stop_at=None, *, tick=None, band_fraction=0.5,
           check=True):
    """Replay a LOBSTER message file through ``engine.Book`` and compare with its orderbook.

    The book is seeded from the first orderbook row with the first message undone, so
    that every message, the first included, is applied and every row compared.

    Parameters
    ----------
    message_csv, orderbook_csv : str or os.PathLike
        The two LOBSTER files.
    levels : int, optional
        Levels per side to compare (default: all the orderbook file has).
    stop_at : int, optional
        Apply only the first `stop_at` messages; the report's book is the book then.
    tick : int, optional
        LOBSTER price units (dollars x 10000) per engine tick; default: the greatest
        common divisor of all prices (one cent for most NASDAQ files).
    band_fraction : float, optional
        Room either side of the prices seen, as a fraction of the price.
    check : bool, optional
        Compare every row (the slow, per-message pass).  When false only the batch
        run is made and nothing is compared.

    Returns
    -------
    LobsterReport

    Raises
    ------
    FormatError
        On a malformed line, or when the two files have different row counts.
    ValueError
        For `levels` beyond the file's depth, or a price that is not a multiple of `tick`.
    """
    started = time.perf_counter()
    messages = read_messages(message_csv)
    book_rows = read_orderbook(orderbook_csv)
    parse_seconds = time.perf_counter() - started
    count = len(messages["type"])
    if book_rows.shape[0] != count:
        raise FormatError(orderbook_csv, None, None,
                          f"{book_rows.shape[0]} rows, but the message file has {count} messages")
    depth = book_rows.shape[1] // 4
    levels = depth if levels is None else int(levels)
    if not 1 <= levels <= depth:
        raise ValueError(f"levels must be in 1..{depth} (the orderbook file's depth), got {levels}")
    stop = count if stop_at is None else int(stop_at)
    if not 0 <= stop <= count:
        raise ValueError(f"stop_at must be in 0..{count}, got {stop_at}")
    if count == 0:
        raise FormatError(message_csv, None, None, "no messages")
    if tick is None:
        tick = _tick_of(messages, book_rows[0])
    odd = np.flatnonzero((messages["type"] <= EXECUTE) & (messages["price"] % tick != 0))
    if len(odd):
        raise ValueError(f"{message_csv}:{int(odd[0]) + 1}: price {int(messages['price'][odd[0]])} "
                         f"is not a multiple of tick {tick}")

    ops, op_end, pre_existing, op_rows = _program(messages, tick)
    bids, asks = _levels_of_row(book_rows[0], depth)
    _undo_first(messages, bids, asks)
    visible = book_rows[:stop + 1, 0::2]
    visible = visible[(visible != EMPTY_ASK) & (visible != EMPTY_BID) & (visible > 0)]
    prices = np.concatenate([np.array(list(bids) + list(asks), np.int64), visible,
                             messages["price"][messages["type"] <= EXECUTE]]) // tick
    band = band_around(int(prices.min()), int(prices.max()), band_fraction) if len(prices) else (1, 2)

    n_ops = int(op_end[stop - 1]) if stop else 0
    checked = None
    if check:
        started = time.perf_counter()
        checked = _check_rows(_seed(bids, asks, tick, band), ops, op_end, stop, book_rows, levels, tick)
        check_seconds = time.perf_counter() - started
        program = checked["program"]
    else:
        check_seconds = 0.0
        program = np.ascontiguousarray(ops[:n_ops])

    # Engine time: the whole program in one batch on a fresh seeded book.
    book = _seed(bids, asks, tick, band)
    started = time.perf_counter()
    batch = book.submit(program)
    engine_seconds = time.perf_counter() - started
    requested = program["qty"]
    named = (program["kind"] == REDUCE) | (program["kind"] == CANCEL)
    executed = program["kind"] == engine.EXECUTE
    # A deletion carries the size it removes: less resting than that is short, as for a
    # reduction; likewise an execution that finds less resting than it trades.
    short = int(np.count_nonzero(named & (batch.reject == 0) & (batch.cancelled < requested))
                + np.count_nonzero(executed & (batch.reject == 0) & (batch.filled < requested)))
    # Messages on pre-existing orders at levels no row has shown yet find no seeded volume.
    unseen = (program["id"] < 0) & (batch.reject == int(engine.Reject.UNKNOWN_ID))

    kinds = messages["type"][:stop]
    execute_rows = np.flatnonzero(kinds == EXECUTE)
    executions = np.zeros(len(execute_rows), FILL_DTYPE)
    executions["taker_id"] = -1
    executions["maker_id"] = messages["id"][execute_rows]
    executions["price"] = messages["price"][execute_rows] // tick
    executions["qty"] = messages["size"][execute_rows]
    executions["taker_owner"] = -1
    executions["maker_owner"] = -1
    executions["taker_side"] = -messages["direction"][execute_rows]

    report = LobsterReport(
        messages=stop, rows_compared=0, rows_differing=0, first_differing_row=None,
        first_difference=None, levels=levels, tick=tick, book=book, executions=executions,
        hidden_executions=int(np.count_nonzero(kinds == HIDDEN_EXECUTE)),
        cross_trades=int(np.count_nonzero(kinds == CROSS_TRADE)),
        halts=int(np.count_nonzero(kinds == HALT)),
        pre_existing_messages=int(np.count_nonzero(pre_existing[:stop])),
        rejected=int(np.count_nonzero((batch.reject != 0) & ~unseen)), unseen_pre_existing=int(unseen.sum()),
        short_reductions=short, executed_volume=int(batch.filled[executed].sum()),
        engine_trades=int(np.count_nonzero(batch.fills["taker_id"] != -1)), parse_seconds=parse_seconds,
        engine_seconds=engine_seconds, check_seconds=check_seconds)
    if checked is not None:
        report.rows_compared = stop
        report.rows_differing = checked["rows_differing"]
        report.first_differing_row = checked["first_differing_row"]
        report.first_difference = checked["first_difference"]
        report.discovered_levels = checked["discovered_levels"]
        report.discovered_volume = checked["discovered_volume"]
        if book.snapshot()["qty"].tolist() != checked["book"].snapshot()["qty"].tolist():
            raise AssertionError("the batch run of the replay program ended in a different book "
                                 "than the checked run")
    return report


def _undo_first(messages, bids, asks):
    """Turn the levels after the first message into the levels before it."""
    kind = int(messages["type"][0])
    if kind > EXECUTE:
        return
    side = bids if messages["direction"][0] == BUY else asks
    price, size = int(messages["price"][0]), int(messages["size"][0])
    if kind == NEW:
        left = side.get(price, 0) - size
        if left > 0:
            side[price] = left
        else:
            side.pop(price, None)
    else:
        side[price] = side.get(price, 0) + size


def _windows(book_rows, stop):
    """Per row, the furthest ask and bid price the file shows (all of a side when it has
    fewer than N levels); a running max/min gives the prices seen so far."""
    depth = book_rows.shape[1] // 4
    rows = book_rows[:stop]
    ask_full = rows[:, 4 * (depth - 1) + 1] > 0
    bid_full = rows[:, 4 * (depth - 1) + 3] > 0
    ask_reach = np.where(ask_full, rows[:, 4 * (depth - 1)], np.iinfo(np.int64).max)
    bid_reach = np.where(bid_full, rows[:, 4 * (depth - 1) + 2], np.iinfo(np.int64).min)
    return np.maximum.accumulate(ask_reach), np.minimum.accumulate(bid_reach)


def _check_rows(book, ops, op_end, stop, book_rows, levels, tick):
    """Step message by message comparing every row; discover pre-existing volume.

    A level that comes into view for the first time (beyond every level any earlier
    row showed) may hold orders resting since before the file began, which no message
    has created: the volume there that the book cannot explain is added as a synthetic
    order at the head of its queue.  Returns the program actually run (messages'
    operations with the discoveries inserted) and the comparison.
    """
    depth = book_rows.shape[1] // 4
    expected = book_rows[:stop]
    ours = np.empty((stop, 4 * levels), np.int64)
    ask_seen, bid_seen = _windows(book_rows, stop)
    submit = book.submit
    get_depth = book.depth
    pieces = []
    discovered_levels = discovered_volume = 0
    begin = 0
    for i in range(stop):
        end = op_end[i]
        if end > begin:
            submit(ops[begin:end])
            pieces.append(ops[begin:end])
            begin = end
        ask_p, ask_q = get_depth(SELL, depth)
        bid_p, bid_q = get_depth(BUY, depth)
        row = expected[i]
        if i and not (len(ask_p) == len(bid_p) == depth and np.array_equal(ask_p * tick, row[0::4])
                      and np.array_equal(ask_q, row[1::4]) and np.array_equal(bid_p * tick, row[2::4])
                      and np.array_equal(bid_q, row[3::4])):
            added = _discover(book, row, ask_seen[i - 1], bid_seen[i - 1], tick)
            if added is not None:
                pieces.append(added[0])
                discovered_levels += added[1]
                discovered_volume += added[2]
                ask_p, ask_q = get_depth(SELL, depth)
                bid_p, bid_q = get_depth(BUY, depth)
        mine = ours[i]
        mine[0::4] = EMPTY_ASK
        mine[2::4] = EMPTY_BID
        mine[1::4] = 0
        mine[3::4] = 0
        n_ask, n_bid = min(len(ask_p), levels), min(len(bid_p), levels)
        mine[0:4 * n_ask:4] = ask_p[:n_ask] * tick
        mine[1:4 * n_ask:4] = ask_q[:n_ask]
        mine[2:4 * n_bid + 2:4] = bid_p[:n_bid] * tick
        mine[3:4 * n_bid + 3:4] = bid_q[:n_bid]
    differ = np.any(ours != expected[:, :4 * levels], axis=1)
    out = {"book": book, "rows_differing": int(np.count_nonzero(differ)), "first_differing_row": None,
           "first_difference": None, "discovered_levels": discovered_levels,
           "discovered_volume": discovered_volume,
           "program": np.ascontiguousarray(np.concatenate(pieces)) if pieces else ops[:0].copy()}
    if out["rows_differing"]:
        row = int(np.flatnonzero(differ)[0])
        columns = np.flatnonzero(ours[row] != expected[row, :4 * levels])
        names = [f"{('AskPrice', 'AskSize', 'BidPrice', 'BidSize')[c % 4]}{c // 4 + 1}" for c in columns]
        out["first_differing_row"] = row + 1
        out["first_difference"] = ", ".join(
            f"{name} file {int(expected[row, c])} engine {int(ours[row, c])}"
            for name, c in zip(names[:4], columns[:4]))
    return out


def _discover(book, row, ask_seen, bid_seen, tick):
    """Synthetic orders for the unexplained volume of levels seen for the first time."""
    rows = []
    levels = volume = 0
    for side, prices, qtys, new in ((SELL, row[0::4], row[1::4], row[0::4] > ask_seen),
                                    (BUY, row[2::4], row[3::4], row[2::4] < bid_seen)):
        for price, qty in zip(prices[new & (qtys > 0)].tolist(), qtys[new & (qtys > 0)].tolist()):
            ticks = price // tick
            queue_ids, queue_qtys, queue_owners = book.queue(ticks)
            missing = qty - int(queue_qtys.sum())
            if missing <= 0:
                continue
            # Pre-existing orders are older than any the file created: head of the queue.
            for order_id in queue_ids.tolist():
                book.cancel(order_id)
                rows.append((order_id, 0, 0, -1, 0, CANCEL, 0))
            synthetic = level_id(ticks, side)
            book.limit(synthetic, side, ticks, missing)
            rows.append((synthetic, ticks, missing, -1, side, LIMIT, 0))
            for order_id, left, owner in zip(queue_ids.tolist(), queue_qtys.tolist(), queue_owners.tolist()):
                book.limit(order_id, side, ticks, left, owner)
                rows.append((order_id, ticks, left, owner, side, LIMIT, 0))
            levels += 1
            volume += missing
    if not rows:
        return None
    return np.array(rows, dtype=ORDER_DTYPE), levels, volume


class LobsterWriter:
    """Record an engine run as LOBSTER message and orderbook files.

    Every order sent goes through `book` (a marketable one is written as one type-4
    execution per maker it trades with, then a type-1 message for what rests), and
    after every message the book's top `levels` levels are written as its orderbook
    row.  Orders already resting in `book` when the writer starts are, for the files,
    orders that were resting before they began.

    Parameters
    ----------
    book : engine.Book
        The book to run (it is changed).
    message_csv, orderbook_csv : str or os.PathLike
        Files to write.
    levels : int, optional
        Orderbook depth N.
    tick : int, optional
        LOBSTER price units (dollars x 10000) per engine tick; 100 makes a tick a cent.
    """

    def __init__(self, book, message_csv, orderbook_csv, levels=10, tick=100):
        self.book = book
        self.levels = int(levels)
        self.tick = int(tick)
        self.messages_written = 0
        self._messages = open(message_csv, "w")
        self._orderbook = open(orderbook_csv, "w")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Flush and close both files."""
        self._messages.close()
        self._orderbook.close()

    def _row(self, asks, bids):
        ask_p, ask_q = asks
        bid_p, bid_q = bids
        cells = []
        for level in range(self.levels):
            if level < len(ask_p):
                cells += [int(ask_p[level]) * self.tick, int(ask_q[level])]
            else:
                cells += [EMPTY_ASK, 0]
            if level < len(bid_p):
                cells += [int(bid_p[level]) * self.tick, int(bid_q[level])]
            else:
                cells += [EMPTY_BID, 0]
        return ",".join(map(str, cells))

    def _write(self, time_ns, kind, order_id, size, price, direction, row):
        seconds, nanos = divmod(int(time_ns), 10 ** TIME_SCALE)
        self._messages.write(f"{seconds}.{nanos:09d},{kind},{order_id},{size},{price},{direction}\n")
        self._orderbook.write(row + "\n")
        self.messages_written += 1

    def _current_row(self):
        return self._row(self.book.depth(SELL, self.levels), self.book.depth(BUY, self.levels))

    def send(self, order, time_ns):
        """Run one ORDER_DTYPE row (LIMIT, MARKET, IOC, FOK, CANCEL or REDUCE) and write
        its messages.

        Parameters
        ----------
        order : numpy.void or numpy.ndarray
            One ORDER_DTYPE row.
        time_ns : int
            Nanoseconds after midnight.

        Returns
        -------
        engine.BatchResult

        Raises
        ------
        ValueError
            If the engine rejects the order.
        """
        batch_row = np.array([order], ORDER_DTYPE).reshape(1)
        kind = int(batch_row["kind"][0])
        order_id = int(batch_row["id"][0])
        if kind in (CANCEL, REDUCE):
            target = self.book.order(order_id)
            result = self.book.submit(batch_row)
            if result.reject[0]:
                raise ValueError(f"order {order_id} rejected: reason {int(result.reject[0])}")
            side, price, _, _ = target
            gone = int(result.cancelled[0])
            message = DELETE if kind == CANCEL or result.remaining[0] == 0 else PARTIAL_CANCEL
            self._write(time_ns, message, order_id, gone, price * self.tick, side, self._current_row())
            return result
        side = int(batch_row["side"][0])
        # What the taker can reach, to write the book after each execution.
        before = self.book.depth(-side, self.levels + int(batch_row["qty"][0]))
        same_side = self.book.depth(side, self.levels)
        result = self.book.submit(batch_row)
        if result.reject[0]:
            raise ValueError(f"order {order_id} rejected: reason {int(result.reject[0])}")
        prices, qtys = before[0].copy(), before[1].copy()
        for fill in result.fills:
            level = int(np.flatnonzero(prices == fill["price"])[0])
            qtys[level] -= fill["qty"]
            keep = qtys > 0
            view = (prices[keep][:self.levels], qtys[keep][:self.levels])
            row = self._row(view, same_side) if side == BUY else self._row(same_side, view)
            self._write(time_ns, EXECUTE, int(fill["maker_id"]), int(fill["qty"]),
                        int(fill["price"]) * self.tick, -side, row)
        if result.remaining[0] > 0:
            self._write(time_ns, NEW, order_id, int(result.remaining[0]),
                        int(batch_row["price"][0]) * self.tick, side, self._current_row())
        return result

    def execute(self, order_id, qty, time_ns):
        """Execute `qty` lots of the resting order `order_id` directly (a type-4 message
        naming a maker that need not be first in its queue).

        Returns
        -------
        int
            Lots left on the order.
        """
        side, price, resting, _ = self.book.order(order_id)
        self.book.execute(order_id, qty)
        self.book.take_fills()
        self._write(time_ns, EXECUTE, order_id, qty, price * self.tick, side, self._current_row())
        return resting - min(qty, resting)

    def hidden_execution(self, time_ns, size, price, direction):
        """Write a type-5 message (a hidden order executed; the visible book is unchanged)."""
        self._write(time_ns, HIDDEN_EXECUTE, 0, size, price * self.tick, direction, self._current_row())

    def cross_trade(self, time_ns, size, price, cross_id=0):
        """Write a type-6 message (an auction cross; the visible book is unchanged)."""
        self._write(time_ns, CROSS_TRADE, cross_id, size, price * self.tick, -1, self._current_row())

    def halt(self, time_ns, code=-1):
        """Write a type-7 message: `code` -1 halt, 0 quoting, 1 trading resumes."""
        self._write(time_ns, HALT, 0, 0, code, -1, self._current_row())


def generate(message_csv, orderbook_csv, messages=2_000, *, seed=0, levels=10, tick=100,
             resting=200, resting_depth=None, mid=58_500, start_ns=34_200 * 10 ** 9):
    """Write a LOBSTER file pair recorded from a random engine run (for tests and benchmarks).

    The run starts from a book of `resting` orders that the files never create (the
    pre-existing-order case) and uses every message type: new limit orders (some
    marketable, written as executions), partial cancellations, deletions, executions
    (of the queue head and of named orders), hidden executions, cross trades and a
    trading halt.

    Parameters
    ----------
    message_csv, orderbook_csv : str or os.PathLike
        Files to write.
    messages : int, optional
        Approximate number of engine operations (marketable orders write several messages).
    seed : int, optional
        Seed of the random stream; same seed, same files.
    levels : int, optional
        Orderbook depth written.
    tick : int, optional
        LOBSTER price units per tick.
    resting : int, optional
        Orders resting before the files begin.
    resting_depth : int, optional
        They rest at 1..`resting_depth` ticks from `mid` (default ``levels // 2``: all
        visible in the first row; deeper ones come into view only as prices move).
    mid : int, optional
        Mid price in ticks.
    start_ns : int, optional
        Time of the first message, nanoseconds after midnight (default 9:30).

    Returns
    -------
    engine.Book
        The book at the end of the run.
    """
    rng = np.random.default_rng(seed)
    resting_depth = levels // 2 if resting_depth is None else int(resting_depth)
    book = engine.Book(mid // 2, mid * 2)
    live = []
    next_id = 1_000_000
    for i in range(resting):
        side = BUY if i % 2 == 0 else SELL
        price = mid - side * int(rng.integers(1, resting_depth + 1))
        book.limit(next_id, side, price, int(rng.integers(1, 20)) * 100)
        live.append(next_id)
        next_id += 1
    now = start_ns
    halted_at = messages // 2
    with LobsterWriter(book, message_csv, orderbook_csv, levels=levels, tick=tick) as writer:
        for step in range(messages):
            now += int(rng.integers(1, 5_000_000))
            roll = rng.random()
            if step == halted_at:
                writer.halt(now, -1)
                writer.halt(now + 1, 0)
                writer.halt(now + 2, 1)
                continue
            while live and book.order(live[-1]) is None:
                live.pop()
            if roll < 0.45 or len(live) < 10:
                side = BUY if rng.random() < 0.5 else SELL
                best = book.best_ask() if side == BUY else book.best_bid()
                offset = int(rng.integers(-2, 3 * levels))    # a few cross the spread
                price = (best if best is not None else mid) - side * offset
                order = np.zeros(1, ORDER_DTYPE)[0]
                order["id"], order["side"], order["kind"] = next_id, side, LIMIT
                order["price"], order["qty"], order["owner"] = price, int(rng.integers(1, 10)) * 100, -1
                writer.send(order, now)
                if book.order(next_id) is not None:
                    live.append(next_id)
                next_id += 1
                continue
            pick = int(rng.integers(0, len(live)))
            target = live[pick]
            state = book.order(target)
            if state is None:
                live[pick] = live[-1]
                live.pop()
                continue
            side, price, qty, _ = state
            order = np.zeros(1, ORDER_DTYPE)[0]
            order["owner"] = -1
            if roll < 0.65:
                order["id"], order["kind"] = target, CANCEL
                writer.send(order, now)
            elif roll < 0.78 and qty > 1:
                order["id"], order["kind"], order["qty"] = target, REDUCE, int(rng.integers(1, qty))
                writer.send(order, now)
            elif roll < 0.86:
                writer.execute(target, int(rng.integers(1, qty + 1)), now)
            elif roll < 0.94:
                order["id"], order["kind"] = next_id, engine.MARKET
                order["side"], order["qty"] = -side, int(rng.integers(1, 15)) * 100
                next_id += 1
                writer.send(order, now)
            elif roll < 0.97:
                writer.hidden_execution(now, int(rng.integers(1, 10)) * 100, price, side)
            else:
                writer.cross_trade(now, int(rng.integers(1, 100)) * 100, price, next_id)
                next_id += 1
    return book
