"""Bitstamp order-level log (2015 websocket feed): loader, replay, snapshot seeding.

One record a line, ``<local_ms> <event> <json>``: ``order_created``, ``order_changed``,
``order_deleted`` (``price``, ``amount`` = what remains, ``id``, ``order_type`` 0 bid /
1 ask), ``trade`` (``price``, ``amount``) and ``order_book`` (the exchange's top-20
``bids``/``asks``).  Tick 0.01 USD, lot 1e-8 BTC.

Orders resting before the log began appear only in the snapshots, so the replay is
honest about what it can know:

- it starts at the first snapshot, seeding each of its levels as one synthetic order
  (id ``level_id(price, side)``) standing for volume whose orders are unknown;
- ``order_created`` is a limit order through the engine (a crossing one trades, as it
  did on the exchange); ``order_changed`` sets a known order's remaining amount;
  ``order_deleted`` cancels it.  An event for an order the log never created is a
  pre-existing order: a deletion with an amount left takes that amount off its
  level's synthetic volume; fills of pre-existing orders happen through the engine's
  own matching;
- at each later snapshot, price levels further from the touch than any snapshot has
  reached before are seen for the first time: the volume there that no known order
  explains is pre-existing and is added as a synthetic order at the head of its queue
  ("discovered").  Levels once seen are never adjusted again, and the comparison with
  every snapshot is made after discovery, so every disagreement counted is the
  replay's own.
"""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
import math
import time
from dataclasses import dataclass

import numpy as np

from engine import BUY, SELL, LIMIT, CANCEL, REDUCE, ORDER_DTYPE
from engine.io._common import band_around, level_id, levels_book, touch_mid
from engine.io.decimals import FormatError, open_text, parse_fixed, to_units

__all__ = ["load", "replay", "snapshot_book", "BitstampData", "BitstampReport",
           "PRICE_SCALE", "QTY_SCALE", "DEPTH"]

PRICE_SCALE = 2     # tick 0.01 USD
QTY_SCALE = 8       # lot 1e-8 BTC
DEPTH = 20          # levels a side in the exchange's snapshots
# A snapshot may be taken a few events ahead of where the event log has got to.
SKEW_EVENTS = 5

CREATED, CHANGED, DELETED, SNAPSHOT, TRADE = 1, 2, 3, 4, 5
_EVENTS = {"order_created": CREATED, "order_changed": CHANGED, "order_deleted": DELETED,
           "order_book": SNAPSHOT, "trade": TRADE}


@dataclass
class BitstampData:
    """A loaded Bitstamp log as numpy columns.

    Attributes
    ----------
    path : str
    kind, line : numpy.ndarray
        Per record: CREATED, CHANGED, DELETED, SNAPSHOT or TRADE; its line.
    order_id, side, price, amount : numpy.ndarray of int64
        Per record (order events; price and amount also for trades, 0 for snapshots).
    snapshot_row : numpy.ndarray of int64
        Per record, the row of `snapshot_bids` (-1 for other records).
    snapshot_bids, snapshot_asks : tuple of numpy.ndarray
        ``(prices, qtys)``, each ``(snapshots, DEPTH)``, best first, zero-padded.
    """

    path: str
    kind: np.ndarray
    line: np.ndarray
    order_id: np.ndarray
    side: np.ndarray
    price: np.ndarray
    amount: np.ndarray
    snapshot_row: np.ndarray
    snapshot_bids: tuple
    snapshot_asks: tuple


def _levels(path, line, data, name):
    try:
        levels = data[name]
    except KeyError:
        raise FormatError(path, line, name, "missing") from None
    if not isinstance(levels, list) or len(levels) > DEPTH:
        raise FormatError(path, line, name, f"expected a list of at most {DEPTH} [price, amount]")
    for entry in levels:
        if not isinstance(entry, list) or len(entry) != 2 or not all(isinstance(x, str) for x in entry):
            raise FormatError(path, line, name, f"expected [price, amount] strings, got {entry!r}")
    return levels


def _plain(text):
    if "e" not in text and "E" not in text:
        return text
    try:
        return format(Decimal(text), "f")
    except InvalidOperation:
        return text


def _column(texts, is_trade, scale, path, lines, name):
    """Parse a column exactly, except trade records' binary-float text, which is rounded."""
    out = np.zeros(len(texts), np.int64)
    text = np.array(texts, dtype=object)
    for mask, rounding in ((~is_trade, False), (is_trade, True)):
        if mask.any():
            column = text[mask].astype(str)
            if rounding:
                # Float reprs may use exponents ("9.9999999999999995e-07"): expand them as
                # exact decimals (the decimal module reads the text, no float involved).
                column = np.array([_plain(t) for t in column.tolist()])
            out[mask] = parse_fixed(column, scale, path=path, lines=lines[mask],
                                    field=name, rounding=rounding)
    return out


def load(path):
    """Load a Bitstamp log (``.xz`` allowed), prices and amounts exactly as integers.

    Trade records print binary floats (``1.7885566900000001``); their prices and
    amounts are rounded to the nearest tick and lot.  Every other amount must be exact to the lot.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    BitstampData

    Raises
    ------
    FormatError
        On a malformed line (naming file, line and field).
    """
    path = str(path)
    kinds, lines, ids, sides, prices, amounts, snap_rows = [], [], [], [], [], [], []
    trade_rows = []
    snap_levels = []
    with open_text(path) as handle:
        for number, raw in enumerate(handle, 1):
            parts = raw.split(b" ", 2)
            if len(parts) != 3 or not parts[0].isdigit():
                raise FormatError(path, number, None, "expected '<local_ms> <event> <json>'")
            event = _EVENTS.get(parts[1].decode("ascii", "replace"))
            if event is None:
                raise FormatError(path, number, "event", f"unknown event {parts[1][:40]!r}")
            try:
                data = json.loads(parts[2], parse_float=str)
            except ValueError as error:
                raise FormatError(path, number, None, f"not JSON ({error})") from None
            if not isinstance(data, dict):
                raise FormatError(path, number, None, "expected a JSON object")
            kinds.append(event)
            lines.append(number)
            if event == SNAPSHOT:
                snap_rows.append(len(snap_levels))
                snap_levels.append((number, _levels(path, number, data, "bids"),
                                    _levels(path, number, data, "asks")))
                ids.append(0); sides.append(0); prices.append("0"); amounts.append("0")
                continue
            snap_rows.append(-1)
            try:
                price, amount = data["price"], data["amount"]
            except KeyError as error:
                raise FormatError(path, number, error.args[0], "missing") from None
            if event == TRADE:
                trade_rows.append(len(kinds) - 1)
                ids.append(0); sides.append(0)
            else:
                order_id, order_type = data.get("id"), data.get("order_type")
                if not isinstance(order_id, int) or isinstance(order_id, bool):
                    raise FormatError(path, number, "id", f"expected an integer, got {order_id!r}")
                if isinstance(order_type, bool) or order_type not in (0, 1):
                    raise FormatError(path, number, "order_type", f"expected 0 or 1, got {order_type!r}")
                if not isinstance(price, str) or not isinstance(amount, str):
                    raise FormatError(path, number, "price" if not isinstance(price, str) else "amount",
                                      "expected a decimal string")
                ids.append(order_id)
                sides.append(BUY if order_type == 0 else SELL)
            prices.append(price)
            amounts.append(amount)
    line_array = np.array(lines, np.int64)
    kind_array = np.array(kinds, np.int8)
    is_trade = kind_array == TRADE
    price_array = _column(prices, is_trade, PRICE_SCALE, path, line_array, "price")
    amount_array = _column(amounts, is_trade, QTY_SCALE, path, line_array, "amount")
    orders = kind_array <= DELETED
    bad = np.flatnonzero((orders | is_trade) & ((price_array <= 0) | (amount_array < 0)))
    if len(bad):
        row = int(bad[0])
        raise FormatError(path, int(line_array[row]), "price" if price_array[row] <= 0 else "amount",
                          "must be positive")
    shape = (len(snap_levels), DEPTH)
    bid_p, bid_q, ask_p, ask_q = (np.zeros(shape, np.int64) for _ in range(4))
    for row, (number, bids, asks) in enumerate(snap_levels):
        for target_p, target_q, levels, name in ((bid_p, bid_q, bids, "bids"), (ask_p, ask_q, asks, "asks")):
            if levels:
                at = [number] * len(levels)
                target_p[row, :len(levels)] = parse_fixed([p for p, _ in levels], PRICE_SCALE, path=path,
                                                          lines=at, field=f"{name}.price")
                target_q[row, :len(levels)] = parse_fixed([q for _, q in levels], QTY_SCALE, path=path,
                                                          lines=at, field=f"{name}.amount")
    return BitstampData(path=path, kind=kind_array, line=line_array, order_id=np.array(ids, np.int64),
                        side=np.array(sides, np.int8), price=price_array, amount=amount_array,
                        snapshot_row=np.array(snap_rows, np.int64), snapshot_bids=(bid_p, bid_q),
                        snapshot_asks=(ask_p, ask_q))


def snapshot_book(source, index=0, band_fraction=0.5):
    """A Book seeded with one of the log's top-20 snapshots (one synthetic order a level).

    Parameters
    ----------
    source : str, os.PathLike or BitstampData
    index : int, optional
        Which snapshot (0: the first).
    band_fraction : float, optional
        Band room either side of the mid price, as a fraction of it.

    Returns
    -------
    engine.Book
        Prices in cents, quantities in satoshis.
    """
    data = source if isinstance(source, BitstampData) else load(source)
    bid_p, bid_q = data.snapshot_bids[0][index], data.snapshot_bids[1][index]
    ask_p, ask_q = data.snapshot_asks[0][index], data.snapshot_asks[1][index]
    mid = touch_mid(bid_p[bid_q > 0], ask_p[ask_q > 0])     # rows are zero-padded to 20 levels
    return levels_book(bid_p, bid_q, ask_p, ask_q, band_around(mid, mid, band_fraction))


@dataclass
class BitstampReport:
    """What the Bitstamp replay found.

    Attributes
    ----------
    events : int
        Order events replayed (after the first snapshot).
    skipped_before_first_snapshot : int
        Order events before the first snapshot (their orders count as pre-existing).
    snapshots, snapshots_agreeing, snapshots_top_agreeing : int
        Snapshots compared (all but the seed), those whose 20 levels a side agree
        exactly (price and amount), and those whose best bid and ask agree exactly.
    snapshots_skewed : int
        Snapshots that disagree when they arrive but agree exactly within the next
        `SKEW_EVENTS` order events (the exchange took them ahead of the event log).
    levels_compared, levels_differing : int
        Level slots compared (40 a snapshot) and those that differ.
    first_disagreement : str or None
    discovered_levels, discovered_volume : int
        Levels seen for the first time holding pre-existing volume, and that volume
        (lots); includes the seed snapshot.
    pre_existing_events : int
        Events naming an order the replay never saw created.
    engine_fills, engine_volume : int
        Fills the engine made for crossing orders, and their lots.
    trades, trade_volume : int
        ``trade`` records after the first snapshot and their lots (rounded to the lot).
    revived, increases : int
        Known orders the exchange still showed after the engine had filled them away,
        and amount increases (both re-added at the back of the queue).
    repriced : int
        ``order_changed`` events moving an order to a new price (how the feed shows an
        order sweeping several levels): cancelled and sent again at the new price.
    out_of_order : int
        Orders whose deletion the log has just before their creation (both skipped).
    operations : int
        Engine operations the replay made.
    book : engine.Book
    parse_seconds, engine_seconds, check_seconds : float
    """

    events: int
    skipped_before_first_snapshot: int
    snapshots: int
    snapshots_agreeing: int
    snapshots_top_agreeing: int
    snapshots_skewed: int
    levels_compared: int
    levels_differing: int
    first_disagreement: str | None
    discovered_levels: int
    discovered_volume: int
    pre_existing_events: int
    engine_fills: int
    engine_volume: int
    trades: int
    trade_volume: int
    revived: int
    increases: int
    repriced: int
    out_of_order: int
    operations: int
    book: object
    parse_seconds: float
    engine_seconds: float
    check_seconds: float
    disagreements: list = None

    @property
    def agreement(self):
        """Fraction of snapshots whose 20 levels a side agree exactly."""
        return self.snapshots_agreeing / self.snapshots if self.snapshots else 1.0

    @property
    def messages(self):
        """Order events replayed."""
        return self.events

    @property
    def messages_per_second(self):
        """Engine operations per second of engine time."""
        return self.operations / self.engine_seconds if self.engine_seconds > 0 else math.inf

    def summary(self):
        """A few lines for people."""
        lines = [
            f"Bitstamp replay: {self.events:,} order events after the first snapshot "
            f"({self.skipped_before_first_snapshot} before it), {self.operations:,} engine operations",
            f"  snapshots compared {self.snapshots:,}: top 20 a side identical {self.snapshots_agreeing:,} "
            f"({100 * self.agreement:.2f}%), {self.snapshots_skewed:,} more within {SKEW_EVENTS} events "
            f"({100 * (self.snapshots_agreeing + self.snapshots_skewed) / max(self.snapshots, 1):.2f}%)",
            f"  best bid/ask identical {self.snapshots_top_agreeing:,} "
            f"({100 * self.snapshots_top_agreeing / max(self.snapshots, 1):.2f}%); "
            f"levels differing {self.levels_differing:,} of {self.levels_compared:,} "
            f"({100 * self.levels_differing / max(self.levels_compared, 1):.3f}%)",
            f"  pre-existing volume discovered at {self.discovered_levels:,} levels "
            f"({to_units([self.discovered_volume], QTY_SCALE)[0]} BTC); events on pre-existing orders "
            f"{self.pre_existing_events:,}",
            f"  engine fills {self.engine_fills:,} ({to_units([self.engine_volume], QTY_SCALE)[0]} BTC) vs "
            f"trade records {self.trades:,} ({to_units([self.trade_volume], QTY_SCALE)[0]} BTC); "
            f"revived {self.revived}, increases {self.increases}, repriced {self.repriced}, "
            f"deleted before created {self.out_of_order}",
        ]
        if self.first_disagreement:
            lines.append(f"  first disagreement: {self.first_disagreement}")
        return "\n".join(lines)


class _Recorder:
    """Runs per-call operations on a book and keeps them as ORDER_DTYPE rows, so the
    exact same program can be timed as one batch afterwards."""

    def __init__(self, book):
        self.book = book
        self.rows = []

    def limit(self, order_id, side, price, qty):
        self.rows.append((order_id, price, qty, -1, side, LIMIT, 0))
        return self.book.limit(order_id, side, price, qty)

    def reduce(self, order_id, qty):
        self.rows.append((order_id, 0, qty, -1, 0, REDUCE, 0))
        return self.book.reduce(order_id, qty)

    def cancel(self, order_id):
        self.rows.append((order_id, 0, 0, -1, 0, CANCEL, 0))
        return self.book.cancel(order_id)

    def program(self):
        return np.array(self.rows, dtype=ORDER_DTYPE)


def replay(path, band_fraction=0.5, keep_disagreements=0):
    """Replay a Bitstamp log through ``engine.Book`` and compare with every snapshot.

    See the module docstring for how orders resting before the log began are handled.
    The operations the replay makes are then run again as one batch on a fresh seeded
    book to time the engine alone (the check confirms both runs end in the same book).

    Parameters
    ----------
    path : str, os.PathLike or BitstampData
        The log, or its data already loaded.
    band_fraction : float, optional
        Band room either side of the first snapshot's mid price.
    keep_disagreements : int, optional
        Describe up to this many disagreeing snapshots in ``report.disagreements``.

    Returns
    -------
    BitstampReport

    Raises
    ------
    FormatError
        On a malformed line, or a log without snapshots.
    """
    started = time.perf_counter()
    data = path if isinstance(path, BitstampData) else load(path)
    parse_seconds = time.perf_counter() - started
    snapshots = np.flatnonzero(data.kind == SNAPSHOT)
    if not len(snapshots):
        raise FormatError(data.path, None, "order_book", "no snapshot in the log")
    first = int(snapshots[0])
    started = time.perf_counter()
    bid_p, bid_q = data.snapshot_bids
    ask_p, ask_q = data.snapshot_asks
    seed = snapshot_book(data, 0, band_fraction)
    lo, hi = seed.band
    recorder = _Recorder(snapshot_book(data, 0, band_fraction))
    book = recorder.book
    created = set()
    takers = set()      # orders that traded on arrival
    pre_existing = {}   # id -> last amount seen, for orders the log never created
    credit = {}         # synthetic id -> lots the engine matched away, not yet explained
    early_deletions = set()  # deleted just before their creation
    all_fills = []
    pending, waited = None, 0   # a disagreeing snapshot, and order events since it
    disagreements = []
    first_disagreement = None
    counts = dict(pre_existing=0, revived=0, increases=0, events=0, compared=0, agreeing=0, top=0,
                  levels_differing=0, skewed=0, repriced=0, out_of_order=0,
                  discovered=int(np.count_nonzero(bid_q[0]) + np.count_nonzero(ask_q[0])),
                  discovered_volume=int(bid_q[0].sum() + ask_q[0].sum()))

    def send(order_id, side, price, amount):
        # A limit that trades on arrival: remember what it took from pre-existing volume.
        if recorder.limit(order_id, side, price, amount):
            takers.add(order_id)
            fills = book.take_fills()
            all_fills.append(fills)
            for maker, qty in zip(fills["maker_id"].tolist(), fills["qty"].tolist()):
                if maker < 0:
                    credit[maker] = credit.get(maker, 0) + qty

    # Snapshots have shown every bid at or above bid_floor and every ask at or below ask_ceiling.
    bid_floor = int(bid_p[0][bid_q[0] > 0].min()) if bid_q[0].any() else hi + 1
    ask_ceiling = int(ask_p[0][ask_q[0] > 0].max()) if ask_q[0].any() else lo - 1
    kinds = data.kind.tolist()
    ids = data.order_id.tolist()
    sides = data.side.tolist()
    prices = data.price.tolist()
    amounts = data.amount.tolist()
    rows = data.snapshot_row.tolist()
    for i in range(first + 1, len(kinds)):
        kind = kinds[i]
        if pending is not None and kinds[i - 1] <= DELETED:
            # A snapshot the event stream had not caught up with: does it match a few events on?
            if _agrees(book, pending):
                counts["skewed"] += 1
                pending = None
            else:
                waited += 1
                pending = None if waited >= SKEW_EVENTS else pending
        if kind == TRADE:
            continue
        if kind == SNAPSHOT:
            pending = None
            row = rows[i]
            bid_floor, ask_ceiling = _discover(recorder, counts, bid_p[row], bid_q[row], ask_p[row], ask_q[row],
                                               bid_floor, ask_ceiling)
            ours_bid = book.depth(BUY, DEPTH)
            ours_ask = book.depth(SELL, DEPTH)
            differing = (_level_mismatch(ours_bid, bid_p[row], bid_q[row])
                         + _level_mismatch(ours_ask, ask_p[row], ask_q[row]))
            counts["compared"] += 1
            counts["levels_differing"] += differing
            if differing == 0:
                counts["agreeing"] += 1
            else:
                pending = (bid_p[row], bid_q[row], ask_p[row], ask_q[row])
                waited = 0
                if first_disagreement is None or len(disagreements) < keep_disagreements:
                    described = _describe(data, i, ours_bid, ours_ask, row)
                    first_disagreement = first_disagreement or described
                    if len(disagreements) < keep_disagreements:
                        disagreements.append(described)
            if (_level_mismatch((ours_bid[0][:1], ours_bid[1][:1]), bid_p[row][:1], bid_q[row][:1]) == 0
                    and _level_mismatch((ours_ask[0][:1], ours_ask[1][:1]), ask_p[row][:1], ask_q[row][:1]) == 0):
                counts["top"] += 1
            continue
        counts["events"] += 1
        order_id, side, price, amount = ids[i], sides[i], prices[i], amounts[i]
        if kind == CREATED:
            created.add(order_id)
            if order_id in early_deletions:
                continue
            if book.order(order_id) is None and lo <= price <= hi:
                send(order_id, side, price, amount)
            continue
        state = book.order(order_id)
        if order_id not in created and kind == DELETED and _created_soon(kinds, ids, i, order_id):
            # The log sometimes has a deletion just before the creation (same millisecond).
            counts["out_of_order"] += 1
            early_deletions.add(order_id)
            continue
        if order_id not in created:
            # A pre-existing order: its volume sits in the level's synthetic order.  What
            # it loses is known from its second event on; a loss the engine already made
            # by matching a crossing order against the synthetic volume is not taken twice.
            counts["pre_existing"] += 1
            synthetic = level_id(price, side)
            previous = pre_existing.get(order_id)
            pre_existing[order_id] = amount
            if previous is None:
                # First sighting: what it traded is the trade record that follows it.
                traded = _next_trade(kinds, prices, amounts, i, price)
            else:
                traded = max(previous - amount, 0)
            if traded:
                matched = min(credit.get(synthetic, 0), traded)
                credit[synthetic] = credit.get(synthetic, 0) - matched
                traded -= matched
            gone = traded + (amount if kind == DELETED else 0)
            held = book.order(synthetic)
            if gone and held is not None:
                recorder.reduce(synthetic, min(gone, held[2]))
            continue
        if kind == DELETED:
            if state is not None:
                recorder.cancel(order_id)
            continue
        # CHANGED: the amount left on a known order, and its price: the exchange shows an
        # order sweeping the book as created at the first price it trades at, then moved
        # level by level, so a new price is a cancel and a new limit there.
        if state is not None and price != state[1]:
            counts["repriced"] += 1
            recorder.cancel(order_id)
            if lo <= price <= hi and amount > 0:
                send(order_id, side, price, min(amount, state[2]) if order_id in takers else amount)
            continue
        # The engine matches a crossing order at once; the exchange reports its progress
        # maker by maker, so a taker's intermediate amounts (above what the engine left)
        # are echoes, not changes.
        if order_id in takers and (state is None or amount > state[2]):
            continue
        if state is None:
            if amount > 0 and lo <= price <= hi and not _marketable(book, side, price):
                counts["revived"] += 1
                recorder.limit(order_id, side, price, amount)
        elif amount < state[2]:
            recorder.reduce(order_id, state[2] - amount)
        elif amount > state[2] and not _marketable(book, side, price):
            counts["increases"] += 1
            recorder.cancel(order_id)
            recorder.limit(order_id, side, price, amount)
    all_fills.append(book.take_fills())
    fills = np.concatenate(all_fills)
    check_seconds = time.perf_counter() - started

    program = recorder.program()
    started = time.perf_counter()
    seed.submit(program)
    engine_seconds = time.perf_counter() - started
    if seed.snapshot()["qty"].tolist() != book.snapshot()["qty"].tolist():
        raise AssertionError("the batch run of the replay's operations ended in a different book")
    after = np.arange(len(kinds)) > first
    trades = after & (data.kind == TRADE)
    return BitstampReport(
        events=counts["events"], skipped_before_first_snapshot=int(np.count_nonzero(data.kind[:first] <= DELETED)),
        snapshots=counts["compared"], snapshots_agreeing=counts["agreeing"], snapshots_skewed=counts["skewed"],
        snapshots_top_agreeing=counts["top"],
        levels_compared=counts["compared"] * 2 * DEPTH, levels_differing=counts["levels_differing"],
        first_disagreement=first_disagreement, discovered_levels=counts["discovered"],
        discovered_volume=counts["discovered_volume"], pre_existing_events=counts["pre_existing"],
        engine_fills=len(fills), engine_volume=int(fills["qty"].sum()), trades=int(trades.sum()),
        trade_volume=int(data.amount[trades].sum()), revived=counts["revived"], increases=counts["increases"],
        repriced=counts["repriced"], out_of_order=counts["out_of_order"],
        operations=len(program), book=book, parse_seconds=parse_seconds, engine_seconds=engine_seconds,
        check_seconds=check_seconds, disagreements=disagreements)


def _agrees(book, snapshot):
    bid_p, bid_q, ask_p, ask_q = snapshot
    return (_level_mismatch(book.depth(BUY, DEPTH), bid_p, bid_q) == 0
            and _level_mismatch(book.depth(SELL, DEPTH), ask_p, ask_q) == 0)


def _created_soon(kinds, ids, i, order_id, window=6):
    for j in range(i + 1, min(i + 1 + window, len(kinds))):
        if kinds[j] == CREATED and ids[j] == order_id:
            return True
    return False


def _next_trade(kinds, prices, amounts, i, price, window=6):
    """Lots of the trade recorded right after event `i` at its price (0 if none): the
    log reports a maker's change, then the trade it made."""
    for j in range(i + 1, min(i + 1 + window, len(kinds))):
        if kinds[j] == TRADE and prices[j] == price:
            return amounts[j]
        if kinds[j] in (CHANGED, DELETED) and prices[j] == price:
            return 0
    return 0


def _marketable(book, side, price):
    best = book.best_ask() if side == BUY else book.best_bid()
    return best is not None and (price >= best if side == BUY else price <= best)


def _level_mismatch(ours, prices, qtys):
    """Level slots (of DEPTH) where the book and the snapshot differ."""
    n = DEPTH
    mine_p = np.zeros(n, np.int64)
    mine_q = np.zeros(n, np.int64)
    mine_p[:len(ours[0])] = ours[0][:n]
    mine_q[:len(ours[1])] = ours[1][:n]
    count = len(prices)
    return int(np.count_nonzero((mine_p[:count] != prices) | (mine_q[:count] != qtys)))


def _discover(recorder, counts, bid_p, bid_q, ask_p, ask_q, bid_floor, ask_ceiling):
    """Add the unexplained volume of levels no snapshot has shown before, at the head
    of their queues (pre-existing orders are older than any the log created)."""
    book = recorder.book
    for side, prices, qtys, new in ((BUY, bid_p, bid_q, bid_p < bid_floor), (SELL, ask_p, ask_q, ask_p > ask_ceiling)):
        for price, qty in zip(prices[new & (qtys > 0)].tolist(), qtys[new & (qtys > 0)].tolist()):
            lo, hi = book.band
            if not lo <= price <= hi:
                continue
            queue_ids, queue_qtys, _ = book.queue(price)
            missing = qty - int(queue_qtys.sum())
            if missing <= 0:
                continue
            for order_id in queue_ids.tolist():
                recorder.cancel(order_id)
            recorder.limit(level_id(price, side), side, price, missing)
            for order_id, left in zip(queue_ids.tolist(), queue_qtys.tolist()):
                recorder.limit(order_id, side, price, left)
            counts["discovered"] += 1
            counts["discovered_volume"] += missing
    shown_bids = bid_p[bid_q > 0]
    shown_asks = ask_p[ask_q > 0]
    if len(shown_bids):
        bid_floor = min(bid_floor, int(shown_bids.min()))
    if len(shown_asks):
        ask_ceiling = max(ask_ceiling, int(shown_asks.max()))
    return bid_floor, ask_ceiling


def _describe(data, i, ours_bid, ours_ask, row):
    """The first differing level slots of a snapshot, file against engine."""
    parts = []
    for name, ours, (prices, qtys) in (("bid", ours_bid, data.snapshot_bids), ("ask", ours_ask, data.snapshot_asks)):
        mine_p = np.zeros(DEPTH, np.int64)
        mine_q = np.zeros(DEPTH, np.int64)
        mine_p[:len(ours[0])] = ours[0][:DEPTH]
        mine_q[:len(ours[1])] = ours[1][:DEPTH]
        for level in np.flatnonzero((mine_p != prices[row]) | (mine_q != qtys[row]))[:2].tolist():
            file_p, file_q = to_units([prices[row][level]], PRICE_SCALE)[0], to_units([qtys[row][level]], QTY_SCALE)[0]
            eng_p, eng_q = to_units([mine_p[level]], PRICE_SCALE)[0], to_units([mine_q[level]], QTY_SCALE)[0]
            parts.append(f"{name} level {level + 1}: file {file_p} x {file_q}, engine {eng_p} x {eng_q}")
    return f"{data.path}:{int(data.line[i])}: " + "; ".join(parts)
