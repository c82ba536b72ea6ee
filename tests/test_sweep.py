"""Sweeps: grid expansion, resumption with no lost or duplicated rows, storage formats."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alpaserve.errors import SpecError
from alpaserve.sweep.runner import SweepError, SweepGrid, read_results, run_sweep

sys.path.insert(0, str(Path(__file__).parent))
from _sweep_runner import failing_runner, synthetic_runner

ROOT = Path(__file__).resolve().parents[1]


def grid(**settings: object) -> SweepGrid:
    return SweepGrid(policies=("sr", "alpaserve"), devices=(2, 4, 8), cv_scales=(1, 4),
                     seed=7, settings=settings)


def comparable(rows: list[dict]) -> list[tuple]:
    return sorted((r["case_id"], r["config"], r["attainment"], r["p99"]) for r in rows)


def test_grid_expands_to_the_cross_product() -> None:
    cases = grid().cases()
    assert len(cases) == 12
    assert len({c.case_id for c in cases}) == 12
    assert cases[0].case_id == grid().cases()[0].case_id  # stable across calls


def test_grid_rejects_bad_values() -> None:
    with pytest.raises(SpecError, match="devices must be positive ints, got 0"):
        SweepGrid(policies=("sr",), devices=(0,))
    with pytest.raises(SpecError, match="policies must not be empty"):
        SweepGrid(policies=())
    with pytest.raises(SpecError, match=r"unknown sweep keys \['colour'\]"):
        SweepGrid.from_dict({"policies": ["sr"], "colour": "red"})


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_rerun_skips_done_cases(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"results{suffix}"
    first = run_sweep(grid(), out, runner=synthetic_runner)
    assert (first.completed, first.skipped_done) == (12, 0)
    again = run_sweep(grid(), out, runner=synthetic_runner)
    assert (again.completed, again.skipped_done) == (0, 12)
    rows = read_results(out)
    assert len(rows) == 12
    assert {r["version"] for r in rows} == {rows[0]["version"]}
    assert all(r["seed"] == 7 for r in rows)


def test_torn_csv_row_is_dropped_and_rerun(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    run_sweep(grid(), out, runner=synthetic_runner)
    reference = comparable(read_results(out))
    text = out.read_text()
    out.write_text(text[: len(text) - 10])  # a kill in the middle of the last row
    report = run_sweep(grid(), out, runner=synthetic_runner)
    assert report.torn_rows_dropped == 1
    assert report.completed == 1
    assert comparable(read_results(out)) == reference


def test_failures_are_counted_not_dropped(tmp_path: Path) -> None:
    report = run_sweep(grid(), tmp_path / "r.csv", runner=failing_runner)
    assert report.completed == 8
    assert len(report.failed) == 4
    assert all("2 devices" in msg for msg in report.failed.values())


def test_bad_output_suffix(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match=r"must end in \.csv or \.parquet"):
        run_sweep(grid(), tmp_path / "r.txt", runner=synthetic_runner)


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from _sweep_runner import synthetic_runner
from alpaserve.sweep.runner import SweepGrid, run_sweep
grid = SweepGrid(policies=("sr", "alpaserve"), devices=(2, 4, 8), cv_scales=(1, 4), seed=7,
                 settings={{"sleep_s": {sleep}}})
run_sweep(grid, {out!r}, runner=synthetic_runner, workers=2)
"""


def _pool_workers(pid: int) -> list[int]:
    """Spawned pool workers of ``pid`` (not the resource tracker)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(x) for x in path.read_text().split()] if path.exists() else []
    workers = []
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in cmdline:
            workers.append(child)
    return workers


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").exists(), reason="needs /proc to find worker pids")
def test_killed_worker_then_rerun_matches_uninterrupted(tmp_path: Path) -> None:
    out = tmp_path / "killed.csv"
    code = SCRIPT.format(tests=str(Path(__file__).parent), sleep=0.3, out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and len(read_results(out)) >= 3:
            break
        time.sleep(0.05)
    workers = _pool_workers(proc.pid)
    assert workers, "the sweep started no worker processes"
    os.kill(workers[0], signal.SIGKILL)
    proc.wait(timeout=60)
    partial = read_results(out)
    assert 3 <= len(partial) < 12
    resumed = run_sweep(grid(sleep_s=0.3), out, runner=synthetic_runner, workers=2)
    assert resumed.skipped_done == len(partial)
    full = tmp_path / "full.csv"
    run_sweep(grid(sleep_s=0.3), full, runner=synthetic_runner, workers=2)
    assert comparable(read_results(out)) == comparable(read_results(full))


@pytest.mark.slow
def test_ray_sweep_matches_local(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    from alpaserve.sweep.cases import run_plan_case

    small = SweepGrid(policies=("sr",), devices=(1, 2), seed=3,
                      settings={"models": "bert-1.3b:2", "rate": 4.0, "duration": 10.0})
    local = run_sweep(small, tmp_path / "local.csv", runner=run_plan_case)
    remote = run_sweep(small, tmp_path / "ray.csv", runner=run_plan_case, use_ray=True)
    assert (local.completed, remote.completed) == (2, 2)
    key = ("case_id", "attainment", "requests", "devices_used")
    assert sorted(tuple(r[k] for k in key) for r in read_results(tmp_path / "ray.csv")) == \
        sorted(tuple(r[k] for k in key) for r in read_results(tmp_path / "local.csv"))
