"""The replay check: does the simulator reproduce what the runtime did, given its timings?

A real run's outcome depends on two things: how long each stage really took, and the rules
that turned those times into decisions, queues and pipelines. The predictive fidelity check
(:mod:`alpaserve.runtime.fidelity`) tests both at once and so needs a steady host. This check
tests the rules alone: it feeds :func:`simulator.replay.replay_measured` the service time the
run measured for every request at every stage, and the time its dispatcher decided it, and
asks whether the simulator then admits or drops the same requests, sends them to the same
groups, and finishes them at the same times, up to timer jitter. A slow or noisy host changes
the service times, not the rules, so the check holds whatever the load.

Besides the service times, the replay takes the runtime's *handoff* delays: how long each
stage took to take a request once the simulator's rules allowed it (its previous stage done,
the stage's previous request done). They are thread wake-ups, normally tens of microseconds,
and milliseconds on a loaded host. A negative handoff beyond the clock's resolution would mean
the runtime broke the rules (a stage serving two requests at once, out of order, or before
the request's previous stage ended); :attr:`ReplayReport.rule_violations` counts them. With
both inputs, every admitted request must finish at the replayed time up to ``tolerance``
(float rounding of sums of clock readings), and every decision must be the same.

With batching the unit of work is a batch (its members share their stage times), and a
batch's stage-0 handoff is its *formation* delay: the formation's time minus the moment the
rules allowed it (the group's stage 0 free, and its oldest queued request decided). Every
request taken off a queue by that formation, in the batch or dropped, carries it; the
replay then must form the same batches (members and sizes) as well.
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

FINISH_TOLERANCE_S = 1e-4
CLOCK_RESOLUTION_S = 1e-6


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
    batch_agreement : float
        Among requests served in both, the fraction in a batch of the same size (1.0 for a
        run without batching).
    finish_error_p50, finish_error_p99, finish_error_max : float
        ``|finish_real - finish_replay|`` in seconds over requests served on the same group
        in both (NaN when there are none).
    tolerance : float
        The largest finish difference counted as reproduced, in seconds.
    handoff_p50, handoff_p99 : float
        The runtime's handoff delays in seconds (NaN when nothing was served).
    rule_violations : int
        Stage entries that began earlier than the rules allow (beyond the clock's resolution).
    mismatches : tuple of int
        Indices of the requests not reproduced (the first 20).
    """

    num_requests: int
    agreement: float
    status_agreement: float
    group_agreement: float
    batch_agreement: float
    finish_error_p50: float
    finish_error_p99: float
    finish_error_max: float
    tolerance: float
    handoff_p50: float
    handoff_p99: float
    rule_violations: int
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


def replay_run(placement: Placement, profile: ProfileDB, run: RunResult, *,
               handoff: np.ndarray | None = None) -> ReplayResult:
    """Replay ``run`` through the simulator with the timings it recorded.

    Parameters
    ----------
    placement : Placement
        The placement the run served.
    profile : ProfileDB
        The profile its dispatcher predicted with (``Runtime.profile`` during the run).
    run : RunResult
        A run with a :class:`~alpaserve.runtime.result.ServeTrace`.
    handoff : numpy.ndarray, optional
        The run's :func:`measured_handoffs`, when the caller has them already.

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
                           decided=trace.decided,
                           handoff=np.clip(measured_handoffs(run) if handoff is None
                                           else handoff, 0.0, None),
                           feedback=trace.feedback, overhead=trace.overhead,
                           max_batch=trace.max_batch)


def measured_handoffs(run: RunResult) -> np.ndarray:
    """Per served request and stage: its begin minus the earliest begin the rules allow.

    The rules: a stage takes one request (or batch) at a time, in the order it took them,
    and a request enters stage ``k`` after leaving stage ``k - 1`` (stage 0: after its
    decision; with batching, stage 0 is the formation, see the module docstring).

    Parameters
    ----------
    run : RunResult
        A run with a trace.

    Returns
    -------
    numpy.ndarray
        ``(n, max_stages)`` seconds; NaN for stages not run. Negative values break the rules.

    Raises
    ------
    ExecutionError
        When the run recorded no trace.
    """
    if run.trace is None:
        raise ExecutionError("the run has no trace; serve it with Runtime.serve")
    trace = run.trace
    begin, end, decided = trace.stage_begin, trace.stage_end, trace.decided
    out = np.full_like(begin, np.nan)
    served = np.flatnonzero(run.status == RequestStatus.SERVED)
    formed, queue_group = trace.formed, trace.queue_group
    batching = trace.max_batch > 1 and formed is not None and queue_group is not None
    for g in np.unique(run.group[served]):
        mine = served[run.group[served] == g]
        for k in range(1 if batching else 0, begin.shape[1]):
            here = mine[~np.isnan(begin[mine, k])]
            previous_end = -np.inf
            # a batch's members share their begin: they are one unit of the stage
            for b in np.unique(begin[here, k]):
                unit = here[begin[here, k] == b]
                ready = decided[unit].max() if k == 0 else end[unit, k - 1].max()
                out[unit, k] = b - max(ready, previous_end)
                previous_end = end[unit, k].max()
    if formed is not None and queue_group is not None and batching:
        _formation_delays(formed, queue_group, decided, end, run.status, out)
    return out


def _formation_delays(formed: np.ndarray, queue_group: np.ndarray, decided: np.ndarray,
                      stage_end: np.ndarray, status: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out[:, 0]`` with each formation's delay, for every request it took off a queue."""
    served = status == RequestStatus.SERVED
    for g in np.unique(queue_group[queue_group >= 0]):
        mine = np.flatnonzero((queue_group == g) & ~np.isnan(formed))
        stage0_free = -np.inf
        for f in np.unique(formed[mine]):  # formations in time order
            taken = mine[formed[mine] == f]
            out[taken, 0] = f - max(stage0_free, float(decided[taken].min()))
            batch = taken[served[taken]]
            if batch.size:
                stage0_free = float(stage_end[batch, 0].max())


def compare_replay(run: RunResult, replay: ReplayResult, *,
                   tolerance: float = FINISH_TOLERANCE_S,
                   handoff: np.ndarray | None = None) -> ReplayReport:
    """Compare a run with its replay request by request.

    Parameters
    ----------
    run : RunResult
        The real run.
    replay : ReplayResult
        Its replay (:func:`replay_run`).
    tolerance : float, default 1e-4
        The largest finish difference, in seconds, counted as reproduced.
    handoff : numpy.ndarray, optional
        The run's :func:`measured_handoffs`, when the caller has them already.

    Returns
    -------
    ReplayReport
        Agreement fractions, finish errors and the handoffs.

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
    sizes = run.trace.batch_size if run.trace is not None else None
    same_batch = served & ((sizes == sim.batch_size) if sizes is not None
                           else (sim.batch_size <= 1))
    error = np.abs(run.finish - sim.finish)
    ok = same_status & (~served | (same_group & same_batch & (error <= tolerance)))
    if handoff is None:
        handoff = measured_handoffs(run) if run.trace is not None else np.empty(0)
    handoff = handoff[~np.isnan(handoff)]
    errors = error[same_group]
    stat = (lambda q: float(np.percentile(errors, q))) if errors.size else (lambda q: np.nan)
    return ReplayReport(
        num_requests=n, agreement=float(ok.mean()) if n else 1.0,
        status_agreement=float(same_status.mean()) if n else 1.0,
        group_agreement=float(same_group.sum() / served.sum()) if served.any() else 1.0,
        batch_agreement=float(same_batch.sum() / served.sum()) if served.any() else 1.0,
        finish_error_p50=stat(50), finish_error_p99=stat(99),
        finish_error_max=float(errors.max()) if errors.size else np.nan, tolerance=tolerance,
        handoff_p50=float(np.percentile(handoff, 50)) if handoff.size else np.nan,
        handoff_p99=float(np.percentile(handoff, 99)) if handoff.size else np.nan,
        rule_violations=int((handoff < -CLOCK_RESOLUTION_S).sum()),
        mismatches=tuple(int(i) for i in np.flatnonzero(~ok)[:20]))


def replay_check(placement: Placement, profile: ProfileDB, run: RunResult, *,
                 tolerance: float = FINISH_TOLERANCE_S) -> ReplayReport:
    """Replay ``run`` and compare (:func:`replay_run`, then :func:`compare_replay`).

    Parameters
    ----------
    placement : Placement
        The placement the run served.
    profile : ProfileDB
        The profile its dispatcher predicted with.
    run : RunResult
        A run with a trace.
    tolerance : float, default 1e-4
        The largest finish difference, in seconds, counted as reproduced.

    Returns
    -------
    ReplayReport
        How closely the simulator reproduced the run.
    """
    handoff = measured_handoffs(run)  # raises without a trace
    return compare_replay(run, replay_run(placement, profile, run, handoff=handoff),
                          tolerance=tolerance, handoff=handoff)
