"""INFaaS's evaluation scenario: one task, a named load, INFaaS against fixed variants.

Used by ``benchmarks/bench_infaas.py``, the ``alpaserve modelless`` command and the
``05_model_less`` notebook.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from alpaserve.errors import SpecError
from alpaserve.modelless.loads import LOAD_NAMES, load_preset, make_queries
from alpaserve.modelless.queries import ModellessQueries
from alpaserve.modelless.registry import VariantRegistry
from placement.modelless.config import InfaasConfig
from placement.modelless.policy import InfaasPolicy, fixed_variant_policy
from simulator.modelless.metrics import ModellessResult, ModellessSummary
from simulator.modelless.simulate import ModellessSimConfig, simulate_modelless

logger = logging.getLogger(__name__)

DEFAULT_DURATION = {"flat": 1800.0, "steady": 360.0, "fluctuating": 3600.0}
DEFAULT_WARMUP = {"flat": 120.0, "steady": 120.0, "fluctuating": 120.0}


@dataclass(frozen=True, kw_only=True)
class ModellessExperiment:
    """One load of INFaaS's evaluation.

    Metrics leave out the first ``warmup`` seconds, during which every policy starts its
    first workers from nothing.

    Examples
    --------
    >>> e = ModellessExperiment(load="flat", duration=60.0, warmup=10.0)
    >>> q = e.queries()
    >>> 150 < len(q) < 330, q.tasks
    (True, ('image-classification',))
    """

    load: str
    duration: float
    warmup: float = 0.0
    task: str = "image-classification"
    slo: float = 0.3
    accuracy_mix: Mapping[float, float] = field(
        default_factory=lambda: {70.0: 0.5, 74.0: 0.5})
    seed: int = 0
    cv: float = 1.0
    monitor_interval: float = 2.0

    def __post_init__(self) -> None:
        if self.load not in LOAD_NAMES:
            raise SpecError(f"unknown load {self.load!r}; known: {', '.join(LOAD_NAMES)}")
        if not (self.duration > 0 and math.isfinite(self.duration)):
            raise SpecError(f"duration must be positive, got {self.duration!r}")
        if not (0 <= self.warmup < self.duration):
            raise SpecError(f"warmup must lie in [0, duration={self.duration}), got "
                            f"{self.warmup!r}")

    @classmethod
    def preset(cls, load: str, *, duration: float | None = None, seed: int = 0
               ) -> ModellessExperiment:
        """The benchmark's settings for ``load`` (its duration and warm-up)."""
        if load not in LOAD_NAMES:
            raise SpecError(f"unknown load {load!r}; known: {', '.join(LOAD_NAMES)}")
        d = DEFAULT_DURATION[load] if duration is None else duration
        return cls(load=load, duration=d, warmup=min(DEFAULT_WARMUP[load], d / 3), seed=seed)

    def queries(self) -> ModellessQueries:
        rng = np.random.default_rng(self.seed)
        return make_queries(load_preset(self.load, self.duration), self.duration, rng,
                            task=self.task, slo=self.slo, accuracy_mix=self.accuracy_mix,
                            cv=self.cv)

    def sim_config(self) -> ModellessSimConfig:
        return ModellessSimConfig(monitor_interval=self.monitor_interval,
                                  horizon=self.duration)


def run_policy(experiment: ModellessExperiment, registry: VariantRegistry, *,
               variant: str | None = None, config: InfaasConfig | None = None,
               queries: ModellessQueries | None = None) -> ModellessResult:
    """Simulate INFaaS (``variant=None``) or the fixed-``variant`` baseline."""
    q = experiment.queries() if queries is None else queries
    policy = (InfaasPolicy(registry, config) if variant is None
              else fixed_variant_policy(registry, variant, config))
    return simulate_modelless(q, registry, selection=policy, autoscaler=policy,
                              config=experiment.sim_config())


@dataclass(frozen=True, kw_only=True)
class ComparisonRow:
    """One policy's metrics, and INFaaS's standing against it."""

    policy: str
    summary: ModellessSummary

    def to_dict(self) -> dict[str, object]:
        return {"policy": self.policy, **self.summary.to_dict()}


def compare_with_fixed(experiment: ModellessExperiment, registry: VariantRegistry, *,
                       variants: Iterable[str] | None = None,
                       config: InfaasConfig | None = None) -> list[ComparisonRow]:
    """INFaaS first, then every fixed variant (all of the task's by default), measured
    after the warm-up on the same queries."""
    q = experiment.queries()
    names = ([v.name for v in registry.variants(experiment.task)] if variants is None
             else list(variants))
    rows = []
    for name in [None, *names]:
        res = run_policy(experiment, registry, variant=name, config=config, queries=q)
        rows.append(ComparisonRow(policy="infaas" if name is None else name,
                                  summary=res.summary(experiment.warmup, experiment.duration)))
        logger.info("%s on %s: cost $%.4f, %d violations", rows[-1].policy, experiment.load,
                    rows[-1].summary.cost, rows[-1].summary.violations)
    return rows
