"""Dispatch for the real runtime: :class:`~simulator.dispatch.Dispatcher` (the simulator's
policy as an object, re-exported here) and its offline replay in virtual time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from alpaserve.runtime.result import RequestStatus, RunResult
from simulator.dispatch import Decision, Dispatcher
from workloads import Workload

__all__ = ["Decision", "Dispatcher", "replay_predicted"]


def replay_predicted(workload: Workload, *, stage_latencies: Mapping[tuple[int, str],
                                                                     Sequence[float]],
                     group_names: Sequence[str], slo: float | dict[str, float] | None = None,
                     overhead: float = 0.0) -> RunResult:
    """Replay ``workload`` in virtual time with :class:`Dispatcher`: the predicted outcome.

    Every admitted request runs exactly as predicted, so this is the discrete-event model
    of the simulator's default policy, fed with the given (e.g. measured) stage latencies.

    Parameters
    ----------
    workload : Workload
        The requests, in arrival order.
    stage_latencies : mapping of (int, str) to sequence of float
        ``(group, model) -> per-stage seconds``.
    group_names : sequence of str
        Group names, in index order.
    slo : float or dict of str to float, optional
        SLO in seconds (one for all, or per model); the workload's own by default.
    overhead : float, default 0.0
        Seconds added to each request's finish.

    Returns
    -------
    RunResult
        The predicted outcome of every request.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.0, 0.0, 0.0], model="m", slo=0.25)
    >>> r = replay_predicted(w, stage_latencies={(0, "m"): (0.1,)}, group_names=["g0"])
    >>> r.status.tolist(), r.finish[:2].tolist()
    ([0, 0, 1], [0.1, 0.2])
    """
    slos = workload.slo_array(slo)
    dispatcher = Dispatcher(num_groups=len(group_names), stage_latencies=stage_latencies,
                            overhead=overhead)
    n = len(workload)
    start = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    group = np.full(n, -1, dtype=np.int32)
    status = np.zeros(n, dtype=np.int8)
    names = workload.model_names
    for i in range(n):
        d = dispatcher.decide(names[workload.model_codes[i]], arrival=float(workload.arrival[i]),
                              slo=float(slos[i]))
        status[i] = d.status
        if d.status == RequestStatus.SERVED:
            start[i], finish[i], group[i] = d.predicted_start, d.predicted_finish, d.group
    return RunResult.from_columns(arrival=workload.arrival, start=start, finish=finish,
                                  group=group, status=status, model_codes=workload.model_codes,
                                  model_names=names, slo=slos, group_names=group_names)
