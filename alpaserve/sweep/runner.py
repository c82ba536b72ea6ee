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

import hashlib
import itertools
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alpaserve.errors import SpecError
from alpaserve.safe_files import exclusive
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
class SweepCase:
    """One point of the grid. ``settings`` holds the fixed, non-varied configuration.

    Parameters
    ----------
    policy : str
        Placement policy name (e.g. ``"sr"``, ``"alpaserve"``).
    devices : int
        Devices in the cluster.
    rate_scale, cv_scale, slo_scale : float
        Factors on the base rate and CV, and the SLO as a multiple of model latency.
    window : tuple of (float, float) or None
        Trace window ``(start, end)`` in seconds, or None for all of it.
    seed : int
        Seed of the case's randomness; part of ``case_id``.
    settings : Mapping[str, Any], default empty
        The fixed configuration (models, device, base traffic; see
        :mod:`alpaserve.sweep.cases`).

    Examples
    --------
    >>> case = SweepGrid(policies=("sr",)).cases()[0]
    >>> case.policy, case.devices, len(case.case_id)
    ('sr', 8, 16)
    """

    policy: str
    devices: int
    rate_scale: float
    cv_scale: float
    slo_scale: float
    window: tuple[float, float] | None
    seed: int
    settings: Mapping[str, Any] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        """The full configuration as a JSON-ready dict (hashed into ``case_id``).

        Returns
        -------
        dict of str to Any
            Every field, ``settings`` as a dict and ``window`` as a list or None.

        Examples
        --------
        >>> SweepGrid(policies=("sr",), windows=((0, 60),)).cases()[0].config()["window"]
        [0, 60]
        """
        data = asdict(self)
        data["settings"] = dict(self.settings)
        data["window"] = list(self.window) if self.window is not None else None
        return data

    @property
    def case_id(self) -> str:
        """A stable hash of the full configuration (seed included)."""
        text = json.dumps(self.config(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def axes(self) -> dict[str, Any]:
        """The varied values as plain table columns (the window as start and end).

        Returns
        -------
        dict
            ``policy``, ``devices``, ``rate_scale``, ``cv_scale``, ``slo_scale``, ``window_start``,
            ``window_end`` and ``seed``.
        """
        start, end = self.window if self.window is not None else (None, None)
        return {"policy": self.policy, "devices": self.devices, "rate_scale": self.rate_scale,
                "cv_scale": self.cv_scale, "slo_scale": self.slo_scale,
                "window_start": start, "window_end": end, "seed": self.seed}


def experiment_id(cases: Iterable[SweepCase]) -> str:
    """The hash of an experiment: of the sorted ids of all its cases.

    Parameters
    ----------
    cases
        The experiment's cases.

    Returns
    -------
    str
        16 hex digits, stored in every row's ``experiment`` column.

    Examples
    --------
    >>> grid = SweepGrid(policies=["sr"], devices=[2, 4])
    >>> experiment_id(grid.cases()) == experiment_id(reversed(grid.cases()))
    True
    """
    text = "\n".join(sorted(c.case_id for c in cases))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class SweepGrid:
    """The cross product of the varied parameters, with fixed ``settings`` for every case.

    ``seed`` gives every case one seed; ``seeds`` makes the seed an axis (give one or the
    other). A string where a sequence is expected is one value (``policies="sr"`` is the one
    policy ``sr``). :func:`alpaserve.sweep.schema.grid_from_mapping` builds one from an
    experiment file, with type checks.

    Parameters
    ----------
    policies : sequence of str or str
        Placement policies.
    devices : sequence of int, default (8,)
        Cluster sizes.
    rate_scales, cv_scales, slo_scales : sequence of float
        Factors on the base rate and CV, and SLO multiples; positive and finite.
    windows : sequence of (float, float) or None, default (None,)
        Trace windows in seconds (``None``: the whole trace).
    seed : int, default 0
        The seed of every case (without ``seeds``).
    seeds : sequence of int, optional
        Seeds as an axis.
    settings : mapping, optional
        Fixed configuration shared by every case (the runner's settings).

    Raises
    ------
    SpecError
        When an axis is empty, a value is out of range, or both ``seed`` and ``seeds`` are given.

    Examples
    --------
    >>> grid = SweepGrid(policies=("sr", "alpaserve"), devices=(8, 16), seeds=(1, 2))
    >>> len(grid.cases())
    8
    >>> [c.policy for c in SweepGrid(policies="sr").cases()]
    ['sr']
    """

    policies: Sequence[str]
    devices: Sequence[int] = (8,)
    rate_scales: Sequence[float] = (1.0,)
    cv_scales: Sequence[float] = (1.0,)
    slo_scales: Sequence[float] = (5.0,)
    windows: Sequence[tuple[float, float] | None] = (None,)
    seed: int = 0
    seeds: Sequence[int] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.seeds is not None and self.seed != 0:
            raise SpecError("SweepGrid takes seed or seeds, not both")
        for name in ("policies", "devices", "rate_scales", "cv_scales", "slo_scales", "windows",
                     "seeds"):
            raw = getattr(self, name)
            if raw is None:
                continue
            values = (raw,) if isinstance(raw, str | int | float) else tuple(raw)
            object.__setattr__(self, name, values)
            if not values:
                raise SpecError(f"SweepGrid.{name} must not be empty")
        for d in self.devices:
            if isinstance(d, bool) or not isinstance(d, int) or d <= 0:
                raise SpecError(f"SweepGrid.devices must be positive ints, got {d!r}")
        for name in ("rate_scales", "cv_scales", "slo_scales"):
            for v in getattr(self, name):
                if not isinstance(v, int | float) or not 0 < v < math.inf:
                    raise SpecError(f"SweepGrid.{name} must be positive and finite, got {v!r}")
        for s in self.seeds or (self.seed,):
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise SpecError(f"SweepGrid seeds must be non-negative ints, got {s!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepGrid:
        """Build from a mapping, e.g. a parsed experiment file (checked key by key and type by
        type by :func:`alpaserve.sweep.schema.grid_from_mapping`; ``settings`` are not
        checked here, as they belong to the runner).

        Parameters
        ----------
        data : mapping
            The experiment's keys (see :mod:`alpaserve.sweep.schema`).

        Returns
        -------
        SweepGrid
            The checked grid.
        """
        from alpaserve.sweep.schema import grid_from_mapping

        return grid_from_mapping(data)

    def cases(self) -> list[SweepCase]:
        """Every case of the cross product (seeds vary last).

        Returns
        -------
        list of SweepCase
            One case per combination, policies varying slowest and seeds fastest.
        """
        out = []
        combos = itertools.product(self.policies, self.devices, self.rate_scales,
                                   self.cv_scales, self.slo_scales, self.windows,
                                   self.seeds or (self.seed,))
        for policy, devices, rate, cv, slo, window, seed in combos:
            out.append(SweepCase(policy=policy, devices=devices, rate_scale=float(rate),
                                 cv_scale=float(cv), slo_scale=float(slo), window=window,
                                 seed=seed, settings=dict(self.settings)))
        return out


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
