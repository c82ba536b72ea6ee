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

With batching (``max_batch > 1``) the dispatcher follows the batching rules of
:mod:`simulator.semantics`: :meth:`Dispatcher.decide` routes a request by its estimate behind
the group's queue and admits it into that queue when even the optimistic estimate (no queue)
meets its deadline; :meth:`Dispatcher.form_batch`, called when the group's stage 0 is free,
takes the largest profiled batch of the head's model, oldest first, whose predicted finish
meets the earliest deadline in it, dropping heads for which no size fits.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from alpaserve.errors import SimulationError
from simulator.semantics import commit, commit_exit
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
        dropped). With batching, a queued request's finish is the routing estimate and its
        start is unknown (NaN) until its batch forms.
    queued : bool, default False
        The request joined its group's batching queue (with batching) rather than being
        committed to the group's stages at once.
    """

    status: RequestStatus
    group: int = -1
    predicted_start: float = float("nan")
    predicted_finish: float = float("nan")
    queued: bool = False


@dataclass(frozen=True, kw_only=True)
class Formation:
    """What one batch formation on a group's free stage 0 did (:meth:`Dispatcher.form_batch`).

    Parameters
    ----------
    group : int
        The group.
    time : float
        When the batch was formed, in seconds.
    model : str or None
        The batch's model; ``None`` when every queued request was dropped.
    members : tuple of int
        Request ids in the batch, oldest first (empty when none).
    dropped : tuple of int
        Queued request ids dropped first, because no batch with them at its head could meet
        its deadline.
    predicted_start, predicted_finish : float
        When the batch is predicted to enter stage 0 and to finish (NaN without a batch).
    """

    group: int
    time: float
    model: str | None
    members: tuple[int, ...]
    dropped: tuple[int, ...]
    predicted_start: float = float("nan")
    predicted_finish: float = float("nan")

    @property
    def size(self) -> int:
        """The batch size (0 when no batch was formed)."""
        return len(self.members)


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
    batch_latencies : mapping of (int, str) to mapping of int to sequence of float, optional
        ``(group, model) -> {batch size: per-stage seconds}`` for sizes above 1; sizes above
        ``max_batch`` are ignored.
    max_batch : int, default 1
        Largest batch; above 1 the batching rules apply (requests queue per group and
        :meth:`form_batch` starts them).

    Examples
    --------
    >>> d = Dispatcher(num_groups=2,
    ...                stage_latencies={(0, "m"): (0.125, 0.125), (1, "m"): (0.375,)})
    >>> first = d.decide("m", arrival=0.0, slo=1.0)
    >>> first.status.name, first.group, first.predicted_start, first.predicted_finish
    ('SERVED', 0, 0.0, 0.25)
    >>> dec = d.decide("m", arrival=0.0, slo=1.0)  # g0's stage 0 is busy until 0.125
    >>> dec.group, dec.predicted_finish  # ties with g1 at 0.375: the lower id wins
    (0, 0.375)
    >>> d.decide("m", arrival=0.0, slo=0.3).status.name
    'DROPPED'
    >>> d.decide("other", arrival=0.0, slo=1.0).status.name
    'UNSERVED'

    With batching, requests queue until the group's stage 0 is free:

    >>> b = Dispatcher(num_groups=1, stage_latencies={(0, "m"): (0.1,)},
    ...                batch_latencies={(0, "m"): {2: (0.15,)}}, max_batch=2)
    >>> [b.decide("m", arrival=0.0, slo=1.0, request=i).queued for i in range(3)]
    [True, True, True]
    >>> f = b.form_batch(0, 0.0)
    >>> f.members, f.predicted_finish, b.queued(0)
    ((0, 1), 0.15, 1)
    """

    def __init__(self, *, num_groups: int,
                 stage_latencies: Mapping[tuple[int, str], Sequence[float]],
                 overhead: float = 0.0,
                 batch_latencies: Mapping[tuple[int, str],
                                          Mapping[int, Sequence[float]]] | None = None,
                 max_batch: int = 1) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise SimulationError(f"Dispatcher max_batch must be an integer >= 1, got "
                                  f"{max_batch!r}")
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
        self.max_batch = max_batch
        # per (group, model): (batch size, stage latencies), ascending, size 1 first
        self._sizes: dict[tuple[int, str], list[tuple[int, tuple[float, ...]]]] = {
            key: [(1, lat)] for key, lat in self._latencies.items()}
        for key, by_size in (batch_latencies or {}).items():
            if key not in self._latencies:
                raise SimulationError(f"batch latencies given for {key!r}, which has no "
                                      "batch-1 latencies")
            for b in sorted(by_size):
                lat = tuple(float(x) for x in by_size[b])
                if len(lat) != len(self._latencies[key]) or any(
                        not (np.isfinite(x) and x >= 0) for x in lat):
                    raise SimulationError(f"batch-{b} latencies of {key!r} must be "
                                          f"{len(self._latencies[key])} finite values >= 0, "
                                          f"got {by_size[b]!r}")
                if 1 < b <= max_batch:
                    self._sizes[key].append((b, lat))
        # the batching queues (request id, model, deadline) and W[g], their batch-1 work
        self._queue: dict[int, list[tuple[int, str, float]]] = {g: [] for g in depth}
        self._work: dict[int, float] = dict.fromkeys(depth, 0.0)

    @property
    def batching(self) -> bool:
        """Whether the batching rules apply (``max_batch > 1``)."""
        return self.max_batch > 1

    def batch_sizes(self, group: int, model: str) -> tuple[int, ...]:
        """The batch sizes ``model`` may run at on ``group``, ascending.

        Parameters
        ----------
        group : int
            The group.
        model : str
            A model it hosts.

        Returns
        -------
        tuple of int
            1 and the profiled sizes up to ``max_batch``.
        """
        return tuple(b for b, _ in self._sizes[(group, model)])

    def queued(self, group: int) -> int:
        """How many requests wait in ``group``'s batching queue.

        Parameters
        ----------
        group : int
            The group.

        Returns
        -------
        int
            The queue's length (0 without batching).
        """
        with self._lock:
            return len(self._queue.get(group, ()))

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

    def decide(self, model: str, *, arrival: float, slo: float, now: float | None = None,
               request: int | None = None) -> Decision:
        """Choose a group for a request and reserve its stages; ``now`` defaults to arrival.

        With batching the request joins the chosen group's queue instead (the group whose
        estimate behind its queue finishes earliest), unless even an empty queue would not
        let it meet its deadline.

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
        request : int, optional
            The request's id; required with batching (batches are lists of ids).

        Returns
        -------
        Decision
            The group and predicted times, or ``DROPPED``.

        Raises
        ------
        SimulationError
            With batching, when ``request`` is missing.
        """
        groups = self._hosts.get(model)
        if not groups:
            return Decision(status=RequestStatus.UNSERVED)
        t = arrival if now is None else max(arrival, now)
        if self.batching:
            if request is None:
                raise SimulationError("with batching, decide() needs the request's id")
            return self._enqueue(model, groups, t, arrival + slo, request)
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

    def _enqueue(self, model: str, groups: list[int], t: float, deadline: float,
                 request: int) -> Decision:
        with self._lock:
            best, estimate = groups[0], np.inf
            for g in groups:  # the routing estimate: behind the queue's batch-1 work
                free = self._free[g]
                e = commit_exit(free, self._latencies[(g, model)],
                                max(t, free[0]) + self._work[g])
                if e < estimate:
                    best, estimate = g, e
            lat = self._latencies[(best, model)]
            optimistic = commit_exit(self._free[best], lat, t) + self._overhead
            if optimistic > deadline + _EPS:
                return Decision(status=RequestStatus.DROPPED, group=best,
                                predicted_finish=optimistic)
            self._queue[best].append((request, model, deadline))
            self._work[best] += lat[0]
            return Decision(status=RequestStatus.SERVED, group=best,
                            predicted_finish=estimate + self._overhead, queued=True)

    def _dequeue(self, g: int, items: list[tuple[int, str, float]]) -> None:
        queue = self._queue[g]
        for item in items:
            queue.remove(item)
            self._work[g] -= self._latencies[(g, item[1])][0]
        if not queue:
            self._work[g] = 0.0

    def form_batch(self, group: int, t: float) -> Formation:
        """Stage 0 of ``group`` is free at ``t``: form the next batch from its queue.

        The head is the oldest queued request; the candidates are the queued requests of
        its model, oldest first. The largest batch size with enough candidates whose
        predicted finish meets the earliest deadline among them wins and is committed to
        the group's stages at ``t``; when no size fits, the head is dropped and the next
        head tried.

        Parameters
        ----------
        group : int
            The group whose stage 0 is free.
        t : float
            The time, in seconds.

        Returns
        -------
        Formation
            The batch (possibly empty) and the requests dropped before it.
        """
        dropped: list[int] = []
        with self._lock:
            queue, free = self._queue[group], self._free[group]
            while queue:
                model = queue[0][1]
                same = [item for item in queue if item[1] == model]
                for b, lat in reversed(self._sizes[(group, model)]):
                    if b > len(same):
                        continue
                    finish = commit_exit(free, lat, t) + self._overhead
                    if finish <= min(item[2] for item in same[:b]) + _EPS:
                        members = same[:b]
                        self._dequeue(group, members)
                        starts = commit(free, lat, t)
                        return Formation(group=group, time=t, model=model,
                                         members=tuple(item[0] for item in members),
                                         dropped=tuple(dropped), predicted_start=starts[0],
                                         predicted_finish=finish)
                dropped.append(queue[0][0])
                self._dequeue(group, [queue[0]])
        return Formation(group=group, time=t, model=None, members=(), dropped=tuple(dropped))

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
