"""firesale: a Cython limit order book and matching engine for forced-selling cascades.

The order book (``Book``) and its records; leveraged accounts and the cascade engine
(``Accounts``, ``Cascade``, ``Shock``); measurement (``engine.metrics``); scenarios and
sweeps (``run_scenario``, ``sweep``); recorded market data (``engine.io``).
"""
from engine._records import (
    BUY, SELL, LIMIT, MARKET, IOC, FOK, CANCEL, REDUCE, EXECUTE, QUEUE_AT_LIMIT,
    ORDER_DTYPE, FILL_DTYPE, RESULT_DTYPE, Reject, make_orders, BatchResult,
)
from engine._book import Book, MAX_LEVELS
from engine.accounts import (
    Accounts, MarginRule, PerpRule, SwapRule, A_SHARE_MARGIN, REG_T,
)
from engine.cascade import (
    Cascade, CascadeResult, Shock, LiquidityProvider, TAPE_DTYPE, FORCED_DTYPE, PATH_DTYPE,
)
from engine import metrics
from engine.scenario import run_scenario
from engine.sweeps import sweep

__all__ = [
    "BUY", "SELL", "LIMIT", "MARKET", "IOC", "FOK", "CANCEL", "REDUCE", "EXECUTE",
    "QUEUE_AT_LIMIT", "ORDER_DTYPE", "FILL_DTYPE", "RESULT_DTYPE", "Reject", "make_orders",
    "Book", "BatchResult", "MAX_LEVELS",
    "Accounts", "MarginRule", "PerpRule", "SwapRule", "A_SHARE_MARGIN", "REG_T",
    "Cascade", "CascadeResult", "Shock", "LiquidityProvider", "TAPE_DTYPE", "FORCED_DTYPE",
    "PATH_DTYPE", "metrics", "run_scenario", "sweep",
]
__version__ = "0.1.0"
