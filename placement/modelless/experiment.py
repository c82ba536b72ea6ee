"""Every policy on an INFaaS scenario (:mod:`placement.modelless.scenarios`).

:func:`run_policy` simulates INFaaS,
Clipper+, SM+ (:mod:`placement.modelless.baselines`) or a fixed variant on either, and
:func:`compare_policies` all of them on the same queries, with each policy's decision latency
(wall time of its per-query selection). Used by ``benchmarks/bench_infaas.py``, the
``alpaserve modelless`` command and the ``05_model_less`` notebook.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from alpaserve.modelless.queries import ModellessQueries
from alpaserve.modelless.registry import VariantRegistry
from placement.modelless.baselines import ClipperPlusPolicy, SageMakerPlusPolicy
from placement.modelless.config import Expectation, InfaasConfig
from placement.modelless.policy import InfaasPolicy
from placement.modelless.scenarios import (
    ModellessExperiment,
    Scenario,
    TraceExperiment,
)
from simulator.modelless.cluster import ClusterView, Decision, Query, SelectionPolicy
from simulator.modelless.metrics import ModellessResult, ModellessSummary
from simulator.modelless.simulate import simulate_modelless

logger = logging.getLogger(__name__)

__all__ = ["POLICIES", "ComparisonRow", "ModellessExperiment", "TimedSelection",
           "TraceExperiment", "compare_policies", "compare_with_fixed", "make_policy",
           "run_policy"]

POLICIES = ("infaas", "clipper+", "sm+")


class TimedSelection:
    """Wraps a selection policy and records the wall time of each decision.

    Parameters
    ----------
    inner : SelectionPolicy
        The policy timed.
    seconds : list of float
        Each decision's wall time, seconds, is appended here.

    Examples
    --------
    >>> class Nothing:
    ...     def select(self, query, cluster):
    ...         return None
    >>> times = []
    >>> TimedSelection(Nothing(), times).select(None, None) is None, len(times)
    (True, 1)
    """

    def __init__(self, inner: SelectionPolicy, seconds: list[float]) -> None:
        self.inner = inner
        self.seconds = seconds

    def select(self, query: Query, cluster: ClusterView) -> Decision:
        """The inner policy's decision, timed.

        Parameters
        ----------
        query : Query
            The arriving query.
        cluster : ClusterView
            The cluster, read-only.

        Returns
        -------
        Decision
            Whatever the inner policy decided.
        """
        t0 = time.perf_counter()
        out = self.inner.select(query, cluster)
        self.seconds.append(time.perf_counter() - t0)
        return out


def make_policy(name: str, registry: VariantRegistry, *, config: InfaasConfig | None = None,
                expected: Iterable[Expectation] = ()) -> InfaasPolicy:
    """A policy by name: ``infaas``, ``clipper+``, ``sm+`` or a variant of the registry.

    Parameters
    ----------
    name : str
        One of :data:`POLICIES`, or a variant name for the fixed-variant baseline.
    registry : VariantRegistry
        The variants.
    config : InfaasConfig or None
        Thresholds (INFaaS's defaults when None).
    expected : iterable of Expectation
        Declared applications (plan before traffic).

    Returns
    -------
    InfaasPolicy
        Both the selection and the autoscaling policy.

    Raises
    ------
    SpecError
        If ``name`` is neither a policy nor a variant.

    Examples
    --------
    >>> from alpaserve.modelless.registry import example_registry
    >>> type(make_policy("sm+", example_registry())).__name__
    'SageMakerPlusPolicy'
    """
    expected = tuple(expected)
    if name == "infaas":
        return InfaasPolicy(registry, config, expected=expected)
    if name == "clipper+":
        return ClipperPlusPolicy(registry, config, expected=expected)
    if name == "sm+":
        return SageMakerPlusPolicy(registry, config, expected=expected)
    return InfaasPolicy(registry, config, variants=[name], expected=expected)


def run_policy(experiment: Scenario, registry: VariantRegistry, *,
               policy: str = "infaas", variant: str | None = None,
               config: InfaasConfig | None = None, queries: ModellessQueries | None = None,
               timings: list[float] | None = None) -> ModellessResult:
    """Simulate one policy on an experiment.

    Parameters
    ----------
    experiment : ModellessExperiment or TraceExperiment
        The scenario (its queries, expectations and options).
    registry : VariantRegistry
        The variants (for a trace, the per-application registry).
    policy : str
        ``infaas``, ``clipper+`` or ``sm+`` (ignored when ``variant`` is given).
    variant : str or None
        Serve every query with this variant (the fixed baseline).
    config : InfaasConfig or None
        Thresholds (INFaaS's defaults when None).
    queries : ModellessQueries or None
        The experiment's queries, when already drawn.
    timings : list of float or None
        When given, each selection decision's wall time (seconds) is appended to it.

    Returns
    -------
    ModellessResult
        The simulation's outcome.

    Raises
    ------
    SpecError
        If the policy or variant is unknown.
    """
    q = experiment.queries() if queries is None else queries
    pol = make_policy(variant or policy, registry, config=config,
                      expected=experiment.expectations())
    selection: SelectionPolicy = pol if timings is None else TimedSelection(pol, timings)
    return simulate_modelless(q, registry, selection=selection, autoscaler=pol,
                              config=experiment.sim_config())


@dataclass(frozen=True, kw_only=True)
class ComparisonRow:
    """One policy's metrics.

    Parameters
    ----------
    policy : str
        ``infaas``, ``clipper+``, ``sm+`` or a fixed variant's name.
    summary : ModellessSummary
        Its metrics after the warm-up.
    decision_ms : float
        Mean wall time of its per-query selection, milliseconds.
    """

    policy: str
    summary: ModellessSummary
    decision_ms: float = float("nan")

    def to_dict(self) -> dict[str, object]:
        """Flat fields for JSON or a table.

        Returns
        -------
        dict
            The policy, the summary's fields and ``decision_ms`` (None when not timed).
        """
        ms = None if math.isnan(self.decision_ms) else self.decision_ms
        return {"policy": self.policy, **self.summary.to_dict(), "decision_ms": ms}


def compare_policies(experiment: Scenario, registry: VariantRegistry, *,
                     policies: Iterable[str] = POLICIES, variants: Iterable[str] = (),
                     config: InfaasConfig | None = None) -> list[ComparisonRow]:
    """Every named policy, then every fixed variant, on the same queries.

    Parameters
    ----------
    experiment : ModellessExperiment or TraceExperiment
        The scenario.
    registry : VariantRegistry
        The variants.
    policies : iterable of str
        Names from :data:`POLICIES`.
    variants : iterable of str
        Fixed-variant baselines to add.
    config : InfaasConfig or None
        Thresholds shared by all policies.

    Returns
    -------
    list of ComparisonRow
        In the order asked, measured from the warm-up to the end.
    """
    q = experiment.queries()
    rows = []
    for name in [*policies, *variants]:
        times: list[float] = []
        res = run_policy(experiment, registry, policy=name, config=config, queries=q,
                         timings=times)
        ms = 1e3 * sum(times) / len(times) if times else float("nan")
        rows.append(ComparisonRow(policy=name, decision_ms=ms,
                                  summary=res.summary(experiment.warmup, experiment.duration)))
        logger.info("%s: cost $%.4f, %d violations", name, rows[-1].summary.cost,
                    rows[-1].summary.violations)
    return rows


def compare_with_fixed(experiment: ModellessExperiment, registry: VariantRegistry, *,
                       variants: Iterable[str] | None = None,
                       config: InfaasConfig | None = None) -> list[ComparisonRow]:
    """INFaaS first, then every fixed variant (all of the task's by default).

    Parameters
    ----------
    experiment : ModellessExperiment
        The scenario.
    registry : VariantRegistry
        The variants.
    variants : iterable of str or None
        Fixed variants to compare with; None takes all of the task's.
    config : InfaasConfig or None
        Thresholds shared by all policies.

    Returns
    -------
    list of ComparisonRow
        ``infaas`` first, measured after the warm-up on the same queries.
    """
    names = ([v.name for v in registry.variants(experiment.task)] if variants is None
             else list(variants))
    return compare_policies(experiment, registry, policies=("infaas",), variants=names,
                            config=config)
