"""Codes and numpy records shared by the book, the reference and everything above them.

Each dtype mirrors a C struct in ``engine/_book.pxd`` field for field (``align=True``
gives the C layout); ``engine._book`` checks the sizes agree when it is imported.
"""
from enum import IntEnum

import numpy as np

BUY = 1
SELL = -1

LIMIT = 1    # rests what does not trade, good till cancelled
MARKET = 2   # trades up to the band edge
IOC = 3      # immediate or cancel, at a limit price
FOK = 4      # fill or kill, at a limit price
CANCEL = 5   # cancel a resting order by id
REDUCE = 6   # take lots off a resting order, keeping its queue position
EXECUTE = 7  # trade lots of a named resting order with a counterparty outside the book

KIND_NAMES = {LIMIT: "LIMIT", MARKET: "MARKET", IOC: "IOC", FOK: "FOK", CANCEL: "CANCEL",
              REDUCE: "REDUCE", EXECUTE: "EXECUTE"}

# Order flag: what the band stops (a market or limit sell below limit-down, a buy above
# limit-up) rests at the band edge instead of being cancelled: the limit-down queue.
QUEUE_AT_LIMIT = 1


class Reject(IntEnum):
    """Why a message was rejected (0 means accepted).  A rejected message changes nothing."""

    OK = 0
    BAD_SIDE = 1            # side is not BUY or SELL
    BAD_KIND = 2            # kind is not one of the kind codes
    BAD_QTY = 3             # qty <= 0 (for a new order, a REDUCE or an EXECUTE)
    PRICE_OUT_OF_BAND = 4   # a LIMIT that would rest outside the band
    DUPLICATE_ID = 5        # a new order reuses the id of a resting order
    UNKNOWN_ID = 6          # CANCEL/REDUCE/EXECUTE of an id that is not resting
    BAD_FLAGS = 7           # unknown flag bits
    TOO_LARGE = 8           # resting it could take its side's total past 2**63 - 1 lots


_REASONS = {
    Reject.BAD_SIDE: "side must be BUY (1) or SELL (-1)",
    Reject.BAD_KIND: "kind must be LIMIT, MARKET, IOC, FOK, CANCEL, REDUCE or EXECUTE",
    Reject.BAD_QTY: "qty must be > 0",
    Reject.PRICE_OUT_OF_BAND: "limit price would rest outside the band",
    Reject.DUPLICATE_ID: "an order with this id is already resting",
    Reject.UNKNOWN_ID: "no resting order has this id",
    Reject.BAD_FLAGS: "unknown flag bits",
    Reject.TOO_LARGE: "qty could take the side's resting total past 2**63 - 1 lots",
}


def describe_reject(code, *, id, side=None, price=None, qty=None, band=None):
    """A one-line message for a reject code, naming the order and the field at fault."""
    code = Reject(code)
    detail = {
        Reject.BAD_SIDE: f"side={side}",
        Reject.BAD_QTY: f"qty={qty}",
        Reject.TOO_LARGE: f"qty={qty}",
        Reject.PRICE_OUT_OF_BAND: f"price={price}, band={band}",
    }.get(code, "")
    return f"order {id} rejected ({code.name}): {_REASONS[code]}" + (f" [{detail}]" if detail else "")


ORDER_DTYPE = np.dtype([
    ("id", np.int64),       # caller's id; for CANCEL/REDUCE/EXECUTE the resting order's id
    ("price", np.int64),    # ticks; ignored for MARKET and CANCEL
    ("qty", np.int64),      # lots; REDUCE: to take off; EXECUTE: to trade; ignored for CANCEL
    ("owner", np.int32),    # account index, -1 for none
    ("side", np.int8),      # BUY or SELL
    ("kind", np.int8),      # LIMIT, MARKET, IOC, FOK, CANCEL, REDUCE, EXECUTE
    ("flags", np.uint8),    # QUEUE_AT_LIMIT
], align=True)

FILL_DTYPE = np.dtype([
    ("taker_id", np.int64),
    ("maker_id", np.int64),
    ("price", np.int64),    # the maker's price, ticks
    ("qty", np.int64),
    ("taker_owner", np.int32),
    ("maker_owner", np.int32),
    ("taker_side", np.int8),
    ("taker_kind", np.int8),  # LIMIT, MARKET, IOC, FOK, or EXECUTE (a counterparty outside the book)
], align=True)

RESULT_DTYPE = np.dtype([
    ("filled", np.int64),     # lots this order traded (EXECUTE: the named order traded)
    ("remaining", np.int64),  # lots left resting (CANCEL/REDUCE: left on the target order)
    ("cancelled", np.int64),  # lots dropped unfilled (CANCEL/REDUCE: taken off the target)
    ("reject", np.int8),      # Reject code, 0 when accepted
], align=True)


def make_orders(n=0, **columns):
    """An ORDER_DTYPE array of `n` rows (or as long as the columns), owner -1 by default."""
    if columns:
        n = max(np.size(v) for v in columns.values())
    orders = np.zeros(n, dtype=ORDER_DTYPE)
    orders["owner"] = -1
    for name, values in columns.items():
        if name not in ORDER_DTYPE.names:
            raise ValueError(f"ORDER_DTYPE has no field {name!r}")
        orders[name] = values
    return orders


class BatchResult:
    """What `Book.submit` (and `ReferenceBook.submit`) returns: the fills and one result row
    per message.

    Attributes
    ----------
    fills : numpy.ndarray of FILL_DTYPE
        The trades, in execution order.
    results : numpy.ndarray of RESULT_DTYPE
        One row per message: ``filled``, ``remaining``, ``cancelled``, ``reject``.
    """

    __slots__ = ("fills", "results")

    def __init__(self, fills, results):
        self.fills = fills
        self.results = results

    @property
    def filled(self):
        """Lots each message traded."""
        return self.results["filled"]

    @property
    def remaining(self):
        """Lots each message left resting (CANCEL/REDUCE: left on the target)."""
        return self.results["remaining"]

    @property
    def cancelled(self):
        """Lots each message dropped unfilled (CANCEL/REDUCE: taken off the target)."""
        return self.results["cancelled"]

    @property
    def reject(self):
        """Reject code of each message, 0 when accepted."""
        return self.results["reject"]

    def __len__(self):
        return len(self.results)

    def __repr__(self):
        rejected = int(np.count_nonzero(self.results["reject"]))
        return f"<BatchResult {len(self.results)} messages, {len(self.fills)} fills, {rejected} rejected>"
