"""The dispatch policy of the simulator's default rules, as an object a runtime can drive.

For each group the dispatcher keeps the predicted time at which each pipeline stage becomes
free. A request for model ``m`` arriving at ``t`` would, on group ``g``, enter stage 0 at
``max(t, free[0])``, leave it ``latency[0]`` later, enter stage 1 at ``max(that, free[1])``,
and so on (a stage takes the next request as soon as it is free, so pipelines overlap across
requests). The request goes to the group where it would finish earliest, ties to the lower
group index. Admission is SLO-aware: a request whose predicted finish is later than
``arrival + slo`` is dropped at once and reserves nothing; one whose model no group hosts is
unserved.

What actually happened can be fed back (:meth:`Dispatcher.observe`): a stage that really
finished later than predicted moves its free time forward, so a slow run stops admitting
requests it could no longer serve in time. The real runtime (:mod:`alpaserve.runtime`) and
the replay of its runs (:mod:`simulator.replay`) use this one class.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from alpaserve.errors import SimulationError
from simulator.summary import RequestStatus

_EPS = 1e-12  # float slack so a finish exactly at the deadline is admitted


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Where a request goes and when it is predicted to run.

    Parameters
    ----------
    status : RequestStatus
        ``SERVED`` (admitted) or ``DROPPED`` (would miss its SLO, or no group hosts the model).
    group : int, default -1
        The group chosen (for a dropped request, the one it would have gone to); -1 when
        no group hosts the model.
    predicted_start, predicted_finish : float
        When the first stage is predicted to start and the last to finish (seconds; NaN when
        dropped).
    """

    status: RequestStatus
    group: int = -1
    predicted_start: float = float("nan")
    predicted_finish: float = float("nan")


class Dispatcher:
    """Earliest-predicted-finish dispatch with SLO-aware admission (thread-safe).

    ``stage_latencies[(g, model)]`` is the per-stage latency of ``model`` on group ``g``
    (batch size 1); a model is hosted on exactly the groups that have an entry for it.
    ``overhead`` is added once per request to its predicted finish.

    Parameters
    ----------
    num_groups : int
        Number of groups.
    stage_latencies : mapping of (int, str) to sequence of float
        ``(group, model) -> per-stage seconds`` at batch size 1.
    overhead : float, default 0.0
        Seconds added to each request's predicted finish.

    Examples
    --------
    >>> d = Dispatcher(num_groups=2,
    ...                stage_latencies={(0, "m"): (0.125, 0.125), (1, "m"): (0.375,)})
    >>> d.decide("m", arrival=0.0, slo=1.0)
    Decision(status=<RequestStatus.SERVED: 0>, group=0, predicted_start=0.0, predicted_finish=0.25)
    >>> dec = d.decide("m", arrival=0.0, slo=1.0)  # g0's stage 0 is busy until 0.125
    >>> dec.group, dec.predicted_finish  # ties with g1 at 0.375: the lower id wins
    (0, 0.375)
    >>> d.decide("m", arrival=0.0, slo=0.3).status.name
    'DROPPED'
    >>> d.decide("other", arrival=0.0, slo=1.0).status.name
    'UNSERVED'
    """

    def __init__(self, *, num_groups: int,
                 stage_latencies: Mapping[tuple[int, str], Sequence[float]],
                 overhead: float = 0.0) -> None:
        if num_groups <= 0:
            raise SimulationError(f"Dispatcher needs at least one group, got {num_groups}")
        if overhead < 0:
            raise SimulationError(f"Dispatcher overhead must be >= 0, got {overhead!r}")
        self._latencies: dict[tuple[int, str], tuple[float, ...]] = {}
        depth: dict[int, int] = {}
        hosts: dict[str, list[int]] = {}
        for (g, model), lats in stage_latencies.items():
            if not 0 <= g < num_groups:
                raise SimulationError(f"stage latencies given for group {g}, outside "
                                      f"0..{num_groups - 1}")
            lat = tuple(float(x) for x in lats)
            if not lat or any(not (np.isfinite(x) and x >= 0) for x in lat):
                raise SimulationError(f"stage latencies of {model!r} on group {g} must be "
                                      f"finite and >= 0, got {lats!r}")
            if depth.setdefault(g, len(lat)) != len(lat):
                raise SimulationError(f"group {g} has {depth[g]} stages but {model!r} gives "
                                      f"{len(lat)} stage latencies")
            self._latencies[(g, model)] = lat
            hosts.setdefault(model, []).append(g)
        self._hosts = {m: sorted(gs) for m, gs in hosts.items()}
        self._free = {g: [0.0] * n for g, n in depth.items()}
        self._overhead = float(overhead)
        self._lock = threading.Lock()

    def hosts(self, model: str) -> tuple[int, ...]:
        """The groups hosting ``model``.

        Parameters
        ----------
        model : str
            Model name.

        Returns
        -------
        tuple of int
            Group indices, ascending; empty when no group hosts it.
        """
        return tuple(self._hosts.get(model, ()))

    def _predict(self, g: int, model: str, t: float) -> tuple[float, list[float]]:
        ends = []
        for free, lat in zip(self._free[g], self._latencies[(g, model)], strict=True):
            t = max(t, free) + lat
            ends.append(t)
        return ends[-1] + self._overhead, ends

    def decide(self, model: str, *, arrival: float, slo: float,
               now: float | None = None) -> Decision:
        """Choose a group for a request and reserve its stages; ``now`` defaults to arrival.

        Parameters
        ----------
        model : str
            The request's model.
        arrival : float
            Its arrival time in seconds.
        slo : float
            Its latency SLO in seconds; the request is dropped if its predicted finish would be
            later than ``arrival + slo``.
        now : float, optional
            The time the decision is made; ``arrival`` by default.

        Returns
        -------
        Decision
            The group and predicted times, or ``DROPPED``.
        """
        groups = self._hosts.get(model)
        if not groups:
            return Decision(status=RequestStatus.UNSERVED)
        t = arrival if now is None else max(arrival, now)
        with self._lock:
            options = [(*self._predict(g, model, t), g) for g in groups]
            finish, ends, g = min(options, key=lambda o: (o[0], o[2]))
            if finish > arrival + slo + _EPS:
                return Decision(status=RequestStatus.DROPPED, group=g,
                                predicted_finish=finish)
            start = ends[0] - self._latencies[(g, model)][0]
            self._free[g] = ends
            return Decision(status=RequestStatus.SERVED, group=g, predicted_start=start,
                            predicted_finish=finish)

    def observe(self, group: int, stage: int, end: float) -> None:
        """Stage ``stage`` of ``group`` really finished a request at ``end``.

        Parameters
        ----------
        group : int
            The group.
        stage : int
            The stage index within the group.
        end : float
            When the stage really finished, in seconds; a later time than predicted pushes back
            the stage's next free time.
        """
        with self._lock:
            free = self._free[group]
            free[stage] = max(free[stage], end)
