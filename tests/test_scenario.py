"""Scenarios: validation with clear errors, presets, TOML round trips, building and running."""
import json
import tomllib

import numpy as np
import pytest

from engine.scenario import (
    PRESETS, ScenarioError, build, draw, load, loads, preset, preset_names, resolve,
    run_scenario, set_field, to_toml, validate,
)
from engine.io.seed import data_dir

SMALL = 0.01  # scale used to keep every run here well under a second

MINIMAL = """
name = "tiny"
seed = 3
[book]
kind = "humped"
price = 10000
bid_levels = 1500
ask_levels = 50
depth_per_tick = 4.0
[[accounts]]
kind = "margin"
count = 500
[session]
limit = 0.10
sessions = 3
[shock]
kind = "sell"
depth_fraction = 1.0
"""

needs_binance = pytest.mark.skipif(
    data_dir() is None or not (data_dir() / "binance_btcusdt_2024-08-08").is_dir(),
    reason="the recorded Binance book is not in ../shared/data")


def _error(text, source="t.toml"):
    with pytest.raises(ScenarioError) as info:
        loads(text, source)
    return info.value


# ---------------------------------------------------------------- validation

def test_minimal_file_gets_every_default():
    scenario = loads(MINIMAL, "tiny.toml")
    assert scenario["accounts"][0]["median_ratio"] == 2.8
    assert scenario["accounts"][0]["rule"] == {"preset": "a_share"}
    assert scenario["session"] == {"mark": "last", "limit": 0.10, "sessions": 3,
                                   "queued": "resubmit"}
    assert scenario["shock"]["within"] == 0.03
    assert scenario["providers"] == []
    assert validate(scenario) == scenario  # normalised scenarios validate to themselves


@pytest.mark.parametrize("edit, field, expected", [
    ('[shock]\nkind = "sell"\nqty = -3', "shock.qty", "an integer >= 1"),
    ('[shock]\nkind = "melt"', "shock.kind", "one of 'sell', 'gap'"),
    ('[shock]\nkind = "sell"\nqty = 5\ndepth_fraction = 0.5', "shock.qty", "exactly one of"),
    ('[shock]\nkind = "gap"', "shock.drop", "exactly one of price"),
    ('[session]\nlimit = 1.5', "session.limit", "a number > 0 and < 1"),
    ('[session]\nsessions = "three"', "session.sessions", "an integer >= 1"),
    ('[session]\nmark = "close"', "session.mark", "one of 'last', 'bid', 'mid'"),
    ('[session]\nlimits = 0.1', "session.limits", "no such field"),
    ('[book]\nkind = "humped"\nprice = 3000', "book.price", "a price above 6000 ticks"),
    ('[book]\nkind = "recorded"\nname = "nasdaq"', "book.name", "one of"),
    ('[book]\ndepth_per_tick = -1.0', "book.depth_per_tick", "a number > 0"),
    ('[book]\nprice = 7000\nbid_levels = 7000', "book.bid_levels", "fewer than price (7000)"),
    ('[book]\nprice = 7000\nask_levels = 7001', "book.ask_levels", "at most price (7000)"),
    ('[shock]\nkind = "sell"\nqty = 5\nwithin = 0.5', "shock.within", "only with depth_fraction"),
])
def test_bad_fields_name_the_file_the_field_and_what_was_expected(edit, field, expected):
    base = tomllib.loads(MINIMAL)
    section = edit.split("]")[0].strip("[")
    patch = tomllib.loads(edit)[section]
    raw = dict(base)
    # a patch that names the kind replaces the section, otherwise it edits it
    raw[section] = patch if "kind" in patch else dict(base.get(section, {}), **patch)
    with pytest.raises(ScenarioError) as info:
        validate(raw, "bad.toml")
    message = str(info.value)
    assert message.startswith(f"bad.toml: {field}: expected "), message
    assert expected in message
    assert info.value.field == field and info.value.source == "bad.toml"


def test_account_group_errors():
    text = MINIMAL.replace('kind = "margin"\ncount = 500',
                           'kind = "perp"\ncount = 5\nsize = {dist = "fixed", value = 3}\n'
                           'leverage = {dist = "uniform", low = 0.5, high = 3}')
    error = _error(text)
    assert error.field == "accounts[0].leverage.low" and "values >= 1.0" in str(error)
    for clipped in ('{dist = "uniform", low = 2, high = 3, max = 0.5}',
                    '{dist = "choice", values = [2, 3], max = 0.5}'):   # an upper clip below 1
        error = _error(text.replace('{dist = "uniform", low = 0.5, high = 3}', clipped))
        assert error.field == "accounts[0].leverage.max" and "values >= 1.0" in str(error)
    error = _error(MINIMAL.replace('kind = "margin"', 'kind = "bond"'))
    assert error.field == "accounts[0].kind"
    error = _error(MINIMAL.replace("count = 500", "count = 500\nmedian_ratio = 0.9"))
    assert error.field == "accounts[0].median_ratio" and "> 1" in str(error)
    error = _error(MINIMAL.replace("count = 500", "count = 500\nrule = {force = 1.5, restore = 1.2}"))
    assert error.field == "accounts[0].rule" and "restore" in str(error)
    error = _error(MINIMAL.replace("count = 500", 'count = 500\nsize = {dist = "lognormal"}'))
    assert error.field == "accounts[0].size" and "no such field" in str(error)
    text = MINIMAL.replace('kind = "margin"\ncount = 500',
                           'kind = "swap"\ncount = 5\nshares = {dist = "pareto", a = 3}\n'
                           'leverage = {dist = "fixed", value = 4}')
    error = _error(text)
    assert error.field == "accounts[0].shares.dist"
    assert "'fixed', 'uniform', 'lognormal', 'choice'" in str(error)


def test_missing_sections_and_bad_toml():
    assert _error('name = "x"\n[shock]\nkind = "sell"\nqty = 1').field == "accounts"
    assert _error(MINIMAL.split("[shock]")[0]).field == "shock"
    assert _error(MINIMAL.replace("[shock]", "[shockx]")).field == "shockx"
    error = _error("name = \n")
    assert error.field == "(file)" and "valid TOML" in str(error)
    error = _error(MINIMAL + "\nextra = 1\n")
    assert error.field == "extra" or error.field.endswith(".extra")


def test_load_names_missing_files(tmp_path):
    with pytest.raises(ScenarioError) as info:
        load(tmp_path / "nope.toml")
    assert "nope.toml: (file): expected a readable TOML file" in str(info.value)
    path = tmp_path / "ok.toml"
    path.write_text(MINIMAL)
    assert load(path)["name"] == "tiny"
    with pytest.raises(ScenarioError, match="a preset .* or a .toml file"):
        resolve("no-such-preset")


# ---------------------------------------------------------------- presets and TOML

@pytest.mark.parametrize("name", preset_names())
def test_presets_round_trip_through_toml(name, tmp_path):
    scenario = preset(name)
    assert scenario["name"] == name
    assert loads(to_toml(scenario)) == scenario
    path = tmp_path / f"{name}.toml"
    path.write_text(to_toml(scenario))
    assert load(path) == scenario


def test_set_field_paths():
    scenario = preset("quant-snowball")
    changed = validate(set_field(scenario, "accounts.1.barrier", 0.7))
    assert changed["accounts"][1]["barrier"] == 0.7 and scenario["accounts"][1]["barrier"] == 0.8
    changed = validate(set_field(scenario, "accounts.0.leverage.high", 6.0))
    assert changed["accounts"][0]["leverage"]["high"] == 6.0
    with pytest.raises(ScenarioError, match="an index below 3"):
        set_field(scenario, "accounts.7.count", 1)
    with pytest.raises(ScenarioError, match="no such field"):
        validate(set_field(scenario, "session.sesions", 2))


def test_distributions_and_clips():
    rng = np.random.default_rng(0)
    assert np.all(draw(rng, {"dist": "fixed", "value": 2.5}, 4) == 2.5)
    u = draw(rng, {"dist": "uniform", "low": 1.0, "high": 2.0}, 1000)
    assert u.min() >= 1.0 and u.max() < 2.0
    c = draw(rng, {"dist": "choice", "values": [5.0, 10.0], "weights": [1.0, 0.0]}, 100)
    assert set(c) == {5.0}
    ln = draw(rng, {"dist": "lognormal", "median": 10.0, "sigma": 2.0, "min": 3.0, "max": 40.0}, 1000)
    assert ln.min() == 3.0 and ln.max() == 40.0


# ---------------------------------------------------------------- building

def test_margin_preset_reproduces_margin_crash():
    from engine.scenario.margin_crash import margin_crash

    scenario = validate(set_field(preset("margin-crash"), "accounts.0.count", 5_000))
    ours = run_scenario(scenario, seed=11).cascade.summary()
    theirs = margin_crash(seed=11, accounts=5_000).summary()
    ours.pop("seconds"), theirs.pop("seconds")
    assert ours == theirs


def test_knock_in_hedges_trigger_at_their_barrier():
    scenario = preset("quant-snowball")
    setup = build(validate(dict(scenario, scale=SMALL)), 5)
    group = setup.groups[1]
    assert group["kind"] == "knock_in"
    rows = slice(group["first"], group["first"] + group["count"])
    shares = np.asarray(setup.accounts.shares)[rows]
    debt = np.asarray(setup.accounts.debt)[rows]
    trigger = np.asarray(setup.accounts.trigger)[rows]
    assert np.all(debt == 0)  # fully funded: a hedge can never leave bad debt
    # floor_value is kept in 1/10000 tick-lots
    reference = np.asarray(setup.accounts.floor_value)[rows] / 10000 / 0.8 / shares
    # crossed strictly below barrier x reference
    assert np.all(np.abs(trigger - 0.8 * reference) <= 1.0 + 1e-9 * reference)
    assert np.all(trigger < setup.start_price)


def test_scale_shrinks_accounts_depth_and_shock():
    full = build(preset("margin-crash"), 1)
    small = build(validate(dict(preset("margin-crash"), scale=SMALL)), 1)
    assert len(small.accounts) == round(len(full.accounts) * SMALL)
    # every resting order keeps at least one lot, so thin books shrink less than `scale`
    assert small.book.volume(1) < full.book.volume(1) * 0.1
    assert small.shock.qty < full.shock.qty * 0.1  # depth_fraction follows the book
    assert small.providers[0].size == max(1, round(full.providers[0].size * SMALL))


@needs_binance
def test_perp_tiers_are_converted_from_currency_to_tick_lots():
    setup = build(validate(dict(preset("crypto-perp"), scale=SMALL)), 2)
    assert setup.tick_value == pytest.approx(0.1) and setup.lot_size == pytest.approx(0.001)
    # positions of a few hundred USDT are in the first tier, 0.40%
    line = np.asarray(setup.accounts.line_bps)
    shares = np.asarray(setup.accounts.shares)
    notional_usdt = shares * setup.start_price * 0.1 * 0.001
    assert np.all(line[notional_usdt < 40_000] == 40)


# ---------------------------------------------------------------- running

@pytest.mark.parametrize("name", preset_names())
def test_each_preset_runs_small_and_is_deterministic(name):
    if PRESETS[name][1]["book"]["kind"] == "recorded":
        if data_dir() is None:
            pytest.skip("no shared data folder")
    first = run_scenario(name, seed=4, scale=SMALL)
    again = run_scenario(name, seed=4, scale=SMALL)
    timing = ("seconds", "build_seconds", "run_seconds")
    a = {k: v for k, v in first.summary.items() if k not in timing}
    b = {k: v for k, v in again.summary.items() if k not in timing}
    assert a == b
    assert np.array_equal(first.cascade.tape, again.cascade.tape)
    s = first.summary
    assert s["scenario"] == name and s["seed"] == 4
    assert s["accounts"] == sum(g["accounts"] for g in s["groups"])
    assert s["accounts_liquidated"] == sum(g["liquidated"] for g in s["groups"])
    if first.scenario["session"]["limit"] == "none":
        assert s["sessions_limit_down"] is None
    else:
        closes_at_floor = [row["close"] == row["band"][0] for row in s["session_table"]]
        assert s["sessions_limit_down"] == sum(closes_at_floor)
    json.dumps(s, allow_nan=False)
    text = first.text()
    assert f"Scenario: {name} (seed 4" in text and "Depth exhaustion" in text


def test_seed_changes_the_run():
    a = run_scenario("margin-crash", seed=1, scale=SMALL).summary
    b = run_scenario("margin-crash", seed=2, scale=SMALL).summary
    assert (a["start_price"], a["forced_volume"]) != (b["start_price"], b["forced_volume"])


def test_gap_shock_scenario(tmp_path):
    text = MINIMAL.replace('[shock]\nkind = "sell"\ndepth_fraction = 1.0',
                           '[shock]\nkind = "gap"\ndrop = 0.05')
    result = run_scenario(loads(text, "gap.toml"))
    s = result.summary
    assert s["shock_kind"] == "gap" and s["amplification"] is None
    assert result.cascade.withdrawn > 0
    files = result.write(tmp_path, plots=False)
    assert set(files) == {"tape", "paths", "report", "summary"}


def test_write_report_files_parse(tmp_path):
    from engine.cascade import PATH_DTYPE, TAPE_DTYPE
    from engine.plots import depth_over_time, tape_events

    result = run_scenario("margin-crash", seed=3, scale=SMALL)
    files = result.write(tmp_path, plots=False)
    summary = json.loads(files["summary"].read_text())
    assert summary["forced_volume"] == result.summary["forced_volume"]
    assert summary["scenario_spec"] == result.scenario
    with np.load(files["tape"]) as tape:
        assert tape["tape"].dtype == TAPE_DTYPE
        assert len(tape["tape"]) == len(tape["tape_event"])
        assert np.all(np.diff(tape["tape_event"]) >= 0)
    with np.load(files["paths"]) as paths:
        assert paths["path"].dtype == PATH_DTYPE
        assert paths["initial_bid_qtys"].sum() > paths["final_bid_qtys"].sum() or \
            result.summary["forced_volume"] == 0
    # the event numbering of the tape agrees with the best-price path: after the last
    # fill of each event that moved the best bid, the path shows that bid or lower
    events = tape_events(result.cascade.tape)
    assert events[0] == 1
    depth, _, _ = depth_over_time(result.cascade)
    assert np.all(depth >= 0) and np.all(np.diff(depth.sum(axis=0)) <= 1e-9)
