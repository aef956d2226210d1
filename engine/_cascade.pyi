"""Type stub of engine._cascade (the event-driven cascade loop)."""
from typing import Dict, Optional, Tuple

import numpy as np

from engine._accounts import Accounts
from engine._book import Book

FORCED_ID_BASE: int
LP_ID_BASE: int
SHOCK_ID: int
LP_OWNER: int
MARK_RULES: Dict[str, int]
STATUS_NAMES: Dict[int, str]
CAUSE_NAMES: Dict[int, str]
PRICE_CAUSE: int
CALL_CAUSE: int
RESUBMIT_CAUSE: int
CHUNK_CAUSE: int
RETRY_CAUSE: int
SELLER_NAMES: Dict[int, str]
PENDING: int
DONE: int
RESTING: int
RESUBMITTED: int
OTHER_SELLER: int
SHOCK_SELLER: int
FORCED_SELLER: int
FORCED_DTYPE: np.dtype
TAPE_DTYPE: np.dtype
PATH_DTYPE: np.dtype
PROVIDER_DTYPE: np.dtype

def _trigger_order(trigger: np.ndarray) -> np.ndarray: ...
def _refuse_orphans(book: Book, accounts: Accounts) -> None: ...

class Engine:
    book: Book
    accounts: Accounts
    mark: int
    mark_half: bool
    last_price: int
    session: int
    events: int
    max_wave: int
    record_tape: bool
    shock_filled: int
    shock_cancelled: int
    rejects: int
    lp_bought: int
    lp_quoted: int
    lp_withdrawn: int
    resting_qty: int
    def __init__(self, book: Book, accounts: Accounts, mark: str = ..., providers: Optional[np.ndarray] = ...,
                 seed: int = ..., record_tape: bool = ...) -> None: ...
    def _permute(self, forward: bool) -> None: ...
    def _restore_order(self) -> None: ...
    def _open_session(self, session: int, resubmit: bool) -> None: ...
    def _shock_sell(self, qty: int) -> None: ...
    def _start(self, last: int) -> None: ...
    def _after_gap(self, price: int) -> None: ...
    def _run_session(self) -> None: ...
    def _close_session(self, close: int) -> None: ...
    def _take_results(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]: ...
    @property
    def unsent(self) -> int: ...
    @property
    def resting_forced(self) -> int: ...
    @property
    def blocked_accounts(self) -> int: ...
    @property
    def pending_calls(self) -> int: ...
    @property
    def order_count(self) -> int: ...
    @property
    def tape_count(self) -> int: ...
    def forced_array(self) -> np.ndarray: ...
    def tape_array(self) -> np.ndarray: ...
    def path_array(self) -> np.ndarray: ...
    @property
    def nbytes(self) -> int: ...
