"""Running one scenario: ``run_scenario(scenario, seed) -> ScenarioResult``."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np

from engine.scenario.build import Setup, build
from engine.scenario.presets import PRESETS, preset
from engine.scenario.schema import ScenarioError, load, validate

__all__ = ["ScenarioResult", "resolve", "run_scenario", "run_setup", "jsonable"]


def resolve(scenario, scale=None):
    """A validated scenario from a preset name, a ``.toml`` path or a dict.

    Parameters
    ----------
    scenario : str, os.PathLike or dict
        A preset name (``margin-crash``), a TOML file, or a scenario dict (validated here).
    scale : float, optional
        Overrides the scenario's ``scale``.

    Returns
    -------
    dict

    Raises
    ------
    ScenarioError
        For an unknown preset, a missing file or a bad field.
    """
    if isinstance(scenario, dict):
        out = validate(scenario, "<dict>")
    elif isinstance(scenario, (str, os.PathLike)):
        text = os.fspath(scenario)
        if text in PRESETS:
            out = preset(text)
        elif text.endswith(".toml") or os.sep in text or Path(text).exists():
            out = load(text)
        else:
            raise ScenarioError("<command line>", "scenario",
                                "a preset (" + ", ".join(PRESETS) + ") or a .toml file", text)
    else:
        raise TypeError(f"scenario must be a preset name, a path or a dict, "
                        f"got {type(scenario).__name__}")
    if scale is not None:
        out = validate(dict(out, scale=scale), f"<{out['name']} with scale={scale}>")
    return out


def jsonable(value):
    """`value` with numpy scalars as Python numbers, NaN and inf as None, and dict keys as
    strings (``None`` -> ``"all"``), so ``json.dumps`` writes it exactly."""
    if isinstance(value, dict):
        return {("all" if k is None else str(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


class ScenarioResult:
    """One scenario run: the cascade's result, the measurements and the report.

    Attributes
    ----------
    scenario : dict
        The validated scenario that ran.
    seed : int
    setup : engine.scenario.Setup
        The book (as it ended), accounts (as they ended), groups and shock.
    cascade : engine.cascade.CascadeResult
        Tape, best-price path, forced orders, wave table.
    summary : dict
        JSON-able measurements: the cascade's ``summary()`` plus the scenario's name,
        seed, scale, per-group liquidations and bad debt (``groups``), ``price_change``,
        ``min_trade_price``, ``sessions_limit_down`` (sessions that closed on their
        band's floor; None without a limit), the session table and timings.
    """

    def __init__(self, scenario, seed, setup, cascade, build_seconds, run_seconds):
        self.scenario = scenario
        self.seed = int(seed)
        self.setup = setup
        self.cascade = cascade
        self.build_seconds = build_seconds
        self.run_seconds = run_seconds
        self.summary = self._summary()

    @property
    def distances(self):
        """Depth-exhaustion distances in ticks (the scenario's, then all depth)."""
        return tuple(self.scenario["report"]["distances"]) + (None,)

    def _summary(self):
        result, setup = self.cascade, self.setup
        s = result.summary(distances=self.distances)
        liquidated = result.accounts_liquidated()
        firsts = np.array([g["first"] for g in setup.groups], np.int64)
        owner = np.searchsorted(firsts, liquidated, side="right") - 1
        bad_debt = np.asarray(result.accounts.bad_debt)
        groups = []
        for k, g in enumerate(setup.groups):
            lo, hi = g["first"], g["first"] + g["count"]
            groups.append({"label": g["label"], "kind": g["kind"], "accounts": g["count"],
                           "liquidated": int(np.count_nonzero(owner == k)),
                           "bad_debt": int(bad_debt[lo:hi].sum())})
        tape = result.tape
        start, end = s["start_price"], s["end_price"]
        out = {"scenario": self.scenario["name"], "seed": self.seed,
               "scale": self.scenario["scale"], "accounts": int(len(result.accounts))}
        out.update(s)
        out.update({
            "price_change": (end - start) / start if start else None,
            "min_trade_price": int(tape["price"].min()) if len(tape) else None,
            "shock_kind": result.shock.kind,
            "shock_qty": result.shock.qty if result.shock.kind == "sell" else None,
            "shock_price": result.shock.price if result.shock.kind == "gap" else None,
            "tick_value": setup.tick_value,
            "lot_size": setup.lot_size,
            "groups": groups,
            # days spent limit-down: sessions that closed on their band's floor
            "sessions_limit_down": (None if self.scenario["session"]["limit"] == "none" else
                                    sum(1 for row in result.sessions
                                        if row["close"] <= row["band"][0])),
            "session_table": [dict(row) for row in result.sessions],
            "build_seconds": self.build_seconds,
            "run_seconds": self.run_seconds,
        })
        return jsonable(out)

    def text(self):
        """The readable report: the scenario, its population, then the measurements
        (formatted by ``engine.report.format_report``)."""
        from engine.report import format_report

        sc, s = self.scenario, self.summary
        session = sc["session"]
        limit = "no price limit" if session["limit"] == "none" else f"+-{session['limit']:.0%} limit"
        lines = [f"Scenario: {sc['name']} (seed {self.seed}, scale {sc['scale']:g})"]
        if sc["description"]:
            lines.append(_wrap(sc["description"], "  "))
        lines.append(f"  {limit}, up to {session['sessions']} session(s), mark '{session['mark']}',"
                     f" {len(sc['providers'])} background market maker(s)")
        if s["sessions_limit_down"] is not None:
            lines.append(f"  {s['sessions_limit_down']} of {s['sessions']} session(s) closed "
                         "limit-down")
        lines.append("  Population (liquidated / accounts):")
        for g in s["groups"]:
            lines.append(f"    {g['label']:<22} {g['kind']:<9} {g['liquidated']:>9,} / "
                         f"{g['accounts']:,}")
        lines.append(format_report(self.cascade, distances=self.distances,
                                   tick_value=self.setup.tick_value, lot_size=self.setup.lot_size))
        return "\n".join(lines)

    def write(self, out, plots=True):
        """Write ``summary.json``, ``tape.npz``, ``paths.npz`` and (with `plots`) the PNGs
        into folder `out`; see ``engine.report.write_report``."""
        from engine.report import write_report

        return write_report(self, out, plots=plots)

    def __repr__(self):
        s = self.summary
        return (f"<ScenarioResult {s['scenario']} seed={self.seed}: {s['start_price']} -> "
                f"{s['end_price']}, {s['accounts_liquidated']} accounts liquidated>")


def _wrap(text, indent, width=92):
    import textwrap

    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=indent)


def run_setup(setup: Setup, scenario, seed, build_seconds=0.0):
    """Run an already built scenario (see :func:`engine.scenario.build`).

    Returns
    -------
    ScenarioResult
    """
    started = time.perf_counter()
    cascade = setup.cascade.run(setup.shock)
    return ScenarioResult(scenario, seed, setup, cascade, build_seconds,
                          time.perf_counter() - started)


def run_scenario(scenario, seed=None, *, scale=None):
    """Build and run a scenario.

    Parameters
    ----------
    scenario : str, os.PathLike or dict
        A preset name, a TOML file or a scenario dict.
    seed : int, optional
        Seed of everything random (default: the scenario's ``seed``); the same scenario
        and seed give the same results.
    scale : float, optional
        Overrides the scenario's ``scale`` (accounts, depth, makers and shock size).

    Returns
    -------
    ScenarioResult

    Raises
    ------
    ScenarioError
        If the scenario is invalid (naming the file and field).
    """
    scenario = resolve(scenario, scale=scale)
    seed = scenario["seed"] if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    started = time.perf_counter()
    setup = build(scenario, int(seed))
    return run_setup(setup, scenario, int(seed), time.perf_counter() - started)
