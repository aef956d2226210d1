"""The command line end to end, in subprocesses: ``python -m engine run | scenarios | sweep``."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.io.seed import data_dir
from engine.scenario import PRESETS, preset, preset_names, to_toml, validate

ROOT = Path(__file__).resolve().parents[1]
MODULE = "engine"
SCALE = "0.02"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS = ("price_path.png", "depth_exhaustion.png", "waves.png", "bid_depth_heatmap.png")


def firesale(*args, cwd, timeout=180):
    env = dict(os.environ)
    # what the tests import (a debug build first on PYTHONPATH, say), then this checkout
    env["PYTHONPATH"] = os.pathsep.join(
        [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p] + [str(ROOT)])
    env.setdefault("MPLBACKEND", "Agg")
    return subprocess.run([sys.executable, "-m", MODULE, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_png_with_content(path):
    import matplotlib.image

    data = Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert len(data) > 5_000, path
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] >= 300 and pixels.shape[1] >= 400
    rgb = pixels[..., :3]
    assert rgb.std() > 0.02, f"{path} is blank"
    # more than the white page and one colour: real lines and labels
    assert len(np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 20


def _needs_data(name):
    if PRESETS[name][1]["book"]["kind"] == "recorded" and data_dir() is None:
        pytest.skip("the recorded book is not in ../shared/data")


@pytest.mark.parametrize("name", preset_names())
def test_each_preset_runs_and_writes_parseable_outputs(name, tmp_path):
    pytest.importorskip("matplotlib")
    _needs_data(name)
    out = tmp_path / "out"
    done = firesale("run", name, "--seed", 3, "--scale", SCALE, "--out", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"Scenario: {name} (seed 3, scale {float(SCALE):g})" in done.stdout
    assert "Depth exhaustion" in done.stdout and "Price gaps" in done.stdout
    assert f"report and plots written to {out}/" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == name and summary["seed"] == 3
    for key in ("start_price", "end_price", "forced_volume", "accounts_liquidated", "waves",
                "levels_emptied", "max_gap_ticks", "depth_consumed", "bad_debt",
                "amplification"):
        assert key in summary
    assert summary["files"]["summary"] == "summary.json"
    with np.load(out / "tape.npz") as tape:
        assert int(tape["tape"]["qty"].sum()) >= summary["forced_volume"]
        assert len(tape["orders"]) == summary["forced_orders"]
    with np.load(out / "paths.npz") as paths:
        assert paths["path"]["bid"][0] == summary["start_price"]
        assert len(paths["waves"]) == summary["waves"] + 1
    assert (out / "report.txt").read_text().startswith(f"Scenario: {name}")
    for png in PLOTS:
        assert_png_with_content(out / png)


def test_run_without_argument_runs_the_margin_crash_and_says_where(tmp_path):
    pytest.importorskip("matplotlib")
    done = firesale("run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Scenario: margin-crash (seed 2015, scale 1)" in done.stdout
    assert "300,000" in done.stdout
    where = tmp_path / "out" / "margin-crash-seed2015"
    assert "report and plots written to out/margin-crash-seed2015/" in done.stdout
    assert (where / "summary.json").is_file()
    for png in PLOTS:
        assert_png_with_content(where / png)


def test_json_output_is_the_summary(tmp_path):
    done = firesale("run", "margin-crash", "--scale", SCALE, "--json", "--out", tmp_path / "o",
                    "--no-plots", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    written = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert printed["forced_volume"] == written["forced_volume"]
    assert printed["seed"] == 2015 and "written to" in done.stderr
    assert not (tmp_path / "o" / "price_path.png").exists()


def test_same_seed_same_bytes(tmp_path):
    for d in ("a", "b"):
        done = firesale("run", "quant-snowball", "--seed", 5, "--scale", SCALE, "--no-plots",
                        "--out", tmp_path / d, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    for name in ("tape.npz", "paths.npz"):
        with np.load(tmp_path / "a" / name) as a, np.load(tmp_path / "b" / name) as b:
            assert a.files == b.files
            for key in a.files:
                assert a[key].tobytes() == b[key].tobytes()


def test_scenarios_list_and_show_round_trip(tmp_path):
    done = firesale("scenarios", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for name in preset_names():
        assert any(line.startswith(name + " ") for line in lines)
    assert "not available: cross-asset" in done.stdout
    shown = firesale("scenarios", "show", "quant-snowball", cwd=tmp_path)
    assert shown.returncode == 0
    assert shown.stdout == to_toml(preset("quant-snowball"))
    # a file started from a preset runs
    path = tmp_path / "mine.toml"
    path.write_text(shown.stdout.replace("sessions = 5", "sessions = 2"))
    done = firesale("run", path, "--scale", SCALE, "--no-plots", "--out", tmp_path / "o",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["sessions"] <= 2
    missing = firesale("scenarios", "show", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and "margin-crash" in missing.stderr


BAD_FILES = {
    "syntax.toml": ("name = \n", "syntax.toml: (file): expected valid TOML"),
    "field.toml": (to_toml(preset("margin-crash")).replace("sessions = 8", "sessions = 0"),
                   "field.toml: session.sessions: expected an integer >= 1 and <= 10000, got 0"),
    "unknown.toml": (to_toml(preset("margin-crash")).replace("[session]", "[session]\nlimt = 0.1"),
                     "unknown.toml: session.limt: expected no such field"),
    "dist.toml": (to_toml(preset("quant-snowball")).replace(
        'leverage = { dist = "uniform", low = 4.0, high = 5.0 }',
        'leverage = { dist = "uniform", low = 4.0 }'),
        "dist.toml: accounts[0].leverage.high: expected a value (the field is required)"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_scenario_files_fail_clearly(name, tmp_path):
    text, message = BAD_FILES[name]
    path = tmp_path / name
    path.write_text(text)
    done = firesale("run", path, "--no-plots", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("firesale: error: ")
    assert message.replace(name, str(path)) in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_missing_file_and_unknown_preset(tmp_path):
    done = firesale("run", tmp_path / "gone.toml", cwd=tmp_path)
    assert done.returncode == 2 and "gone.toml: (file): expected a readable TOML file" in done.stderr
    done = firesale("run", "margin-krash", cwd=tmp_path)
    assert done.returncode == 2 and "a preset (margin-crash" in done.stderr
    done = firesale("run", "--set", "shock.depth_fraction=-2", cwd=tmp_path)
    assert done.returncode == 2 and "shock.depth_fraction: expected a number > 0" in done.stderr


def test_sweep_writes_table_and_plots_records_failures_and_resumes(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "crash.toml"
    path.write_text(to_toml(validate(dict(preset("margin-crash"), scale=0.01))))
    out = tmp_path / "sweep"
    args = ("sweep", path, "--grid", "accounts.0.median_ratio=1.8:2.8:2",
            "--grid", "shock.depth_fraction=0.5,-1", "--seeds", 2, "--workers", 2,
            "--out", out)
    done = firesale(*args, cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # two grid points are invalid
    assert "8 runs (0 resumed" in done.stdout and "4 failed" in done.stdout
    assert "shock.depth_fraction: expected a number > 0" in done.stderr
    import csv
    rows = list(csv.DictReader(open(out / "sweep.csv")))
    assert len(rows) == 8
    assert [r["status"] for r in rows] == ["ok", "ok", "error", "error"] * 2
    assert {r["accounts.0.median_ratio"] for r in rows} == {"1.8", "2.8"}
    for png in ("sweep_amplification.png", "sweep_accounts_liquidated.png"):
        assert_png_with_content(out / png)
    again = firesale(*args, cwd=tmp_path)
    assert "(4 resumed" in again.stdout, again.stdout
    bad = firesale("sweep", path, "--grid", "nonsense", cwd=tmp_path)
    assert bad.returncode == 2 and "--grid 'nonsense'" in bad.stderr


def test_sweep_on_a_dask_scheduler_matches_the_local_sweep(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from engine.sweeps import TIMING_COLUMNS, read_table

    path = tmp_path / "crash.toml"
    path.write_text(to_toml(validate(dict(preset("margin-crash"), scale=0.01))))
    grid = ("--grid", "accounts.0.median_ratio=2.0,2.8", "--seeds", 2)
    local = firesale("sweep", path, *grid, "--workers", 1, "--out", tmp_path / "local",
                     cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p] + [str(ROOT)]))
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    try:
        remote = firesale("sweep", path, *grid, "--scheduler", cluster.scheduler_address,
                          "--out", tmp_path / "dask", cwd=tmp_path)
    finally:
        cluster.close()
    assert remote.returncode == 0, remote.stderr

    def table(folder):
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS}
                for row in read_table(folder / "sweep.csv")]

    assert table(tmp_path / "dask") == table(tmp_path / "local")
    assert len(table(tmp_path / "local")) == 4
