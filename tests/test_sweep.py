"""Sweeps: grid expansion, resumption with no lost or duplicated rows, storage formats."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alpaserve.sweep.runner import SweepError, SweepGrid, read_results, run_sweep

sys.path.insert(0, str(Path(__file__).parent))
from _sweep_runner import failing_runner, synthetic_runner, value_error_runner

ROOT = Path(__file__).resolve().parents[1]


def grid(**settings: object) -> SweepGrid:
    return SweepGrid(policies=("sr", "alpaserve"), devices=(2, 4, 8), cv_scales=(1, 4),
                     seed=7, settings=settings)


def comparable(rows: list[dict]) -> list[tuple]:
    return sorted((r["case_id"], r["config"], r["attainment"], r["p99"]) for r in rows)


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


@pytest.mark.parametrize("workers", [1, 2])
def test_failures_are_counted_not_dropped(tmp_path: Path, workers: int) -> None:
    report = run_sweep(grid(), tmp_path / "r.csv", runner=failing_runner, workers=workers)
    assert report.completed == 8
    assert len(report.failed) == 4
    assert all(msg == "InfeasibleError: 2 devices cannot hold the models"
               for msg in report.failed.values())
    again = run_sweep(grid(), tmp_path / "r.csv", runner=failing_runner)  # failures rerun
    assert (again.skipped_done, again.completed, len(again.failed)) == (8, 0, 4)


def test_any_runner_error_is_a_counted_failure(tmp_path: Path) -> None:
    report = run_sweep(grid(), tmp_path / "r.csv", runner=value_error_runner)
    assert report.completed == 0
    assert set(report.failed.values()) == {"ValueError: no such policy"}


def test_another_experiment_is_refused_before_a_row_is_read(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    run_sweep(grid(), out, runner=synthetic_runner)
    before = out.read_bytes()
    other = SweepGrid(policies=("sr",), devices=(2,), seed=1)
    with pytest.raises(SweepError, match=r"holds another experiment \(\w+, this one is \w+\)"):
        run_sweep(other, out, runner=synthetic_runner)
    assert out.read_bytes() == before
    out.write_bytes(before[:-5])  # torn, and still refused: the repair waits for the check
    with pytest.raises(SweepError, match="holds another experiment"):
        run_sweep(other, out, runner=synthetic_runner)
    assert out.read_bytes() == before[:-5]
    report = run_sweep(other, out, runner=synthetic_runner, force=True)
    assert report.completed == 1
    assert len(read_results(out)) == 1


def test_two_sweeps_on_one_file(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    code = SCRIPT.format(tests=str(Path(__file__).parent), sleep=0.5, out=str(out),
                         workers=1)
    first = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        second = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert second.returncode != 0
        assert "is being written by another alpaserve process" in second.stderr
        assert first.wait(timeout=120) == 0
    finally:
        if first.poll() is None:
            first.kill()
    rows = read_results(out)
    assert len(rows) == 12
    assert len({r["case_id"] for r in rows}) == 12
    waiter = subprocess.Popen([sys.executable, "-c", code.replace(
        "workers=1)", "workers=1, wait_for_lock=True)")], cwd=ROOT)
    from alpaserve.safe_files import exclusive

    with exclusive(out):  # the waiter waits for this lock, then finds everything done
        time.sleep(1.0)
        assert waiter.poll() is None
    assert waiter.wait(timeout=120) == 0
    assert len(read_results(out)) == 12


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
run_sweep(grid, {out!r}, runner=synthetic_runner, workers={workers})
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
    code = SCRIPT.format(tests=str(Path(__file__).parent), sleep=0.3, out=str(out), workers=2)
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
