"""Long seeded random streams: the engine against the reference, and the engine's
per-call path against its own batch path.

The state machine in test_book_stateful.py explores small books step by step; these
push tens of thousands of messages through books with hundreds of resting orders,
ids spread over all of int64, band moves between chunks, and a sprinkling of
malformed rows.  Every stream comes from an explicit seed.
"""
import numpy as np
import pytest

from engine import (
    Book, BUY, SELL, LIMIT, MARKET, IOC, FOK, CANCEL, REDUCE, EXECUTE, QUEUE_AT_LIMIT,
    ORDER_DTYPE, Reject, make_orders,
)
from engine.reference import ReferenceBook

SEED = 20_261_121
KINDS = [LIMIT, MARKET, IOC, FOK, CANCEL, REDUCE, EXECUTE]
KIND_WEIGHTS = [0.50, 0.04, 0.10, 0.05, 0.17, 0.09, 0.05]
INT64 = np.iinfo(np.int64)


def random_messages(rng, n, lo, hi, *, ids, malformed=0.02):
    """`n` messages around the band [lo, hi] with ids drawn from `ids`."""
    kind = rng.choice(KINDS, size=n, p=KIND_WEIGHTS)
    side = rng.choice([BUY, SELL], size=n)
    # Bids mostly below the middle of the band and asks above it, so the book builds up
    # depth; now and then an order reaches across, or past the band edge.
    middle = (lo + hi) // 2
    distance = rng.integers(-6, (hi - lo) // 2 + 4, size=n)
    orders = make_orders(
        id=rng.choice(ids, size=n),
        side=side,
        kind=kind,
        price=middle - side * distance,
        qty=rng.integers(1, 20, size=n),
        owner=rng.integers(-1, 6, size=n),
        flags=np.where(np.isin(kind, [LIMIT, MARKET]) & (rng.random(n) < 0.3), QUEUE_AT_LIMIT, 0),
    )
    spoilt = np.flatnonzero(rng.random(n) < malformed)
    for row, field in zip(spoilt, rng.choice(["kind", "side", "qty", "flags"], size=len(spoilt))):
        orders[field][row] = {"kind": 9, "side": 0, "qty": 0, "flags": 4}[field]
    return orders


def id_pool(rng, size):
    pool = rng.integers(INT64.min, INT64.max, size=size, endpoint=True)
    return np.concatenate([pool, [INT64.min, INT64.max, -1, 0]])


def same_snapshot(a, b):
    for key in ("band", "id", "side", "price", "qty", "owner"):
        assert np.array_equal(a[key], b[key]), key


@pytest.mark.parametrize("child", range(4))
def test_engine_matches_reference_on_long_streams(child):
    rng = np.random.default_rng(np.random.SeedSequence(SEED).spawn(4)[child])
    lo, hi = -100, 100
    book, ref = Book(lo, hi), ReferenceBook(lo, hi)
    ids = id_pool(rng, 1000)
    for chunk in range(8):
        orders = random_messages(rng, int(rng.integers(2000, 5000)), lo, hi, ids=ids)
        got, want = book.submit(orders), ref.submit(orders)
        assert np.array_equal(got.results, want.results)
        assert np.array_equal(got.fills, want.fills)
        accepted_new = (got.reject == 0) & np.isin(orders["kind"], [LIMIT, MARKET, IOC, FOK])
        assert np.array_equal(orders["qty"][accepted_new],
                              (got.filled + got.remaining + got.cancelled)[accepted_new])
        book.check_invariants()
        same_snapshot(book.snapshot(), ref.snapshot())
        # Move the band where the book allows it (both must agree on whether it may).
        shift = int(rng.integers(-30, 31))
        new_lo, new_hi = lo + shift, hi + shift
        try:
            ref.set_band(new_lo, new_hi)
        except ValueError:
            with pytest.raises(ValueError):
                book.set_band(new_lo, new_hi)
        else:
            book.set_band(new_lo, new_hi)
            lo, hi = new_lo, new_hi
    assert len(book) == len(ref) > 0


def _per_call(book, row):
    """Send one ORDER_DTYPE row through the per-call methods; return its reject code."""
    id, price, qty, owner, side, kind, flags = row
    calls = {
        LIMIT: lambda: book.limit(id, side, price, qty, owner, queue_at_limit=bool(flags)),
        MARKET: lambda: book.market(id, side, qty, owner, queue_at_limit=bool(flags)),
        IOC: lambda: book.ioc(id, side, price, qty, owner),
        FOK: lambda: book.fok(id, side, price, qty, owner),
        CANCEL: lambda: book.cancel(id),
        REDUCE: lambda: book.reduce(id, qty),
        EXECUTE: lambda: book.execute(id, qty, owner),
    }
    try:
        calls[kind]()
    except ValueError as error:
        return next(code for code in Reject if code and f"({code.name})" in str(error))
    return 0


@pytest.mark.parametrize("child", range(2))
def test_per_call_path_matches_batch_path(child):
    rng = np.random.default_rng(np.random.SeedSequence(SEED + 1).spawn(2)[child])
    lo, hi = 0, 60
    orders = random_messages(rng, 6000, lo, hi, ids=id_pool(rng, 150), malformed=0)
    # Per-call methods only send what they can express: no flags on IOC/FOK.
    orders["flags"][~np.isin(orders["kind"], [LIMIT, MARKET])] = 0
    batch_book, call_book = Book(lo, hi), Book(lo, hi)
    batch = batch_book.submit(orders)
    rejects = [_per_call(call_book, row) for row in orders.tolist()]
    assert np.array_equal(batch.reject, rejects)
    assert np.array_equal(call_book.take_fills(), batch.fills)
    same_snapshot(call_book.snapshot(), batch_book.snapshot())
    call_book.check_invariants()


def test_batch_split_anywhere_gives_the_same_book():
    rng = np.random.default_rng(SEED + 2)
    orders = random_messages(rng, 5000, 0, 100, ids=id_pool(rng, 200))
    whole = Book(0, 100)
    expected = whole.submit(orders)
    split = Book(0, 100)
    cuts = np.sort(rng.choice(np.arange(1, len(orders)), size=40, replace=False))
    parts = [split.submit(part) for part in np.split(orders, cuts)]
    assert np.array_equal(np.concatenate([p.results for p in parts]), expected.results)
    assert np.array_equal(np.concatenate([p.fills for p in parts]), expected.fills)
    same_snapshot(split.snapshot(), whole.snapshot())


def test_reference_is_hypothesis_free_and_picklable():
    import pickle
    ref = ReferenceBook(0, 10)
    ref.limit(1, BUY, 5, 2, owner=3)
    restored = pickle.loads(pickle.dumps(ref))
    same_snapshot(restored.snapshot(), ref.snapshot())
    assert restored.order(1) == (BUY, 5, 2, 3)
    assert ORDER_DTYPE.names == ("id", "price", "qty", "owner", "side", "kind", "flags")


FIB = 0x9E3779B97F4A7C15    # the engine's Fibonacci hashing multiplier


def colliding_ids(rng, n, top_bits):
    """`n` distinct int64 ids whose hash ``id * FIB mod 2**64`` starts with `top_bits`
    (24 bits): they share one home slot (and tag) in any id table of up to 2**21 slots."""
    inverse = pow(FIB, -1, 2**64)
    low = rng.choice(2**40, size=n, replace=False).tolist()
    hashes = [(top_bits << 40) | x for x in low]
    unsigned = [h * inverse % 2**64 for h in hashes]
    return np.array([u - 2**64 if u >= 2**63 else u for u in unsigned], dtype=np.int64)


@pytest.mark.parametrize("top_bits", [0xFFFFFF, 0x000000, 0x800000],
                         ids=["last-slot-wraps", "first-slot", "middle"])
def test_id_table_survives_a_cluster_of_colliding_ids(top_bits):
    """Thousands of ids with one home slot (the last slot makes every probe run wrap
    round the table): insertions, removals with backward shifts and table growth."""
    rng = np.random.default_rng(SEED + top_bits)
    clustered = colliding_ids(rng, 1500, top_bits)
    ids = np.concatenate([clustered, rng.integers(INT64.min, INT64.max, size=500)])
    rng.shuffle(ids)
    book, ref = Book(0, 100), ReferenceBook(0, 100)
    for step in range(6):
        n = len(ids)
        orders = make_orders(id=ids, kind=LIMIT, side=np.where(rng.random(n) < 0.5, BUY, SELL),
                             qty=rng.integers(1, 5, n), owner=rng.integers(-1, 3, n))
        orders["price"] = np.where(orders["side"] == BUY, rng.integers(0, 50, n),
                                   rng.integers(51, 101, n))
        targets = rng.permutation(ids)[: n * 3 // 4]
        removals = make_orders(id=targets, qty=rng.integers(1, 5, len(targets)),
                               kind=rng.choice([CANCEL, REDUCE, EXECUTE], size=len(targets)))
        for batch in (orders, removals):
            got, want = book.submit(batch), ref.submit(batch)
            assert np.array_equal(got.results, want.results)
            assert np.array_equal(got.fills, want.fills)
            book.check_invariants()
        same_snapshot(book.snapshot(), ref.snapshot())
        for id in rng.choice(ids, size=50).tolist():
            assert book.order(id) == ref.order(id)
