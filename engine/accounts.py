"""Leveraged accounts: liquidation rules, presets and validated constructors.

Money is in tick-lots (a price in ticks times a quantity in lots), positions in lots,
lines in the units users quote them in (collateral ratios such as 1.30, rates such as
0.004, maintenance fractions such as 0.25 on the equity basis) and stored in basis
points; every crossing is then decided exactly (Reg T's 25% maintenance is kept as
equity < 0.25 x market value, not as a rounded collateral ratio of 4/3).  Every constructor checks its input once, here, and
names the field at fault; the Cython ledger (``engine._accounts``) trusts what it gets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from engine import _accounts
from engine._accounts import RULE_DTYPE, TRIGGER_NONE
from engine._checks import INT32_MAX, integer

__all__ = [
    "Accounts", "MarginRule", "PerpRule", "SwapRule", "A_SHARE_MARGIN", "REG_T",
    "BINANCE_LIKE_TIERS", "RULE_DTYPE", "TRIGGER_NONE",
]

_POLICIES = {"all": _accounts.SELL_ALL, "restore": _accounts.RESTORE,
             "fraction": _accounts.FRACTION}
_STYLES = {"market": _accounts.MARKET_STYLE, "ioc": _accounts.IOC_STYLE,
           "floor": _accounts.FLOOR_STYLE}
_BASES = {"ratio": _accounts.RATIO_BASIS, "equity": _accounts.EQUITY_BASIS}


def _bps(value, name):
    """A line as a float (1.30) -> basis points (13000), or raise naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    bps = round(float(value) * 10000)
    if bps > INT32_MAX:             # an int32 field of RULE_DTYPE
        raise ValueError(f"{name}={value} is too large")
    return bps


def _check_choice(value, choices, name):
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")


@dataclass(frozen=True)
class MarginRule:
    """Securities-margin rule on the collateral ratio (cash + shares x price) / debt.

    Parameters
    ----------
    force : float
        Force line: an account whose ratio at the mark is strictly below it is
        liquidated at once.
    call : float, optional
        Call line (>= force): an account below it at a session's close is called and
        must be back above it within `grace` sessions or it is force-closed.
    restore : float
        Line that a ``policy="restore"`` liquidation sells back up to (> force).
    warning, withdraw : float, optional
        Warning and withdrawal lines (informative; must sit above the call line).
    grace : int
        Sessions a called account has before it is forced.
    policy : {"restore", "all"}
        Sell just enough to be back at `restore` (at the mark), or everything.
    style : {"market", "ioc", "floor"}
        Market sell (what the band stops is cancelled), IOC limited at
        ``mark - ioc_offset`` ticks, or a limit at the day's floor that queues there.
    ioc_offset : int
        Ticks below the mark for ``style="ioc"``.
    chunk, cooldown : int
        Largest forced order in lots (0: no limit) and events to wait between chunks.
    basis : {"ratio", "equity"}
        What the lines measure: the collateral ratio (cash + shares x price) / debt
        (lines above 1, such as 1.30), or equity / market value, equity being
        cash + shares x price - debt and market value shares x price (FINRA 4210 and
        Reg T; lines are fractions below 1, such as 0.25).  Both are decided exactly
        in integers once the line is in basis points.

    Raises
    ------
    ValueError
        If a line is negative, not finite or out of order (force <= call <= warning
        <= withdraw, force < restore), naming the field.
    """

    force: float = 1.10
    call: Optional[float] = 1.30
    restore: float = 1.45
    warning: Optional[float] = None
    withdraw: Optional[float] = None
    grace: int = 1
    policy: str = "restore"
    style: str = "market"
    ioc_offset: int = 0
    chunk: int = 0
    cooldown: int = 0
    basis: str = "ratio"

    def __post_init__(self):
        _check_choice(self.basis, _BASES, "basis")
        force = _bps(self.force, "force")
        if force <= 0:
            raise ValueError(f"force must be > 0, got {self.force}")
        restore = _bps(self.restore, "restore")
        if restore <= force:
            raise ValueError(f"restore={self.restore} must be above force={self.force}")
        if self.basis == "equity":
            for name in ("force", "call", "restore", "warning", "withdraw"):
                value = getattr(self, name)
                if value is not None and _bps(value, name) >= 10000:
                    raise ValueError(f"{name}={value} must be below 1 on the equity basis "
                                     "(a fraction of market value)")
        elif restore <= 10000 and self.policy == "restore":
            raise ValueError(f"restore={self.restore} must be above 1.0: selling to repay "
                             "cannot raise a ratio that is at or below 1")
        previous, previous_name = force, "force"
        for name in ("call", "warning", "withdraw"):
            value = getattr(self, name)
            if value is None:
                continue
            bps = _bps(value, name)
            if bps < previous:
                raise ValueError(f"{name}={value} must not be below {previous_name}="
                                 f"{getattr(self, previous_name)}")
            previous, previous_name = bps, name
        _check_choice(self.policy, ("restore", "all"), "policy")
        _check_choice(self.style, _STYLES, "style")
        integer(self.grace, "grace", maximum=INT32_MAX)
        integer(self.ioc_offset, "ioc_offset")
        integer(self.chunk, "chunk")
        integer(self.cooldown, "cooldown", maximum=INT32_MAX)

    def _row(self):
        row = np.zeros((), RULE_DTYPE)
        row["kind"] = _accounts.MARGIN
        row["policy"] = _POLICIES[self.policy]
        row["style"] = _STYLES[self.style]
        row["restore_bps"] = _bps(self.restore, "restore")
        row["call_bps"] = _bps(self.call, "call") if self.call is not None else 0
        row["call_grace"] = self.grace
        row["ioc_offset"] = self.ioc_offset
        row["chunk"] = self.chunk
        row["cooldown"] = self.cooldown
        row["fraction_bps"] = 10000
        row["basis"] = _BASES[self.basis]
        return row

    @classmethod
    def a_share(cls, **overrides):
        """A-share margin trading as one broker publishes it: withdraw at 300%, warning
        145%, call 130% (top up by T+1, forced on T+2), force 110%, restore to 145%."""
        params = dict(withdraw=3.00, warning=1.45, call=1.30, force=1.10, restore=1.45,
                      grace=1, policy="restore", style="floor")
        params.update(overrides)
        return cls(**params)

    @classmethod
    def reg_t(cls, maintenance=0.25, house=0.30, **overrides):
        """US Reg T / FINRA 4210: an account is forced when its equity (cash + shares x
        price - debt) falls strictly below `maintenance` x market value (shares x price),
        decided exactly (``basis="equity"``; the lines are the fractions themselves:
        ``force=maintenance``, ``restore=house``).  Liquidation sells back to the `house`
        requirement."""
        for name, value in (("maintenance", maintenance), ("house", house)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value < 1):
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if house <= maintenance:
            raise ValueError(f"house={house} must be above maintenance={maintenance}")
        params = dict(force=maintenance, call=None, restore=house, policy="restore",
                      style="market", basis="equity")
        params.update(overrides)
        return cls(**params)


A_SHARE_MARGIN = MarginRule.a_share()
REG_T = MarginRule.reg_t()

# (notional cap in tick-lots, maintenance rate) per tier; the last tier has no cap.
BINANCE_LIKE_TIERS: Tuple[Tuple[float, float], ...] = (
    (50_000, 0.004), (250_000, 0.005), (1_000_000, 0.01), (10_000_000, 0.025),
    (20_000_000, 0.05), (50_000_000, 0.10), (100_000_000, 0.125), (200_000_000, 0.15),
    (300_000_000, 0.25), (math.inf, 0.50),
)


@dataclass(frozen=True)
class PerpRule:
    """Perpetual-futures maintenance margin, long positions.

    An account (collateral C, size q lots, entry price e) has equity
    ``C + q (p - e)`` and is liquidated when equity < rate x q x p, where the rate is
    the tier of its entry notional ``q x e``.  The bankruptcy price is where equity is 0.

    Parameters
    ----------
    tiers : sequence of (notional cap, maintenance rate)
        Caps strictly increasing; the last cap may be ``math.inf``.
    policy : {"all", "restore"}
        Close everything, or just enough to get equity / notional back to `restore`.
    restore : float
        Equity / notional target of ``policy="restore"`` (above every tier's rate).
    style : {"ioc", "market", "floor"}
        ``"ioc"`` is limited at the account's bankruptcy price.
    chunk, cooldown : int
        Largest forced order in lots (0: none) and events between chunks.
    """

    tiers: Sequence[Tuple[float, float]] = BINANCE_LIKE_TIERS
    policy: str = "all"
    restore: float = 0.0
    style: str = "ioc"
    chunk: int = 0
    cooldown: int = 0

    def __post_init__(self):
        if len(self.tiers) == 0:
            raise ValueError("tiers must not be empty")
        previous = -math.inf
        for i, tier in enumerate(self.tiers):
            if len(tier) != 2:
                raise ValueError(f"tiers[{i}] must be (notional cap, rate), got {tier!r}")
            cap, rate = tier
            if not isinstance(cap, (int, float)) or math.isnan(cap) or cap <= previous:
                raise ValueError(f"tiers[{i}] notional cap {cap} must be above the previous one")
            if _bps(rate, f"tiers[{i}] rate") >= 10000:
                raise ValueError(f"tiers[{i}] rate must be below 1, got {rate}")
            previous = cap
        _check_choice(self.policy, ("all", "restore"), "policy")
        _check_choice(self.style, _STYLES, "style")
        if self.policy == "restore":
            top = max(_bps(rate, "rate") for _, rate in self.tiers)
            if _bps(self.restore, "restore") <= top:
                raise ValueError(f"restore={self.restore} must be above every tier's rate")
        integer(self.chunk, "chunk")
        integer(self.cooldown, "cooldown", maximum=INT32_MAX)

    def rates_bps(self, notional):
        """Maintenance rate in basis points for each entry notional."""
        caps = np.array([cap for cap, _ in self.tiers], dtype=np.float64)
        rates = np.array([_bps(rate, "rate") for _, rate in self.tiers], dtype=np.int32)
        tier = np.searchsorted(caps, np.asarray(notional, dtype=np.float64), side="left")
        return rates[np.minimum(tier, len(rates) - 1)]

    def _row(self):
        row = np.zeros((), RULE_DTYPE)
        row["kind"] = _accounts.PERP
        row["policy"] = _POLICIES[self.policy]
        row["style"] = _STYLES[self.style]
        row["restore_bps"] = _bps(self.restore, "restore")
        row["chunk"] = self.chunk
        row["cooldown"] = self.cooldown
        row["fraction_bps"] = 10000
        return row


@dataclass(frozen=True)
class SwapRule:
    """Swap / DMA financing: the broker's stop line on the fund's value.

    The fund posted margin M and holds q lots financed by the broker (F = q x entry - M);
    its value is ``cash + q p - F`` and the broker force-closes `close` of the position
    (1.0: all; 0.9: 90%) when the value falls strictly below ``stop x M``.

    Parameters
    ----------
    stop : float
        Stop line as a fraction of the fund's initial value (for example 0.80).
    close : float
        Fraction of the position closed at the stop, in (0, 1].
    style : {"market", "ioc", "floor"}
    ioc_offset : int
        Ticks below the mark for ``style="ioc"``.
    """

    stop: float = 0.80
    close: float = 1.0
    style: str = "market"
    ioc_offset: int = 0

    def __post_init__(self):
        _bps(self.stop, "stop")
        close = _bps(self.close, "close")
        if not 0 < close <= 10000:
            raise ValueError(f"close must be in (0, 1], got {self.close}")
        _check_choice(self.style, _STYLES, "style")
        integer(self.ioc_offset, "ioc_offset")

    def _row(self):
        row = np.zeros((), RULE_DTYPE)
        row["kind"] = _accounts.SWAP
        close = _bps(self.close, "close")
        row["policy"] = _accounts.SELL_ALL if close == 10000 else _accounts.FRACTION
        row["fraction_bps"] = close
        row["style"] = _STYLES[self.style]
        row["ioc_offset"] = self.ioc_offset
        return row


def _column(value, name, n=None, allow_negative=False):
    """`value` as an int64 array, or raise naming `name` (NaN, fractions, negatives, length)."""
    array = np.asarray(value)
    if array.ndim == 0:
        array = np.full(1 if n is None else n, array.item())
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype == bool or array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}[{row}] is {array[row]}: must be finite")
        fractional = array != np.round(array)
        if fractional.any():
            row = int(np.flatnonzero(fractional)[0])
            raise ValueError(f"{name}[{row}]={array[row]} is not a whole number of ticks/lots")
        if array.size and (array.max() >= 2**63 or array.min() < -2**63):
            raise ValueError(f"{name} has values outside int64")
    elif array.dtype == np.uint64 and array.size and array.max() >= 2**63:
        raise ValueError(f"{name} has values outside int64")
    array = array.astype(np.int64)
    if not allow_negative and array.size and array.min() < 0:
        row = int(np.flatnonzero(array < 0)[0])
        raise ValueError(f"{name}[{row}]={array[row]} must be >= 0")
    if n is not None and len(array) != n:
        raise ValueError(f"{name} has {len(array)} rows, expected {n} (like the first column)")
    return array


_LIMIT = 2**62  # keeps every product the ledger forms inside 128 bits with room to spare


def _check_range(array, name):
    if array.size and np.abs(array).max() > _LIMIT:
        raise ValueError(f"{name} has values beyond +-2**62")


class Accounts(_accounts.Accounts):
    """A population of leveraged long accounts (struct of arrays, built in Cython).

    Build with :meth:`margin`, :meth:`perp` or :meth:`swap`, join populations with
    :meth:`concat`.  Columns are read-only numpy views (``cash``, ``shares``, ``debt``,
    ``trigger``, ``bad_debt``, ...); a cascade run changes them in place (use
    :meth:`copy` to keep the starting state).
    """

    @classmethod
    def margin(cls, cash, shares, debt, rule: MarginRule = A_SHARE_MARGIN):
        """Securities-margin accounts.

        Parameters
        ----------
        cash : array_like of int
            Cash in tick-lots (>= 0).
        shares : array_like of int
            Long position in lots (>= 0).
        debt : array_like of int
            Loan in tick-lots (>= 0); an account without debt is never crossed.
        rule : MarginRule

        Returns
        -------
        Accounts

        Raises
        ------
        TypeError, ValueError
            Naming the field: non-numeric, NaN, fractional, negative values, or
            arrays of different lengths.
        """
        if not isinstance(rule, MarginRule):
            raise TypeError(f"rule must be a MarginRule, got {type(rule).__name__}")
        cash_ = _column(cash, "cash")
        n = len(cash_)
        shares_ = _column(shares, "shares", n)
        debt_ = _column(debt, "debt", n)
        for name, array in (("cash", cash_), ("shares", shares_), ("debt", debt_)):
            _check_range(array, name)
        line = np.full(n, _bps(rule.force, "force"), np.int32)
        return cls._from_columns(
            {"cash": cash_, "shares": shares_, "debt": debt_, "line_bps": line,
             "rule": np.zeros(n, np.uint8)}, rule._row().reshape(1))

    @classmethod
    def perp(cls, collateral, size, entry, rule: PerpRule = PerpRule()):
        """Long perpetual-futures positions.

        Parameters
        ----------
        collateral : array_like of int
            Margin posted, tick-lots (>= 0).
        size : array_like of int
            Position in lots (>= 0).
        entry : array_like of int
            Entry price in ticks (> 0).
        rule : PerpRule
            The maintenance rate of each account is its entry notional's tier.
        """
        if not isinstance(rule, PerpRule):
            raise TypeError(f"rule must be a PerpRule, got {type(rule).__name__}")
        collateral_ = _column(collateral, "collateral")
        n = len(collateral_)
        size_ = _column(size, "size", n)
        entry_ = _column(entry, "entry", n)
        if n and entry_.min() <= 0:
            row = int(np.flatnonzero(entry_ <= 0)[0])
            raise ValueError(f"entry[{row}]={entry_[row]} must be > 0")
        for name, array in (("collateral", collateral_), ("size", size_), ("entry", entry_)):
            _check_range(array, name)
        if n and (size_.astype(np.float64) * entry_.astype(np.float64)).max() > 2.0**62:
            raise ValueError("size x entry exceeds 2**62 tick-lots")
        notional = size_ * entry_
        cash = collateral_ - notional
        return cls._from_columns(
            {"cash": cash, "shares": size_, "debt": np.zeros(n, np.int64),
             "line_bps": rule.rates_bps(notional).astype(np.int32),
             "rule": np.zeros(n, np.uint8)}, rule._row().reshape(1))

    @classmethod
    def swap(cls, margin, shares, entry, rule: SwapRule = SwapRule(), cash=0):
        """Swap / DMA-financed long positions.

        Parameters
        ----------
        margin : array_like of int
            What the fund posted, tick-lots (>= 0); its initial value.
        shares : array_like of int
            Position in lots (>= 0).
        entry : array_like of int
            Entry price in ticks (> 0); financing = shares x entry - margin (>= 0).
        rule : SwapRule
        cash : array_like of int, optional
            Free cash beside the position, tick-lots (>= 0).
        """
        if not isinstance(rule, SwapRule):
            raise TypeError(f"rule must be a SwapRule, got {type(rule).__name__}")
        margin_ = _column(margin, "margin")
        n = len(margin_)
        shares_ = _column(shares, "shares", n)
        entry_ = _column(entry, "entry", n)
        cash_ = _column(cash, "cash", n)
        for name, array in (("margin", margin_), ("shares", shares_), ("entry", entry_),
                            ("cash", cash_)):
            _check_range(array, name)
        if n and entry_.min() <= 0:
            row = int(np.flatnonzero(entry_ <= 0)[0])
            raise ValueError(f"entry[{row}]={entry_[row]} must be > 0")
        financing = shares_ * entry_ - margin_
        if n and financing.min() < 0:
            row = int(np.flatnonzero(financing < 0)[0])
            raise ValueError(f"margin[{row}]={margin_[row]} exceeds the position's value "
                             f"{shares_[row] * entry_[row]}: nothing to finance")
        stop_bps = _bps(rule.stop, "stop")
        if n and margin_.max() > _LIMIT // max(stop_bps, 1):
            raise ValueError("margin x stop exceeds 2**62 (1/10000 tick-lots)")
        # Kept in 1/10000 tick-lots: the stop value margin x stop is exact.
        stop = margin_ * stop_bps
        return cls._from_columns(
            {"cash": cash_, "shares": shares_, "debt": financing, "floor_value": stop,
             "line_bps": np.full(n, 10000, np.int32), "rule": np.zeros(n, np.uint8)},
            rule._row().reshape(1))

    @classmethod
    def concat(cls, *populations):
        """One population from several (account i of the second follows the first's)."""
        if not populations:
            raise ValueError("concat needs at least one population")
        columns, rules, offset = {}, [], 0
        parts = []
        for k, population in enumerate(populations):
            if not isinstance(population, _accounts.Accounts):
                raise TypeError(f"populations[{k}] is not an Accounts")
            cols = population.columns()
            cols["rule"] = (cols["rule"].astype(np.int64) + offset)
            table = population.rules
            offset += len(table)
            rules.append(table)
            parts.append(cols)
        if offset > 256:
            raise ValueError(f"at most 256 rules in one population, got {offset}")
        for name in parts[0]:
            columns[name] = np.concatenate([p[name] for p in parts])
        columns["rule"] = columns["rule"].astype(np.uint8)
        return cls._from_columns(columns, np.concatenate(rules))
