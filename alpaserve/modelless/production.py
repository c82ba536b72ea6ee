"""A production-like model-less workload: per-application query streams from a function trace.

Each function of an Azure Functions 2019 trace (read by
:func:`workloads.traces.azure.functions_2019.read_azure_functions_2019`) becomes one
*application*: a task of its own with its own latency SLO and accuracy floor
(:class:`Application`), served by copies of a base task's variants
(:func:`application_registry`). :func:`production_queries` turns a trace file into
:class:`~alpaserve.modelless.queries.ModellessQueries` for those applications.

No Azure Functions file ships with the library. :func:`write_synthetic_functions_trace`
writes a **synthetic** day in the real 2019 format whose shape follows the published
statistics of that trace (Shahrad et al., "Serverless in the Wild", USENIX ATC 2020):
per-function rates heavy-tailed over orders of magnitude (log-normal here), a diurnal cycle,
a share of timer-triggered functions with steady per-minute counts, and Poisson minute
counts for the others. It is for tests and for the benchmark when no real trace is given.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from alpaserve.errors import SpecError, WorkloadError
from alpaserve.modelless.queries import ModellessQueries
from alpaserve.modelless.registry import VariantRegistry
from workloads._rng import SeedLike, as_generator
from workloads.function_mapping import FunctionMapping
from workloads.traces.azure.functions_2019 import (
    KEY_COLUMNS,
    MINUTES_PER_DAY,
    AzureFunctions2019Spec,
    read_azure_functions_2019,
)

#: Latency SLOs (seconds) and accuracy floors (top-1 %) that applications draw from.
SLO_CHOICES = (0.1, 0.2, 0.3, 0.5)
FLOOR_CHOICES = (0.0, 70.0, 74.0, 77.0)


@dataclass(frozen=True, kw_only=True)
class Application:
    """One application of a model-less workload: its own task, SLO and accuracy floor.

    Parameters
    ----------
    name : str
        The application's task name (its queries' task), unique in a workload.
    slo : float
        Latency SLO of every query, seconds (> 0).
    min_accuracy : float
        Accuracy floor of every query, top-1 percent in [0, 100]; 0 means none.

    Raises
    ------
    SpecError
        If the name is empty or a value is out of range.

    Examples
    --------
    >>> Application(name="app0", slo=0.2, min_accuracy=74.0).slo
    0.2
    """

    name: str
    slo: float
    min_accuracy: float = 0.0

    def __post_init__(self) -> None:
        if not self.name:
            raise SpecError("Application.name must be non-empty")
        if not (math.isfinite(self.slo) and self.slo > 0):
            raise SpecError(f"Application {self.name!r}: slo must be positive, got "
                            f"{self.slo!r}")
        if not 0 <= self.min_accuracy <= 100:
            raise SpecError(f"Application {self.name!r}: min_accuracy must lie in [0, 100], "
                            f"got {self.min_accuracy!r}")


def draw_applications(count: int, *, seed: SeedLike, prefix: str = "app"
                      ) -> tuple[Application, ...]:
    """``count`` applications with SLOs and floors drawn uniformly from the choices.

    Parameters
    ----------
    count : int
        Number of applications (>= 1).
    seed : int or numpy.random.Generator
        Random state of the draw.
    prefix : str
        Names are ``{prefix}0``, ``{prefix}1``, ... in order.

    Returns
    -------
    tuple of Application
        SLOs from :data:`SLO_CHOICES`, floors from :data:`FLOOR_CHOICES`.

    Raises
    ------
    WorkloadError
        If ``count`` is not a positive int.

    Examples
    --------
    >>> apps = draw_applications(3, seed=0)
    >>> [a.name for a in apps], all(a.slo in SLO_CHOICES for a in apps)
    (['app0', 'app1', 'app2'], True)
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise WorkloadError(f"count must be a positive int, got {count!r}")
    rng = as_generator(seed)
    slos = rng.choice(len(SLO_CHOICES), size=count)
    floors = rng.choice(len(FLOOR_CHOICES), size=count)
    return tuple(Application(name=f"{prefix}{i}", slo=SLO_CHOICES[int(s)],
                             min_accuracy=FLOOR_CHOICES[int(f)])
                 for i, (s, f) in enumerate(zip(slos, floors, strict=True)))


def application_registry(registry: VariantRegistry, base_task: str,
                         applications: Sequence[Application]) -> VariantRegistry:
    """A registry in which every application is a task served by ``base_task``'s variants.

    Parameters
    ----------
    registry : VariantRegistry
        Holds the hardware and the base task's variants.
    base_task : str
        The task whose variants every application may use.
    applications : sequence of Application
        The applications; each becomes a task with copies of the base variants.

    Returns
    -------
    VariantRegistry
        The same hardware; one copy of each base variant per application.

    Raises
    ------
    SpecError
        If ``base_task`` has no variants or application names repeat.

    Examples
    --------
    >>> from alpaserve.modelless.registry import example_registry
    >>> reg = application_registry(example_registry(), "image-classification",
    ...                            draw_applications(2, seed=0))
    >>> reg.tasks()
    ['app0', 'app1']
    """
    base = registry.variants(base_task)
    if not base:
        raise SpecError(f"task {base_task!r} has no variants; tasks: {registry.tasks()}")
    names = [a.name for a in applications]
    if len(set(names)) != len(names):
        raise SpecError(f"application names repeat: {names}")
    return VariantRegistry(registry.hardware.values(),
                           [replace(v, task=a.name) for a in applications for v in base])


def production_queries(path: str | Path, applications: Sequence[Application], *,
                       minutes: tuple[int, int], seed: SeedLike) -> ModellessQueries:
    """Queries of the ``len(applications)`` busiest functions of a 2019 trace file.

    Functions are ranked by invocations in the selected minutes; function ``r`` (0 the
    busiest) becomes ``applications[r]``. Less busy functions are left out (counted by the
    reader's mapping result and logged, never silently).

    Parameters
    ----------
    path : str or Path
        One day of the trace, ``invocations_per_function_md.anon.dNN.csv``.
    applications : sequence of Application
        Requirements of the busiest functions, busiest first.
    minutes : tuple of int
        Half-open range of minutes of the day to read (0-based, within [0, 1440]); time 0
        of the queries is its first minute.
    seed : int or numpy.random.Generator
        Random state of the arrivals within each minute.

    Returns
    -------
    ModellessQueries
        One query per invocation, with its application's task, SLO and floor.

    Raises
    ------
    WorkloadError
        If there are no applications or the file has fewer busy functions than that.
    TraceFormatError
        If the file is not in the 2019 format.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_synthetic_functions_trace(os.path.join(d, "day.csv"), functions=20,
    ...                                         mean_rate=5.0, seed=1)
    ...     q = production_queries(p, draw_applications(3, seed=1), minutes=(600, 605),
    ...                            seed=1)
    >>> q.tasks, bool(q.arrival.max() < 300.0)
    (('app0', 'app1', 'app2'), True)
    """
    apps = list(applications)
    if not apps:
        raise WorkloadError("production_queries needs at least one application")
    names = tuple(a.name for a in apps)
    mapping = FunctionMapping(num_models=len(apps), policy="popularity", top_k=len(apps),
                              model_names=names)
    spec = AzureFunctions2019Spec(mapping=mapping, minutes=minutes)
    result = read_azure_functions_2019(path, spec, seed=seed)
    w = result.workload
    kept = len(result.mapping.ranked) if result.mapping is not None else len(apps)
    if kept < len(apps):
        raise WorkloadError(f"{path}: only {kept} functions have invocations in minutes "
                            f"{minutes}, fewer than the {len(apps)} applications")
    by_name = {a.name: a for a in apps}
    task = w.models_of()
    slo = np.array([by_name[t].slo for t in w.model_names])[w.model_codes]
    acc = np.array([by_name[t].min_accuracy for t in w.model_names])[w.model_codes]
    return ModellessQueries.from_arrays(arrival=w.arrival, task=task, slo=slo,
                                        min_accuracy=acc)


def write_synthetic_functions_trace(path: str | Path, *, functions: int = 200,
                                    mean_rate: float = 100.0, sigma: float = 2.0,
                                    diurnal_amplitude: float = 0.5, timer_share: float = 0.3,
                                    seed: SeedLike) -> Path:
    """Write one synthetic day in the Azure Functions 2019 per-minute format.

    Parameters
    ----------
    path : str or Path
        File to create; an existing file is not overwritten.
    functions : int
        Number of function rows (>= 1).
    mean_rate : float
        Mean invocations per second of all functions together over the day (> 0).
    sigma : float
        Standard deviation of the log of per-function rates (>= 0): 2 spreads the rates
        over about four orders of magnitude, as in the published trace.
    diurnal_amplitude : float
        Relative swing of the daily cycle in [0, 1); the peak is at 14:00.
    timer_share : float
        Fraction of functions that are timer-triggered (steady counts) in [0, 1].
    seed : int or numpy.random.Generator
        Random state.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    WorkloadError
        If a parameter is out of range or ``path`` exists.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_synthetic_functions_trace(os.path.join(d, "t.csv"), functions=5,
    ...                                         seed=0)
    ...     header = open(p).readline().strip().split(",")
    >>> header[:5], header[-1]
    (['HashOwner', 'HashApp', 'HashFunction', 'Trigger', '1'], '1440')
    """
    out = Path(path)
    if isinstance(functions, bool) or not isinstance(functions, int) or functions < 1:
        raise WorkloadError(f"functions must be a positive int, got {functions!r}")
    if not (math.isfinite(mean_rate) and mean_rate > 0):
        raise WorkloadError(f"mean_rate must be positive, got {mean_rate!r}")
    if not (math.isfinite(sigma) and sigma >= 0):
        raise WorkloadError(f"sigma must be >= 0, got {sigma!r}")
    if not 0 <= diurnal_amplitude < 1:
        raise WorkloadError(f"diurnal_amplitude must lie in [0, 1), got {diurnal_amplitude!r}")
    if not 0 <= timer_share <= 1:
        raise WorkloadError(f"timer_share must lie in [0, 1], got {timer_share!r}")
    if out.exists():
        raise WorkloadError(f"{out} exists; alpaserve does not overwrite files it did not "
                            "write")
    rng = as_generator(seed)
    weights = rng.lognormal(0.0, sigma, functions)
    per_minute = weights / weights.sum() * mean_rate * 60.0
    minute = np.arange(MINUTES_PER_DAY)
    cycle = 1.0 + diurnal_amplitude * np.cos(2 * np.pi * (minute - 14 * 60) / MINUTES_PER_DAY)
    timer = rng.random(functions) < timer_share
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*KEY_COLUMNS, *(str(m + 1) for m in minute)])
        for i in range(functions):
            if timer[i]:
                counts = np.full(MINUTES_PER_DAY, max(1, round(per_minute[i])), dtype=np.int64)
            else:
                counts = rng.poisson(per_minute[i] * cycle)
            writer.writerow([f"owner{i:04d}", f"app{i:04d}", f"func{i:04d}",
                             "timer" if timer[i] else "http", *counts.tolist()])
    return out
