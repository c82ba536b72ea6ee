"""How a simulation runs: :class:`SimulationOptions` (see ``simulator.semantics``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from alpaserve.errors import SimulationError

Policy = Literal["earliest-finish", "least-outstanding", "alpaserve"]
Engine = Literal["reference", "fast"]
Trim = Literal["time", "requests"]
TRIMS: tuple[Trim, ...] = ("time", "requests")
POLICIES: tuple[Policy, ...] = ("earliest-finish", "least-outstanding", "alpaserve")
ENGINES: tuple[Engine, ...] = ("reference", "fast")

ALPASERVE_STAGE_INFLATION = 0.009
ALPASERVE_REQUEST_OVERHEAD = 0.011


@dataclass(frozen=True, kw_only=True)
class SimulationOptions:
    """Options of :func:`simulator.simulate`.

    Parameters
    ----------
    policy : {'earliest-finish', 'least-outstanding', 'alpaserve'}
        Dispatch rule: ``"earliest-finish"`` (the hosting group predicted to finish the
        request first), ``"least-outstanding"`` (fewest dispatched, unfinished requests) or
        ``"alpaserve"`` (the group whose last stage frees earliest). Ties go to the lower
        group index.
    admission : bool
        SLO-aware admission control: drop a request at once when it is predicted to miss.
    max_batch : int
        Largest batch; 1 disables batching. Only profiled batch sizes up to it are used.
    request_overhead : float
        Seconds added to every finish time before the SLO check (client and dispatch
        overhead); it occupies no stage.
    stage_inflation : float
        Every stage latency of a group with ``S`` stages is multiplied by
        ``1 + stage_inflation * S`` (pipeline communication overhead).
    warmup, cooldown : float
        Seconds trimmed from the start and the end of the arrivals before statistics.
    trim : {'time', 'requests'}, default 'time'
        How: ``"time"`` keeps the requests arriving inside the window; ``"requests"`` skips
        ``int(warmup / span * n)`` requests at the start (and likewise for ``cooldown``),
        AlpaServe's rule (see :func:`simulator.summary.stats_window`).
    float32_latencies : bool, default False
        Round every inflated stage latency to float32, as AlpaServe stores them; finish times
        then match its simulator's bit for bit.
    engine : {'fast', 'reference'}
        ``"fast"`` (compiled) or ``"reference"`` (SimPy); both give identical outcomes.
    record_stages : bool
        Also return every request's start time on each stage (``SimResult.stage_start``).
    threads : int
        Threads for one fast-engine run (0, the default: one per CPU). Earliest-finish
        runs without batching of at least 2 x 65,536 requests are cut into time-parallel
        spans, repaired to the exact one-thread result (:mod:`simulator.engine.parallel`):
        every such ``attainment`` run, and ``simulate`` runs without trimming or stage
        starts, whose statistics then also use the threads. Other runs use one thread.
        Pass 1 where the caller already runs many simulations at once.

    Raises
    ------
    SimulationError
        For an unknown policy or engine, a non-bool flag, ``max_batch < 1``,
        ``threads < 0``, or a negative or non-finite number of seconds or inflation.

    Examples
    --------
    >>> SimulationOptions().policy
    'earliest-finish'
    >>> o = SimulationOptions.alpaserve()
    >>> o.policy, o.stage_inflation, o.request_overhead, o.trim, o.float32_latencies
    ('alpaserve', 0.009, 0.011, 'requests', True)
    """

    policy: Policy = "earliest-finish"
    admission: bool = True
    max_batch: int = 1
    request_overhead: float = 0.0
    stage_inflation: float = 0.0
    warmup: float = 0.0
    cooldown: float = 0.0
    trim: Trim = "time"
    float32_latencies: bool = False
    engine: Engine = "fast"
    record_stages: bool = False
    threads: int = 0

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise SimulationError(f"policy must be one of {POLICIES}, got {self.policy!r}")
        if self.engine not in ENGINES:
            raise SimulationError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        if self.trim not in TRIMS:
            raise SimulationError(f"trim must be one of {TRIMS}, got {self.trim!r}")
        if not isinstance(self.float32_latencies, bool):
            raise SimulationError(f"float32_latencies must be a bool, got "
                                  f"{self.float32_latencies!r}")
        if not isinstance(self.admission, bool) or not isinstance(self.record_stages, bool):
            raise SimulationError(f"admission and record_stages must be bools, got "
                                  f"{self.admission!r} and {self.record_stages!r}")
        if isinstance(self.max_batch, bool) or not isinstance(self.max_batch, int) \
                or self.max_batch < 1:
            raise SimulationError(f"max_batch must be an integer >= 1, got {self.max_batch!r}")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) \
                or self.threads < 0:
            raise SimulationError(f"threads must be an integer >= 0, got {self.threads!r}")
        for name in ("request_overhead", "stage_inflation", "warmup", "cooldown"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or value < 0:
                raise SimulationError(f"{name} must be a finite number >= 0, got {value!r}")

    @classmethod
    def alpaserve(cls, **overrides: Any) -> SimulationOptions:
        """AlpaServe's fast-path model: 0.9 % per stage, 11 ms per request, its dispatch rule.

        Also its measurement protocol: request-count trimming (``trim="requests"``, with the
        ``warmup``/``cooldown`` given) and float32 stage latencies. Unbounded buffers between
        stages and admission control are the defaults already. Stationary versus ordinary
        renewal starts are a property of the workload's arrival process
        (:mod:`workloads.arrivals`), not of these options.

        Parameters
        ----------
        **overrides : Any
            Any other :class:`SimulationOptions` field, applied over the AlpaServe values
            (``policy="alpaserve"``, ``stage_inflation=0.009``, ``request_overhead=0.011``,
            ``trim="requests"``, ``float32_latencies=True``).

        Returns
        -------
        SimulationOptions
            The validated options.

        Raises
        ------
        SimulationError
            If an override is out of range.

        Examples
        --------
        >>> SimulationOptions.alpaserve(max_batch=4).max_batch
        4
        """
        fields: dict[str, Any] = {"policy": "alpaserve",
                                  "stage_inflation": ALPASERVE_STAGE_INFLATION,
                                  "request_overhead": ALPASERVE_REQUEST_OVERHEAD,
                                  "trim": "requests", "float32_latencies": True}
        fields.update(overrides)
        return cls(**fields)

    @property
    def batching(self) -> bool:
        """Whether batches larger than 1 are allowed (``max_batch > 1``)."""
        return self.max_batch > 1

    def with_(self, **changes: Any) -> SimulationOptions:
        """A copy with ``changes`` applied (validated again).

        Parameters
        ----------
        **changes : Any
            Field names and their new values.

        Returns
        -------
        SimulationOptions
            A new instance; ``self`` is unchanged.

        Raises
        ------
        SimulationError
            If a new value is out of range.
        TypeError
            If a name is not a field.

        Examples
        --------
        >>> SimulationOptions().with_(max_batch=8).batching
        True
        """
        return replace(self, **changes)
