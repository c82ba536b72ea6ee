"""Parameters of the INFaaS policies (:mod:`placement.modelless.policy`), with their defaults.

INFaaS (Romero et al., ATC 2021) states the shape of its rules but few constants; where the
paper's value is not known to us the default below is our choice and says so.

``utilization_threshold`` (0.8, INFaaS's ~80%)
    Replicas are planned so that each runs at most this fraction of its capacity, and a
    variant whose workers' measured utilisation stays above it gets another replica; a new
    worker is started when no worker of the hardware has room.
``interference_factor`` (2.0, ours)
    A replica whose last batch took more than this many times its profiled latency is
    treated as suffering interference and skipped for ``recovery_period`` seconds.
``queue_threshold_batches`` (4.0, ours)
    A worker whose queued queries exceed this many maximum batches of a variant is
    overloaded, and that variant is skipped on it.
``recovery_period`` (10 s, ours)
    How long a replica suspected of interference is skipped before it is probed again.
``rate_window`` (10 s, ours)
    Window of the arrival-rate, accuracy-floor and SLO estimates.
``scale_down_period`` (30 s, ours)
    Sustained quiet (fewer replicas needed than loaded) before one replica is removed.
``switch_down_period`` (30 s, ours)
    Least sustained trough (a cheaper variant would do) before a model-vertical switch
    down. The policy also waits until the saving accumulated over the trough would have paid
    for a round trip of switches (the new variant's provisioning, then the current one's
    when the load comes back), the ski-rental rule: on a short trough a switch costs more
    than it saves. Switches up happen at once, when the current variant would need more
    replicas.
``switch_margin`` (0.25, ours)
    Relative saving a different variant must offer before a switch; a switch costs a
    worker start-up and a period of paying for both variants, so small savings are not
    worth it.
``worker_idle_period`` (60 s, ours)
    How long a worker must stay empty before it is removed; each time a worker of the same
    hardware has to be started again within this period of a removal, the period doubles
    (backoff), up to ``max_backoff`` times.
``colocate_below`` (0.2, ours)
    A new replica goes onto an existing worker only if that worker is this idle.
``max_wait_factor`` (10, ours)
    A query that nothing qualifies for is dropped (a time-out) rather than queued when even
    the closest replica predicts more than this many times its SLO.
``lookahead`` (None: automatic; our extension, off in INFaaS)
    Plan for the arrival rate extrapolated this many seconds along its recent (rising)
    trend. A replica planned for the rate seen now is ready only after its worker's start-up
    and its load, so on a rising load the reactive rule (``lookahead=0``, INFaaS as
    published) is always one provisioning time behind and queries miss their SLO meanwhile.
    ``None`` (the default) looks ahead by the longest start-up plus load time among the
    task's candidate variants, which is the better of the two on every benchmark load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alpaserve.errors import SpecError


@dataclass(frozen=True, kw_only=True)
class InfaasConfig:
    """Thresholds and periods of the INFaaS selection and autoscaling policies.

    Parameters
    ----------
    utilization_threshold : float
        In (0, 1]; see the module docstring for this and every field below.
    interference_factor : float
        > 1.
    queue_threshold_batches : float
        > 0.
    recovery_period : float
        Seconds, >= 0.
    rate_window : float
        Seconds, > 0.
    scale_down_period : float
        Seconds, >= 0.
    switch_down_period : float
        Seconds, >= 0.
    switch_margin : float
        In [0, 1).
    worker_idle_period : float
        Seconds, >= 0.
    max_backoff : float
        >= 1.
    colocate_below : float
        In (0, 1].
    max_wait_factor : float
        > 0.
    lookahead : float or None
        Seconds, >= 0; None: automatic.

    Raises
    ------
    SpecError
        If a value is out of range (the message names the field).

    Examples
    --------
    >>> InfaasConfig().utilization_threshold
    0.8
    >>> InfaasConfig(utilization_threshold=1.5)
    Traceback (most recent call last):
    ...
    alpaserve.errors.SpecError: InfaasConfig.utilization_threshold must lie in (0, 1], got 1.5
    """

    utilization_threshold: float = 0.8
    interference_factor: float = 2.0
    queue_threshold_batches: float = 4.0
    recovery_period: float = 10.0
    rate_window: float = 10.0
    scale_down_period: float = 30.0
    switch_down_period: float = 30.0
    switch_margin: float = 0.25
    worker_idle_period: float = 60.0
    max_backoff: float = 8.0
    colocate_below: float = 0.2
    max_wait_factor: float = 10.0
    lookahead: float | None = None

    def __post_init__(self) -> None:
        for name in ("utilization_threshold", "colocate_below"):
            value = getattr(self, name)
            if not (0 < value <= 1):
                raise SpecError(f"InfaasConfig.{name} must lie in (0, 1], got {value!r}")
        if not self.interference_factor > 1:
            raise SpecError(f"InfaasConfig.interference_factor must exceed 1, got "
                            f"{self.interference_factor!r}")
        if not (0 <= self.switch_margin < 1):
            raise SpecError(f"InfaasConfig.switch_margin must lie in [0, 1), got "
                            f"{self.switch_margin!r}")
        if not self.max_backoff >= 1:
            raise SpecError(f"InfaasConfig.max_backoff must be >= 1, got {self.max_backoff!r}")
        for name in ("queue_threshold_batches", "rate_window", "max_wait_factor"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise SpecError(f"InfaasConfig.{name} must be positive, got {value!r}")
        for name in ("recovery_period", "scale_down_period", "switch_down_period",
                     "worker_idle_period", "lookahead"):
            value = getattr(self, name)
            if name == "lookahead" and value is None:
                continue
            if not (value >= 0 and math.isfinite(value)):
                raise SpecError(f"InfaasConfig.{name} must be >= 0, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Expectation:
    """What an application declares before its traffic arrives, so the first plan is ready.

    INFaaS plans from observed traffic only, so its first replicas start when the first
    queries arrive and those queries pay a worker start-up. With an expectation the
    autoscaler's first tick (time 0) plans for ``rate`` at ``slo`` and ``min_accuracy``
    before any query is seen; observed rates replace it after one ``rate_window``.

    Parameters
    ----------
    task : str
        The task the application queries.
    rate : float
        Expected arrival rate at the start, queries per second (>= 0).
    slo : float
        Latency SLO of the application's queries, seconds (> 0).
    min_accuracy : float
        Strictest accuracy floor among its queries, top-1 percent in [0, 100].

    Raises
    ------
    SpecError
        If a value is out of range.

    Examples
    --------
    >>> Expectation(task="image-classification", rate=4.0, slo=0.3, min_accuracy=74.0).rate
    4.0
    >>> Expectation(task="t", rate=-1.0, slo=0.3, min_accuracy=0.0)
    Traceback (most recent call last):
    ...
    alpaserve.errors.SpecError: Expectation.rate must be finite and >= 0, got -1.0
    """

    task: str
    rate: float
    slo: float
    min_accuracy: float = 0.0

    def __post_init__(self) -> None:
        if not self.task:
            raise SpecError("Expectation.task must be a non-empty task name")
        if not (math.isfinite(self.rate) and self.rate >= 0):
            raise SpecError(f"Expectation.rate must be finite and >= 0, got {self.rate!r}")
        if not (math.isfinite(self.slo) and self.slo > 0):
            raise SpecError(f"Expectation.slo must be positive, got {self.slo!r}")
        if not 0 <= self.min_accuracy <= 100:
            raise SpecError(f"Expectation.min_accuracy must lie in [0, 100], got "
                            f"{self.min_accuracy!r}")
