"""pytest-benchmark benchmarks of the order book (run with `make bench` or
`pytest bench/test_bench_book.py`); never part of the test suite."""
import pytest

import book_bench
import workloads


@pytest.fixture(scope="module", params=["mixed", "cascade"])
def workload(request):
    seed_orders, messages = workloads.load(request.param)
    return request.param, seed_orders, messages


def test_batch(benchmark, workload):
    name, seed_orders, messages = workload
    benchmark.group = f"book {name}"
    benchmark.extra_info["messages"] = len(messages)

    def setup():
        return (book_bench.seeded(seed_orders), messages), {}

    result = benchmark.pedantic(lambda book, msgs: book.submit(msgs), setup=setup, rounds=7)
    assert not result.reject.any()


def test_per_call(benchmark, workload):
    name, seed_orders, messages = workload
    benchmark.group = f"book {name}"
    benchmark.extra_info["messages"] = len(messages)

    def setup():
        book = book_bench.seeded(seed_orders)
        return (book_bench.per_call_plan(book, messages),), {}

    benchmark.pedantic(book_bench.replay_per_call, setup=setup, rounds=3)


def test_reference(benchmark, workload):
    name, seed_orders, messages = workload
    benchmark.group = f"book {name}"
    factory = book_bench.reference_factory()

    def setup():
        return (book_bench.seeded(seed_orders, factory), messages), {}

    benchmark.pedantic(lambda book, msgs: book.submit(msgs), setup=setup, rounds=1)


def test_flat_c_book(benchmark, workload):
    """The flat-array C book the batch path's target was set against (flat_book.c)."""
    name, seed_orders, messages = workload
    benchmark.group = f"book {name}"
    benchmark.extra_info["messages"] = len(messages)

    def setup():
        return book_bench.flat_seeded(seed_orders, messages), {}

    def run(book, batch):
        book.run(batch)
        return batch

    batch = benchmark.pedantic(run, setup=setup, rounds=7)
    assert not batch.results["reject"].any()
