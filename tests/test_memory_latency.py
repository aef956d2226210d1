"""The memory-latency probe that `make bench` prints with each round (bench/memory_latency.c)."""
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import memory_latency  # noqa: E402


@pytest.mark.parametrize("lines", [2, 3, 64, 4096])
def test_the_chase_is_one_cycle_through_every_line(lines):
    # Back at line 0 after exactly as many reads as there are lines, and at no read before:
    # so every line is read once a round, and the figure is the block's, not a small loop's.
    size = lines * memory_latency.LINE
    assert memory_latency.chase(size, lines)[1] == 0
    assert memory_latency.chase(size, 2 * lines)[1] == 0
    ends = {memory_latency.chase(size, steps)[1] for steps in range(1, lines)}
    assert 0 not in ends and len(ends) == lines - 1


def test_latencies_are_times_per_read():
    measured = memory_latency.latencies(sizes_mb=(1, 2), steps=10_000)
    assert list(measured) == [1, 2]
    assert all(0 < ns < 10_000 and math.isfinite(ns) for ns in measured.values())
    assert memory_latency.describe(measured).startswith("random reads over 1 / 2 MB: ")


@pytest.mark.parametrize("size, steps", [(64, 10), (0, 10), (4096, 0), (-4096, 10)])
def test_refuses_a_block_without_a_cycle_or_a_chase_without_steps(size, steps):
    with pytest.raises(ValueError):
        memory_latency.chase(size, steps)
