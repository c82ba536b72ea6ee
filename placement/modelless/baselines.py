"""The baselines INFaaS is compared with: Clipper+ and SM+, behind the same protocols.

Both implement :class:`~simulator.modelless.cluster.SelectionPolicy` and
:class:`~simulator.modelless.cluster.AutoscalingPolicy`, like
:class:`~placement.modelless.policy.InfaasPolicy`. Their rules follow the INFaaS paper's
description of its baselines (Romero et al., ATC 2021, §6); the constants are ours.

Clipper+ (:class:`ClipperPlusPolicy`)
    Clipper serves the model variant the user chose when registering the application, and
    does not autoscale; the paper adds INFaaS's replica autoscaling. So: per application
    (here, per task), one variant fixed for the whole run, the cheapest that meets the
    application's accuracy floor and latency SLO at its declared rate (an
    :class:`~placement.modelless.config.Expectation`; without one, at its first query, for
    that query's floor and SLO). Replicas of that variant are added and removed by INFaaS's
    horizontal and VM-level autoscaler with the same configuration, and replicas of
    different applications may share a worker. It never switches variants.
SM+ (:class:`SageMakerPlusPolicy`)
    A SageMaker-like endpoint per model: the same per-application fixed variant, each
    replica on a worker of its own (no sharing of GPUs or VMs between replicas), scaled by a
    static target-tracking rule on invocations per instance averaged over a minute
    (``rate_window`` 60 s), with a five-minute scale-in cooldown (``scale_down_period``
    300 s) and no planning ahead (``lookahead`` 0).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from alpaserve.modelless.registry import VariantRegistry
from alpaserve.modelless.variants import Variant
from placement.modelless.config import Expectation, InfaasConfig
from placement.modelless.policy import InfaasPolicy
from simulator.modelless.cluster import ClusterView, Decision, Query

__all__ = ["ClipperPlusPolicy", "SageMakerPlusPolicy"]


class ClipperPlusPolicy(InfaasPolicy):
    """Clipper+: one variant per application, fixed at registration, replicas autoscaled.

    Parameters
    ----------
    registry : VariantRegistry
        The variants to choose from.
    config : InfaasConfig or None
        The autoscaler's thresholds (INFaaS's defaults when None).
    expected : iterable of Expectation
        Declared applications: each one's variant is chosen for its declared rate, floor
        and SLO before traffic arrives.

    Examples
    --------
    >>> from alpaserve.modelless.registry import example_registry
    >>> p = ClipperPlusPolicy(example_registry(), expected=[Expectation(
    ...     task="image-classification", rate=4.0, slo=0.3, min_accuracy=74.0)])
    >>> p.variant_of("image-classification")
    'inceptionv3-tf-cpu'
    """

    def __init__(self, registry: VariantRegistry, config: InfaasConfig | None = None, *,
                 expected: Iterable[Expectation] = ()) -> None:
        super().__init__(registry, config, expected=expected)
        self._fixed: dict[str, str] = {}
        for e in self._expected.values():
            self._fix(e.task, rate=e.rate, min_accuracy=e.min_accuracy, slo=e.slo)

    def variant_of(self, task: str) -> str | None:
        """The variant fixed for ``task``'s application.

        Parameters
        ----------
        task : str
            The application's task.

        Returns
        -------
        str or None
            The variant's name, or None before the application is declared or queried.
        """
        return self._fixed.get(task)

    def _fix(self, task: str, *, rate: float, min_accuracy: float, slo: float) -> None:
        v = self.cheapest_for_rate(task, rate=rate, min_accuracy=min_accuracy, slo=slo)
        if v is None:
            v = self._closest(task, min_accuracy, slo)
        self._fixed[task] = v.name
        self._primary[task] = v.name
        self._qual_cache.clear()  # candidates() narrows from now on
        self._pick_cache.clear()

    def candidates(self, task: str) -> list[Variant]:
        """The fixed variant of ``task`` once chosen (every variant before).

        Parameters
        ----------
        task : str
            A task of the registry.

        Returns
        -------
        list of Variant
            One variant after the choice; all the task's variants before it.
        """
        fixed = self._fixed.get(task)
        if fixed is None:
            return super().candidates(task)
        return [self.registry.get(task, fixed)]

    def select(self, query: Query, cluster: ClusterView) -> Decision:
        """Route ``query`` among the replicas of its application's variant.

        Parameters
        ----------
        query : Query
            The arriving query.
        cluster : ClusterView
            The cluster, read-only.

        Returns
        -------
        Decision
            A Route, Load or Drop, by INFaaS's selection rules over the one variant.
        """
        if query.task not in self._fixed:
            self._fix(query.task, rate=0.0, min_accuracy=query.min_accuracy, slo=query.slo)
        return super().select(query, cluster)


class SageMakerPlusPolicy(ClipperPlusPolicy):
    """SM+: a per-model endpoint with a static autoscaler and a worker per replica.

    Parameters
    ----------
    registry : VariantRegistry
        The variants to choose from.
    config : InfaasConfig or None
        Base thresholds; ``rate_window`` is raised to at least 60 s, ``scale_down_period``
        to at least 300 s and ``lookahead`` set to 0, SageMaker's static rule.
    expected : iterable of Expectation
        Declared applications, as for :class:`ClipperPlusPolicy`.

    Examples
    --------
    >>> from alpaserve.modelless.registry import example_registry
    >>> p = SageMakerPlusPolicy(example_registry())
    >>> p.config.rate_window, p.config.scale_down_period, p.config.lookahead
    (60.0, 300.0, 0.0)
    """

    def __init__(self, registry: VariantRegistry, config: InfaasConfig | None = None, *,
                 expected: Iterable[Expectation] = ()) -> None:
        base = config or InfaasConfig()
        static = replace(base, rate_window=max(base.rate_window, 60.0),
                         scale_down_period=max(base.scale_down_period, 300.0), lookahead=0.0)
        super().__init__(registry, static, expected=expected)

    def _place(self, v: Variant, cluster: ClusterView, *, any_load: bool = False
               ) -> int | None:
        # a dedicated worker for every replica: an empty live worker of the hardware (one
        # whose replica was removed) is reused, never one that holds a replica
        for w in cluster.workers():
            if (w.hardware.name == v.hardware and w.accepting and not w.replicas
                    and w.free_memory >= v.peak_memory_bytes):
                return w.id
        self._note_worker_start(v.hardware, cluster.now)
        return None
