"""Forced-liquidation cascades through the book: shocks, sessions, liquidity providers,
and the measured result.

``Cascade(book, accounts, mark="last").run(Shock.sell(qty))`` sends the shock into the
book, then runs the event loop of ``engine._cascade`` (without the GIL) to a fixed
point, session by session, and returns a :class:`CascadeResult` with the fill tape,
the best-price path, the forced orders, the per-wave table and ``summary()``.

Event semantics (the reference cascade in ``engine.cascade_reference`` follows them
literally, and the property tests hold the two to the same fills):

1. An event is one order sent into the book: the shock, or the next forced order in
   first-in-first-out order.  The book matches an order atomically, so the mark is
   updated after each of its fills (``"last"``) or from the book after the order
   (``"bid"``, ``"mid"``), and accounts are checked after the order.  Its fills are
   booked to their owners: proceeds repay debt first, the rest is cash.
2. A forced order that is over (nothing of it resting) settles its account: no
   position left -> cash repays what debt is left and the shortfall is bad debt; part
   of it cut by the band or its limit -> the account waits for the next session
   ("blocked"); a chunk with a cooldown -> the account waits that many events;
   otherwise the account goes back into the trigger index with its new trigger.
3. Liquidity providers act (withdraw or refill), then every idle account crossed at
   the mark gets a forced order, highest trigger first (ties: lowest account id), of
   wave 1 + the event's wave (the shock is wave 0): the wave is the generation of the
   cascade.  A liquidation that goes on keeps its wave: the next chunk of a chunked
   liquidation (cause "chunk": an order of exactly ``chunk`` lots whose account is
   still crossed when that event is over, or released after its cooldown), the retry
   at the next session's open of an order the band or its limit cut (cause "retry"),
   and the resubmission of an order queued at the floor (cause "resubmit").  So the
   accounts liquidated for the first time come in trigger order, and no account is
   liquidated above its line (with ``mark="mid"``, at the exact mid, which may lie
   half a tick above the tick the order is decided at).
4. Sessions: when no forced order is left to send, the session ends.  Its close is
   the last trade, or the best ask if sellers are queued below it (a limit-down day
   closes at the floor).  Margin calls are judged at the closing price; an account
   forced by a call gets wave 1 + the wave of the last shock or forced sell that traded
   before that close (the sell that made the closing price).  The next session's
   band is close +- limit; forced sells resting at the old floor are cancelled and
   resubmitted at the new one (``queued="resubmit"``) or kept; blocked accounts are
   re-indexed and every crossed account is liquidated.  The run stops after
   `sessions` sessions or when nothing is queued, blocked, called or unsent.

The run changes the book (forced sells resting at a floor, providers' bids stay) and
the accounts' ledger in place; forced orders use ids ``FORCED_ID_BASE + k``, provider
quotes ``LP_ID_BASE + j`` (owner ``LP_OWNER``), the shock ``SHOCK_ID``.  A ledger or a
book may be run again only when no forced order of the earlier run is still resting
(a run that kept orders queued at a floor leaves their accounts ``liquidating``): the
ids would be reused and the old orders' fills could not be booked, so such a run is
refused with a ValueError.  At the end of a run the triggers of accounts left blocked
or liquidating are recomputed from the ledger.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine import metrics
from engine._records import BUY
from engine._checks import integer
from engine._book import Book
from engine._accounts import Accounts as _Accounts
from engine import _cascade
from engine._cascade import (
    FORCED_DTYPE, TAPE_DTYPE, PATH_DTYPE, PROVIDER_DTYPE, FORCED_ID_BASE, LP_ID_BASE,
    SHOCK_ID, LP_OWNER,
)

__all__ = [
    "Shock", "LiquidityProvider", "Cascade", "CascadeResult", "FORCED_DTYPE", "TAPE_DTYPE",
    "PATH_DTYPE", "WAVE_DTYPE", "FORCED_ID_BASE", "LP_ID_BASE", "SHOCK_ID", "band_around",
    "session_band",
]

WAVE_DTYPE = np.dtype([
    ("wave", np.int32), ("forced_orders", np.int64),
    ("submitted_volume", np.int64),  # lots the wave's forced orders were sent to sell
    ("forced_volume", np.int64),     # of those, lots sold (at any time in the run)
    ("accounts_liquidated", np.int64),
    ("branching_ratio", np.float64),  # next wave's submitted volume / this wave's
])


@dataclass(frozen=True)
class Shock:
    """An exogenous shock: ``Shock.sell(qty)`` (a market sell of `qty` lots) or
    ``Shock.gap(price)`` (every bid above `price` ticks is withdrawn)."""

    kind: str
    qty: int = 0
    price: int = 0

    @classmethod
    def sell(cls, qty):
        """A market sell of `qty` lots (> 0); what the band stops is cancelled."""
        return cls("sell", qty=integer(qty, "qty", minimum=1))

    @classmethod
    def gap(cls, price):
        """Withdraw every bid above `price` ticks (>= 0: the mark, which falls to the new
        best bid or to `price` when no bid is left, is never below zero)."""
        return cls("gap", price=integer(price, "price"))


@dataclass(frozen=True)
class LiquidityProvider:
    """A background maker that refills bids below the last price and pulls them when
    the market gaps or falls too fast.

    Parameters
    ----------
    size : int
        Lots at the first quoted level (plus up to a quarter more of seeded jitter).
    levels, spacing : int
        Levels quoted, at last price - k x spacing for k = 0..levels-1 (not below the floor).
    every : int
        Events between refills.
    gap_ticks : int
        Withdraw when one event moves the last price down by more than this (0: never).
    drop_ticks, window : int
        Withdraw when the last price falls more than `drop_ticks` within `window` events.
    pause : int
        Events a withdrawn provider stays away.  Quotes are pooled: a withdrawal
        cancels every provider quote resting in the book.
    decay : float
        Size shrinks by this fraction per level away from the anchor (the shape).
    """

    size: int
    levels: int = 5
    spacing: int = 1
    every: int = 10
    gap_ticks: int = 0
    drop_ticks: int = 0
    window: int = 50
    pause: int = 100
    decay: float = 0.0

    def __post_init__(self):
        for name in ("size", "levels", "spacing", "every"):
            integer(getattr(self, name), name, minimum=1)
        for name in ("gap_ticks", "drop_ticks", "pause"):
            integer(getattr(self, name), name)
        integer(self.window, "window", maximum=_cascade.MAX_WINDOW)     # the ring's size
        if not (isinstance(self.decay, (int, float)) and 0 <= self.decay < 1):
            raise ValueError(f"decay must be in [0, 1), got {self.decay!r}")

    def _row(self):
        row = np.zeros((), PROVIDER_DTYPE)
        for name in ("size", "levels", "spacing", "every", "gap_ticks", "drop_ticks", "window",
                     "pause"):
            row[name] = getattr(self, name)
        row["decay_bps"] = round(self.decay * 10000)
        return row


def session_close(last_price, book):
    """A session's close: the last trade, or the best ask when sellers are queued below
    it (a limit-down session with no trade at the floor closes at the floor)."""
    ask = book.best_ask()
    return int(ask) if ask is not None and ask < last_price else int(last_price)


def band_around(close, limit):
    """The band ``(lo, hi)`` in ticks: ``close x (1 - limit)`` and ``close x (1 + limit)``,
    each rounded half up to the tick (the exchanges' rule; `limit` is taken to the basis
    point, exactly); ``lo`` is at least 1 tick.  For example ``band_around(1005, 0.10)``
    is ``(905, 1106)``."""
    bps = round(limit * 10000)
    lo = (close * (10000 - bps) + 5000) // 10000
    hi = (close * (10000 + bps) + 5000) // 10000
    return max(1, lo), hi


def session_band(close, limit, best_bid, best_ask):
    """The next session's band: `band_around` the close, widened just enough that a resting
    bid above limit-up (or ask below limit-down) is not stranded outside it."""
    lo, hi = band_around(int(close), limit)
    if best_bid is not None:
        hi = max(hi, best_bid)
    if best_ask is not None:
        lo = min(lo, best_ask)
    return lo, hi


class Cascade:
    """A forced-selling cascade of `accounts` through `book`.

    Parameters
    ----------
    book : engine.Book
        Changed in place by the run.
    accounts : engine.Accounts
        Changed in place by the run (``accounts.copy()`` keeps the starting state).
    mark : {"last", "bid", "mid"}
        Mark price rule: last trade, best bid, or the mid; with no bid left, "bid" and
        "mid" fall back to the last trade.  A mid between two ticks crosses an account
        exactly (its ratio at the true mid is strictly below the line); the quantity and
        limit of the forced order are decided at the tick below it.
    limit : float, optional
        Daily price limit as a fraction (0.10 main board, 0.20 growth boards); each
        session's band is the previous close +- limit.  None keeps the book's band.
    sessions : int
        Sessions the run may span (it stops early once nothing is left to do).
    queued : {"resubmit", "keep"}
        Forced sells resting at limit-down at a session's end: cancelled and resubmitted
        at the next session's floor, or kept where they are.
    prev_close : int, optional
        Close before the first session (default: the pre-shock best bid).
    providers : sequence of LiquidityProvider
    seed : int
        Seed of the providers' jitter (the only randomness).
    record_tape : bool
        Keep the fill tape (needed by the measurements).

    Raises
    ------
    TypeError, ValueError
        On a wrong argument, naming it.
    """

    def __init__(self, book, accounts, mark="last", limit=None, sessions=1, queued="resubmit",
                 prev_close=None, providers: Sequence[LiquidityProvider] = (), seed=0,
                 record_tape=True):
        if not isinstance(book, Book):
            raise TypeError(f"book must be an engine.Book, got {type(book).__name__}")
        if not isinstance(accounts, _Accounts):
            raise TypeError(f"accounts must be an engine.Accounts, got {type(accounts).__name__}")
        if mark not in ("last", "bid", "mid"):
            raise ValueError(f"mark must be 'last', 'bid' or 'mid', got {mark!r}")
        if limit is not None and not (isinstance(limit, (int, float)) and math.isfinite(limit)
                                      and 0 < limit < 1 and round(limit * 10000) >= 1):
            # band_around takes the limit to the basis point: less would be a zero-width band
            raise ValueError(f"limit must be a fraction in (0, 1) of at least a basis point, "
                             f"or None, got {limit!r}")
        integer(sessions, "sessions", minimum=1, maximum=32767)
        if prev_close is not None:
            integer(prev_close, "prev_close", minimum=1)
        if queued not in ("resubmit", "keep"):
            raise ValueError(f"queued must be 'resubmit' or 'keep', got {queued!r}")
        providers = tuple(providers)      # validated and kept: an iterator is read once
        for i, p in enumerate(providers):
            if not isinstance(p, LiquidityProvider):
                raise TypeError(f"providers[{i}] must be a LiquidityProvider")
        integer(seed, "seed", maximum=2**64 - 1)
        self.book = book
        self.accounts = accounts
        self.mark = mark
        self.limit = limit
        self.sessions = int(sessions)
        self.queued = queued
        self.prev_close = prev_close
        self.providers = providers
        self.seed = int(seed)
        self.record_tape = bool(record_tape)
        self._ran = False

    def run(self, shock: Shock) -> "CascadeResult":
        """Apply `shock` and run the cascade to its fixed point.

        Returns
        -------
        CascadeResult

        Raises
        ------
        ValueError
            If the book has no bids, or forced orders of an earlier run still rest in
            the book or are still live in the ledger (see the module notes).
        TypeError, RuntimeError
            If the shock is not a Shock, or this Cascade has already run.
        """
        if not isinstance(shock, Shock):
            raise TypeError(f"shock must be an engine.Shock, got {type(shock).__name__}")
        if self._ran:
            raise RuntimeError("a Cascade runs once: build a new one (the book and ledger have moved)")
        book = self.book
        start_bid, start_ask = book.best_bid(), book.best_ask()
        if start_bid is None:
            raise ValueError("the book has no bids: there is nothing for a shock to hit")
        self._ran = True
        started = time.perf_counter()
        self._bad_debt_before = int(self.accounts.bad_debt.sum())
        initial_prices, initial_qtys = metrics.depth_profile(book, BUY)
        providers = np.array([p._row() for p in self.providers], PROVIDER_DTYPE) \
            if self.providers else np.zeros(0, PROVIDER_DTYPE)
        engine = _cascade.Engine(book, self.accounts, self.mark, providers, self.seed,
                                 self.record_tape)
        close = int(self.prev_close) if self.prev_close is not None else start_bid
        try:
            result = self._run(engine, shock, book, start_bid, start_ask, close,
                               initial_prices, initial_qtys)
        finally:
            engine._restore_order()
        result.elapsed = time.perf_counter() - started
        return result

    def _run(self, engine, shock, book, start_bid, start_ask, close, initial_prices, initial_qtys):
        bands = [self._set_band(close) if self.limit is not None else book.band]
        engine._start(start_bid)
        withdrawn = 0
        if shock.kind == "sell":
            engine._shock_sell(shock.qty)
        else:
            while True:
                bid = book.best_bid()
                if bid is None or bid <= shock.price:
                    break
                ids, qtys, _ = book.queue(bid)
                for oid in ids:
                    withdrawn += book.cancel(int(oid))
            engine._after_gap(shock.price)
        bid_after_shock = book.best_bid()
        sessions = []
        stopped = None
        for s in range(self.sessions):
            sent_before = engine.order_count - engine.unsent
            if s > 0:
                if not (engine.resting_forced or engine.blocked_accounts or engine.pending_calls
                        or engine.unsent):
                    break
                # Without a limit the band stays as it is.
                try:
                    bands.append(self._set_band(sessions[-1]["close"]) if self.limit is not None
                                 else book.band)
                except ValueError as error:
                    # The book's grid cannot hold this session's band with the orders resting
                    # (set_band refused it and changed nothing): the run ends at the last close.
                    stopped = f"session {s} not opened: {error}"
                    break
                engine._open_session(s, self.queued == "resubmit")
            engine._run_session()
            close = session_close(engine.last_price, book)
            sessions.append({"session": s, "band": tuple(int(x) for x in bands[-1]),
                             "close": close,
                             # sent in this session (margin calls queued at the last
                             # close and resubmissions included)
                             "forced_orders": engine.order_count - engine.unsent - sent_before,
                             "queued_at_close": int(engine.resting_qty),
                             "queued_orders_at_close": int(engine.resting_forced),
                             "best_bid_at_close": book.best_bid()})
            if s + 1 < self.sessions:
                engine._close_session(close)
        return CascadeResult(
            engine=engine, accounts=self.accounts, book=book, shock=shock, start_price=start_bid,
            start_ask=start_ask, initial_depth=(initial_prices, initial_qtys),
            bid_after_shock=bid_after_shock, withdrawn=withdrawn, sessions=sessions,
            elapsed=0.0, limit=self.limit, bad_debt_before=self._bad_debt_before,   # run() times it
            stopped=stopped)

    def _set_band(self, close):
        lo, hi = session_band(close, self.limit, self.book.best_bid(), self.book.best_ask())
        self.book.set_band(lo, hi)
        return (lo, hi)


def _new_lots(orders):
    """Lots each forced order sent that its wave had not sent before.  A resubmission, or
    the retry of a cut order, sends again the lots its predecessor (the account's previous
    order, of the same wave) had cut: only what it asks beyond them is new (a retry decided
    at a lower price can ask more)."""
    qty = orders["qty"].astype(np.int64)
    account = orders["account"]
    by_account = np.lexsort((np.arange(len(orders)), account))     # each account's in time order
    follows = account[by_account[1:]] == account[by_account[:-1]]
    cut_before = np.zeros(len(orders), np.int64)
    cut_before[by_account[1:][follows]] = orders["cancelled"][by_account[:-1][follows]]
    again = (orders["cause"] == _cascade.RESUBMIT_CAUSE) | (orders["cause"] == _cascade.RETRY_CAUSE)
    return np.where(again, np.maximum(qty - cut_before, 0), qty)


class CascadeResult:
    """What a cascade did, with the measurements.

    Attributes
    ----------
    tape : numpy.ndarray of TAPE_DTYPE
        Every fill in execution order, with owners, the wave of the forced order (or
        shock, 0) that sold, and who sold (``seller``: 0 other, 1 shock, 2 forced).
    path : numpy.ndarray of PATH_DTYPE
        Best bid, best ask and mark after every event that changed one of them.
    orders : numpy.ndarray of FORCED_DTYPE
        Every forced order, in the order sent (its id in the book is
        ``FORCED_ID_BASE + row``); ``session`` is the session it was sent in, ``wave``
        the generation of the cascade of its liquidation, ``cause`` why it was sent
        (``engine._cascade.CAUSE_NAMES``: price, margin call, resubmit, chunk, retry).
    final_mark, final_mark_half : int, bool
        The mark after the last event (``final_mark + 1/2`` when ``final_mark_half``,
        a mid between two ticks).
    waves : numpy.ndarray of WAVE_DTYPE
        Per wave: forced orders, submitted volume (lots they were sent to sell, each lot
        once: resubmissions and retries of cut orders are not counted again), forced
        volume (lots of those sold), accounts liquidated (first time), branching ratio
        (the next wave's submitted volume / this wave's; wave 0 is the shock, its
        submitted volume the shock's size).  Branching is on submitted volume because a
        wave queued at limit-down sells nothing at once yet forces the next wave all the
        same.
    sessions : list of dict
        Per session run: band, close, ``forced_orders`` (forced orders sent in that
        session, margin calls and resubmissions included), lots and orders queued at
        the close, best bid at the close.
    bad_debt : int
        Bad debt recorded by this run (tick-lots), taken at its end.
    stopped : str or None
        Why the run ended before its last session with forced orders still to run (a
        session's band the book's grid cannot hold), or None.  The book and ledger are as
        at the last close: forced orders may still rest, their accounts ``liquidating``.
    """

    def __init__(self, engine, accounts, book, shock, start_price, start_ask, initial_depth,
                 bid_after_shock, withdrawn, sessions, elapsed, limit, bad_debt_before=0,
                 stopped=None):
        self.accounts = accounts
        self.stopped = stopped
        self.book = book
        self.shock = shock
        self.start_price = int(start_price)
        self.start_ask = start_ask
        self.initial_depth = initial_depth
        self.bid_after_shock = bid_after_shock
        self.withdrawn = int(withdrawn)
        self.sessions = sessions
        self.elapsed = elapsed
        self.limit = limit
        self.loop_nbytes = int(engine.nbytes)
        self.orders, self.tape, self.path = engine._take_results()
        self.end_price = int(engine.last_price)
        self.final_mark = int(engine.mark)
        self.final_mark_half = bool(engine.mark_half)     # the mark was final_mark + 1/2
        self.shock_filled = int(engine.shock_filled)
        self.shock_cancelled = int(engine.shock_cancelled)
        self.rejects = int(engine.rejects)
        self.events = int(engine.events)
        self.lp_bought = int(engine.lp_bought)
        self.lp_quoted = int(engine.lp_quoted)
        self.lp_withdrawn = int(engine.lp_withdrawn)
        self.record_tape = engine.record_tape
        # Per-run values are taken now: the ledger may be run again and change.
        self.bad_debt = int(accounts.bad_debt.sum()) - int(bad_debt_before)
        self._waves = None

    @property
    def waves(self):
        """The per-wave table (WAVE_DTYPE), computed on first use."""
        if self._waves is None:
            self._waves = self._wave_table()
        return self._waves

    # ------------------------------------------------------------------ tables

    @property
    def forced_volume(self):
        """Lots sold by forced orders (the shock excluded)."""
        return int(self.orders["filled"].sum())

    def _wave_table(self):
        orders = self.orders
        top = int(orders["wave"].max()) if len(orders) else 0
        table = np.zeros(top + 1, WAVE_DTYPE)
        table["wave"] = np.arange(top + 1)
        if len(orders):
            w = orders["wave"].astype(np.int64)
            table["forced_orders"] = np.bincount(w, minlength=top + 1)
            # Exact int64 sums (float weights would round past 2**53 lots).
            np.add.at(table["submitted_volume"], w, _new_lots(orders))
            np.add.at(table["forced_volume"], w, orders["filled"].astype(np.int64))
            _, first = np.unique(orders["account"], return_index=True)
            table["accounts_liquidated"] = np.bincount(w[first], minlength=top + 1)
        if self.shock.kind == "sell":
            table["submitted_volume"][0] = self.shock.qty
        volume = table["submitted_volume"].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            nxt = np.append(volume[1:], 0.0)
            table["branching_ratio"] = np.where(volume > 0, nxt / np.where(volume > 0, volume, 1), np.nan)
        return table

    def accounts_liquidated(self):
        """Indices of the accounts that got at least one forced order."""
        return np.unique(self.orders["account"])

    def sell_mask(self):
        """Tape rows where the shock or a forced order sold."""
        return self.tape["seller"] != _cascade.OTHER_SELLER

    # ------------------------------------------------------------------ summary

    def summary(self, distances=(None,), fractions=(0.25, 0.5, 0.9)):
        """The measurements as a dict.

        Keys: ``start_price`` (pre-shock best bid), ``end_price`` (last trade price),
        ``forced_volume`` (lots sold by forced orders, shock excluded), ``forced_orders``
        (forced orders sent, resubmissions included), ``accounts_liquidated``, ``waves``
        (highest wave), ``levels_emptied`` (pre-shock bid levels whose whole depth
        traded), ``max_gap_ticks`` (largest jump between consecutive trade prices, the
        start price counted as trade 0), ``depth_consumed`` (fraction of the pre-shock
        bid depth eaten), ``vwap_slippage_ticks`` (volume-weighted distance of every
        sell fill, shock included, below the start price), ``bad_debt`` (tick-lots
        recorded by this run, taken at its end),
        ``unfilled_at_limit`` (forced lots still queued in the book), ``amplification``
        (total sell volume / shock volume; None for a gap shock), plus
        ``shock_volume``, ``cut_volume`` (forced lots dropped by the band or a limit),
        ``price_amplification``, ``max_bid_gap_ticks``, ``max_spread_ticks``,
        ``max_sweep_empty_levels``, ``volume_at`` (cumulative forced volume, the shock
        excluded, at which the given fractions of the depth within each distance were
        gone: 0 when the shock alone ate them),
        ``sessions``, ``stopped`` (why the run ended early, or None), ``events`` (the
        event clock at the end: one tick per shock and per forced order sent, plus the
        ticks it jumps when only cooling accounts are left, so long cooldowns show as many
        events for few orders),
        ``rejects`` (forced orders the book refused: an id clash; should be 0), ``seconds``.
        Without the tape (``record_tape=False``) only the keys that do not need it are present.
        """
        orders = self.orders
        prices, qtys = self.initial_depth
        resting = orders["status"] == _cascade.RESTING
        done = orders["status"] == _cascade.DONE
        out = {
            "start_price": self.start_price,
            "end_price": self.end_price,
            "forced_volume": self.forced_volume,
            "forced_orders": int(len(orders)),
            "accounts_liquidated": int(len(self.accounts_liquidated())),
            "waves": int(orders["wave"].max()) if len(orders) else 0,
            "bad_debt": self.bad_debt,
            "unfilled_at_limit": int((orders["qty"][resting] - orders["filled"][resting]
                                      - orders["cancelled"][resting]).sum()),
            "cut_volume": int(orders["cancelled"][done].sum()),
            "shock_volume": self.shock_filled,
            "amplification": ((self.shock_filled + self.forced_volume) / self.shock_filled
                              if self.shock_filled else None),
            "sessions": len(self.sessions),
            "stopped": self.stopped,
            "rejects": self.rejects,
            "events": self.events,
            "seconds": self.elapsed,
        }
        shock_move = self.start_price - (self.bid_after_shock if self.bid_after_shock is not None
                                         else self.end_price)
        out["price_amplification"] = ((self.start_price - self.end_price) / shock_move
                                      if shock_move > 0 else None)
        if not self.record_tape:
            return out
        tape = self.tape
        exhaustion = metrics.depth_exhaustion(
            tape, prices, qtys, self.start_price, distances=distances, fractions=fractions,
            count=tape["seller"] == _cascade.FORCED_SELLER)
        gaps = metrics.price_gaps(tape, self.start_price, self.path)
        sells = self.sell_mask()
        _, empty = metrics.sweep_gaps(tape[sells])
        out.update({
            "levels_emptied": exhaustion["levels_emptied"],
            "max_gap_ticks": gaps["max_gap_ticks"],
            "max_bid_gap_ticks": gaps.get("max_bid_gap_ticks", 0),
            "max_spread_ticks": gaps.get("max_spread_ticks"),
            "max_sweep_empty_levels": int(empty.max()) if len(empty) else 0,
            "depth_consumed": exhaustion["fraction"],
            "vwap_slippage_ticks": metrics.vwap_slippage(tape, self.start_price, sells),
            "volume_at": {d: e["volume_at"] for d, e in exhaustion["by_distance"].items()},
        })
        return out

    def __repr__(self):
        return (f"<CascadeResult {len(self.orders)} forced orders, {len(self.tape)} fills, "
                f"{self.start_price} -> {self.end_price}>")
