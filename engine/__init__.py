"""firesale: a Cython limit order book and matching engine for forced-selling cascades."""
from engine._records import (
    BUY, SELL, LIMIT, MARKET, IOC, FOK, CANCEL, REDUCE, EXECUTE, QUEUE_AT_LIMIT,
    ORDER_DTYPE, FILL_DTYPE, RESULT_DTYPE, Reject, make_orders,
)
from engine._book import Book, BatchResult, MAX_LEVELS

__all__ = [
    "BUY", "SELL", "LIMIT", "MARKET", "IOC", "FOK", "CANCEL", "REDUCE", "EXECUTE",
    "QUEUE_AT_LIMIT",
    "ORDER_DTYPE", "FILL_DTYPE", "RESULT_DTYPE", "Reject", "make_orders",
    "Book", "BatchResult", "MAX_LEVELS",
]
__version__ = "0.1.0"
