"""The machine's weather: how long a read takes from memory that holds 1, 4 and 16 MB.

    python bench/memory_latency.py [--steps N]

``make bench`` prints these with every round of its table, since the machine is shared and
its speed moves with its host's load.  The host is a Xeon with 2 MB of second-level cache a
core and a last level of 36 MB shared with other tenants.  In the slow session of
2026-11-22 a 16 MB block, which fits that last level, answered at main memory's time, about
110 ns a read (1 MB: 15-20 ns): other tenants held the cache.  The engine's books are megabytes, so
its figures are read against this line.  ``bench/memory_latency.c`` does the timing: a chase
of dependent reads over every cache line of the block in a random order.
"""
import argparse
import ctypes
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import c_library  # noqa: E402

SOURCE = Path(__file__).resolve().parent / "memory_latency.c"
SIZES_MB = (1, 4, 16)
LINE = 64


@functools.cache
def library():
    return c_library.load(SOURCE, {"memory_chase_ns": (
        ctypes.c_double, [ctypes.c_int64, ctypes.c_int64, ctypes.c_uint64,
                          ctypes.POINTER(ctypes.c_int64)])})


def chase(size_bytes, steps, seed=1):
    """(nanoseconds a read, the line the chase ended at) for `steps` dependent reads in a
    random single cycle through every 64-byte line of a block of `size_bytes`."""
    if size_bytes < 2 * LINE or steps < 1:
        raise ValueError(f"need a block of at least {2 * LINE} bytes and a step, "
                         f"got {size_bytes} bytes and {steps} steps")
    end = ctypes.c_int64(-1)
    ns = library().memory_chase_ns(size_bytes, steps, seed, ctypes.byref(end))
    if ns < 0:
        raise MemoryError(f"cannot map a block of {size_bytes} bytes")
    return ns, end.value


def latencies(sizes_mb=SIZES_MB, steps=2_000_000):
    """Nanoseconds a read from a block of each size in `sizes_mb`, as {MB: ns}."""
    return {mb: chase(mb << 20, steps)[0] for mb in sizes_mb}


def describe(measured):
    """One line for a table: 'random reads over 1 / 4 / 16 MB: 5.1 / 20.3 / 31.0 ns'."""
    sizes = " / ".join(str(mb) for mb in measured)
    values = " / ".join(f"{ns:.1f}" for ns in measured.values())
    return f"random reads over {sizes} MB: {values} ns"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2_000_000, help="reads timed at each size")
    args = parser.parse_args(argv)
    print(describe(latencies(steps=args.steps)))


if __name__ == "__main__":
    main()
