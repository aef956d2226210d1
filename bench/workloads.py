"""The two standard benchmark workloads, as ORDER_DTYPE arrays.

Both start from the same seeded book: 100,000 resting limit orders spread over
+-2,000 ticks around MID, with a +-10% band (the A-share main-board limit).

- ``mixed`` (A): 1,000,000 messages, about 70% limit orders (about 15% of them
  marketable) and 30% cancels of random live orders, which sit deep in long queues.
- ``cascade`` (B): 200,000 market sells with lognormal sizes interleaved with 400,000
  bid refills, walking the best bid down by thousands of ticks.  Refills come in about
  the volume the sells take, below a reference price that falls ``CASCADE_WALK`` ticks over
  the run: the sells eat the top, the bid follows the reference down, and the bid side
  never runs dry (refills placed relative to the best bid cannot do that: a little less
  volume than the sells empties the book, a little more stalls the walk).

The streams are made by running them through an ``engine.Book`` as they are drawn, so
every cancel names an order that is live at that point.  Generation is deterministic in
the seed; ``load`` caches the arrays under ``bench/.data``.
"""
from pathlib import Path

import numpy as np

import engine
from engine import BUY, SELL, LIMIT, MARKET, CANCEL, ORDER_DTYPE

MID = 100_000
BAND = (MID - MID // 10, MID + MID // 10)
SEED_ORDERS = 100_000
SPREAD_TICKS = 2_000
CASCADE_WALK = 4_000
VERSION = 2
CACHE = Path(__file__).resolve().parent / ".data"


def seed_book_orders(rng, n=SEED_ORDERS, mid=MID, spread=SPREAD_TICKS, first_id=1):
    """`n` resting limits, half bids half asks, at 1..`spread` ticks from `mid`."""
    orders = np.zeros(n, ORDER_DTYPE)
    side = np.where(np.arange(n) % 2 == 0, BUY, SELL).astype(np.int8)
    rng.shuffle(side)
    offset = rng.integers(1, spread + 1, n)
    orders["id"] = np.arange(first_id, first_id + n)
    orders["side"] = side
    orders["kind"] = LIMIT
    orders["price"] = mid - side.astype(np.int64) * offset
    orders["qty"] = _lots(rng, n, mean_log=3.0)
    orders["owner"] = -1
    return orders


def _lots(rng, n, mean_log, sigma=1.0):
    return np.maximum(1, rng.lognormal(mean_log, sigma, n)).astype(np.int64)


class _LiveSet:
    """Ids of resting orders with O(1) add, remove and uniform random pick."""

    def __init__(self):
        self.ids = []
        self.where = {}

    def add(self, oid):
        self.where[oid] = len(self.ids)
        self.ids.append(oid)

    def discard(self, oid):
        pos = self.where.pop(oid, None)
        if pos is None:
            return
        last = self.ids.pop()
        if last != oid:
            self.ids[pos] = last
            self.where[last] = pos

    def pick(self, rng):
        return self.ids[int(rng.integers(len(self.ids)))]


def _new_book(seed_orders):
    book = engine.Book(*BAND)
    book.submit(seed_orders)
    return book


def _forget_filled(book, live):
    for maker in book.take_fills()["maker_id"]:
        if book.order(int(maker)) is None:
            live.discard(int(maker))


def make_mixed(seed=1, messages=1_000_000):
    """Workload A: limits (15% marketable) and cancels of random live orders."""
    rng = np.random.default_rng([seed, 0xA])
    seed_orders = seed_book_orders(rng)
    book = _new_book(seed_orders)
    live = _LiveSet()
    for oid in seed_orders["id"]:
        live.add(int(oid))
    out = np.zeros(messages, ORDER_DTYPE)
    out["owner"] = -1
    kinds = rng.random(messages)
    sides = np.where(rng.random(messages) < 0.5, BUY, SELL)
    offsets = rng.integers(1, SPREAD_TICKS + 1, messages)
    through = rng.integers(0, 3, messages)
    qtys = _lots(rng, messages, mean_log=3.0)
    next_id = SEED_ORDERS + 1
    for i in range(messages):
        row = out[i]
        if kinds[i] < 0.30 and live.ids:
            oid = live.pick(rng)
            row["id"], row["kind"] = oid, CANCEL
            book.cancel(oid)
            live.discard(oid)
            continue
        side = int(sides[i])
        best_bid, best_ask = book.best_bid(), book.best_ask()
        mid = (best_bid + best_ask) // 2 if best_bid is not None and best_ask is not None else MID
        if kinds[i] < 0.30 + 0.70 * 0.15:
            # Marketable: priced a little through the far touch, small enough to keep depth.
            touch = best_ask if side == BUY else best_bid
            price = (touch if touch is not None else mid) + side * int(through[i])
            qty = max(1, int(qtys[i]) // 2)
        else:
            price = mid - side * int(offsets[i])
            qty = int(qtys[i])
        row["id"], row["side"], row["kind"], row["price"], row["qty"] = next_id, side, LIMIT, price, qty
        book.limit(next_id, side, price, qty)
        if book.order(next_id) is not None:
            live.add(next_id)
        _forget_filled(book, live)
        next_id += 1
    return seed_orders, out


def make_cascade(seed=1, sells=200_000, refills_per_sell=2):
    """Workload B: market sells that walk the bid down, each followed by bid refills."""
    rng = np.random.default_rng([seed, 0xB])
    seed_orders = seed_book_orders(rng)
    book = _new_book(seed_orders)
    n = sells * (1 + refills_per_sell)
    out = np.zeros(n, ORDER_DTYPE)
    out["owner"] = -1
    sell_qty = _lots(rng, sells, mean_log=3.9)
    refill_qty = _lots(rng, sells * refills_per_sell, mean_log=3.9 - np.log(refills_per_sell))
    refill_offset = rng.geometric(0.08, sells * refills_per_sell) - 1
    next_id = SEED_ORDERS + 1
    k = 0
    for i in range(sells):
        out[k]["id"], out[k]["side"], out[k]["kind"], out[k]["qty"] = next_id, SELL, MARKET, sell_qty[i]
        book.market(next_id, SELL, int(sell_qty[i]))
        next_id += 1
        k += 1
        reference = MID - 1 - (i * CASCADE_WALK) // sells
        for j in range(refills_per_sell):
            r = i * refills_per_sell + j
            price = max(BAND[0], reference - int(refill_offset[r]))
            out[k]["id"], out[k]["side"], out[k]["kind"] = next_id, BUY, LIMIT
            out[k]["price"], out[k]["qty"] = price, refill_qty[r]
            book.limit(next_id, BUY, price, int(refill_qty[r]))
            next_id += 1
            k += 1
    book.take_fills()
    return seed_orders, out


MAKERS = {"mixed": make_mixed, "cascade": make_cascade}


def load(name, seed=1):
    """``(seed_orders, messages)`` of workload `name`, generated once and cached."""
    path = CACHE / f"{name}-v{VERSION}-seed{seed}.npz"
    if path.exists():
        data = np.load(path)
        return data["seed_orders"], data["messages"]
    seed_orders, messages = MAKERS[name](seed)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, seed_orders=seed_orders, messages=messages)
    tmp.replace(path)
    return seed_orders, messages


def seeded_book(seed_orders):
    """A fresh book with the workload's resting orders."""
    return _new_book(seed_orders)
