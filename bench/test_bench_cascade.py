"""pytest-benchmark benchmarks of the cascade (run with `pytest bench/test_bench_cascade.py`);
never part of the test suite.  The make-bench table comes from cascade_bench.rows()."""
import pytest

import cascade_bench
from engine.cascade import Cascade, Shock


@pytest.mark.parametrize("accounts", [10_000, 100_000, 1_000_000])
def test_cascade_end_to_end(benchmark, accounts):
    benchmark.group = "cascade"
    benchmark.extra_info["accounts"] = accounts

    def setup():
        book, population = cascade_bench.workload(accounts)
        return (Cascade(book, population),), {}

    result = benchmark.pedantic(lambda cascade: cascade.run(Shock.sell(1000)), setup=setup,
                                rounds=3 if accounts >= 1_000_000 else 5)
    benchmark.extra_info["forced_orders"] = len(result.orders)
    assert len(result.accounts_liquidated()) >= accounts // 2


def test_reference_cascade_small(benchmark):
    """The pure-Python reference on 2,000 accounts, for the ratio."""
    from engine.cascade_reference import ReferenceCascade
    benchmark.group = "cascade reference"

    def setup():
        book, population = cascade_bench.workload(2_000, 20_000)
        return (ReferenceCascade(book, population),), {}

    benchmark.pedantic(lambda ref: ref.run(Shock.sell(1000)), setup=setup, rounds=1)
