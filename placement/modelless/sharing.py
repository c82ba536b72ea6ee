"""GPU sharing: two models on one GPU, INFaaS's Overloaded and Interfered states at work.

A :class:`~placement.modelless.scenarios.Scenario` like the loads and the trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alpaserve.errors import SpecError
from alpaserve.modelless.loads import concatenate_profiles, flat_load, make_queries
from alpaserve.modelless.production import Application, application_registry
from alpaserve.modelless.queries import ModellessQueries
from alpaserve.modelless.registry import VariantRegistry
from placement.modelless.config import Expectation
from simulator.modelless.simulate import ModellessSimConfig


@dataclass(frozen=True, kw_only=True)
class SharingExperiment:
    """Two models on one GPU: INFaaS's Overloaded and Interfered states at work.

    Two applications, ``a`` (steady) and ``b`` (a surge at ``surge_at``), are served by the
    base task's variants on ``hardware`` only, so the autoscaler's first plan co-locates
    them on one worker. While both have work, batches run ``slowdown`` times slower
    (:attr:`~simulator.modelless.options.ModellessSimConfig.colocation_slowdown`). When
    ``b`` surges, the shared worker's queue overloads it and ``a``'s batches are slowed:
    selection marks the replicas overloaded or interfered and the autoscaler moves capacity
    to another worker.

    Parameters
    ----------
    duration : float
        Simulated seconds.
    warmup : float
        Seconds left out of the metrics.
    rate_a : float
        Application ``a``'s rate, queries per second.
    rate_b : float
        Application ``b``'s rate before the surge, queries per second.
    surge_rate : float
        Application ``b``'s rate from ``surge_at`` on, queries per second.
    surge_at : float
        When ``b`` surges, seconds.
    slo : float
        Both applications' SLO, seconds.
    slowdown : float
        Co-location slowdown factor (>= 1).
    hardware : str
        The only hardware type whose variants are offered.
    base_task : str
        The registry task copied for both applications.
    seed : int
        Random state of the arrivals.

    Examples
    --------
    >>> e = SharingExperiment(duration=60.0, warmup=10.0, surge_at=30.0)
    >>> e.queries().tasks, e.sim_config().colocation_slowdown
    (('a', 'b'), 3.0)
    """

    duration: float = 600.0
    warmup: float = 100.0
    rate_a: float = 100.0
    rate_b: float = 50.0
    surge_rate: float = 1200.0
    surge_at: float = 300.0
    slo: float = 0.02
    slowdown: float = 3.0
    hardware: str = "gpu-t4"
    base_task: str = "image-classification"
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.warmup < self.duration:
            raise SpecError(f"warmup must lie in [0, {self.duration}), got {self.warmup!r}")
        if not 0 < self.surge_at < self.duration:
            raise SpecError(f"surge_at must lie in (0, {self.duration}), got {self.surge_at!r}")

    def apps(self) -> tuple[Application, ...]:
        """The two applications.

        Returns
        -------
        tuple of Application
            ``a`` and ``b``, both with ``slo`` and a 74% floor.
        """
        return (Application(name="a", slo=self.slo, min_accuracy=74.0),
                Application(name="b", slo=self.slo, min_accuracy=74.0))

    def registry(self, base: VariantRegistry) -> VariantRegistry:
        """The base task's variants on ``hardware``, copied for ``a`` and ``b``.

        Parameters
        ----------
        base : VariantRegistry
            Holds ``base_task``'s variants.

        Returns
        -------
        VariantRegistry
            Tasks ``a`` and ``b``.

        Raises
        ------
        SpecError
            If ``base_task`` has no variant on ``hardware``.
        """
        only = VariantRegistry(base.hardware.values(),
                               base.variants(self.base_task, hardware=self.hardware))
        return application_registry(only, self.base_task, self.apps())

    def queries(self) -> ModellessQueries:
        """Both applications' queries.

        Returns
        -------
        ModellessQueries
            ``a`` at ``rate_a`` throughout; ``b`` at ``rate_b`` then ``surge_rate``.
        """
        a = make_queries(flat_load(self.rate_a), self.duration, seed=self.seed, task="a",
                         slo=self.slo, accuracy_mix={74.0: 1.0})
        surge = concatenate_profiles([(self.surge_at, flat_load(self.rate_b)),
                                      (self.duration - self.surge_at,
                                       flat_load(self.surge_rate))])
        b = make_queries(surge, self.duration, seed=self.seed + 1, task="b", slo=self.slo,
                         accuracy_mix={74.0: 1.0})
        task = np.concatenate([np.full(len(a), "a"), np.full(len(b), "b")])
        return ModellessQueries.from_arrays(
            arrival=np.concatenate([a.arrival, b.arrival]), task=task, slo=self.slo,
            min_accuracy=np.concatenate([a.min_accuracy, b.min_accuracy]))

    def expectations(self) -> tuple[Expectation, ...]:
        """Application ``a``'s rate, declared up front; ``b`` is not declared.

        ``b``'s first query then loads its variant on ``a``'s worker, which has room: the
        two models share the GPU from the start.

        Returns
        -------
        tuple of Expectation
            ``a`` at ``rate_a``.
        """
        return (Expectation(task="a", rate=self.rate_a, slo=self.slo, min_accuracy=74.0),)

    def sim_config(self) -> ModellessSimConfig:
        """Options with the co-location slowdown.

        Returns
        -------
        ModellessSimConfig
            Billing up to ``duration``.
        """
        return ModellessSimConfig(horizon=self.duration, colocation_slowdown=self.slowdown)
