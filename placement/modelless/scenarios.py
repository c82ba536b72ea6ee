"""INFaaS's evaluation scenarios: one task on a named load, or a function trace.

:class:`ModellessExperiment` is one task on one of the paper's loads; :class:`TraceExperiment`
is the production-like workload, one application per busy function of an Azure Functions
2019 trace (:mod:`alpaserve.modelless.production`). Both satisfy :class:`Scenario`, what
:func:`placement.modelless.experiment.run_policy` needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from alpaserve.errors import SpecError
from alpaserve.modelless.loads import LOAD_NAMES, load_preset, make_queries
from alpaserve.modelless.production import (
    Application,
    application_registry,
    draw_applications,
    production_queries,
)
from alpaserve.modelless.queries import ModellessQueries
from alpaserve.modelless.registry import VariantRegistry
from placement.modelless.config import Expectation
from simulator.modelless.simulate import ModellessSimConfig
from workloads._rng import SeedLike

DEFAULT_DURATION = {"flat": 1800.0, "steady": 360.0, "fluctuating": 3600.0}
DEFAULT_WARMUP = {"flat": 120.0, "steady": 120.0, "fluctuating": 120.0}


class Scenario(Protocol):
    """What :func:`~placement.modelless.experiment.run_policy` needs of an experiment."""

    @property
    def warmup(self) -> float: ...

    @property
    def duration(self) -> float: ...

    def queries(self) -> ModellessQueries:
        """The scenario's queries.

        Returns
        -------
        ModellessQueries
            The same for the same seed.
        """
        ...

    def expectations(self) -> tuple[Expectation, ...]:
        """What the applications declare before traffic arrives.

        Returns
        -------
        tuple of Expectation
            Empty when nothing is declared.
        """
        ...

    def sim_config(self) -> ModellessSimConfig:
        """The simulation options every policy runs with.

        Returns
        -------
        ModellessSimConfig
            Including the billing horizon.
        """
        ...


@dataclass(frozen=True, kw_only=True)
class ModellessExperiment:
    """One load of INFaaS's evaluation.

    Parameters
    ----------
    load : str
        ``flat``, ``steady`` or ``fluctuating`` (:func:`~alpaserve.modelless.loads.load_preset`).
    duration : float
        Simulated seconds (> 0); the fluctuating load's period is ``min(1800, duration)``.
    warmup : float
        Seconds at the start left out of the metrics, in [0, duration); every policy starts
        its first workers from nothing then.
    task : str
        The task queried.
    slo : float
        Latency SLO of every query, seconds.
    accuracy_mix : mapping of float to float
        Accuracy floor (top-1 %) to the fraction of queries asking for it.
    seed : int or numpy.random.Generator
        Random state of the arrivals and floors.
    cv : float
        Coefficient of variation of inter-arrival gaps (1: Poisson).
    monitor_interval : float
        Seconds between autoscaling ticks.
    plan_ahead : bool
        Give the policies an :class:`Expectation` (the load's rate at time 0, the strictest
        floor, the SLO) so they plan before the first query; False reproduces a purely
        reactive start.

    Examples
    --------
    >>> e = ModellessExperiment(load="flat", duration=60.0, warmup=10.0)
    >>> q = e.queries()
    >>> 150 < len(q) < 330, q.tasks
    (True, ('image-classification',))
    >>> e.expectations()[0].rate, e.expectations()[0].min_accuracy
    (4.0, 74.0)
    """

    load: str
    duration: float
    warmup: float = 0.0
    task: str = "image-classification"
    slo: float = 0.3
    accuracy_mix: Mapping[float, float] = field(
        default_factory=lambda: {70.0: 0.5, 74.0: 0.5})
    seed: SeedLike = 0
    cv: float = 1.0
    monitor_interval: float = 2.0
    plan_ahead: bool = True

    def __post_init__(self) -> None:
        if self.load not in LOAD_NAMES:
            raise SpecError(f"unknown load {self.load!r}; known: {', '.join(LOAD_NAMES)}")
        if not (self.duration > 0 and math.isfinite(self.duration)):
            raise SpecError(f"duration must be positive, got {self.duration!r}")
        if not (0 <= self.warmup < self.duration):
            raise SpecError(f"warmup must lie in [0, duration={self.duration}), got "
                            f"{self.warmup!r}")

    @classmethod
    def preset(cls, load: str, *, duration: float | None = None, seed: SeedLike = 0
               ) -> ModellessExperiment:
        """The benchmark's settings for ``load``.

        Parameters
        ----------
        load : str
            ``flat``, ``steady`` or ``fluctuating``.
        duration : float or None
            Simulated seconds; None takes the load's benchmark duration (1,800, 360 and
            3,600 s).
        seed : int or numpy.random.Generator
            Random state of the queries.

        Returns
        -------
        ModellessExperiment
            With a warm-up of 120 s (a third of the run when shorter).

        Raises
        ------
        SpecError
            If the load is unknown.
        """
        if load not in LOAD_NAMES:
            raise SpecError(f"unknown load {load!r}; known: {', '.join(LOAD_NAMES)}")
        d = DEFAULT_DURATION[load] if duration is None else duration
        return cls(load=load, duration=d, warmup=min(DEFAULT_WARMUP[load], d / 3), seed=seed)

    def queries(self) -> ModellessQueries:
        """The load's queries (the same for the same seed).

        Returns
        -------
        ModellessQueries
            Arrivals over ``[0, duration)`` with the SLO and drawn accuracy floors.
        """
        return make_queries(load_preset(self.load, self.duration), self.duration,
                            seed=self.seed, task=self.task, slo=self.slo,
                            accuracy_mix=self.accuracy_mix, cv=self.cv)

    def expectations(self) -> tuple[Expectation, ...]:
        """What the application declares up front (empty without ``plan_ahead``).

        Returns
        -------
        tuple of Expectation
            The load's rate at time 0, the SLO and the strictest floor of the mix.
        """
        if not self.plan_ahead:
            return ()
        rate = float(load_preset(self.load, self.duration).rate(0.0))
        return (Expectation(task=self.task, rate=rate, slo=self.slo,
                            min_accuracy=max(self.accuracy_mix, default=0.0)),)

    def sim_config(self) -> ModellessSimConfig:
        """Simulation options: the monitoring interval, billing up to ``duration``.

        Returns
        -------
        ModellessSimConfig
            The options every policy is simulated with.
        """
        return ModellessSimConfig(monitor_interval=self.monitor_interval,
                                  horizon=self.duration)


@dataclass(frozen=True, kw_only=True)
class TraceExperiment:
    """The production-like workload: the busiest functions of a 2019 trace as applications.

    Parameters
    ----------
    path : str or Path
        One day of the trace (``invocations_per_function_md.anon.dNN.csv``), real or
        written by :func:`~alpaserve.modelless.production.write_synthetic_functions_trace`.
    applications : int
        How many of the busiest functions to serve, each an application with an SLO and
        floor drawn with ``seed``.
    minutes : tuple of int
        Half-open range of minutes of the day replayed.
    base_task : str
        The registry task whose variants every application may use.
    warmup : float
        Seconds at the start left out of the metrics.
    seed : int
        Random state of the applications' requirements and of arrivals within minutes.
    monitor_interval : float
        Seconds between autoscaling ticks.
    plan_ahead : bool
        Declare each application's first-minute rate, SLO and floor up front.

    Examples
    --------
    >>> import tempfile, os
    >>> from alpaserve.modelless.production import write_synthetic_functions_trace
    >>> from alpaserve.modelless.registry import example_registry
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_synthetic_functions_trace(os.path.join(d, "t.csv"), functions=30,
    ...                                         mean_rate=20.0, seed=0)
    ...     e = TraceExperiment(path=p, applications=3, minutes=(600, 602), warmup=30.0)
    ...     n = len(e.queries())
    >>> n > 500, e.registry(example_registry()).tasks()
    (True, ['app0', 'app1', 'app2'])
    """

    path: str | Path
    applications: int = 8
    minutes: tuple[int, int] = (540, 600)
    base_task: str = "image-classification"
    warmup: float = 120.0
    seed: int = 0
    monitor_interval: float = 2.0
    plan_ahead: bool = True

    def __post_init__(self) -> None:
        lo, hi = self.minutes
        if not 0 <= self.warmup < (hi - lo) * 60.0:
            raise SpecError(f"warmup must lie in [0, {(hi - lo) * 60.0}), got {self.warmup!r}")

    @property
    def duration(self) -> float:
        """Seconds replayed."""
        return (self.minutes[1] - self.minutes[0]) * 60.0

    def apps(self) -> tuple[Application, ...]:
        """The applications (requirements drawn with ``seed``).

        Returns
        -------
        tuple of Application
            ``app0`` (the busiest function) first.
        """
        return draw_applications(self.applications, seed=self.seed)

    def registry(self, base: VariantRegistry) -> VariantRegistry:
        """The variants of ``base_task`` copied for every application.

        Parameters
        ----------
        base : VariantRegistry
            Holds ``base_task``'s variants.

        Returns
        -------
        VariantRegistry
            One task per application.
        """
        return application_registry(base, self.base_task, self.apps())

    def queries(self) -> ModellessQueries:
        """The replayed invocations as queries.

        Returns
        -------
        ModellessQueries
            One task per application.
        """
        return production_queries(self.path, self.apps(), minutes=self.minutes,
                                  seed=self.seed)

    def expectations(self) -> tuple[Expectation, ...]:
        """Each application's first-minute rate, SLO and floor (empty without plan_ahead).

        Returns
        -------
        tuple of Expectation
            One per application that has queries.
        """
        if not self.plan_ahead:
            return ()
        q = self.queries()
        first = q.arrival < 60.0
        out = []
        for app in self.apps():
            mine = q.workload.models_of() == app.name
            if mine.any():
                out.append(Expectation(task=app.name, rate=float((mine & first).sum()) / 60.0,
                                       slo=app.slo, min_accuracy=app.min_accuracy))
        return tuple(out)

    def sim_config(self) -> ModellessSimConfig:
        """Simulation options: the monitoring interval, billing up to ``duration``.

        Returns
        -------
        ModellessSimConfig
            The options every policy is simulated with.
        """
        return ModellessSimConfig(monitor_interval=self.monitor_interval,
                                  horizon=self.duration)
