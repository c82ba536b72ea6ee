"""The outcome of a spot-fleet simulation: latency, SLO, work lost, migrations and dollars."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class ReconfigRecord:
    """One applied reconfiguration.

    Parameters
    ----------
    time : float
        When it was decided, seconds.
    reasons : tuple of str
        Why the simulator asked the policy.
    config : str
        Key of the new config (``"none"`` when serving stops).
    moved_bytes : float
        Bytes moved.
    transfer_time : float
        Seconds of transfers.
    note : str
        The policy's note.
    """

    time: float
    reasons: tuple[str, ...]
    config: str
    moved_bytes: float
    transfer_time: float
    note: str


@dataclass(frozen=True, eq=False, kw_only=True)
class SpotResult:
    """Metrics of one run. Every request is ``finished``, ``dropped`` or ``in_flight``.

    Parameters
    ----------
    policy : str
        The policy's name.
    num_requests, finished, dropped, in_flight : int
        Requests in the window, and how each ended (``dropped`` waited longer than
        ``max_queue_time``; ``in_flight`` were queued or running at the end).
    unfinished : int
        ``dropped + in_flight``.
    latency_mean, latency_p50, latency_p90, latency_p99 : float
        Seconds over *all* requests, an unfinished one counting from its arrival to the end
        of the window (a lower bound on its latency). NaN without requests.
    finished_latency_p99 : float
        p99 over finished requests only (NaN when none), reported beside it.
    attainment : float
        Share of *all* requests that finished within their SLO (NaN without an SLO).
    tokens_served, prompt_tokens_served : int
        Output and prompt tokens of finished requests.
    requests_restarted, restarts : int
        Requests restarted from scratch at least once, and restarts in all.
    lost_tokens : int
        Decoded tokens thrown away by restarts.
    recomputed_tokens : int
        Context tokens prefilled again because a KV cache was lost.
    migrations : int
        Reconfigurations that moved bytes or took time.
    moved_bytes : float
        Bytes moved by them.
    migration_time : float
        Seconds of their transfers.
    cost_spot, cost_on_demand : float
        Dollars of node-hours held in each market, every node from its acquisition to its
        release or the end of the window.
    end_time : float
        End of the window, seconds.
    arrival, finish : numpy.ndarray
        Per-request arrival and finish times (NaN: unfinished).
    reconfigurations : tuple of ReconfigRecord
        Every reconfiguration applied.
    """

    policy: str
    num_requests: int
    finished: int
    dropped: int
    in_flight: int
    unfinished: int
    latency_mean: float
    latency_p50: float
    latency_p90: float
    latency_p99: float
    finished_latency_p99: float
    attainment: float
    tokens_served: int
    prompt_tokens_served: int
    requests_restarted: int
    restarts: int
    lost_tokens: int
    recomputed_tokens: int
    migrations: int
    moved_bytes: float
    migration_time: float
    cost_spot: float
    cost_on_demand: float
    end_time: float
    arrival: FloatArray = field(repr=False)
    finish: FloatArray = field(repr=False)
    reconfigurations: tuple[ReconfigRecord, ...] = field(repr=False, default=())

    @property
    def cost(self) -> float:
        """Dollars of every node held over the window."""
        return self.cost_spot + self.cost_on_demand

    @property
    def cost_per_1k_tokens(self) -> float:
        """Dollars per thousand generated tokens served (NaN if none)."""
        return self.cost / (self.tokens_served / 1000) if self.tokens_served else float("nan")

    @property
    def latency(self) -> FloatArray:
        """Per-request latency (NaN for requests that did not finish)."""
        return self.finish - self.arrival

    def to_dict(self) -> dict[str, Any]:
        """Scalar metrics; NaN becomes ``None`` so the dict is strict JSON.

        Returns
        -------
        dict
            Every scalar field, plus ``cost`` and ``cost_per_1k_tokens``.
        """
        out = {k: getattr(self, k) for k in (
            "policy", "num_requests", "finished", "dropped", "in_flight", "unfinished",
            "latency_mean", "latency_p50", "latency_p90", "latency_p99",
            "finished_latency_p99", "attainment", "tokens_served",
            "prompt_tokens_served", "requests_restarted", "restarts", "lost_tokens",
            "recomputed_tokens", "migrations", "moved_bytes", "migration_time", "cost_spot",
            "cost_on_demand", "end_time")}
        out["cost"] = self.cost
        out["cost_per_1k_tokens"] = self.cost_per_1k_tokens
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in out.items()}


def latency_stats(latency: FloatArray) -> tuple[float, float, float, float]:
    """Mean, p50, p90 and p99 of the finite entries (NaN when there are none).

    Parameters
    ----------
    latency : numpy.ndarray of float
        Seconds; NaN entries are left out.

    Returns
    -------
    tuple of float
        ``(mean, p50, p90, p99)``, seconds (linear-interpolation percentiles).

    Examples
    --------
    >>> latency_stats(np.array([1.0, 2.0, np.nan, 3.0]))[:2]
    (2.0, 2.0)
    """
    done = latency[np.isfinite(latency)]
    if done.size == 0:
        nan = float("nan")
        return nan, nan, nan, nan
    p50, p90, p99 = np.percentile(done, [50, 90, 99])
    return float(done.mean()), float(p50), float(p90), float(p99)


def assemble_result(*, policy: str, workload: Any, finish: FloatArray,
                    dropped: npt.NDArray[np.bool_], in_flight: int,
                    restarts: npt.NDArray[np.int64], lost_tokens: int, recomputed_tokens: int,
                    records: tuple[ReconfigRecord, ...], cost: dict[str, float], end: float,
                    slo: float | None) -> SpotResult:
    """The :class:`SpotResult` of a finished run, from the engine's per-request arrays.

    Parameters
    ----------
    policy : str
        The policy's name.
    workload : Workload
        The requests (with ``prompt_tokens`` and ``output_tokens``).
    finish : numpy.ndarray
        Finish time per request (NaN: unfinished).
    dropped : numpy.ndarray
        Whether each request was dropped from the queue.
    in_flight : int
        Requests queued or running at the end.
    restarts : numpy.ndarray
        Restarts per request.
    lost_tokens, recomputed_tokens : int
        Work lost to removals and recomputed.
    records : tuple of ReconfigRecord
        The reconfigurations applied.
    cost : dict of str to float
        Dollars of ``"spot"`` and ``"on-demand"`` nodes held over the window.
    end : float
        End of the window, seconds.
    slo : float, optional
        One SLO for all requests; else the workload's ``slo`` column, if any.

    Returns
    -------
    SpotResult
        Latencies over all requests (unfinished ones up to ``end``, a lower bound, so a
        policy cannot look faster by leaving requests unfinished), attainment and totals.
    """
    finished = np.isfinite(finish)
    n = len(workload)
    arrival = np.asarray(workload.arrival, dtype=np.float64)
    prompt = np.asarray(workload.prompt_tokens, dtype=np.int64)
    output = np.asarray(workload.output_tokens, dtype=np.int64)
    lat = finish - arrival
    mean, p50, p90, p99 = latency_stats(np.where(finished, lat, end - arrival))
    slos = (np.full(n, slo) if slo is not None
            else workload.slo if workload.slo is not None else None)
    attain = float(np.mean(finished & (lat <= slos))) if slos is not None and n else math.nan
    changes = [rec for rec in records if rec.moved_bytes > 0 or rec.transfer_time > 0]
    return SpotResult(
        policy=policy, num_requests=n, finished=int(finished.sum()),
        dropped=int(dropped.sum()), in_flight=in_flight, unfinished=n - int(finished.sum()),
        latency_mean=mean, latency_p50=p50, latency_p90=p90, latency_p99=p99,
        finished_latency_p99=latency_stats(lat)[3], attainment=attain,
        tokens_served=int(output[finished].sum()),
        prompt_tokens_served=int(prompt[finished].sum()),
        requests_restarted=int((restarts > 0).sum()), restarts=int(restarts.sum()),
        lost_tokens=lost_tokens, recomputed_tokens=recomputed_tokens, migrations=len(changes),
        moved_bytes=float(sum(r.moved_bytes for r in changes)),
        migration_time=float(sum(r.transfer_time for r in changes)),
        cost_spot=cost["spot"], cost_on_demand=cost["on-demand"], end_time=end,
        arrival=arrival, finish=finish.copy(), reconfigurations=records)
