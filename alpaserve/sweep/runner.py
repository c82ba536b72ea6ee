"""Resumable experiment sweeps: a grid of cases, run on a process pool or Ray.

A sweep expands a :class:`SweepGrid` (policies × devices × rate scale × CV scale × SLO scale ×
trace windows) into :class:`SweepCase` objects, each with a stable ``case_id`` derived from
its full configuration. Results append to a CSV or parquet file one row per case, as each
case completes; a rerun reads the file first and skips every ``case_id`` already there, so a
sweep that crashed or was killed resumes with no lost and no duplicated rows.

CSV rows are appended and flushed with ``fsync``; a final line torn by a kill is detected on
resume, dropped and reported. Parquet cannot be appended to, so the file is rewritten through
a temporary file and ``os.replace`` (atomic) after each completed case.

The work per case is a *runner*: a picklable callable ``runner(case) -> dict`` of metrics.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alpaserve.errors import AlpaServeError, SpecError

logger = logging.getLogger(__name__)

Runner = Callable[["SweepCase"], Mapping[str, Any]]
KEY_COLUMNS = ("case_id", "seed", "version", "config")


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


@dataclass(frozen=True, kw_only=True)
class SweepGrid:
    """The cross product of the varied parameters, with fixed ``settings`` for every case.

    Parameters
    ----------
    policies : sequence of str
        Placement policies; non-empty.
    devices : sequence of int, default (8,)
        Cluster sizes; positive.
    rate_scales, cv_scales : sequence of float, default (1.0,)
        Factors on the base rate and CV; positive.
    slo_scales : sequence of float, default (5.0,)
        SLOs as multiples of model latency; positive.
    windows : sequence of (float, float) or None, default (None,)
        Trace windows in seconds (None: the whole trace).
    seed : int, default 0
        Seed of every case.
    settings : Mapping[str, Any], default empty
        Fixed configuration shared by every case.

    Raises
    ------
    SpecError
        If a sequence is empty or a value is not positive.

    Examples
    --------
    >>> grid = SweepGrid(policies=("sr", "alpaserve"), devices=(8, 16), seed=1)
    >>> len(grid.cases())
    4
    """

    policies: Sequence[str]
    devices: Sequence[int] = (8,)
    rate_scales: Sequence[float] = (1.0,)
    cv_scales: Sequence[float] = (1.0,)
    slo_scales: Sequence[float] = (5.0,)
    windows: Sequence[tuple[float, float] | None] = (None,)
    seed: int = 0
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("policies", "devices", "rate_scales", "cv_scales", "slo_scales", "windows"):
            values = tuple(getattr(self, name))
            object.__setattr__(self, name, values)
            if not values:
                raise SpecError(f"SweepGrid.{name} must not be empty")
        for d in self.devices:
            if isinstance(d, bool) or not isinstance(d, int) or d <= 0:
                raise SpecError(f"SweepGrid.devices must be positive ints, got {d!r}")
        for name in ("rate_scales", "cv_scales", "slo_scales"):
            for v in getattr(self, name):
                if not isinstance(v, int | float) or not v > 0:
                    raise SpecError(f"SweepGrid.{name} must be positive, got {v!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepGrid:
        """Build from a mapping, e.g. a parsed YAML or JSON experiment file.

        Parameters
        ----------
        data : Mapping[str, Any]
            The grid's fields by name; ``windows`` items are pairs or None.

        Returns
        -------
        SweepGrid
            The validated grid.

        Raises
        ------
        SpecError
            If a key is unknown or a value is invalid.

        Examples
        --------
        >>> SweepGrid.from_dict({"policies": ["sr"], "windows": [[0, 60], None]}).windows
        ((0.0, 60.0), None)
        """
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown sweep keys {unknown}; known: {sorted(known)}")
        fields = dict(data)
        if "windows" in fields:
            fields["windows"] = tuple(None if w is None else (float(w[0]), float(w[1]))
                                      for w in fields["windows"])
        try:
            return cls(**fields)
        except TypeError as exc:
            raise SpecError(f"cannot build a SweepGrid from {dict(data)!r}: {exc}") from exc

    def cases(self) -> list[SweepCase]:
        """Every case of the cross product; each carries the grid's seed.

        Returns
        -------
        list of SweepCase
            One case per combination, policies varying slowest and windows fastest.

        Examples
        --------
        >>> [(c.policy, c.devices) for c in SweepGrid(policies=("sr", "alpaserve"),
        ...                                              devices=(4, 8)).cases()]
        [('sr', 4), ('sr', 8), ('alpaserve', 4), ('alpaserve', 8)]
        """
        out = []
        combos = itertools.product(self.policies, self.devices, self.rate_scales,
                                   self.cv_scales, self.slo_scales, self.windows)
        for policy, devices, rate, cv, slo, window in combos:
            out.append(SweepCase(policy=policy, devices=devices, rate_scale=float(rate),
                                 cv_scale=float(cv), slo_scale=float(slo), window=window,
                                 seed=self.seed, settings=dict(self.settings)))
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


class SweepError(AlpaServeError):
    """A sweep that cannot run (bad output file, failing cases).

    Examples
    --------
    >>> run_sweep(SweepGrid(policies=("sr",)), "results.txt", runner=dict)
    Traceback (most recent call last):
    ...
    alpaserve.sweep.runner.SweepError: sweep output 'results.txt' must end in .csv or .parquet
    """


# ---------------------------------------------------------------------- storage
def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise SweepError(f"sweep output {str(path)!r} must end in .csv or .parquet")


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Rows already written to ``path`` (empty if it does not exist).

    A CSV whose last row was torn by a kill is repaired (the torn row dropped).

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.csv`` or ``.parquet`` sweep output.

    Returns
    -------
    list of dict of str to Any
        One dict per row, in file order.

    Raises
    ------
    SweepError
        If the file exists and its suffix is neither ``.csv`` nor ``.parquet``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = run_sweep(SweepGrid(policies=("a",)), Path(d, "out.csv"),
    ...                   runner=lambda case: {"x": 1})
    ...     rows = read_results(Path(d, "out.csv"))
    >>> [(r["x"], r["seed"]) for r in rows]
    [(1, 0)]
    """
    rows, _ = _read_rows(Path(path))
    return rows


def _read_rows(path: Path) -> tuple[list[dict[str, Any]], int]:
    if not path.exists():
        return [], 0
    if _format_of(path) == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist(), 0
    text = path.read_text()
    torn = 0
    if text and not text.endswith("\n"):
        # The last row was cut by a kill mid-write: drop it and rewrite the file cleanly.
        text = text[: text.rfind("\n") + 1]
        torn = 1
        path.write_text(text)
    rows = list(csv.DictReader(io.StringIO(text)))
    return [_decode_csv_row(r) for r in rows], torn


def _decode_csv_row(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        try:
            out[key] = json.loads(value)
        except (json.JSONDecodeError, TypeError):
            out[key] = value
    return out


def _append_csv(path: Path, row: Mapping[str, Any], columns: list[str]) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="raise")
        if new:
            writer.writeheader()
        writer.writerow({k: json.dumps(row.get(k)) for k in columns})
        fh.flush()
        os.fsync(fh.fileno())


def _rewrite_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_suffix(path.suffix + ".tmp")
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------------- running
def _execute(runner: Runner, case: SweepCase, version: str) -> dict[str, Any]:
    metrics = dict(runner(case))
    clash = sorted(set(metrics) & set(KEY_COLUMNS))
    if clash:
        raise SweepError(f"runner returned reserved columns {clash}")
    return {"case_id": case.case_id, "seed": case.seed, "version": version,
            "config": json.dumps(case.config(), sort_keys=True, default=str), **metrics}


def run_sweep(
    grid: SweepGrid | Iterable[SweepCase],
    out: str | Path,
    *,
    runner: Runner,
    workers: int = 1,
    use_ray: bool = False,
    ray_address: str | None = None,
    progress: bool = False,
) -> SweepReport:
    """Run every case not yet in ``out``, appending one row per case as it completes.

    ``workers=1`` runs in this process (simplest to debug); ``workers>1`` uses a process
    pool; ``use_ray`` (or a ``ray_address``) sends cases to Ray tasks instead.

    Parameters
    ----------
    grid : SweepGrid or iterable of SweepCase
        The cases.
    out : str or pathlib.Path
        Output file, ``.csv`` (appended) or ``.parquet`` (rewritten atomically).
    runner : callable
        Picklable ``runner(case) -> Mapping`` of metrics; must not return the reserved
        columns ``case_id``, ``seed``, ``version`` or ``config``.
    workers : int, default 1
        Processes; 1 runs in this process.
    use_ray : bool, default False
        Run the cases as Ray tasks.
    ray_address : str, optional
        Address of a Ray cluster to connect to (implies ``use_ray``).
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    SweepReport
        Counts of cases done, skipped and failed (with their errors).

    Raises
    ------
    SweepError
        If the output suffix is unsupported, cases repeat, or a runner's columns differ
        from the file's. A case whose runner raises an ``AlpaServeError`` is recorded as
        failed instead.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> grid = SweepGrid(policies=("a", "b"))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     first = run_sweep(grid, Path(d, "out.csv"), runner=lambda case: {"x": 1})
    ...     again = run_sweep(grid, Path(d, "out.csv"), runner=lambda case: {"x": 1})
    >>> first.completed, again.completed, again.skipped_done
    (2, 0, 2)
    """
    from alpaserve import __version__

    path = Path(out)
    fmt = _format_of(path)
    cases = grid.cases() if isinstance(grid, SweepGrid) else list(grid)
    ids = [c.case_id for c in cases]
    if len(set(ids)) != len(ids):
        raise SweepError("the sweep has duplicate cases (same configuration and seed)")
    rows, torn = _read_rows(path)
    done = {r["case_id"] for r in rows}
    todo = [c for c in cases if c.case_id not in done]
    logger.info("sweep: %d cases, %d already done, %d to run", len(cases),
                len(cases) - len(todo), len(todo))
    columns: list[str] = list(rows[0]) if rows else []
    failed: dict[str, str] = {}
    completed = 0

    def record(row: dict[str, Any]) -> None:
        nonlocal columns, completed
        if fmt == "csv":
            if not columns:
                columns = list(row)
            if set(row) != set(columns):
                raise SweepError(f"case {row['case_id']} returned columns {sorted(row)} but "
                                 f"the file has {sorted(columns)}")
            _append_csv(path, row, columns)
        else:
            rows.append(row)
            _rewrite_parquet(path, rows)
        completed += 1

    bar = _progress(len(todo), progress)
    if use_ray or ray_address:
        _run_ray(todo, runner, __version__, ray_address, record, failed, bar)
    elif workers <= 1:
        for case in todo:
            try:
                record(_execute(runner, case, __version__))
            except AlpaServeError as exc:
                failed[case.case_id] = str(exc)
            bar.update(1)
    else:
        # spawn, not fork: forking a process that has loaded jax (or any threaded library)
        # can deadlock the child.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures: dict[Future[dict[str, Any]], SweepCase] = {
                pool.submit(_execute, runner, c, __version__): c for c in todo}
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    try:
                        record(fut.result())
                    except AlpaServeError as exc:
                        failed[futures[fut].case_id] = str(exc)
                    bar.update(1)
    bar.close()
    if failed:
        logger.warning("sweep: %d cases failed: %s", len(failed), failed)
    return SweepReport(total=len(cases), skipped_done=len(cases) - len(todo),
                       completed=completed, failed=failed, torn_rows_dropped=torn, path=path)


def _run_ray(todo: list[SweepCase], runner: Runner, version: str, address: str | None,
             record: Callable[[dict[str, Any]], None], failed: dict[str, str],
             bar: Any) -> None:
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(_execute)
        refs = {remote.remote(runner, c, version): c for c in todo}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                try:
                    record(ray.get(ref))
                except (AlpaServeError, ray.exceptions.RayTaskError) as exc:
                    failed[refs[ref].case_id] = str(exc)
                bar.update(1)
    finally:
        if started_here:
            ray.shutdown()


class _NoBar:
    def update(self, n: int) -> None:
        del n

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc="sweep", unit="case")
