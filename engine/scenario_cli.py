"""The ``run``, ``scenarios`` and ``sweep`` commands of ``firesale``.

``engine.cli`` registers them with :func:`add_commands`.

- ``firesale run [PRESET | FILE.toml] [--seed N] [--out DIR] [--json]``: one scenario
  (the margin-trading crash by default), its report on stdout, and ``summary.json``,
  ``tape.npz``, ``paths.npz``, ``report.txt`` and the PNG plots in DIR;
- ``firesale scenarios`` / ``firesale scenarios show NAME``: the presets, one line each,
  or one of them as TOML to start a file from;
- ``firesale sweep FILE.toml --grid key=v1,v2 --grid key=start:stop:num --seeds K
  [--workers N] [--scheduler ADDRESS] [--out DIR]``: every combination, a CSV table and
  plots of chosen metrics over the grid; resumes from DIR.

Exit status: 0 on success, 1 when a run or some sweep runs failed, 2 for bad input (a
bad scenario file, field or grid, with the file and field named on stderr).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

__all__ = ["add_commands", "DEFAULT_OUT"]

DEFAULT_OUT = Path("out")  # ignored by git (.gitignore: out/)


def _error(message, status=2):
    print(f"firesale: error: {message}", file=sys.stderr)
    return status


def _stages(total, enabled=None):
    """A tqdm bar over the stages of a run, only when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, file=sys.stderr, desc="building the book and accounts",
                leave=False, bar_format="firesale run [{n}/{total}] {desc}")


def _step(bar, label):
    """Mark a stage done; `label` says what runs next."""
    if bar is not None:
        bar.set_description_str(label, refresh=False)
        bar.update(1)


def _overrides(scenario, items):
    from engine.scenario import parse_value, set_field, validate

    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: expected key=value")
        scenario = set_field(scenario, key.strip(), parse_value(value.strip()))
    return validate(scenario, f"<{scenario['name']} with --set>") if items else scenario


def _cmd_run(args):
    from engine.scenario import (DEFAULT_PRESET, ScenarioError, build, resolve, run_setup)

    name = args.scenario or DEFAULT_PRESET
    try:
        scenario = resolve(name, scale=args.scale)
        scenario = _overrides(scenario, args.set)
    except ScenarioError as error:
        return _error(str(error))
    except ValueError as error:
        return _error(str(error))
    if args.seed is not None and args.seed < 0:
        return _error(f"--seed must be an integer >= 0, got {args.seed}")
    seed = scenario["seed"] if args.seed is None else args.seed
    out = Path(args.out) if args.out else DEFAULT_OUT / f"{scenario['name']}-seed{seed}"
    bar = _stages(3)
    try:
        started = time.perf_counter()
        setup = build(scenario, seed)
        _step(bar, "running the cascade")
        result = run_setup(setup, scenario, seed, time.perf_counter() - started)
        _step(bar, "writing the report and plots")
        plots = not args.no_plots
        try:
            files = result.write(out, plots=plots)
        except ImportError as error:
            print(f"firesale: warning: {error}; writing the report without plots",
                  file=sys.stderr)
            files = result.write(out, plots=False)
            plots = False
        _step(bar, "done")
    except FileNotFoundError as error:
        return _error(str(error), 1)
    except (ValueError, TypeError) as error:
        return _error(f"scenario {scenario['name']!r} cannot run: {error}", 1)
    finally:
        if bar is not None:
            bar.close()
    where = f"report and plots written to {out}/" if plots else f"report written to {out}/"
    if args.json:
        print(json.dumps(result.summary, indent=2, allow_nan=False))
        print(f"firesale: {where}", file=sys.stderr)
    else:
        print(result.text())
        print()
        print(f"firesale: {where}")
        for kind, path in files.items():
            print(f"  {kind:<18} {path}")
    return 0


def _cmd_scenarios(args):
    from engine.scenario import PRESETS, UNSUPPORTED, DEFAULT_PRESET, ScenarioError, preset, to_toml

    if getattr(args, "action", None) == "show":
        try:
            print(to_toml(preset(args.name)), end="")
        except ScenarioError as error:
            return _error(str(error))
        return 0
    width = max(len(name) for name in PRESETS)
    for name, (line, _) in PRESETS.items():
        print(f"{name:<{width}}  {line}")
    for name, why in UNSUPPORTED.items():
        print(f"(not available: {name}: {why})")
    print(f"\n`firesale run` runs {DEFAULT_PRESET}; `firesale scenarios show NAME` prints a "
          "preset as TOML to start a file from.")
    return 0


def _cmd_sweep(args):
    from engine.scenario import ScenarioError, resolve
    from engine.sweeps import DEFAULT_METRICS, dask_executor, parse_grid, sweep

    try:
        scenario = resolve(args.scenario, scale=args.scale)
        scenario = _overrides(scenario, args.set)
        grid = parse_grid(args.grid or [])
    except (ScenarioError, ValueError) as error:
        return _error(str(error))
    if args.seeds < 1:
        return _error(f"--seeds must be >= 1, got {args.seeds}")
    if args.workers is not None and args.workers < 1:
        return _error(f"--workers must be >= 1, got {args.workers}")
    out = Path(args.out) if args.out else DEFAULT_OUT / f"sweep-{scenario['name']}"
    metrics = args.metric or list(DEFAULT_METRICS)
    started = time.perf_counter()
    try:
        if args.scheduler:
            with dask_executor(args.scheduler) as executor:
                result = sweep(scenario, grid, seeds=args.seeds, executor=executor,
                               master_seed=args.seed, out=out, metrics=metrics)
        else:
            result = sweep(scenario, grid, seeds=args.seeds, master_seed=args.seed, out=out,
                           metrics=metrics, workers=args.workers)
    except ImportError as error:
        return _error(str(error))
    except ValueError as error:
        return _error(str(error))
    except OSError as error:
        return _error(f"cannot reach the scheduler {args.scheduler}: {error}", 1) \
            if args.scheduler else _error(str(error), 1)
    elapsed = time.perf_counter() - started
    failed = result.failed
    print(f"firesale sweep: {len(result)} runs ({result.reused} resumed from {out}/, "
          f"{len(failed)} failed) in {elapsed:.1f} s")
    print(f"  table  {result.files['csv']}")
    for kind, path in result.files.items():
        if kind.startswith("plot:"):
            print(f"  plot   {path}")
    plotted = {kind.split(":")[1] for kind in result.files if kind.startswith("plot:")}
    for metric in metrics:
        if metric not in plotted and grid:
            print(f"firesale sweep: no plot of {metric!r} (not a numeric column of the table, "
                  "or matplotlib is missing)", file=sys.stderr)
    for row in failed[:5]:
        print(f"  run {row['run']} failed: {row['error']}", file=sys.stderr)
    if failed:
        print(f"firesale sweep: {len(failed)} run(s) failed (their errors are in the table); "
              "run the same command again to retry them", file=sys.stderr)
        return 1
    return 0


def add_commands(subparsers):
    """Register ``run``, ``scenarios`` and ``sweep`` on an argparse subparsers object.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.

    Each command's handler is set as both ``func`` and ``handler`` in the parsed
    arguments; it takes the namespace and returns the exit status.

    Returns
    -------
    dict
        Command name -> its parser.
    """
    from engine.scenario.presets import DEFAULT_PRESET

    run = subparsers.add_parser(
        "run", help=f"run a scenario (default: the {DEFAULT_PRESET} preset), print its report "
                    "and write summary, tape, paths and plots",
        description="Run one scenario: a preset name or a TOML file.")
    run.add_argument("scenario", nargs="?", metavar="PRESET | FILE.toml",
                     help=f"preset name or scenario file (default: {DEFAULT_PRESET})")
    run.add_argument("--seed", type=int, help="seed (default: the scenario's)")
    run.add_argument("--out", metavar="DIR",
                     help=f"output folder (default: {DEFAULT_OUT}/NAME-seedN)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--scale", type=float,
                     help="multiply accounts, depth, market makers and shock size")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a field, e.g. --set session.sessions=3 (repeatable)")
    run.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    run.set_defaults(func=_cmd_run)

    scenarios = subparsers.add_parser("scenarios", help="list the preset scenarios",
                                      description="List the presets, or print one as TOML.")
    actions = scenarios.add_subparsers(dest="action")
    show = actions.add_parser("show", help="print a preset as TOML")
    show.add_argument("name", metavar="NAME")
    scenarios.set_defaults(func=_cmd_scenarios)

    sweep = subparsers.add_parser(
        "sweep", help="run a scenario over a grid of parameters and seeds",
        description="Run every combination of the grid with child seeds of one master seed; "
                    "write a CSV table and plots; resume from the output folder.")
    sweep.add_argument("scenario", metavar="FILE.toml | PRESET")
    sweep.add_argument("--grid", action="append", metavar="KEY=V1,V2|KEY=START:STOP:NUM",
                       help="a grid axis, e.g. accounts.0.median_ratio=2:3:5 (repeatable)")
    sweep.add_argument("--seeds", type=int, default=4, help="seeds per grid point (default 4)")
    sweep.add_argument("--seed", type=int, help="master seed (default: the scenario's)")
    sweep.add_argument("--workers", type=int, help="local processes (default: CPU count)")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the Dask cluster at ADDRESS (needs dask[distributed])")
    sweep.add_argument("--out", metavar="DIR",
                       help=f"output folder (default: {DEFAULT_OUT}/sweep-NAME); resumes there")
    sweep.add_argument("--metric", action="append", metavar="NAME",
                       help="metric to plot over the grid (repeatable; default: amplification, "
                            "price_change, accounts_liquidated, depth_consumed)")
    sweep.add_argument("--scale", type=float, help="scale of the scenario (see run --scale)")
    sweep.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a field of the base scenario (repeatable)")
    sweep.set_defaults(func=_cmd_sweep)
    return {"run": run, "scenarios": scenarios, "sweep": sweep}
