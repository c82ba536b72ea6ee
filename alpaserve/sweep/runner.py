"""Resumable experiment sweeps: a grid of cases, run in this process, a process pool or Ray.

A sweep expands a :class:`SweepGrid` (policies × devices × rate scale × CV scale × SLO scale ×
trace windows × seeds) into :class:`SweepCase` objects, each with a stable ``case_id`` derived
from its full configuration; the set of case ids gives the *experiment* hash. Results go to a
CSV or parquet table (:mod:`alpaserve.sweep.storage`) one row per case, as each case
completes; a rerun of the same experiment reads the file and skips every ``case_id`` already
there, so a sweep that crashed or was killed resumes with no lost and no duplicated rows.

The output is locked while a sweep runs (a second sweep on it fails, or waits with
``wait=True``); a file that is not a sweep file, or another experiment's, is refused unless
``force=True``. CSV rows are appended and flushed with ``fsync``; a final line torn by a kill
is dropped on resume once the file is known to be this experiment's. Parquet cannot be
appended to, so the file is rewritten through a fresh temporary file and ``os.replace``.

The work per case is a *runner*: a picklable callable ``runner(case) -> dict`` of metrics.
Every backend treats a case that raises the same way: the error is counted in
:attr:`SweepReport.failed` (as ``"ErrorType: message"``) and the other cases go on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alpaserve.safe_files import exclusive
from alpaserve.sweep.grid import SweepCase, SweepGrid, experiment_id
from alpaserve.sweep.pool import failure, progress_bar, run_pool
from alpaserve.sweep.storage import (
    AXIS_COLUMNS,
    KEY_COLUMNS,
    SweepError,
    append_csv,
    claim,
    format_of,
    read_rows,
    rewrite_parquet,
)

__all__ = ["SweepCase", "SweepError", "SweepGrid", "SweepReport", "experiment_id",
           "read_results", "run_sweep"]

logger = logging.getLogger(__name__)

Runner = Callable[["SweepCase"], Mapping[str, Any]]


@dataclass(frozen=True, kw_only=True)
class SweepReport:
    """What a call to :func:`run_sweep` did.

    Parameters
    ----------
    total : int
        Cases in the sweep.
    skipped_done : int
        Cases already in the output file, not rerun.
    completed : int
        Cases run and written in this call.
    failed : dict of str to str
        Error message of each failed case, by ``case_id``.
    torn_rows_dropped : int
        CSV rows cut by an earlier kill, dropped on resume.
    path : pathlib.Path
        The output file.
    experiment : str, default ""
        The experiment's hash (:func:`experiment_id`).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as d:
    ...     report = run_sweep(SweepGrid(policies=("a", "b")), Path(d, "out.csv"),
    ...                        runner=lambda case: {"x": 1})
    >>> report.total, report.completed, report.skipped_done, report.failed
    (2, 2, 0, {})
    """

    total: int
    skipped_done: int
    completed: int
    failed: dict[str, str]
    torn_rows_dropped: int
    path: Path
    experiment: str = ""



def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Rows already written to ``path`` (empty if it does not exist); the file is only read.

    Parameters
    ----------
    path
        A sweep CSV or parquet file.

    Returns
    -------
    list[dict]
        One dict per complete row, cells typed.

    Examples
    --------
    >>> read_results("no-such-sweep.parquet")
    []
    """
    return read_rows(Path(path))


# ---------------------------------------------------------------------- running
def _execute(runner: Runner, case: SweepCase, version: str,
             experiment: str) -> dict[str, Any]:
    metrics = dict(runner(case))
    clash = sorted(set(metrics) & {*KEY_COLUMNS, *AXIS_COLUMNS})
    if clash:
        raise SweepError(f"runner returned reserved columns {clash}")
    return {"case_id": case.case_id, "experiment": experiment, "version": version,
            "config": json.dumps(case.config(), sort_keys=True, default=str),
            **case.axes(), **metrics}


def run_sweep(
    grid: SweepGrid | Iterable[SweepCase],
    out: str | Path,
    *,
    runner: Runner,
    workers: int = 1,
    use_ray: bool = False,
    ray_address: str | None = None,
    ray_num_cpus: float = 1.0,
    force: bool = False,
    wait_for_lock: bool = False,
    progress: bool = False,
) -> SweepReport:
    """Run every case not yet in ``out``, appending one row per case as it completes.

    Parameters
    ----------
    grid
        The grid, or any iterable of distinct cases.
    out
        The results table, ``.csv`` or ``.parquet``.
    runner
        ``runner(case) -> dict`` of metrics; picklable for a pool or Ray.
    workers
        ``1`` runs in this process (simplest to debug); more uses a process pool of spawned
        processes, each limited to one thread.
    use_ray, ray_address
        Send cases to Ray tasks instead (see :mod:`alpaserve.sweep.ray_backend`);
        an address connects to an existing cluster.
    ray_num_cpus
        CPUs each Ray task reserves (and threads it may use).
    force
        Replace an ``out`` that is not this experiment's sweep file.
    wait_for_lock
        Wait while another sweep writes ``out`` instead of failing.
    progress
        Show a progress bar on stderr.

    Returns
    -------
    SweepReport
        Counts of the cases done before, run now and failed (with messages).

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "r.csv"
    >>> grid = SweepGrid(policies=["sr"], devices=[1, 2])
    >>> run_sweep(grid, out, runner=lambda c: {"x": c.devices}).completed
    2
    >>> run_sweep(grid, out, runner=lambda c: {"x": c.devices}).skipped_done
    2
    """
    from alpaserve import __version__

    path = Path(out)
    fmt = format_of(path)
    cases = grid.cases() if isinstance(grid, SweepGrid) else list(grid)
    ids = [c.case_id for c in cases]
    if len(set(ids)) != len(ids):
        raise SweepError("the sweep has duplicate cases (same configuration and seed)")
    experiment = experiment_id(cases)
    with exclusive(path, wait=wait_for_lock):
        resume, torn = claim(path, experiment, force=force)
        rows = read_rows(path) if resume else []
        done = {r["case_id"] for r in rows}
        todo = [c for c in cases if c.case_id not in done]
        logger.info("sweep %s: %d cases, %d already done, %d to run", experiment, len(cases),
                    len(cases) - len(todo), len(todo))
        columns: list[str] = list(rows[0]) if rows else []
        failed: dict[str, str] = {}
        completed = 0

        def record(row: dict[str, Any]) -> None:
            nonlocal columns, completed
            if fmt == "csv":
                create = not columns
                if create:
                    columns = list(row)
                if set(row) != set(columns):
                    raise SweepError(f"case {row['case_id']} returned columns {sorted(row)} "
                                     f"but the file has {sorted(columns)}")
                append_csv(path, row, columns, create=create)
            else:
                rows.append(row)
                rewrite_parquet(path, rows, experiment)
            completed += 1

        bar = progress_bar(len(todo), progress)
        try:
            if use_ray or ray_address:
                from alpaserve.sweep.ray_backend import run_on_ray

                run_on_ray(todo, runner, address=ray_address, num_cpus=ray_num_cpus,
                           execute=_execute, args=(__version__, experiment), record=record,
                           failed=failed, bar=bar)
            elif workers <= 1:
                for case in todo:
                    try:
                        row = _execute(runner, case, __version__, experiment)
                    except Exception as exc:  # counted, as on every backend
                        failed[case.case_id] = failure(exc)
                    else:
                        record(row)
                    bar.update(1)
            else:
                run_pool(todo, runner, _execute, (__version__, experiment), workers, record,
                         failed, bar)
        finally:
            bar.close()
    if failed:
        logger.warning("sweep: %d cases failed: %s", len(failed), failed)
    return SweepReport(total=len(cases), skipped_done=len(cases) - len(todo),
                       completed=completed, failed=failed, torn_rows_dropped=torn, path=path,
                       experiment=experiment)
