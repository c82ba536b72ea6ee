"""The replay check: does the simulator reproduce what the runtime did, given its timings?

A real run's outcome depends on two things: how long each stage really took, and the rules
that turned those times into decisions, queues and pipelines. The predictive fidelity check
(:mod:`alpaserve.runtime.fidelity`) tests both at once and so needs a steady host. This check
tests the rules alone: it feeds :func:`simulator.replay.replay_measured` the service time the
run measured for every request at every stage, and the time its dispatcher decided it, and
asks whether the simulator then admits or drops the same requests, sends them to the same
groups, and finishes them at the same times, up to timer jitter. A slow or noisy host changes
the service times, not the rules, so the check holds whatever the load.

Timer jitter is the time between a stage becoming able to take a request (the request's
previous stage done, the stage's previous request done) and its thread taking it: a thread
wake-up, normally tens of microseconds. It adds up along a queue, so the finish tolerance is
``jitter_floor`` plus ``jitter_share`` of the request's latency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from alpaserve.errors import ExecutionError
from alpaserve.placement_spec import Placement
from alpaserve.profiles import ProfileDB
from alpaserve.runtime.result import RequestStatus, RunResult
from simulator.replay import ReplayResult, replay_measured
from workloads import Workload

JITTER_FLOOR_S = 0.002
JITTER_SHARE = 0.02


@dataclass(frozen=True, kw_only=True)
class ReplayReport:
    """How closely a replay reproduced a real run, request by request.

    Parameters
    ----------
    num_requests : int
        Requests in the run.
    agreement : float
        Fraction of requests reproduced: the same status and, for served ones, the same
        group and a finish within tolerance.
    status_agreement : float
        Fraction with the same status (served, dropped, unserved).
    group_agreement : float
        Among requests served in both, the fraction on the same group.
    finish_error_p50, finish_error_p99, finish_error_max : float
        ``|finish_real - finish_replay|`` in seconds over requests served on the same group
        in both (NaN when there are none).
    jitter_floor, jitter_share : float
        The finish tolerance: ``jitter_floor + jitter_share × latency``.
    mismatches : tuple of int
        Indices of the requests not reproduced (the first 20).
    """

    num_requests: int
    agreement: float
    status_agreement: float
    group_agreement: float
    finish_error_p50: float
    finish_error_p99: float
    finish_error_max: float
    jitter_floor: float
    jitter_share: float
    mismatches: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (NaN as ``None``).

        Returns
        -------
        dict
            Every field by name.
        """
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, float) and not np.isfinite(value):
                value = None
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


def replay_run(placement: Placement, profile: ProfileDB, run: RunResult) -> ReplayResult:
    """Replay ``run`` through the simulator with the timings it recorded.

    Parameters
    ----------
    placement : Placement
        The placement the run served.
    profile : ProfileDB
        The profile its dispatcher predicted with (``Runtime.profile`` during the run).
    run : RunResult
        A run with a :class:`~alpaserve.runtime.result.ServeTrace`.

    Returns
    -------
    ReplayResult
        The simulator's outcome of the same requests.

    Raises
    ------
    ExecutionError
        When the run recorded no trace.
    """
    if run.trace is None:
        raise ExecutionError("the run has no trace to replay; serve it with Runtime.serve")
    workload = Workload.from_arrays(arrival=run.arrival, model=run.model_codes,
                                    model_names=run.model_names, slo=run.slo)
    trace = run.trace
    return replay_measured(placement, profile, workload, service=trace.service,
                           decided=trace.decided, feedback=trace.feedback,
                           overhead=trace.overhead)


def compare_replay(run: RunResult, replay: ReplayResult, *,
                   jitter_floor: float = JITTER_FLOOR_S,
                   jitter_share: float = JITTER_SHARE) -> ReplayReport:
    """Compare a run with its replay request by request.

    Parameters
    ----------
    run : RunResult
        The real run.
    replay : ReplayResult
        Its replay (:func:`replay_run`).
    jitter_floor : float, default 0.002
        Seconds of finish difference always tolerated.
    jitter_share : float, default 0.02
        Share of the request's latency tolerated on top.

    Returns
    -------
    ReplayReport
        Agreement fractions and finish errors.

    Examples
    --------
    >>> import numpy as np
    >>> from simulator.replay import ReplayResult
    >>> from simulator import SimResult
    >>> run = RunResult.from_columns(arrival=[0.0, 0.0], start=[0.0, 0.1],
    ...     finish=[0.1, 0.2], group=[0, 0], status=[0, 0], model_codes=[0, 0],
    ...     model_names=("m",), slo=[1.0, 1.0])
    >>> sim = SimResult.from_outcomes(model_names=("m",), group_names=("g",),
    ...     arrival=[0.0, 0.0], model_codes=[0, 0], slo=[1.0, 1.0], start=[0.0, 0.1],
    ...     finish=[0.1, 0.25], group=[0, 0], status=[0, 0], engine="replay")
    >>> rep = ReplayResult(result=sim, stage_begin=np.zeros((2, 1)),
    ...                    stage_end=np.zeros((2, 1)))
    >>> compare_replay(run, rep).agreement  # the second finish is 50 ms off
    0.5
    """
    sim = replay.result
    n = len(run)
    if len(sim.status) != n:
        raise ExecutionError(f"the replay has {len(sim.status)} requests, the run {n}")
    same_status = run.status == sim.status
    served = same_status & (run.status == RequestStatus.SERVED)
    same_group = served & (run.group == sim.group)
    error = np.abs(run.finish - sim.finish)
    tolerance = jitter_floor + jitter_share * (run.finish - run.arrival)
    ok = same_status & (~served | (same_group & (error <= tolerance)))
    errors = error[same_group]
    stat = (lambda q: float(np.percentile(errors, q))) if errors.size else (lambda q: np.nan)
    return ReplayReport(
        num_requests=n, agreement=float(ok.mean()) if n else 1.0,
        status_agreement=float(same_status.mean()) if n else 1.0,
        group_agreement=float(same_group.sum() / served.sum()) if served.any() else 1.0,
        finish_error_p50=stat(50), finish_error_p99=stat(99),
        finish_error_max=float(errors.max()) if errors.size else np.nan,
        jitter_floor=jitter_floor, jitter_share=jitter_share,
        mismatches=tuple(int(i) for i in np.flatnonzero(~ok)[:20]))


def replay_check(placement: Placement, profile: ProfileDB, run: RunResult, *,
                 jitter_floor: float = JITTER_FLOOR_S,
                 jitter_share: float = JITTER_SHARE) -> ReplayReport:
    """Replay ``run`` and compare (:func:`replay_run`, then :func:`compare_replay`).

    Parameters
    ----------
    placement : Placement
        The placement the run served.
    profile : ProfileDB
        The profile its dispatcher predicted with.
    run : RunResult
        A run with a trace.
    jitter_floor : float, default 0.002
        Seconds of finish difference always tolerated.
    jitter_share : float, default 0.02
        Share of the request's latency tolerated on top.

    Returns
    -------
    ReplayReport
        How closely the simulator reproduced the run.
    """
    return compare_replay(run, replay_run(placement, profile, run),
                          jitter_floor=jitter_floor, jitter_share=jitter_share)
