"""The book demonstration and the command line's basics."""
import json
import subprocess
import sys

import numpy as np

import engine
from engine.demo import depth_profile_orders, format_demo, run_demo

TIMING = ("seconds", "messages_per_second", "fills_per_second")


def _without_timing(measurements):
    return {k: v for k, v in measurements.items() if k not in TIMING}


def test_demo_is_deterministic_and_consistent():
    first = run_demo(seed=3, levels=400, orders_per_level=20, sells=3_000)
    again = run_demo(seed=3, levels=400, orders_per_level=20, sells=3_000)
    assert _without_timing(first) == _without_timing(again)
    # Every forced lot is filled or queued at limit-down; nothing is lost.
    assert first["filled_volume"] + first["queued_at_limit_down"] == first["forced_volume"]
    assert 0 < first["depth_consumed"] <= 1
    assert first["end_bid"] is None or first["end_bid"] < first["start_bid"]
    assert "depth consumed" in format_demo(first)


def test_depth_profile_is_humped_and_uncrossed():
    rng = np.random.default_rng(1)
    orders = depth_profile_orders(rng, mid=1_000, levels=200, orders_per_level=10, hump_ticks=30)
    bids = orders[orders["side"] == engine.BUY]
    asks = orders[orders["side"] == engine.SELL]
    assert bids["price"].max() < 1_000 < asks["price"].min()
    counts = np.bincount(1_000 - bids["price"], minlength=201)
    assert counts[25:35].sum() > counts[1:11].sum()      # deeper at the hump than at the touch
    assert len(np.unique(orders["id"])) == len(orders)


def _firesale(*args):
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True,
                          timeout=300)


def test_cli_demo_json_and_version():
    done = _firesale("demo", "--sells", "2000", "--json")
    assert done.returncode == 0, done.stderr
    measurements = json.loads(done.stdout)
    assert measurements["forced_sells"] == 2000
    assert _firesale("--version").stdout.strip() == engine.__version__


def test_cli_without_command_prints_help_and_fails():
    done = _firesale()
    assert done.returncode == 2 and "usage" in done.stdout


def test_cli_demo_refuses_a_count_below_one():
    done = _firesale("demo", "--sells", "-5")
    assert done.returncode == 2 and "--sells: expected an integer >= 1, got -5" in done.stderr
