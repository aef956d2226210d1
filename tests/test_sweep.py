"""Sweeps: grids, child seeds, the same table on every executor, failures and resume."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from engine.scenario import preset, validate
from engine.sweeps import (
    TIMING_COLUMNS, SerialExecutor, parse_grid, parse_grid_item, read_table, seed_list, sweep,
)

ROOT = Path(__file__).resolve().parents[1]
SMALL = validate(dict(preset("margin-crash"), scale=0.01))
GRID = {"accounts.0.median_ratio": [1.8, 2.8], "shock.depth_fraction": [0.5, 1.0]}


def _table(path):
    """A sweep CSV without its wall-clock columns."""
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in read_table(path)]


def test_parse_grid():
    assert parse_grid_item("accounts.0.count=100,200") == ("accounts.0.count", [100, 200])
    assert parse_grid_item("session.limit=0.1, 0.2") == ("session.limit", [0.1, 0.2])
    assert parse_grid_item("book.depth_per_tick=20:60:3") == ("book.depth_per_tick", [20, 40, 60])
    key, values = parse_grid_item("accounts.0.median_ratio=1.5:3.0:4")
    assert values == pytest.approx([1.5, 2.0, 2.5, 3.0])
    assert parse_grid_item("session.mark=last,bid") == ("session.mark", ["last", "bid"])
    grid = parse_grid(["a=1,2", "b=0:1:2"])
    assert grid == {"a": [1, 2], "b": [0, 1]}
    for bad in ("novalue", "=1,2", "a=", "a=1:2:x", "a=x:2:3"):
        with pytest.raises(ValueError, match="--grid"):
            parse_grid_item(bad)
    with pytest.raises(ValueError, match="twice"):
        parse_grid(["a=1", "a=2"])


def test_child_seeds_come_from_the_master_seed_sequence():
    seeds = seed_list(3, 42)
    assert seeds == seed_list(3, 42) and len(set(seeds)) == 3
    assert seeds != seed_list(3, 43)
    assert seed_list(4, 42)[:3] == seeds  # spawning more keeps the first ones
    assert all(0 <= s < 2**63 for s in seeds)
    assert seed_list([5, 6], 0) == [5, 6]
    with pytest.raises(ValueError):
        seed_list(0, 1)


def test_rows_failures_and_plots(tmp_path):
    grid = {"shock.depth_fraction": [0.5, -1.0], "session.sessions": [2]}
    result = sweep(SMALL, grid, seeds=2, executor=SerialExecutor(), master_seed=9,
                   out=tmp_path)
    assert len(result) == 4
    ok = [r for r in result.rows if r["status"] == "ok"]
    failed = result.failed
    assert [r["run"] for r in ok] == [0, 1] and [r["run"] for r in failed] == [2, 3]
    for row in failed:  # the error is in the row, the rest went on
        assert row["error"].startswith("ScenarioError: <sweep run")
        assert "shock.depth_fraction: expected a number > 0, got -1.0" in row["error"]
        assert row["shock.depth_fraction"] == -1.0
    assert ok[0]["seed"] != ok[1]["seed"]  # each seed index draws its own seed
    # every grid point gets the same seeds
    assert [r["seed"] for r in ok] == [r["seed"] for r in failed]
    table = read_table(result.files["csv"])
    assert [row["status"] for row in table] == ["ok", "ok", "error", "error"]
    assert table[0]["amplification"] != "" and table[2]["amplification"] == ""
    assert set(result.columns[:6]) == {"run", "seed_index", "seed", "shock.depth_fraction",
                                       "session.sessions", "status"}
    plots = [p for k, p in result.files.items() if k.startswith("plot:")]
    assert plots and all(Path(p).stat().st_size > 1000 for p in plots)


def test_worker_crash_is_recorded_and_the_sweep_goes_on(tmp_path):
    # A process that dies under the pool breaks it: its runs are recorded as failed,
    # and running the sweep again finishes them.
    class Flaky(SerialExecutor):
        calls = 0

        def submit(self, fn, /, *args, **kwargs):
            Flaky.calls += 1
            if Flaky.calls == 2:
                raise RuntimeError("worker lost")
            return super().submit(fn, *args, **kwargs)

    result = sweep(SMALL, {"shock.depth_fraction": [0.5, 1.0]}, seeds=1, executor=Flaky(),
                   out=tmp_path)
    assert [r["status"] for r in result.rows] == ["ok", "error"]
    assert result.rows[1]["error"] == "RuntimeError: worker lost"
    # The progress log has both runs, the one the pool refused included.
    logged = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert sorted((r["run"], r["status"]) for r in logged) == [(0, "ok"), (1, "error")]
    assert logged[0]["error"] == "RuntimeError: worker lost"
    again = sweep(SMALL, {"shock.depth_fraction": [0.5, 1.0]}, seeds=1,
                  executor=SerialExecutor(), out=tmp_path)
    assert again.reused == 1 and [r["status"] for r in again.rows] == ["ok", "ok"]


def test_resume_does_not_redo_finished_runs(tmp_path):
    sweep(SMALL, GRID, seeds=2, executor=SerialExecutor(), master_seed=3, out=tmp_path / "full")
    # Simulate an interruption after 3 runs (and a half-written line).
    partial = tmp_path / "partial"
    partial.mkdir()
    lines = (tmp_path / "full" / "runs.jsonl").read_text().splitlines()
    (partial / "sweep.json").write_text((tmp_path / "full" / "sweep.json").read_text())
    (partial / "runs.jsonl").write_text("\n".join(lines[:3]) + "\n" + lines[3][:25])

    ran = []

    class Counting(SerialExecutor):
        def submit(self, fn, /, *args, **kwargs):
            ran.append(args[0][0])
            return super().submit(fn, *args, **kwargs)

    resumed = sweep(SMALL, GRID, seeds=2, executor=Counting(), master_seed=3, out=partial)
    done_before = {json.loads(line)["run"] for line in lines[:3]}
    assert resumed.reused == 3 and sorted(ran) == sorted(set(range(8)) - done_before)
    assert _table(partial / "sweep.csv") == _table(tmp_path / "full" / "sweep.csv")
    # Nothing left: a third call runs nothing.
    ran.clear()
    sweep(SMALL, GRID, seeds=2, executor=Counting(), master_seed=3, out=partial)
    assert ran == []
    with pytest.raises(ValueError, match="holds a different sweep"):
        sweep(SMALL, GRID, seeds=3, executor=SerialExecutor(), master_seed=3, out=partial)
    # A log without its sweep.json could be any sweep's: it is refused, not reused.
    orphan = tmp_path / "orphan"
    orphan.mkdir()
    (orphan / "runs.jsonl").write_text("\n".join(lines[:3]) + "\n")
    with pytest.raises(ValueError, match="no sweep.json"):
        sweep(SMALL, GRID, seeds=3, executor=SerialExecutor(), master_seed=3, out=orphan)
    assert not (orphan / "sweep.json").exists()


def test_same_table_serial_process_pool_and_dask(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    serial = sweep(SMALL, GRID, seeds=2, executor=SerialExecutor(), master_seed=7,
                   out=tmp_path / "serial", plots=False)
    pool = sweep(SMALL, GRID, seeds=2, workers=2, master_seed=7, out=tmp_path / "pool",
                 plots=False)
    # The workers import the engine from this checkout.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p] + [str(ROOT)]))
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    try:
        with distributed.Client(cluster) as client:
            dask = sweep(SMALL, GRID, seeds=2, executor=client.get_executor(), master_seed=7,
                         out=tmp_path / "dask", plots=False)
            workers = client.run(os.getpid)
    finally:
        cluster.close()
    assert len(workers) == 2 and os.getpid() not in workers.values(), workers
    for result in (serial, pool, dask):
        assert not result.failed, [r["error"] for r in result.failed]
    reference = _table(tmp_path / "serial" / "sweep.csv")
    assert len(reference) == 8
    assert _table(tmp_path / "pool" / "sweep.csv") == reference
    assert _table(tmp_path / "dask" / "sweep.csv") == reference
    # and the grid matters: the most levered population loses more accounts
    liquidated = np.array([float(r["accounts_liquidated"]) for r in reference]).reshape(2, 2, 2)
    assert liquidated[0].mean() > liquidated[1].mean()


def test_grid_values_and_keys_that_no_row_could_record_are_refused(tmp_path):
    # A non-finite value has no JSON form for runs.jsonl; a key named like a row column (seed
    # above all: each run's seed comes from the master seed) would be overwritten or ignored.
    with pytest.raises(ValueError, match="not a finite number"):
        sweep(SMALL, {"scale": [0.01, float("inf")]}, seeds=1, executor=SerialExecutor(), out=tmp_path)
    with pytest.raises(ValueError, match="seeds="):
        sweep(SMALL, {"seed": [1, 2]}, seeds=1, executor=SerialExecutor())
    assert not (tmp_path / "runs.jsonl").exists() or not (tmp_path / "runs.jsonl").read_text()


def test_a_grid_axis_of_numbers_and_words_is_plotted(tmp_path):
    result = sweep(SMALL, {"session.limit": [0.1, "none"]}, seeds=1, executor=SerialExecutor(),
                   master_seed=3, out=tmp_path)
    assert [r["status"] for r in result.rows] == ["ok", "ok"]
    plots = [p for k, p in result.files.items() if k.startswith("plot:")]
    assert plots and all(Path(p).stat().st_size > 1000 for p in plots)
