"""Stress sweeps: one scenario over a grid of parameters and seeds, on any executor.

``engine.sweep(scenario, {"accounts.0.median_ratio": [2.0, 2.8], "book.depth_per_tick":
[30, 60]}, seeds=4)`` runs every combination of the grid with each of 4 child seeds of
one master seed (``np.random.SeedSequence(master).spawn(4)``; every grid point gets the
same seeds, so differences between points are not sampling noise) and returns a table
with one row per run: the grid values, the seed, ``status`` (``ok`` / ``error``), the
error if any, and the run's measurements.

The work goes to any ``concurrent.futures.Executor``: a local process pool by default,
:class:`SerialExecutor` in this process, or a Dask cluster through
``distributed.Client(address).get_executor()`` (:func:`dask_executor`).  Rows are the
same whichever runs them.

With ``out``, every finished run is appended to ``out/runs.jsonl`` as it completes, so
a sweep that is interrupted resumes from the folder without redoing the runs that
finished (failed runs are tried again); at the end ``out/sweep.csv`` holds the table,
``out/sweep_<metric>.png`` each chosen metric against the first grid key (one line per
value of the second) and, with two or more keys, ``out/sweep_<metric>_heatmap.png`` the
metric over the first two keys.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import csv
import itertools
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

__all__ = ["sweep", "SweepResult", "SerialExecutor", "dask_executor", "parse_grid",
           "parse_grid_item", "seed_list", "run_row", "read_table", "DEFAULT_METRICS",
           "TIMING_COLUMNS"]

DEFAULT_METRICS = ("amplification", "price_change", "accounts_liquidated", "depth_consumed")
# Wall-clock columns: the only ones that differ between two runs of the same sweep.
TIMING_COLUMNS = ("seconds", "build_seconds", "run_seconds")
_LEADING = ("run", "seed_index", "seed")
# Columns the sweep writes into a row itself, so no grid key may take their names.
_ROW_COLUMNS = _LEADING + ("status", "error", "traceback") + TIMING_COLUMNS


class SerialExecutor(cf.Executor):
    """An executor that runs each task in this process when it is submitted."""

    def __init__(self):
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs):
        """Run ``fn(*args, **kwargs)`` now; the returned future holds its result or error."""
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - the future carries it
            future.set_exception(error)
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        """Refuse further tasks (nothing is ever left running)."""
        self._shutdown = True


@contextlib.contextmanager
def dask_executor(address):
    """A ``concurrent.futures.Executor`` on the Dask cluster at `address`.

    Parameters
    ----------
    address : str
        The scheduler, for example ``tcp://10.0.0.5:8786``.

    Yields
    ------
    distributed.cfexecutor.ClientExecutor

    Raises
    ------
    ImportError
        If ``distributed`` is not installed (the ``distributed`` extra).
    """
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("--scheduler needs dask.distributed: pip install 'firesale[dask]' "
                          "(or pip install 'dask[distributed]')") from None
    client = Client(address)
    try:
        yield client.get_executor()
    finally:
        client.close()


# ---------------------------------------------------------------- grid and seeds

def parse_grid_item(text):
    """``key=v1,v2,...`` or ``key=start:stop:num`` -> ``(key, [values])``.

    Values are read as TOML values (``5``, ``0.3``, ``"none"``, bare words as strings).
    ``start:stop:num`` gives `num` evenly spaced values from start to stop inclusive;
    integers when start and stop are integers (rounded).

    Raises
    ------
    ValueError
        On a malformed item, naming it.
    """
    from engine.scenario.schema import parse_value

    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise ValueError(f"--grid {text!r}: expected key=v1,v2,... or key=start:stop:num")
    parts = values.split(":")
    if len(parts) == 3 and "," not in values:
        start, stop, num = (parse_value(p.strip()) for p in parts)
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, stop))
        if not ok or isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise ValueError(f"--grid {text!r}: start:stop:num needs numbers and a count >= 1")
        grid = np.linspace(start, stop, num)
        if isinstance(start, int) and isinstance(stop, int):
            return key, [int(v) for v in np.rint(grid)]
        return key, [float(v) for v in grid]
    return key, [parse_value(v.strip()) for v in values.split(",")]


def parse_grid(items):
    """Several ``--grid`` items -> ``{key: [values]}`` (in the order given).

    Raises
    ------
    ValueError
        On a malformed or repeated key.
    """
    grid = {}
    for item in items:
        key, values = parse_grid_item(item)
        if key in grid:
            raise ValueError(f"--grid {key} given twice")
        grid[key] = values
    return grid


def seed_list(seeds, master_seed):
    """The run seeds: `seeds` child seeds of `master_seed`, or `seeds` itself if it is
    a sequence of integers.

    Returns
    -------
    list of int
    """
    from engine.scenario.build import child_seed

    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        return [child_seed(s) for s in np.random.SeedSequence(master_seed).spawn(int(seeds))]
    seeds = [int(s) for s in seeds]
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError("seeds must be a count >= 1 or a non-empty list of integers >= 0")
    return seeds


# ---------------------------------------------------------------- one run

def _flatten(summary):
    """Scalar measurements of a run summary, one column each."""
    row = {}
    for key, value in summary.items():
        if key in ("scenario", "seed", "session_table", "groups"):
            continue
        if key == "volume_at":
            for distance, at in value.items():
                for fraction, volume in at.items():
                    row[f"volume_at.{distance}.{fraction}"] = volume
        elif not isinstance(value, (dict, list)):
            row[key] = value
    for k, group in enumerate(summary.get("groups", [])):
        row[f"accounts[{k}].liquidated"] = group["liquidated"]
        row[f"accounts[{k}].bad_debt"] = group["bad_debt"]
    return row


def run_row(task):
    """Run one sweep task and return its row; never raises for a failed run.

    Parameters
    ----------
    task : tuple
        ``(run, seed_index, seed, scenario, params)`` with `params` a list of
        ``(key, value)`` grid settings.

    Returns
    -------
    dict
        ``run``, ``seed_index``, ``seed``, the grid values, ``status``, ``error`` and
        (when ``status == "ok"``) the flattened measurements and ``seconds``.
    """
    from engine.scenario import run_scenario, set_field, validate

    run, _, seed, scenario, params = task
    row = _row_head(task)
    started = time.perf_counter()
    try:
        for key, value in params:
            scenario = set_field(scenario, key, value)
        scenario = validate(scenario, f"<sweep run {run}>")
        summary = run_scenario(scenario, seed).summary
    except Exception as error:  # noqa: BLE001 - recorded in the row, the sweep goes on
        row.update(status="error", error=f"{type(error).__name__}: {error}")
        row["traceback"] = traceback.format_exc(limit=6)
        row["seconds"] = time.perf_counter() - started
        return row
    row.update(status="ok", error="")
    row.update(_flatten(summary))
    row["seconds"] = time.perf_counter() - started
    return row


# ---------------------------------------------------------------- the sweep

class SweepResult:
    """A finished sweep.

    Attributes
    ----------
    rows : list of dict
        One per run, ordered by ``run`` (grid combinations in order, seeds inside).
    keys : list of str
        The grid keys.
    columns : list of str
        Columns of the CSV table.
    out : pathlib.Path or None
    files : dict
        ``csv``, ``runs`` and one ``plot:<metric>`` per plot written.
    reused : int
        Runs taken from the output folder instead of being run again.
    """

    def __init__(self, rows, keys, out=None, files=None, reused=0):
        self.rows = rows
        self.keys = list(keys)
        self.columns = _columns(rows, self.keys)
        self.out = out
        self.files = files or {}
        self.reused = reused

    @property
    def failed(self):
        """Rows whose run failed."""
        return [r for r in self.rows if r.get("status") != "ok"]

    def column(self, name):
        """One column as a list (None where a row lacks it)."""
        return [r.get(name) for r in self.rows]

    def __len__(self):
        return len(self.rows)

    def __repr__(self):
        return f"<SweepResult {len(self.rows)} runs, {len(self.failed)} failed, grid {self.keys}>"


def _columns(rows, keys):
    columns = list(_LEADING) + [k for k in keys] + ["status", "error"]
    seen = set(columns) | {"traceback"}
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                columns.append(key)
    return columns


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def write_table(rows, columns, path):
    """Write `rows` as CSV with `columns` (missing cells empty), atomically.

    Parameters
    ----------
    rows : list of dict
    columns : list of str
    path : str or os.PathLike

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_value(row.get(c)) for c in columns])
    tmp.replace(path)
    return path


def read_table(path):
    """A sweep CSV as a list of dicts of strings (empty cells as ``""``).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    list of dict
    """
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _spec(scenario, grid, seeds, master_seed):
    # The JSON round trip makes tuples lists, so a resumed spec compares equal.
    return json.loads(json.dumps({"scenario": scenario, "grid": grid, "seeds": seeds,
                                  "master_seed": master_seed}))


def _read_runs(path):
    done = {}
    if not path.exists():
        return done
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by an interruption: that run is redone
            done[row["run"]] = row
    return done


def _progress(total, enabled):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled or total == 0:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="run", file=sys.stderr, desc="sweep")


def sweep(scenario, grid, seeds=4, executor=None, *, master_seed=None, out=None,
          metrics=DEFAULT_METRICS, workers=None, plots=True, progress=None):
    """Run `scenario` over every combination of `grid`, each with the same child seeds.

    Parameters
    ----------
    scenario : str, os.PathLike or dict
        A preset name, a TOML file or a scenario dict.
    grid : dict
        Field path (``accounts.0.median_ratio``, ``book.depth_per_tick``,
        ``shock.depth_fraction``, ``scale``, ...) -> list of values.  Combinations run
        in ``itertools.product`` order.
    seeds : int or sequence of int
        Number of child seeds of `master_seed` (``SeedSequence(master).spawn``), or the
        run seeds themselves.
    executor : concurrent.futures.Executor, optional
        Where runs execute; default: a local process pool of `workers` processes
        (created and shut down here).  Any executor works, for example
        ``distributed.Client(address).get_executor()`` or :class:`SerialExecutor`.
    master_seed : int, optional
        Default: the scenario's ``seed``.
    out : str or os.PathLike, optional
        Folder for ``runs.jsonl`` (progress, used to resume), ``sweep.json`` (what
        the sweep is), ``sweep.csv`` and the plots.
    metrics : sequence of str
        Measurements plotted over the grid (needs matplotlib; skipped without it).
    workers : int, optional
        Processes of the default pool (default: the CPU count).
    plots : bool
        Write the metric plots into `out`.
    progress : bool, optional
        Show a tqdm bar; default: only when stderr is a terminal (and tqdm installed).

    Returns
    -------
    SweepResult

    Raises
    ------
    ScenarioError
        If the base scenario is invalid (a grid value that makes it invalid fails
        only its own runs).
    ValueError
        If `out` holds a different sweep, or a ``runs.jsonl`` without its ``sweep.json``.
    """
    from engine.scenario import resolve

    base = resolve(scenario)
    if not isinstance(grid, dict):
        grid = dict(grid)
    grid = {str(k): [v.item() if isinstance(v, np.generic) else v for v in
                     (vs.tolist() if isinstance(vs, np.ndarray) else list(vs))]
            for k, vs in grid.items()}
    for key, values in grid.items():
        if not values:
            raise ValueError(f"grid {key!r} has no values")
        if key in _ROW_COLUMNS:
            raise ValueError(f"grid key {key!r} names a column the sweep writes itself"
                             + (": vary the seed with seeds=... (--seeds)" if key == "seed" else ""))
        for value in values:
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"grid {key!r} value {value!r} is not a finite number")
    master = base["seed"] if master_seed is None else int(master_seed)
    run_seeds = seed_list(seeds, master)
    keys = list(grid)
    combos = list(itertools.product(*grid.values())) if keys else [()]
    tasks = []
    for i, combo in enumerate(combos):
        params = list(zip(keys, combo))
        for j, seed in enumerate(run_seeds):
            tasks.append((i * len(run_seeds) + j, j, seed, base, params))

    done, files, runs_path = {}, {}, None
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        spec = _spec(base, grid, run_seeds, master)
        spec_path = out / "sweep.json"
        runs_path = out / "runs.jsonl"
        if spec_path.exists():
            previous = json.loads(spec_path.read_text(encoding="utf-8"))
            if previous != spec:
                raise ValueError(f"{out} holds a different sweep (its sweep.json differs in "
                                 "scenario, grid or seeds): pick another output folder")
        elif runs_path.exists() and runs_path.stat().st_size > 0:
            # Without the spec nothing says which sweep those runs belong to: reusing them
            # could put another sweep's numbers in this table.
            raise ValueError(f"{out} holds runs.jsonl but no sweep.json, so its runs cannot be "
                             "matched to this sweep: pick another output folder, or delete "
                             "runs.jsonl to start over")
        else:
            spec_path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
        done = {run: row for run, row in _read_runs(runs_path).items()
                if row.get("status") == "ok" and run < len(tasks)}
        files["runs"] = runs_path
    pending = [t for t in tasks if t[0] not in done]
    rows = dict(done)

    own = executor is None
    if own:
        n = workers if workers is not None else (os.cpu_count() or 1)
        executor = SerialExecutor() if n <= 1 or len(pending) <= 1 else \
            cf.ProcessPoolExecutor(max_workers=min(n, len(pending)))
    bar = _progress(len(pending), progress)
    log = None
    if runs_path is not None:
        log = open(runs_path, "a+", encoding="utf-8")
        if log.tell() > 0:
            log.seek(log.tell() - 1)
            if log.read(1) != "\n":
                log.write("\n")  # an interrupted last line: start the next one cleanly

    def finished(task, row):
        rows[task[0]] = row
        if log is not None:
            log.write(json.dumps(_json_safe(row), allow_nan=False) + "\n")
            log.flush()
        if bar is not None:
            bar.update(1)

    try:
        futures = {}
        for task in pending:
            try:
                futures[executor.submit(run_row, task)] = task
            except Exception as error:  # noqa: BLE001 - e.g. a broken pool: record and go on
                finished(task, _failed(task, error))
        for future in cf.as_completed(futures):
            task = futures[future]
            try:
                row = future.result()
            except Exception as error:  # noqa: BLE001 - worker died, lost connection, ...
                row = _failed(task, error)
            finished(task, row)
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
        if own:
            executor.shutdown(wait=True, cancel_futures=True)

    ordered = [rows[t[0]] for t in tasks if t[0] in rows]
    result = SweepResult(ordered, keys, out, files, reused=len(done))
    if out is not None:
        files["csv"] = write_table(ordered, result.columns, out / "sweep.csv")
        if plots and keys:
            files.update(_plot(ordered, keys, metrics, out))
    return result


def _json_safe(row):
    """`row` for the JSON log: a measurement that is not a finite number (a ratio over
    nothing) is written as null, as the CSV leaves it empty."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


def _row_head(task):
    """The columns of a task's row known before it runs: which run, its seed, its grid values."""
    run, seed_index, seed, _, params = task
    row = {"run": run, "seed_index": seed_index, "seed": seed}
    row.update(params)
    return row


def _failed(task, error):
    """The row of a run that never ran (the executor refused it or lost it)."""
    row = _row_head(task)
    row.update(status="error", error=f"{type(error).__name__}: {error}")
    return row


def _plot(rows, keys, metrics, out):
    try:
        from engine.plots import plot_sweep
        import matplotlib  # noqa: F401
    except ImportError:
        return {}
    from engine.plots import plot_sweep_heatmap

    files = {}
    for metric in metrics:
        path = plot_sweep(rows, keys, metric, out / f"sweep_{metric}.png")
        if path is not None:
            files[f"plot:{metric}"] = path
        path = plot_sweep_heatmap(rows, keys, metric, out / f"sweep_{metric}_heatmap.png")
        if path is not None:
            files[f"plot:{metric}:heatmap"] = path
    return files
