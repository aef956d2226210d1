"""Struct-of-arrays ledger of leveraged long accounts, each reduced to one trigger price.

Every account kind is a long position whose health is linear in the price p:

- margin: crossed when ``(cash + shares*p) / debt < line`` (the force line);
- perp: crossed when ``cash + shares*p < mmr * shares * p`` (``cash`` is collateral
  minus the entry notional, so ``cash + shares*p`` is the equity);
- swap: crossed when ``cash + shares*p - debt < floor_value / 10000`` (the broker's stop
  line; ``floor_value`` is kept in 1/10000 tick-lots so that a stop such as 0.8 x margin
  is exact).

So each account is crossed exactly at the integer prices ``p <= trigger`` with a
closed-form ``trigger``; the cascade keeps accounts sorted by trigger and never
re-marks the population.  Lines are in basis points and every test is done in exact
128-bit integer arithmetic, so the ledger, the index and the reference agree to the lot.
Validation of user input lives in ``engine.accounts``; this module trusts its callers.
"""
from libc.stdint cimport int8_t, uint8_t, int16_t, int32_t, int64_t, INT64_MAX, INT64_MIN

import numpy as np
cimport numpy as cnp

from engine._types cimport price_t, qty_t

cnp.import_array()

cdef extern from *:
    """
    #include <stdint.h>
    typedef __int128 engine_i128;
    /* floor(a / b) for b > 0 */
    static inline engine_i128 engine_floordiv(engine_i128 a, engine_i128 b) {
        engine_i128 q = a / b;
        if ((a % b != 0) && (a < 0)) q -= 1;
        return q;
    }
    static inline engine_i128 engine_ceildiv(engine_i128 a, engine_i128 b) {
        return -engine_floordiv(-a, b);
    }
    static inline int64_t engine_clamp64(engine_i128 x) {
        if (x > (engine_i128)INT64_MAX) return INT64_MAX;
        if (x < (engine_i128)(INT64_MIN + 1)) return INT64_MIN + 1;
        return (int64_t)x;
    }
    """
    ctypedef long long i128 "engine_i128"
    i128 engine_floordiv(i128 a, i128 b) noexcept nogil
    i128 engine_ceildiv(i128 a, i128 b) noexcept nogil
    int64_t engine_clamp64(i128 x) noexcept nogil

# Accounts that can never be crossed sort last under this trigger.
TRIGGER_NONE = INT64_MIN
cdef int64_t C_TRIGGER_NONE = INT64_MIN
cdef int64_t BPS = 10000

RULE_DTYPE = np.dtype([
    ("ioc_offset", np.int64),
    ("chunk", np.int64),
    ("restore_bps", np.int32),
    ("call_bps", np.int32),
    ("call_grace", np.int32),
    ("fraction_bps", np.int32),
    ("cooldown", np.int32),
    ("kind", np.int8),
    ("policy", np.int8),
    ("style", np.int8),
    ("basis", np.int8),
], align=True)

MARGIN, PERP, SWAP = KIND_MARGIN, KIND_PERP, KIND_SWAP
SELL_ALL, RESTORE, FRACTION = POLICY_ALL, POLICY_RESTORE, POLICY_FRACTION
MARKET_STYLE, IOC_STYLE, FLOOR_STYLE = STYLE_MARKET, STYLE_IOC, STYLE_FLOOR
RATIO_BASIS, EQUITY_BASIS = BASIS_RATIO, BASIS_EQUITY
STATE_NAMES = {ST_STATIC: "idle", ST_HEAP: "idle", ST_LIQUIDATING: "liquidating",
               ST_BLOCKED: "blocked", ST_CLOSED: "closed", ST_IDLE_NONE: "idle"}
STATIC, HEAP, LIQUIDATING, BLOCKED, CLOSED, IDLE_NONE = (
    ST_STATIC, ST_HEAP, ST_LIQUIDATING, ST_BLOCKED, ST_CLOSED, ST_IDLE_NONE)

_COLUMNS = (("cash", np.int64), ("shares", np.int64), ("debt", np.int64),
            ("floor_value", np.int64), ("trigger", np.int64), ("bad_debt", np.int64),
            ("line_bps", np.int32), ("called", np.int32),
            ("rule", np.uint8), ("state", np.uint8))


cdef inline void* _data(object array):
    return cnp.PyArray_DATA(<cnp.ndarray>array)


cdef inline void _crossing_line(Accounts acc, int64_t a, int32_t line, i128* A, i128* B) noexcept nogil:
    """Account `a` is crossed at price p exactly when ``A + B*p < 0`` (all in 1/BPS units):
    the one statement of every rule's line, used for trigger prices and exact mid checks."""
    cdef int kind = acc.rules[acc.rule[a]].kind
    if kind == KIND_PERP:
        A[0] = <i128>BPS * acc.cash[a]
        B[0] = <i128>(BPS - line) * acc.shares[a]
    elif kind == KIND_MARGIN and acc.rules[acc.rule[a]].basis == BASIS_EQUITY:
        # equity (cash + shares p - debt) < line x market value (shares p), exactly
        A[0] = <i128>BPS * (<i128>acc.cash[a] - acc.debt[a])
        B[0] = <i128>(BPS - line) * acc.shares[a]
    else:
        A[0] = <i128>BPS * acc.cash[a] - acc.floor_value[a] - <i128>line * acc.debt[a]
        B[0] = <i128>BPS * acc.shares[a]


cdef class Accounts:
    """A population of leveraged long accounts (struct of arrays).

    Build one with ``engine.Accounts.margin``, ``.perp`` or ``.swap`` (they validate
    their input); ``Accounts._from_columns`` is the trusted low-level constructor.
    Money is in tick-lots (price in ticks x quantity in lots), positions in lots.
    A cascade run changes the ledger in place.
    """

    def __cinit__(self):
        self.n = 0
        self.rule_count = 0

    @classmethod
    def _from_columns(cls, columns, rules):
        """Trusted constructor: `columns` maps every ledger column name to an array of
        the right dtype and length, `rules` is a RULE_DTYPE array (at most 256 rows)."""
        cdef Accounts self = cls.__new__(cls)
        n = len(columns["cash"])
        arrays = {}
        for name, dtype in _COLUMNS:
            if name in columns:
                arrays[name] = np.ascontiguousarray(columns[name], dtype=dtype).copy()
            elif name == "called":
                arrays[name] = np.full(n, -1, np.int32)
            else:
                arrays[name] = np.zeros(n, dtype)
            if len(arrays[name]) != n:
                raise ValueError(f"column {name!r} has {len(arrays[name])} rows, cash has {n}")
        rules = np.ascontiguousarray(rules, dtype=RULE_DTYPE).copy()
        if not 1 <= len(rules) <= 256:
            raise ValueError(f"need 1..256 rules, got {len(rules)}")
        self.n = n
        self._arrays = arrays
        self._rules_array = rules
        self.rule_count = len(rules)
        self.cash = <int64_t*>_data(arrays["cash"])
        self.shares = <int64_t*>_data(arrays["shares"])
        self.debt = <int64_t*>_data(arrays["debt"])
        self.floor_value = <int64_t*>_data(arrays["floor_value"])
        self.trigger = <int64_t*>_data(arrays["trigger"])
        self.bad_debt = <int64_t*>_data(arrays["bad_debt"])
        self.line_bps = <int32_t*>_data(arrays["line_bps"])
        self.called = <int32_t*>_data(arrays["called"])
        self.rule = <uint8_t*>_data(arrays["rule"])
        self.state = <uint8_t*>_data(arrays["state"])
        self.rules = <Rule*>_data(rules)
        if arrays["rule"].size and int(arrays["rule"].max()) >= len(rules):
            raise ValueError("column 'rule' refers to a rule that does not exist")
        if "state" not in columns:
            self._reindex_all()
        return self

    cdef void _reindex_one(self, int64_t a) noexcept nogil:
        self.trigger[a] = self._trigger(a)
        self.state[a] = ST_STATIC if self.trigger[a] != C_TRIGGER_NONE else ST_IDLE_NONE

    def _reindex_all(self):
        cdef int64_t a
        with nogil:
            for a in range(self.n):
                self._reindex_one(a)

    def _reindex_stale(self):
        """Make every account idle again for a new cascade.  Idle accounts' triggers are
        kept current by every change to the ledger, so only the others are recomputed."""
        cdef int64_t a
        with nogil:
            for a in range(self.n):
                if self.state[a] == ST_HEAP:
                    self.state[a] = ST_STATIC
                elif self.state[a] != ST_STATIC and self.state[a] != ST_IDLE_NONE:
                    self._reindex_one(a)

    def _refresh_unindexed(self):
        """End of a run: accounts left blocked or liquidating are out of the index and
        their stored trigger may predate their last fills; recompute it from the ledger
        (the state is kept) so that ``trigger`` and ``crossed`` tell the truth."""
        cdef int64_t a
        with nogil:
            for a in range(self.n):
                if self.state[a] == ST_BLOCKED or self.state[a] == ST_LIQUIDATING:
                    self.trigger[a] = self._trigger(a)

    # ------------------------------------------------------------------ closed forms

    cdef int64_t _trigger(self, int64_t a) noexcept nogil:
        """Highest integer tick at which the account is crossed (TRIGGER_NONE: never)."""
        return self._trigger_at(a, self.line_bps[a])

    cdef int64_t _trigger_at(self, int64_t a, int32_t line) noexcept nogil:
        # crossed(p)  <=>  A + B*p < 0 with B > 0  <=>  p <= floor((-A - 1) / B)
        cdef i128 A, B
        if self.shares[a] <= 0:
            return C_TRIGGER_NONE
        if self.rules[self.rule[a]].kind == KIND_MARGIN and self.debt[a] <= 0:
            return C_TRIGGER_NONE
        _crossing_line(self, a, line, &A, &B)
        if B <= 0:
            return INT64_MAX if A < 0 else C_TRIGGER_NONE
        return engine_clamp64(engine_floordiv(-A - 1, B))

    cdef bint _crossed_at_half(self, int64_t a, price_t mark) noexcept nogil:
        """Exactly: is the account crossed at ``mark + 1/2`` (a mid between two ticks)?"""
        cdef i128 A, B
        if self.shares[a] <= 0 or self.trigger[a] == C_TRIGGER_NONE:
            return False
        _crossing_line(self, a, self.line_bps[a], &A, &B)
        # A + B (mark + 1/2) < 0
        return 2 * A + B * (2 * <i128>mark + 1) < 0

    cdef qty_t _liquidation_qty(self, int64_t a, price_t mark) noexcept nogil:
        """Lots the account's next forced order sells, decided at the mark."""
        cdef Rule* r = &self.rules[self.rule[a]]
        cdef qty_t q = self.shares[a]
        cdef i128 x = q, need, equity      # wide until clamped to the position: a restore
        if r.policy == POLICY_FRACTION:     # quantity can pass int64 when the debt is huge
            x = engine_ceildiv(<i128>q * r.fraction_bps, BPS)
        elif r.policy == POLICY_RESTORE and mark > 0 and r.restore_bps > 0:
            # A perp's restore line is equity / notional (below 1); a margin or swap
            # account's is a ratio on debt (validated above 1).
            if r.kind == KIND_PERP or r.basis == BASIS_EQUITY:
                # Selling at the mark leaves equity unchanged (proceeds repay debt) and
                # shrinks the notional (market value).
                equity = <i128>self.cash[a] + <i128>q * mark - (self.debt[a] if r.kind != KIND_PERP else 0)
                if equity > 0:
                    x = q - engine_floordiv(<i128>BPS * equity, <i128>r.restore_bps * mark)
            else:
                # Proceeds repay debt: (c + (q-x)p) * BPS >= R (d - x p).
                need = (<i128>r.restore_bps * self.debt[a] + self.floor_value[a]
                        - <i128>BPS * (<i128>self.cash[a] + <i128>q * mark))
                if r.restore_bps <= BPS:
                    x = q
                elif need > 0:
                    x = engine_ceildiv(need, <i128>mark * (r.restore_bps - BPS))
                else:
                    x = 1
        if r.chunk > 0 and x > r.chunk:
            x = r.chunk
        if x > q:
            x = q
        if x < 1:
            x = 1
        return <qty_t>x

    cdef price_t _bankruptcy(self, int64_t a) noexcept nogil:
        """Lowest tick at which selling the whole position still covers what is owed."""
        cdef int kind = self.rules[self.rule[a]].kind
        cdef i128 owed
        if self.shares[a] <= 0:
            return 0
        if kind == KIND_PERP:
            owed = -(<i128>self.cash[a])
        else:
            owed = <i128>self.debt[a] - self.cash[a]
        if owed <= 0:
            return 0
        return engine_clamp64(engine_ceildiv(owed, self.shares[a]))

    cdef void _apply_sale(self, int64_t a, price_t price, qty_t qty) noexcept nogil:
        """Book the proceeds of a forced fill: they repay debt first, the rest is cash."""
        cdef int64_t proceeds = price * qty, repay
        if self.rules[self.rule[a]].kind == KIND_SWAP and self.shares[a] > 0:
            # The stop line covers what is left of the position, pro rata.
            self.floor_value[a] = <int64_t>((<i128>self.floor_value[a] * (self.shares[a] - qty))
                                            // self.shares[a])
        self.shares[a] -= qty
        if self.rules[self.rule[a]].kind == KIND_PERP:
            self.cash[a] += proceeds
            return
        repay = proceeds if proceeds < self.debt[a] else self.debt[a]
        if repay < 0:
            repay = 0
        self.debt[a] -= repay
        self.cash[a] += proceeds - repay

    cdef void _settle(self, int64_t a) noexcept nogil:
        """Position gone: cash repays what debt is left; the rest is bad debt."""
        cdef int64_t pay
        if self.rules[self.rule[a]].kind == KIND_PERP:
            self.bad_debt[a] = -self.cash[a] if self.cash[a] < 0 else 0
            return
        pay = self.cash[a] if self.cash[a] < self.debt[a] else self.debt[a]
        if pay > 0:
            self.cash[a] -= pay
            self.debt[a] -= pay
        self.bad_debt[a] = self.debt[a] if self.debt[a] > 0 else 0

    # ------------------------------------------------------------------ Python view

    def __len__(self):
        return self.n

    def _column(self, name):
        view = self._arrays[name].view()
        view.flags.writeable = False
        return view

    @property
    def cash(self):
        """Cash per account in tick-lots (read-only view; perp: collateral - entry notional)."""
        return self._column("cash")

    @property
    def shares(self):
        """Long position per account in lots (read-only view)."""
        return self._column("shares")

    @property
    def debt(self):
        """Debt per account in tick-lots (read-only view; perp: 0)."""
        return self._column("debt")

    @property
    def floor_value(self):
        """Swap stop value per account in 1/10000 tick-lots, exact (read-only view; else 0)."""
        return self._column("floor_value")

    @property
    def trigger(self):
        """Highest tick at which each account is crossed (read-only; TRIGGER_NONE: never)."""
        return self._column("trigger")

    @property
    def bad_debt(self):
        """Shortfall per account left when its position was closed, tick-lots (read-only)."""
        return self._column("bad_debt")

    @property
    def line_bps(self):
        """Force line (margin, swap) or maintenance rate (perp) per account, basis points."""
        return self._column("line_bps")

    @property
    def rule_index(self):
        """Index of each account's rule in `rules` (read-only view)."""
        return self._column("rule")

    @property
    def state(self):
        """Cascade state code per account (see ``engine._accounts`` ST_* names)."""
        return self._column("state")

    @property
    def called(self):
        """Session of each account's pending margin call, -1 for none (read-only view)."""
        return self._column("called")

    @property
    def rules(self):
        """The rule table as a RULE_DTYPE array (a copy)."""
        return self._rules_array.copy()

    @property
    def nbytes(self):
        """Bytes held by the ledger columns and the rule table."""
        return sum(a.nbytes for a in self._arrays.values()) + self._rules_array.nbytes

    def kind(self):
        """Kind code (MARGIN, PERP, SWAP) per account, as an int8 array."""
        return self._rules_array["kind"][self._arrays["rule"]]

    def bankruptcy_price(self):
        """Per account, the lowest tick at which selling everything covers what is owed."""
        out = np.empty(self.n, np.int64)
        cdef int64_t[::1] view = out
        cdef int64_t a
        with nogil:
            for a in range(self.n):
                view[a] = self._bankruptcy(a)
        return out

    def crossed(self, price_t mark, bint half=False):
        """Boolean array: accounts whose line is strictly broken at `mark` (with `half`:
        at ``mark + 1/2``, a mid price between two ticks, decided exactly)."""
        trigger = self._arrays["trigger"]
        if not half:
            return (trigger != C_TRIGGER_NONE) & (mark <= trigger)
        out = (trigger != C_TRIGGER_NONE) & (mark < trigger)
        cdef int64_t a
        for a in np.flatnonzero(trigger == mark):
            out[a] = self._crossed_at_half(a, mark)
        return out

    def collateral_ratio(self, price_t mark):
        """Float array: (cash + shares x mark) / debt (inf without debt); margin accounts' health."""
        assets = self._arrays["cash"].astype(np.float64) + self._arrays["shares"].astype(np.float64) * mark
        debt = self._arrays["debt"].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(debt > 0, assets / np.where(debt > 0, debt, 1.0), np.inf)

    def copy(self):
        """An independent copy (a cascade run changes the ledger in place)."""
        return type(self)._from_columns(self._arrays, self._rules_array)     # it copies

    def columns(self):
        """Every ledger column as a dict of numpy copies."""
        return {name: array.copy() for name, array in self._arrays.items()}

    def __repr__(self):
        return f"<{type(self).__name__} {self.n} accounts, {self.rule_count} rules>"

    def __reduce__(self):
        return (_rebuild, (type(self), dict(self._arrays), self._rules_array))   # _from_columns copies


def _rebuild(cls, columns, rules):
    return cls._from_columns(columns, rules)


assert RULE_DTYPE.itemsize == sizeof(Rule), (RULE_DTYPE.itemsize, sizeof(Rule))
