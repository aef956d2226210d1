"""Hypothesis strategies for testing code built on `engine.Book`.

Hypothesis is an optional extra (``pip install firesale[test]``): this module imports
it at the top, and nothing in the core imports this module.

- `order_streams`: ORDER_DTYPE arrays of messages that a book with a given band
  accepts row by row (no rejects), mixing every order kind.
- `depth_profiles` and `seeded_books`: books with a given depth profile, as the seed
  orders, an `engine.Book` or an `engine.reference.ReferenceBook`.
- `malformed_rows`: single messages that a book rejects, each with its reject code.
"""
import numpy as np
from hypothesis import strategies as st

from engine._records import (
    BUY, SELL, LIMIT, MARKET, IOC, FOK, CANCEL, REDUCE, EXECUTE, QUEUE_AT_LIMIT, KIND_NAMES,
    ORDER_DTYPE, Reject,
)
from engine.reference import ReferenceBook

__all__ = ["order_streams", "depth_profiles", "seeded_books", "malformed_rows", "ALL_KINDS"]

ALL_KINDS = tuple(sorted(KIND_NAMES))
_NEW_ORDER_KINDS = (LIMIT, MARKET, IOC, FOK)
_TARGETED_KINDS = (CANCEL, REDUCE, EXECUTE)     # kinds that name a resting order
_INT64 = np.iinfo(np.int64)


def _row(id, side, kind, price, qty, owner=-1, flags=0):
    """A one-row ORDER_DTYPE array."""
    row = np.zeros(1, dtype=ORDER_DTYPE)
    row[0] = (id, price, qty, owner, side, kind, flags)
    return row


@st.composite
def order_streams(draw, lo, hi, *, min_size=0, max_size=50, kinds=ALL_KINDS, prices=None,
                  max_qty=20, owners=None, after=None, first_id=None):
    """Streams of messages that a book with band ``[lo, hi]`` accepts row by row.

    New orders get fresh ids; CANCEL, REDUCE and EXECUTE rows target orders that are
    resting when they arrive (the stream is built by running it through a `ReferenceBook`),
    so submitting the stream to a fresh ``Book(lo, hi)`` (after `after`, if given)
    rejects no row.  Limit prices may lie through the band on the aggressive side
    (a buy above `hi`, a sell below `lo`), which is legal; some new orders carry
    QUEUE_AT_LIMIT.

    Parameters
    ----------
    lo, hi : int
        The band of the book the stream is for.
    min_size, max_size : int
        Bounds on the number of rows.
    kinds : sequence of int
        The kinds to draw from (default: all of them).
    prices : hypothesis strategy of int, optional
        Limit prices; default integers in ``[lo, hi]``, and now and then one tick
        through the band.
    max_qty : int
        New orders have 1 to `max_qty` lots.
    owners : hypothesis strategy of int, optional
        Owners of new orders; default integers in ``[-1, 7]``.
    after : numpy.ndarray of ORDER_DTYPE, optional
        Orders already submitted to the book (for example from `seeded_books` with
        ``returns="orders"``): the stream is valid after them, and may cancel them.
    first_id : int, optional
        First id of a new order; default one more than the largest id in `after`, or 0.

    Returns
    -------
    hypothesis strategy of numpy.ndarray of ORDER_DTYPE
    """
    if lo > hi:
        raise ValueError(f"band lo={lo} is above hi={hi}")
    kinds = tuple(kinds)
    if not kinds or any(kind not in ALL_KINDS for kind in kinds):
        raise ValueError(f"kinds must be a non-empty subset of {ALL_KINDS}, got {kinds}")
    new_kinds = [kind for kind in kinds if kind in _NEW_ORDER_KINDS]
    if not new_kinds:
        raise ValueError("kinds must include at least one of LIMIT, MARKET, IOC, FOK")
    if prices is None:
        prices = st.one_of(st.integers(lo, hi), st.sampled_from([lo - 1, hi + 1]))
    if owners is None:
        owners = st.integers(-1, 7)
    book = ReferenceBook(lo, hi)
    if after is not None and len(after):
        result = book.submit(after)
        if np.any(result.reject):
            raise ValueError("`after` holds orders that a fresh book rejects")
        next_id = int(np.max(after["id"])) + 1 if first_id is None else first_id
    else:
        next_id = 0 if first_id is None else first_id
    if next_id + max_size > _INT64.max:
        raise ValueError(f"ids from {next_id} on would overflow int64: pass a smaller first_id")
    size = draw(st.integers(min_size, max_size))
    rows = np.zeros(size, dtype=ORDER_DTYPE)
    for i in range(size):
        live = sorted(book._by_id)
        kind = draw(st.sampled_from(kinds))
        if kind in _TARGETED_KINDS and not live:
            kind = draw(st.sampled_from(new_kinds))
        if kind in _TARGETED_KINDS:
            target = draw(st.sampled_from(live))
            qty = draw(st.integers(1, max_qty)) if kind != CANCEL else 0
            owner = draw(owners) if kind == EXECUTE else -1
            row = _row(target, 0, kind, 0, qty, owner)
        else:
            side = draw(st.sampled_from([BUY, SELL]))
            price = 0 if kind == MARKET else draw(prices)
            if kind == LIMIT:
                # A limit on the passive side of the band would be rejected: clamp it in.
                price = max(price, lo) if side == BUY else min(price, hi)
            flags = draw(st.sampled_from([0, QUEUE_AT_LIMIT])) if kind in (LIMIT, MARKET) else 0
            row = _row(next_id, side, kind, price, draw(st.integers(1, max_qty)),
                       draw(owners), flags)
            next_id += 1
        result = book.submit(row)
        assert result.reject[0] == 0, (row, result.results)
        rows[i] = row[0]
    return rows


def depth_profiles(*, max_levels=20, max_lots=1000):
    """Depth profiles: lots resting at each level, counted from the touch outwards.

    Parameters
    ----------
    max_levels : int
        Longest profile.
    max_lots : int
        Most lots at one level.

    Returns
    -------
    hypothesis strategy of list of int
        Each entry > 0; shapes include flat, thinning, thickening and random.
    """
    length = st.integers(1, max_levels)

    @st.composite
    def shaped(draw):
        n = draw(length)
        shape = draw(st.sampled_from(["flat", "thinning", "thickening", "random"]))
        top = draw(st.integers(1, max_lots))
        if shape == "flat":
            return [top] * n
        if shape == "thinning":
            return [max(1, top * (n - k) // n) for k in range(n)]
        if shape == "thickening":
            return [max(1, top * (k + 1) // n) for k in range(n)]
        return draw(st.lists(st.integers(1, max_lots), min_size=n, max_size=n))

    return shaped()


@st.composite
def seeded_books(draw, lo, hi, profile=None, *, asks=None, max_orders_per_level=4, gaps=None,
                 owners=None, returns="orders", first_id=0):
    """Books seeded with limit orders that follow a depth profile on each side.

    The touch (best bid and best ask, at least one tick apart) is drawn inside the
    band; level ``k`` of a side holds ``profile[k]`` lots split over 1 to
    `max_orders_per_level` orders, levels `gaps` ticks apart.  Levels that would
    fall outside the band are left out.

    Parameters
    ----------
    lo, hi : int
        The band; needs ``hi - lo >= 1``.
    profile : sequence of int or hypothesis strategy, optional
        Lots per bid level from the touch outwards (default: drawn from `depth_profiles`).
    asks : sequence of int or hypothesis strategy, optional
        Lots per ask level; default the same as `profile`.
    max_orders_per_level : int
        Each level's lots are split over at most this many orders.
    gaps : hypothesis strategy of int, optional
        Ticks between consecutive levels (>= 1); default 1 (a contiguous book).
    owners : hypothesis strategy of int, optional
        Owners of the orders; default integers in ``[-1, 7]``.
    returns : {"orders", "book", "reference"}
        What to generate: the seed orders (an ORDER_DTYPE array of LIMIT rows, bids
        then asks, each side touch outwards), an ``engine.Book(lo, hi)`` they were
        submitted to, or an ``engine.reference.ReferenceBook``.
    first_id : int
        Ids are ``first_id, first_id + 1, ...`` in the order of the seed rows.

    Returns
    -------
    hypothesis strategy of numpy.ndarray, engine.Book or ReferenceBook
    """
    if hi - lo < 1:
        raise ValueError(f"band [{lo}, {hi}] needs at least two ticks for a bid and an ask")
    if returns not in ("orders", "book", "reference"):
        raise ValueError(f"returns must be 'orders', 'book' or 'reference', got {returns!r}")
    gaps = st.just(1) if gaps is None else gaps
    owners = st.integers(-1, 7) if owners is None else owners

    def resolve(value):
        if value is None:
            return draw(depth_profiles())
        if isinstance(value, st.SearchStrategy):
            return list(draw(value))
        return list(value)

    bid_profile = resolve(profile)
    ask_profile = bid_profile if asks is None else resolve(asks)
    if any(lots <= 0 for lots in bid_profile + ask_profile):
        raise ValueError("every level of a depth profile needs lots > 0")
    best_bid = draw(st.integers(lo, hi - 1))
    best_ask = draw(st.integers(best_bid + 1, hi))
    rows = []
    next_id = first_id
    for side, touch, levels in ((BUY, best_bid, bid_profile), (SELL, best_ask, ask_profile)):
        price = touch
        for lots in levels:
            if price < lo or price > hi:
                break
            count = draw(st.integers(1, min(max_orders_per_level, lots)))
            cuts = sorted(draw(st.lists(st.integers(1, lots - 1), min_size=count - 1,
                                        max_size=count - 1, unique=True))) if count > 1 else []
            for qty in np.diff([0] + cuts + [lots]).tolist():
                rows.append((next_id, price, qty, draw(owners), side, LIMIT, 0))
                next_id += 1
            price -= side * draw(gaps)
    orders = np.zeros(len(rows), dtype=ORDER_DTYPE)
    for i, row in enumerate(rows):
        orders[i] = row
    if returns == "orders":
        return orders
    if returns == "book":
        from engine import Book        # the compiled engine, only when a Book is asked for
        book = Book(lo, hi, capacity=len(orders))
    else:
        book = ReferenceBook(lo, hi)
    result = book.submit(orders)
    assert not np.any(result.reject) and len(result.fills) == 0
    return book


@st.composite
def malformed_rows(draw, lo, hi, *, live_ids=(), reasons=None):
    """Single messages that a book with band ``[lo, hi]`` rejects, with the expected code.

    Each row fails exactly the check that its code names, every earlier check in the
    engine's order passing, so the code is the one the book must report.  A rejected
    row changes nothing.

    Parameters
    ----------
    lo, hi : int
        The band of the book.
    live_ids : sequence of int
        Ids resting in the book; DUPLICATE_ID rows reuse one (so that reason is only
        drawn when there are some), UNKNOWN_ID rows and the other rows avoid them.
    reasons : sequence of Reject, optional
        The reject codes to draw from; default all of them that `live_ids` allows.
        TOO_LARGE is never drawn: it depends on the book's resting totals, not on the
        row alone.

    Returns
    -------
    hypothesis strategy of tuple (numpy.ndarray, Reject)
        A one-row ORDER_DTYPE array and its reject code.
    """
    live = set(int(i) for i in live_ids)
    allowed = [code for code in Reject if code not in (Reject.OK, Reject.TOO_LARGE)]
    if not live:
        allowed.remove(Reject.DUPLICATE_ID)
    if reasons is not None:
        wanted = [Reject(code) for code in reasons]
        if Reject.TOO_LARGE in wanted:
            raise ValueError("TOO_LARGE depends on the book's resting totals: no row alone has it")
        if Reject.DUPLICATE_ID in wanted and not live:
            raise ValueError("DUPLICATE_ID rows need live_ids")
        allowed = wanted
    code = draw(st.sampled_from(allowed))
    fresh_id = st.integers(_INT64.min, _INT64.max).filter(lambda i: i not in live)
    id = draw(fresh_id)
    side = draw(st.sampled_from([BUY, SELL]))
    owner = draw(st.integers(-1, 7))
    qty = draw(st.integers(1, 100))
    price = draw(st.integers(lo, hi))
    kind = draw(st.sampled_from(_NEW_ORDER_KINDS))
    flags = draw(st.sampled_from([0, QUEUE_AT_LIMIT]))
    if code == Reject.BAD_KIND:
        kind = draw(st.integers(-128, 127).filter(lambda k: k not in KIND_NAMES))
        flags = draw(st.integers(0, 255))
        side = draw(st.integers(-128, 127))
    elif code == Reject.BAD_FLAGS:
        kind = draw(st.sampled_from(ALL_KINDS))
        flags = draw(st.integers(2, 255))
        side = draw(st.integers(-128, 127))
    elif code == Reject.BAD_SIDE:
        side = draw(st.integers(-128, 127).filter(lambda s: s not in (BUY, SELL)))
        qty = draw(st.integers(_INT64.min, _INT64.max))
    elif code == Reject.BAD_QTY:
        kind = draw(st.sampled_from(_NEW_ORDER_KINDS + (REDUCE, EXECUTE)))
        qty = draw(st.one_of(st.integers(_INT64.min, 0), st.just(0)))
        if kind in (REDUCE, EXECUTE):
            side = draw(st.integers(-128, 127))
            id = draw(st.sampled_from(sorted(live))) if live and draw(st.booleans()) else id
    elif code == Reject.PRICE_OUT_OF_BAND:
        kind = LIMIT
        # A band can't reach both ends of int64 (MAX_LEVELS), so one side always has room.
        if lo == _INT64.min or (hi < _INT64.max and side == SELL):
            side = SELL
            price = draw(st.integers(hi + 1, _INT64.max))
        else:
            side = BUY
            price = draw(st.integers(_INT64.min, lo - 1))
    elif code == Reject.DUPLICATE_ID:
        id = draw(st.sampled_from(sorted(live)))
    elif code == Reject.UNKNOWN_ID:
        kind = draw(st.sampled_from(_TARGETED_KINDS))
        side = draw(st.integers(-128, 127))
        qty = draw(st.integers(1, 100)) if kind != CANCEL else draw(st.integers(_INT64.min, _INT64.max))
    if kind == MARKET:
        price = draw(st.integers(_INT64.min, _INT64.max))
    return _row(id, side, kind, price, qty, owner, flags), code
