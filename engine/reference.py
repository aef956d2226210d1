"""A deliberately simple pure-Python order book with the semantics of `engine.Book`.

It is the oracle of the property-based tests and the baseline of the benchmarks, so
it is written to be obviously correct, not fast: a dict from price to a list of
resting orders per side, a dict from id to order, and linear scans everywhere.  It
offers the same API as `engine.Book` (method names, return types, and numpy arrays
of the same dtypes from `submit` and `take_fills`), so a test can drive both the
same way and compare what comes out.
"""
import operator

import numpy as np

from engine._records import (
    BUY, SELL, LIMIT, MARKET, IOC, FOK, CANCEL, REDUCE, EXECUTE, QUEUE_AT_LIMIT, KIND_NAMES,
    ORDER_DTYPE, FILL_DTYPE, RESULT_DTYPE, Reject, describe_reject, BatchResult,
)

__all__ = ["ReferenceBook", "MAX_LEVELS", "PRICE_LIMIT"]

# The engine's price grid is bounded; the reference enforces the same bounds so both
# accept and refuse the same bands.
MAX_LEVELS = 1 << 24
PRICE_LIMIT = 1 << 62       # a band must lie within [-PRICE_LIMIT, PRICE_LIMIT]
INT64_MAX = (1 << 63) - 1   # the engine's level and side totals are int64

# The dtype of each per-order column of a snapshot.
_SNAPSHOT_DTYPES = {"id": np.int64, "side": np.int8, "price": np.int64, "qty": np.int64,
                    "owner": np.int32}


class _Resting:
    """One resting order.  Compared by identity, so ``list.remove`` removes this one."""

    __slots__ = ("id", "side", "price", "qty", "owner")

    def __init__(self, id, side, price, qty, owner):
        self.id = id
        self.side = side
        self.price = price
        self.qty = qty
        self.owner = owner


def _integer(value, name, dtype=np.int64):
    """`value` as a Python int that fits `dtype`: TypeError for a float or any other
    non-integer (a price in ticks is never rounded silently), OverflowError if too big."""
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    info = np.iinfo(dtype)
    if not info.min <= value <= info.max:
        raise OverflowError(f"{name}={value} does not fit {info.dtype}")
    return value


def _check_band(lo, hi):
    if lo > hi:
        raise ValueError(f"band lo={lo} is above hi={hi}")
    if hi - lo + 1 > MAX_LEVELS:
        raise ValueError(f"band [{lo}, {hi}] is wider than {MAX_LEVELS} ticks")
    if lo < -PRICE_LIMIT or hi > PRICE_LIMIT:
        raise ValueError(f"band [{lo}, {hi}] is outside +-2**62 ticks")


def _as_orders(orders):
    """Return `orders` as an ORDER_DTYPE array, or raise naming what is wrong."""
    if not isinstance(orders, np.ndarray):
        raise TypeError(f"orders must be a numpy array of ORDER_DTYPE, got {type(orders).__name__}")
    if orders.ndim != 1:
        raise ValueError(f"orders must be one-dimensional, got shape {orders.shape}")
    if orders.dtype == ORDER_DTYPE:
        return orders
    if orders.dtype.names is None:
        raise TypeError(f"orders must be a structured array of ORDER_DTYPE, got dtype {orders.dtype}")
    converted = np.zeros(len(orders), dtype=ORDER_DTYPE)
    converted["owner"] = -1
    for name in ORDER_DTYPE.names:
        if name not in orders.dtype.names:
            if name in ("owner", "flags", "price"):
                continue
            raise ValueError(f"orders has no field {name!r} (ORDER_DTYPE needs it)")
        column = orders[name]
        if column.dtype.kind not in "iu":
            raise TypeError(f"orders field {name!r} must be integer, got {column.dtype}")
        info = np.iinfo(ORDER_DTYPE.fields[name][0])
        for value in column.tolist():
            if value < info.min or value > info.max:
                raise ValueError(f"orders field {name!r} has values outside {info.dtype}")
        converted[name] = column
    return converted


class ReferenceBook:
    """A price-time-priority limit order book over integer ticks with a price band.

    Parameters
    ----------
    lo, hi : int
        The band in ticks (limit-down and limit-up, inclusive).  No trade happens
        outside it and no new order rests outside it.
    capacity : int, optional
        Accepted for compatibility with `engine.Book`; ignored.

    Raises
    ------
    ValueError
        If ``lo > hi``, the band is wider than ``MAX_LEVELS`` ticks or reaches beyond
        +-2**62 ticks.
    """

    def __init__(self, lo, hi, capacity=0):
        lo, hi = _integer(lo, "lo"), _integer(hi, "hi")
        _check_band(lo, hi)
        self._lo = lo
        self._hi = hi
        # price -> list of _Resting, oldest first; a price with no orders has no key.
        self._levels = {BUY: {}, SELL: {}}
        self._by_id = {}
        self._pending_fills = []
        self._largest_rested = 0    # no resting order ever held more lots than this

    # ------------------------------------------------------------------ helpers

    def _best(self, side):
        prices = self._levels[side].keys()
        if not prices:
            return None
        return max(prices) if side == BUY else min(prices)

    def _rest(self, order):
        self._levels[order.side].setdefault(order.price, []).append(order)
        self._by_id[order.id] = order
        self._largest_rested = max(self._largest_rested, order.qty)

    def _could_overflow(self, side, qty):
        """Whether resting `qty` more lots on `side` could take its total past int64."""
        # Resting orders only shrink, so len x largest bounds the total: the exact sum is
        # needed only when that bound comes near the limit.
        if qty + len(self._by_id) * self._largest_rested <= INT64_MAX:
            return False
        return qty > INT64_MAX - self.volume(side)

    def _remove(self, order):
        queue = self._levels[order.side][order.price]
        queue.remove(order)
        if not queue:
            del self._levels[order.side][order.price]
        del self._by_id[order.id]

    def _available(self, side, limit):
        """Lots resting on the side opposite `side` at prices a taker limited at `limit` reaches."""
        total = 0
        for price, queue in self._levels[-side].items():
            if (side == BUY and price <= limit) or (side == SELL and price >= limit):
                total += sum(order.qty for order in queue)
        return total

    def _match(self, side, limit, qty, taker_id, taker_owner, taker_kind, fills):
        """Trade up to `qty` lots against the other side, best price first; return lots left."""
        while qty > 0:
            best = self._best(-side)
            if best is None or (side == BUY and best > limit) or (side == SELL and best < limit):
                break
            maker = self._levels[-side][best][0]
            traded = min(qty, maker.qty)
            fills.append((taker_id, maker.id, best, traded, taker_owner, maker.owner, side, taker_kind))
            qty -= traded
            maker.qty -= traded
            if maker.qty == 0:
                self._remove(maker)
        return qty

    def _validate(self, id, side, kind, price, qty, flags):
        """The reject code of a message, checked in the engine's order (0 when accepted)."""
        if kind not in KIND_NAMES:
            return Reject.BAD_KIND
        if flags & ~QUEUE_AT_LIMIT:
            return Reject.BAD_FLAGS
        if kind in (CANCEL, REDUCE, EXECUTE):
            if kind != CANCEL and qty <= 0:
                return Reject.BAD_QTY
            if id not in self._by_id:
                return Reject.UNKNOWN_ID
            return Reject.OK
        if side not in (BUY, SELL):
            return Reject.BAD_SIDE
        if qty <= 0:
            return Reject.BAD_QTY
        if kind == LIMIT and ((side == BUY and price < self._lo) or (side == SELL and price > self._hi)):
            return Reject.PRICE_OUT_OF_BAND
        if id in self._by_id:
            return Reject.DUPLICATE_ID
        return Reject.OK

    def _process(self, id, side, kind, price, qty, owner, flags, fills):
        """Run one message; return ``(filled, remaining, cancelled, reject)``."""
        reject = self._validate(id, side, kind, price, qty, flags)
        if reject:
            return 0, 0, 0, int(reject)
        if kind == CANCEL:
            order = self._by_id[id]
            self._remove(order)
            return 0, 0, order.qty, 0
        if kind == REDUCE:
            order = self._by_id[id]
            if qty >= order.qty:
                self._remove(order)
                return 0, 0, order.qty, 0
            order.qty -= qty
            return 0, order.qty, qty, 0
        if kind == EXECUTE:
            # A trade with a counterparty outside the book: the fill's taker id is -1.
            order = self._by_id[id]
            traded = min(qty, order.qty)
            fills.append((-1, order.id, order.price, traded, owner, order.owner, -order.side, EXECUTE))
            order.qty -= traded
            if order.qty == 0:
                self._remove(order)
            return traded, order.qty, 0, 0
        # An IOC or FOK priced beyond the band on its passive side can never trade.
        if kind in (IOC, FOK) and ((side == BUY and price < self._lo) or (side == SELL and price > self._hi)):
            return 0, 0, qty, 0
        if kind == MARKET:
            limit = self._hi if side == BUY else self._lo
        else:
            limit = min(max(price, self._lo), self._hi)
        may_rest = (kind == LIMIT and limit == price) or (
            kind in (LIMIT, MARKET) and bool(flags & QUEUE_AT_LIMIT))
        # The engine keeps level and side totals in int64: it refuses what could overflow them.
        if may_rest and self._could_overflow(side, qty):
            return 0, 0, 0, int(Reject.TOO_LARGE)
        if kind == FOK and self._available(side, limit) < qty:
            return 0, 0, qty, 0
        left = self._match(side, limit, qty, id, owner, kind, fills)
        filled = qty - left
        if left == 0:
            return filled, 0, 0, 0
        if may_rest:
            self._rest(_Resting(id, side, limit, left, owner))
            return filled, left, 0, 0
        return filled, 0, left, 0

    @staticmethod
    def _fills_array(fills):
        array = np.zeros(len(fills), dtype=FILL_DTYPE)
        for row, fill in enumerate(fills):
            array[row] = fill
        return array

    # ------------------------------------------------------------------ batch path

    def submit(self, orders):
        """Run a batch of messages in order.

        Parameters
        ----------
        orders : numpy.ndarray of ORDER_DTYPE
            One row a message.  A structured array with the same field names is
            converted (fields ``owner``, ``flags`` and ``price`` may be missing).

        Returns
        -------
        BatchResult
            ``fills`` (FILL_DTYPE, in execution order) and ``results`` (RESULT_DTYPE).

        Raises
        ------
        TypeError, ValueError
            If `orders` is not a one-dimensional structured array whose integer
            fields fit ORDER_DTYPE (the message names the field).
        """
        orders = _as_orders(orders)
        results = np.zeros(len(orders), dtype=RESULT_DTYPE)
        fills = []
        for row, order in enumerate(orders.tolist()):
            id, price, qty, owner, side, kind, flags = order
            results[row] = self._process(id, side, kind, price, qty, owner, flags, fills)
        return BatchResult(self._fills_array(fills), results)

    def take_fills(self):
        """Return the fills of per-call orders since the last call.

        Returns
        -------
        numpy.ndarray of FILL_DTYPE
            The fills in execution order; the buffer is empty afterwards.
        """
        fills = self._fills_array(self._pending_fills)
        self._pending_fills = []
        return fills

    @property
    def pending_fills(self):
        """Fills of per-call orders waiting for `take_fills`."""
        return len(self._pending_fills)

    # ------------------------------------------------------------------ per-call path

    def _call(self, id, side, kind, price, qty, owner, flags):
        filled, remaining, cancelled, reject = self._process(
            _integer(id, "id"), _integer(side, "side", np.int32), kind, _integer(price, "price"),
            _integer(qty, "qty"), _integer(owner, "owner", np.int32), flags, self._pending_fills)
        if reject:
            raise ValueError(describe_reject(reject, id=id, side=side, price=price, qty=qty,
                                             band=self.band))
        return filled, remaining, cancelled

    def limit(self, id, side, price, qty, owner=-1, queue_at_limit=False):
        """Send a limit order; what does not trade rests at `price` (good till cancelled).

        A limit priced through the band trades up to the band edge; the rest is
        cancelled, or queued at the edge when `queue_at_limit` is true.

        Returns
        -------
        int
            Lots filled at once.  Fills go to the buffer that `take_fills` drains.

        Raises
        ------
        ValueError
            If the order is rejected (the message gives the reason); nothing changes.
        """
        flags = QUEUE_AT_LIMIT if queue_at_limit else 0
        return self._call(id, side, LIMIT, price, qty, owner, flags)[0]

    def market(self, id, side, qty, owner=-1, queue_at_limit=False):
        """Send a market order: it trades up to the band edge; the rest is cancelled,
        or queued at the edge when `queue_at_limit` is true.

        Returns
        -------
        int
            Lots filled.

        Raises
        ------
        ValueError
            If the order is rejected; nothing changes.
        """
        flags = QUEUE_AT_LIMIT if queue_at_limit else 0
        return self._call(id, side, MARKET, 0, qty, owner, flags)[0]

    def ioc(self, id, side, price, qty, owner=-1):
        """Send an immediate-or-cancel order limited at `price` (and the band).

        Returns
        -------
        int
            Lots filled.

        Raises
        ------
        ValueError
            If the order is rejected; nothing changes.
        """
        return self._call(id, side, IOC, price, qty, owner, 0)[0]

    def fok(self, id, side, price, qty, owner=-1):
        """Send a fill-or-kill order: all of `qty` at or better than `price`, or nothing.

        Returns
        -------
        int
            Lots filled (`qty` or 0).

        Raises
        ------
        ValueError
            If the order is rejected; nothing changes.
        """
        return self._call(id, side, FOK, price, qty, owner, 0)[0]

    def cancel(self, id):
        """Cancel a resting order.

        Returns
        -------
        int
            The lots it had.

        Raises
        ------
        ValueError
            If no order with this id is resting.
        """
        return self._call(id, 0, CANCEL, 0, 0, -1, 0)[2]

    def reduce(self, id, qty):
        """Take `qty` lots off a resting order, keeping its place in the queue.

        Returns
        -------
        int
            Lots left on the order (0 when `qty` took off all it had: it is cancelled).

        Raises
        ------
        ValueError
            If no order with this id is resting or ``qty <= 0``.
        """
        return self._call(id, 0, REDUCE, 0, qty, -1, 0)[1]

    def execute(self, id, qty, owner=-1):
        """Trade `qty` lots of resting order `id` with a counterparty outside the book.

        The fill has ``taker_id = -1`` and ``taker_owner = owner``; executing all the
        order has (or more) removes it.

        Returns
        -------
        int
            Lots executed.

        Raises
        ------
        ValueError
            If no order with this id is resting or ``qty <= 0``.
        """
        return self._call(id, 0, EXECUTE, 0, qty, owner, 0)[0]

    # ------------------------------------------------------------------ queries

    def best_bid(self):
        """Best bid in ticks, or None when there are no bids."""
        return self._best(BUY)

    def best_ask(self):
        """Best ask in ticks, or None when there are no asks."""
        return self._best(SELL)

    def volume(self, side):
        """Total lots resting on `side`.

        Raises
        ------
        ValueError
            If `side` is not BUY or SELL.
        """
        if side not in (BUY, SELL):
            raise ValueError(f"side must be BUY (1) or SELL (-1), got {side}")
        return sum(order.qty for queue in self._levels[side].values() for order in queue)

    def depth(self, side, n):
        """The best `n` non-empty levels of `side`, best first.

        Returns
        -------
        prices, qtys : numpy.ndarray of int64

        Raises
        ------
        ValueError
            If `side` is not BUY or SELL or ``n < 0``.
        """
        if side not in (BUY, SELL):
            raise ValueError(f"side must be BUY (1) or SELL (-1), got {side}")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        prices = sorted(self._levels[side], reverse=(side == BUY))[:n]
        qtys = [sum(order.qty for order in self._levels[side][price]) for price in prices]
        return np.array(prices, dtype=np.int64), np.array(qtys, dtype=np.int64)

    def order(self, id):
        """The resting order `id` as ``(side, price, qty, owner)``, or None if it is not resting."""
        order = self._by_id.get(id)
        if order is None:
            return None
        return (order.side, order.price, order.qty, order.owner)

    def queue(self, price):
        """The orders resting at `price` in time priority.

        Returns
        -------
        ids, qtys : numpy.ndarray of int64
        owners : numpy.ndarray of int32
        """
        queue = self._levels[BUY].get(price) or self._levels[SELL].get(price) or []
        return (np.array([order.id for order in queue], dtype=np.int64),
                np.array([order.qty for order in queue], dtype=np.int64),
                np.array([order.owner for order in queue], dtype=np.int32))

    def __len__(self):
        return len(self._by_id)

    @property
    def band(self):
        """The band ``(lo, hi)`` in ticks."""
        return (self._lo, self._hi)

    def set_band(self, lo, hi):
        """Move the band, keeping every resting order and its queue position.

        Resting orders may end up outside the new band; they stay, and marketable
        orders still never trade outside it.

        Raises
        ------
        ValueError
            If ``lo > hi``, if resting bids would be above `hi` or resting asks below
            `lo`, if the band and the resting orders together span more than
            ``MAX_LEVELS`` ticks, or if the band reaches beyond +-2**62 ticks.
        """
        lo, hi = _integer(lo, "lo"), _integer(hi, "hi")
        _check_band(lo, hi)
        bid, ask = self.best_bid(), self.best_ask()
        if bid is not None and bid > hi:
            raise ValueError(f"band hi={hi} is below the best bid {bid}")
        if ask is not None and ask < lo:
            raise ValueError(f"band lo={lo} is above the best ask {ask}")
        prices = [order.price for order in self._by_id.values()]
        if max(prices + [hi]) - min(prices + [lo]) + 1 > MAX_LEVELS:
            raise ValueError(f"band [{lo}, {hi}] and the resting orders span more than "
                             f"{MAX_LEVELS} ticks")
        self._lo, self._hi = lo, hi

    # ------------------------------------------------------------------ snapshots

    def snapshot(self):
        """The book as a dict of numpy arrays (``np.savez`` can store it).

        Returns
        -------
        dict
            ``band`` (lo, hi) and, one row per resting order with bids best price
            first then asks best price first, each level in time priority: ``id``,
            ``side``, ``price``, ``qty``, ``owner``.
        """
        rows = []
        for side in (BUY, SELL):
            for price in sorted(self._levels[side], reverse=(side == BUY)):
                rows.extend(self._levels[side][price])
        return {"band": np.array([self._lo, self._hi], np.int64),
                "id": np.array([o.id for o in rows], np.int64),
                "side": np.array([o.side for o in rows], np.int8),
                "price": np.array([o.price for o in rows], np.int64),
                "qty": np.array([o.qty for o in rows], np.int64),
                "owner": np.array([o.owner for o in rows], np.int32)}

    @classmethod
    def from_snapshot(cls, snapshot):
        """Rebuild a book from `snapshot` exactly, queue order included.

        Any state `snapshot` can return is accepted, including orders left outside
        the band by `set_band`.

        Raises
        ------
        ValueError
            If a key is missing, the columns differ in length, a column has values its
            dtype in `snapshot` (int8 side, int32 owner, int64 others) cannot hold, or
            a row is not a valid
            resting order (bad side, qty <= 0, a bid above the band or an ask below
            it, duplicate id, crossed book).
        TypeError
            If a column is not integer.
        """
        for key in ("band", "id", "side", "price", "qty", "owner"):
            if key not in snapshot:
                raise ValueError(f"snapshot has no {key!r}")
        lo, hi = (int(x) for x in np.asarray(snapshot["band"]))
        columns = {k: np.asarray(snapshot[k]) for k in ("id", "side", "price", "qty", "owner")}
        n = len(columns["id"])
        for key, column in columns.items():
            if len(column) != n:
                raise ValueError(f"snapshot column {key!r} has {len(column)} rows, 'id' has {n}")
            if column.dtype.kind not in "iu":
                raise TypeError(f"snapshot column {key!r} must be integer, got {column.dtype}")
            info = np.iinfo(_SNAPSHOT_DTYPES[key])
            values = column.tolist()
            if values and (min(values) < info.min or max(values) > info.max):
                raise ValueError(f"snapshot column {key!r} has values outside {info.dtype}")
        book = cls(lo, hi)
        rows = zip(*(columns[k].tolist() for k in ("id", "side", "price", "qty", "owner")))
        for row, (id, side, price, qty, owner) in enumerate(rows):
            if side not in (BUY, SELL):
                raise ValueError(f"snapshot row {row}: side must be BUY or SELL, got {side}")
            if qty <= 0:
                raise ValueError(f"snapshot row {row}: qty must be > 0, got {qty}")
            if (side == BUY and price > hi) or (side == SELL and price < lo):
                raise ValueError(f"snapshot row {row}: price {price} is through the band {(lo, hi)}")
            if id in book._by_id:
                raise ValueError(f"snapshot row {row}: duplicate id {id}")
            book._rest(_Resting(id, side, price, qty, owner))
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            raise ValueError(f"snapshot is crossed: bid {bid} >= ask {ask}")
        return book

    def __reduce__(self):
        return (_reference_from_snapshot, (self.snapshot(),))

    def check_invariants(self):
        """Raise AssertionError if the book is crossed or its indexes disagree."""
        bid, ask = self.best_bid(), self.best_ask()
        assert bid is None or ask is None or bid < ask, f"crossed: {bid} >= {ask}"
        listed = [order for side in (BUY, SELL) for queue in self._levels[side].values()
                  for order in queue]
        assert len(listed) == len(self._by_id)
        for order in listed:
            assert self._by_id[order.id] is order and order.qty > 0


def _reference_from_snapshot(snapshot):
    return ReferenceBook.from_snapshot(snapshot)
