"""A deliberately simple pure-Python cascade: the oracle for the Cython loop.

It follows the event semantics written in ``engine.cascade`` literally and slowly:
after every event it re-marks every idle account with exact Python integers (no
trigger index, no heap), sorts the crossed ones by trigger, and drives the book
through its per-call Python API (``market``/``limit``/``ioc``/``cancel``/
``take_fills``).  It uses ``engine.reference.ReferenceBook`` when given one, or any
object with the ``engine.Book`` API.

Covered: margin (ratio and equity bases), perp and swap accounts; policies all /
restore / fraction; styles market / ioc / floor; marks last / bid / mid (crossings at
the exact mid); sell and gap shocks; sessions with bands (or none), resubmission or
keeping of queued orders, blocked accounts that retry with their wave, chunks without
cooldown that keep their wave, and margin calls judged at the close with grace.  Not covered (rejected with NotImplementedError): chunking with cooldown and
liquidity providers.
"""
from __future__ import annotations

from collections import deque

from engine._records import BUY, SELL
from engine import _accounts
from engine._cascade import FORCED_ID_BASE, SHOCK_ID
from engine.cascade import session_band, session_close

BPS = 10000
NONE = _accounts.TRIGGER_NONE


class ReferenceCascade:
    """Pure-Python twin of ``engine.Cascade`` (same parameters, minus providers).

    Parameters
    ----------
    book : ReferenceBook or Book
        Driven through its per-call API.
    accounts : engine.Accounts
        Read once (columns and rules); the reference keeps its own Python ledger.
    """

    def __init__(self, book, accounts, mark="last", limit=None, sessions=1, queued="resubmit",
                 prev_close=None):
        self.book = book
        cols = accounts.columns()
        self.rules = [dict(zip(accounts.rules.dtype.names, (int(v) for v in row)))
                      for row in accounts.rules]
        for r in self.rules:
            if r["chunk"] > 0 and r["cooldown"] > 0:
                raise NotImplementedError("the reference cascade does not model chunk cooldowns")
        self.n = len(cols["cash"])
        self.cash = [int(x) for x in cols["cash"]]
        self.shares = [int(x) for x in cols["shares"]]
        self.debt = [int(x) for x in cols["debt"]]
        self.floor_value = [int(x) for x in cols["floor_value"]]
        self.line = [int(x) for x in cols["line_bps"]]
        self.rule = [int(x) for x in cols["rule"]]
        self.called = [int(x) for x in cols["called"]]
        self.bad_debt = [int(x) for x in cols["bad_debt"]]
        # As the engine does: a new run starts every account idle (a ledger left blocked or
        # closed by an earlier run is judged afresh); one still liquidating is refused.
        if (cols["state"] == _accounts.LIQUIDATING).any():
            raise ValueError("an account is still liquidating from an earlier run")
        self.state = ["idle"] * len(cols["state"])
        self.mark_rule = mark
        self.limit = limit
        self.sessions = sessions
        self.queued = queued
        self.prev_close = prev_close
        self.orders = []
        self.queue = deque()
        self.tape = []
        self.blocked = []
        self.session = 0
        self.max_wave = 0
        self.shock_filled = 0
        self.cont = {}          # account -> (wave, cause) of a liquidation that goes on
        self.cont_list = []     # accounts whose continuation the next detection decides
        self.close_wave = 0     # wave of the last shock or forced sell that traded

    # ------------------------------------------------------------------ account maths

    def kind(self, a):
        return self.rules[self.rule[a]]["kind"]

    def equity_basis(self, a):
        return (self.kind(a) == _accounts.MARGIN
                and self.rules[self.rule[a]]["basis"] == _accounts.EQUITY_BASIS)

    def health(self, a, p, line=None):
        """A + B*p: negative exactly when the account is crossed at p."""
        line = self.line[a] if line is None else line
        q = self.shares[a]
        if self.kind(a) == _accounts.PERP:
            return BPS * self.cash[a] + BPS * q * p - line * q * p
        if self.equity_basis(a):
            # equity (cash + q p - debt) against line x market value (q p)
            return BPS * (self.cash[a] + q * p - self.debt[a]) - line * q * p
        # floor_value (swaps' stop value) is kept in 1/BPS tick-lots
        return BPS * (self.cash[a] + q * p) - self.floor_value[a] - line * self.debt[a]

    def trigger(self, a, line=None):
        """Highest integer p with health(p) < 0, found from the line's two coefficients."""
        q = self.shares[a]
        if q <= 0:
            return NONE
        if self.kind(a) == _accounts.MARGIN and self.debt[a] <= 0:
            return NONE
        A = self.health(a, 0, line)
        B = self.health(a, 1, line) - A
        if B <= 0:
            return 2**63 - 1 if A < 0 else NONE
        t = (-A - 1) // B
        assert self.health(a, t, line) < 0 <= self.health(a, t + 1, line)
        return max(min(t, 2**63 - 1), -2**63 + 1)

    def crossed(self, a, p, half=False):
        """Crossed at p, or at p + 1/2 with `half` (health is linear in the price)."""
        if not (self.shares[a] > 0 and self.trigger(a) != NONE):
            return False
        if half:
            return self.health(a, p) + self.health(a, p + 1) < 0
        return self.health(a, p) < 0

    def liquidation_qty(self, a, p):
        r = self.rules[self.rule[a]]
        q = self.shares[a]
        x = q
        R = r["restore_bps"]
        if r["policy"] == _accounts.FRACTION:
            x = -((-q * r["fraction_bps"]) // BPS)
        elif r["policy"] == _accounts.RESTORE and p > 0 and R > 0:
            if r["kind"] == _accounts.PERP or self.equity_basis(a):
                equity = self.cash[a] + q * p - (self.debt[a] if self.equity_basis(a) else 0)
                if equity > 0:
                    x = q - (BPS * equity) // (R * p)
            else:
                # smallest x with BPS*(c - floor + (q-x)p) >= R*(d - x p)
                x = 1 if R > BPS else q
                while x < q and BPS * (self.cash[a] + (q - x) * p) - self.floor_value[a] \
                        < R * (self.debt[a] - x * p):
                    x += 1
        if r["chunk"] > 0:
            x = min(x, r["chunk"])
        return max(1, min(x, q))

    def bankruptcy(self, a):
        q = self.shares[a]
        if q <= 0:
            return 0
        owed = -self.cash[a] if self.kind(a) == _accounts.PERP else self.debt[a] - self.cash[a]
        return 0 if owed <= 0 else -((-owed) // q)

    def sale(self, a, price, qty):
        proceeds = price * qty
        if self.kind(a) == _accounts.SWAP and self.shares[a] > 0:
            self.floor_value[a] = self.floor_value[a] * (self.shares[a] - qty) // self.shares[a]
        self.shares[a] -= qty
        if self.kind(a) == _accounts.PERP:
            self.cash[a] += proceeds
            return
        repay = max(0, min(proceeds, self.debt[a]))
        self.debt[a] -= repay
        self.cash[a] += proceeds - repay

    def settle(self, a):
        if self.kind(a) == _accounts.PERP:
            self.bad_debt[a] = max(0, -self.cash[a])
            return
        pay = min(self.cash[a], self.debt[a])
        if pay > 0:
            self.cash[a] -= pay
            self.debt[a] -= pay
        self.bad_debt[a] = max(0, self.debt[a])

    # ------------------------------------------------------------------ events

    def floor_price(self):
        return self.book.band[0]

    def liquidate(self, a, wave, cause, qty=None):
        r = self.rules[self.rule[a]]
        order = {"account": a, "wave": wave, "qty": qty or self.liquidation_qty(a, self.mark),
                 "filled": 0, "cancelled": 0, "status": "pending", "cause": cause,
                 "mark": self.mark, "style": r["style"], "price": 0}
        if r["style"] == _accounts.IOC_STYLE:
            order["price"] = (self.bankruptcy(a) if r["kind"] == _accounts.PERP
                              else self.mark - r["ioc_offset"])
        self.orders.append(order)
        self.queue.append(len(self.orders) - 1)
        self.max_wave = max(self.max_wave, wave)
        self.state[a] = "liquidating"

    def detect(self, wave):
        crossed = [a for a in range(self.n)
                   if self.state[a] == "idle" and self.crossed(a, self.mark, self.mark_half)]
        crossed.sort(key=lambda a: (-self.trigger(a), a))
        for a in crossed:
            self.called[a] = -1
            if a in self.cont:
                self.liquidate(a, *self.cont.pop(a))
            else:
                self.liquidate(a, wave, "price")
        for a in self.cont_list:
            self.cont.pop(a, None)
        self.cont_list = []

    def consume(self, fills, taker_wave, seller):
        for f in fills:
            wave, who = -1, 0
            if f["taker_side"] == SELL and FORCED_ID_BASE <= f["taker_id"] < FORCED_ID_BASE + len(self.orders):
                o = self.orders[int(f["taker_id"]) - FORCED_ID_BASE]
                o["filled"] += int(f["qty"])
                self.sale(o["account"], int(f["price"]), int(f["qty"]))
                wave, who = o["wave"], 2
            elif f["taker_side"] == SELL and f["taker_id"] == SHOCK_ID:
                self.shock_filled += int(f["qty"])
                wave, who = 0, 1
            self.tape.append((int(f["taker_id"]), int(f["maker_id"]), int(f["price"]), int(f["qty"]),
                              int(f["taker_owner"]), int(f["maker_owner"]), int(f["taker_side"]),
                              who, self.session, wave))
            self.last = int(f["price"])
            if who:
                self.close_wave = wave
            if self.mark_rule == "last":
                self.mark = int(f["price"])

    def finish(self, k):
        o = self.orders[k]
        a = o["account"]
        if self.shares[a] == 0:
            self.settle(a)
            self.state[a] = "closed"
        elif o["cancelled"] > 0:
            self.state[a] = "blocked"
            self.blocked.append(a)
            self.cont[a] = (o["wave"], "retry")
        else:
            self.state[a] = "idle"
            chunk = self.rules[self.rule[a]]["chunk"]
            if chunk > 0 and o["qty"] == chunk:
                self.cont[a] = (o["wave"], "chunk")
                self.cont_list.append(a)

    def update_mark(self):
        bid, ask = self.book.best_bid(), self.book.best_ask()
        self.mark_half = False
        if self.mark_rule == "mid" and bid is not None and ask is not None:
            # the mid is mark + 1/2 when bid + ask is odd
            self.mark, self.mark_half = (bid + ask) // 2, (bid + ask) % 2 == 1
        elif self.mark_rule in ("bid", "mid"):
            self.mark = bid if bid is not None else self.last

    def send(self, k):
        o = self.orders[k]
        oid = FORCED_ID_BASE + k
        book = self.book
        try:
            if o["style"] == _accounts.FLOOR_STYLE:
                o["price"] = self.floor_price()
                book.limit(oid, SELL, o["price"], o["qty"], o["account"], queue_at_limit=True)
            elif o["style"] == _accounts.IOC_STYLE:
                book.ioc(oid, SELL, o["price"], o["qty"], o["account"])
            else:
                book.market(oid, SELL, o["qty"], o["account"])
        except ValueError:
            o["cancelled"] = o["qty"]
            o["status"] = "done"
            self.finish(k)
            return
        self.consume(book.take_fills(), o["wave"], 2)
        resting = book.order(oid)
        left = resting[2] if resting is not None else 0
        o["cancelled"] += o["qty"] - o["filled"] - o["cancelled"] - left
        if left:
            o["status"] = "resting"
        else:
            o["status"] = "done"
            self.finish(k)

    def after_event(self, wave):
        self.update_mark()
        self.detect(wave)

    def run_queue(self):
        while self.queue:
            k = self.queue.popleft()
            self.send(k)
            self.after_event(self.orders[k]["wave"] + 1)

    def calls(self, close):
        """Margin calls judged at the session's closing price."""
        wave = self.close_wave + 1
        for a in range(self.n):
            r = self.rules[self.rule[a]]
            if r["call_bps"] <= 0 or self.state[a] != "idle":
                continue
            t = self.trigger(a, r["call_bps"])
            if t != NONE and close <= t:
                if self.called[a] < 0:
                    self.called[a] = self.session
                if self.session - self.called[a] >= r["call_grace"]:
                    self.called[a] = -1
                    self.liquidate(a, wave, "margin call")
            else:
                self.called[a] = -1

    def set_band(self, close):
        self.book.set_band(*session_band(close, self.limit, self.book.best_bid(),
                                         self.book.best_ask()))

    def open_session(self, s):
        self.session = s
        if self.queued == "resubmit":
            for k in range(len(self.orders)):
                o = self.orders[k]
                if o["status"] != "resting":
                    continue
                left = self.book.cancel(FORCED_ID_BASE + k)
                o["cancelled"] += left
                o["status"] = "resubmitted"
                self.liquidate(o["account"], o["wave"], "resubmit", left)
        for a in self.blocked:
            if self.state[a] == "blocked":
                self.state[a] = "idle"
                if a in self.cont:
                    self.cont_list.append(a)
        self.blocked = []
        self.detect(self.max_wave + 1)

    def run(self, shock):
        """Run `shock` (an engine.Shock); returns self (read tape, orders, the ledger)."""
        book = self.book
        start = book.best_bid()
        ask = book.best_ask()
        self.start = start
        self.last = start
        self.mark = (start + ask) // 2 if self.mark_rule == "mid" and ask is not None else start
        self.mark_half = self.mark_rule == "mid" and ask is not None and (start + ask) % 2 == 1
        if self.limit is not None:
            self.set_band(self.prev_close if self.prev_close is not None else start)
        if shock.kind == "sell":
            book.market(SHOCK_ID, SELL, shock.qty, -1)
            self.consume(book.take_fills(), 0, 1)
            self.after_event(1)
        else:
            while book.best_bid() is not None and book.best_bid() > shock.price:
                ids, _, _ = book.queue(book.best_bid())
                for oid in ids:
                    book.cancel(int(oid))
            self.mark = book.best_bid() if book.best_bid() is not None else shock.price
            self.mark_half = False
            self.detect(1)
        for s in range(self.sessions):
            if s > 0:
                pending = any(o["status"] == "pending" for o in self.orders)
                resting = any(o["status"] == "resting" for o in self.orders)
                if not (resting or self.blocked or pending or any(c >= 0 for c in self.called)):
                    break
                if self.limit is not None:
                    self.set_band(self.close)
                self.open_session(s)
            self.run_queue()
            self.close = session_close(self.last, self.book)
            if s + 1 < self.sessions:
                self.calls(self.close)
        self.end_price = self.last
        return self
