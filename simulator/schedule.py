"""Time-varying placements: a :class:`PlacementSchedule` and :func:`simulate_schedule`.

A schedule is a list of windows ``(start, Placement)``; window ``w`` receives the requests
arriving in ``[start_w, start_{w+1})`` (the first window also those before it). The rules of
:mod:`simulator.semantics` apply, without batching, with these additions:

* **Groups persist by name.** A group keeps its stage state ``F[g][k]`` across windows, so
  requests committed in one window delay those of the next. A name must keep its stage
  meshes in every window that uses it.
* **Loading costs time.** A model that a group hosts in window ``w > 0`` but did not host in
  window ``w - 1`` is loaded from host memory at ``start_w``: it is ready at
  ``start_w + load_seconds`` with ``load_seconds = max over stages of the stage's weight
  bytes per device / cluster.host_to_device_bandwidth`` (every device loads its shard over
  its own link); the weight bytes are the profile entry's when the profile has one for the
  model and config, the analytic model's otherwise. Until then the group cannot serve that
  model: a request dispatched to it enters stage 0 no earlier than the ready time, and the
  dispatch rule and admission check see that. The group keeps serving its other models
  meanwhile. Models of the first window are loaded before serving starts.
* **Evictions drain.** A model removed at ``start_w`` takes no new requests; those already
  committed to it finish.

Dispatch is ``earliest-finish`` or ``alpaserve`` (the group whose last stage frees earliest,
ready time ignored, as the static rule ignores it). The loop below is written to be read;
``placement.evaluator`` runs the same rules compiled and is tested to agree with it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alpaserve.errors import SimulationError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.placement_spec import Placement
from alpaserve.profiles import ProfileDB
from simulator.options import SimulationOptions
from simulator.prepared import SloSpec, prepare
from simulator.result import DROPPED, SERVED, UNSERVED, SimResult
from simulator.semantics import inflate_stage
from workloads.workload import Workload


def load_seconds(model: ModelSpec, config: ParallelConfig, bandwidth: float,
                 profiles: ProfileDB | None = None) -> float:
    """Time to copy a replica's weights to its devices (each device over its own link).

    Parameters
    ----------
    model : ModelSpec
        The model whose weights are copied.
    config : ParallelConfig
        Its parallel configuration; the stage with the most weight bytes per device sets
        the time.
    bandwidth : float
        Host-to-device bandwidth of one device's link, in bytes per second (> 0).
    profiles : ProfileDB, optional
        Where the weights come from: the profile entry of ``(model, config)`` when there is
        one, the analytic model otherwise (and without ``profiles``).

    Returns
    -------
    float
        Seconds until every device of the replica holds its shard.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> bert = model_preset("bert-1.3b")
    >>> cfg = ParallelConfig.uniform(num_layers=24)
    >>> round(load_seconds(bert, cfg, 12e9), 3)
    0.22
    """
    db = profiles if profiles is not None else ProfileDB()
    return max(db.stage_weights(model, config)[0]) / bandwidth


@dataclass(frozen=True, kw_only=True)
class PlacementSchedule:
    """Windows ``(start_time, placement)`` with strictly increasing start times.

    Parameters
    ----------
    windows : tuple of (float, Placement)
        Start time in seconds and the placement serving from then on. At least one; start
        times finite and strictly increasing; a group name keeps its stage meshes in every
        window that uses it.

    Raises
    ------
    SimulationError
        If a rule above is broken or a window does not hold a :class:`Placement`.

    Examples
    --------
    >>> from alpaserve import Group, homogeneous_cluster, model_preset
    >>> bert = model_preset("bert-1.3b")
    >>> p = Placement(cluster=homogeneous_cluster(1), models={bert.name: bert},
    ...               groups=(Group.uniform(name="g0", device_ids=[0], pipeline_degree=1,
    ...                                     models=[bert]),))
    >>> PlacementSchedule(windows=((0.0, p), (60.0, p))).window_of(75.0)
    1
    """

    windows: tuple[tuple[float, Placement], ...]

    def __post_init__(self) -> None:
        windows = tuple((float(t), p) for t, p in self.windows)
        object.__setattr__(self, "windows", windows)
        if not windows:
            raise SimulationError("a PlacementSchedule needs at least one window")
        starts = [t for t, _ in windows]
        if any(not math.isfinite(t) for t in starts) or any(b <= a for a, b in
                                                            itertools.pairwise(starts)):
            raise SimulationError(f"window start times must be finite and increasing, "
                                  f"got {starts}")
        meshes: dict[str, object] = {}
        for _, p in windows:
            if not isinstance(p, Placement):
                raise SimulationError(f"schedule windows hold Placements, got {p!r}")
            for g in p.groups:
                if meshes.setdefault(g.name, g.stage_meshes) != g.stage_meshes:
                    raise SimulationError(f"group {g.name!r} changes its devices between "
                                          "windows; give the new layout another name")

    @property
    def starts(self) -> list[float]:
        """The windows' start times in seconds."""
        return [t for t, _ in self.windows]

    def window_of(self, time: float) -> int:
        """The window serving requests that arrive at ``time``.

        Parameters
        ----------
        time : float
            Arrival time in seconds; times before the first start belong to window 0.

        Returns
        -------
        int
            Index into ``windows``.

        Examples
        --------
        >>> from simulator._examples import tiny_placement
        >>> p, _ = tiny_placement()
        >>> s = PlacementSchedule(windows=((0.0, p), (60.0, p)))
        >>> s.window_of(-5.0), s.window_of(60.0)
        (0, 1)
        """
        return max(0, int(np.searchsorted(self.starts, time, side="right")) - 1)

    def group_names(self) -> list[str]:
        """Every group name of the schedule, each once.

        Returns
        -------
        list of str
            In order of first appearance; a group's index in the result is its index in
            the :class:`SimResult` of :func:`simulate_schedule`.

        Examples
        --------
        >>> from alpaserve import Group, homogeneous_cluster, model_preset
        >>> bert = model_preset("bert-1.3b")
        >>> def one(name):
        ...     return Placement(cluster=homogeneous_cluster(1), models={bert.name: bert},
        ...         groups=(Group.uniform(name=name, device_ids=[0], pipeline_degree=1,
        ...                               models=[bert]),))
        >>> PlacementSchedule(windows=((0.0, one("a")), (9.0, one("b")))).group_names()
        ['a', 'b']
        """
        names: list[str] = []
        for _, p in self.windows:
            names += [g.name for g in p.groups if g.name not in names]
        return names


def simulate_schedule(schedule: PlacementSchedule, profiles: ProfileDB, workload: Workload,
                      options: SimulationOptions | None = None, *,
                      slo: SloSpec = None) -> SimResult:
    """Serve ``workload`` on a time-varying placement (rules in the module docstring).

    Parameters
    ----------
    schedule : PlacementSchedule
        The placements and the times they take over.
    profiles : ProfileDB
        Stage latencies of every hosted model and parallel configuration.
    workload : Workload
        The requests; models no window hosts are unserved.
    options : SimulationOptions, optional
        ``max_batch`` must be 1 and ``policy`` ``"earliest-finish"`` or ``"alpaserve"``;
        ``engine`` and ``threads`` are ignored. Default: ``SimulationOptions()``.
    slo : float or Mapping[str, float], optional
        SLO in seconds (or per model) when the workload has no ``slo`` column.

    Returns
    -------
    SimResult
        Per-request outcomes with ``engine="schedule"``.

    Raises
    ------
    SimulationError
        For batching, another policy, or a missing or non-positive SLO.

    Examples
    --------
    >>> from simulator._examples import tiny_placement
    >>> p, db = tiny_placement()
    >>> w = Workload.from_arrays(arrival=[0.0, 0.05, 10.0], model="bert-1.3b")
    >>> r = simulate_schedule(schedule_from([p, p], [0.0, 5.0]), db, w, slo=0.5)
    >>> r.finish.tolist(), r.engine
    ([0.1, 0.2, 10.1], 'schedule')
    """
    opts = options or SimulationOptions()
    if opts.max_batch != 1:
        raise SimulationError("simulate_schedule does not batch; use max_batch=1")
    if opts.policy not in ("earliest-finish", "alpaserve"):
        raise SimulationError(f"simulate_schedule supports the earliest-finish and alpaserve "
                              f"policies, got {opts.policy!r}")
    prep = prepare(workload, slo)
    gnames = schedule.group_names()
    gindex = {n: i for i, n in enumerate(gnames)}
    stages = {}
    # per window, per model code: list of (group index, stage latencies, ready time)
    tables: list[dict[int, list[tuple[int, tuple[float, ...], float]]]] = []
    prev: set[tuple[str, str]] = set()
    for w, (start, p) in enumerate(schedule.windows):
        table: dict[int, list[tuple[int, tuple[float, ...], float]]] = {}
        now: set[tuple[str, str]] = set()
        for grp in p.groups:
            stages[grp.name] = grp.num_stages
            factor = 1.0 + opts.stage_inflation * grp.num_stages
            for model, config in grp.models.items():
                now.add((grp.name, model))
                if model not in prep.model_names:
                    continue
                lats = inflate_stage(profiles.stage_latencies(model, config, 1), factor,
                                     opts.float32_latencies)
                ready = -math.inf
                if w > 0 and (grp.name, model) not in prev:
                    ready = start + load_seconds(p.models[model], config,
                                                 p.cluster.host_to_device_bandwidth, profiles)
                code = prep.model_names.index(model)
                table.setdefault(code, []).append((gindex[grp.name], lats, ready))
        for reps in table.values():
            reps.sort(key=lambda r: r[0])
        tables.append(table)
        prev = now
    n = len(prep)
    free = [[-math.inf] * stages.get(name, 1) for name in gnames]
    status = np.full(n, UNSERVED, dtype=np.int8)
    start_t = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    group = np.full(n, -1, dtype=np.int32)
    busy = np.zeros(len(gnames))
    for i in range(n):
        a = float(prep.arrival[i])
        reps = tables[schedule.window_of(a)].get(int(prep.model_codes[i]), [])
        best = None
        for g, lats, ready in reps:
            t = max(a, ready)
            for k, lat in enumerate(lats):
                t = max(t, free[g][k]) + lat
            key = t if opts.policy == "earliest-finish" else free[g][-1]
            if best is None or key < best[0]:  # reps are in group order: ties keep the lower
                best = (key, t, g, lats, ready)
        if best is None:
            continue
        _, exit_t, g, lats, ready = best
        group[i] = g
        if opts.admission and exit_t + opts.request_overhead > prep.deadline[i]:
            status[i] = DROPPED
            continue
        t = max(a, ready)
        for k, lat in enumerate(lats):
            s = max(t, free[g][k])
            if k == 0:
                start_t[i] = s
            t = s + lat
            free[g][k] = t
        busy[g] += sum(lats)
        status[i] = SERVED
        finish[i] = t + opts.request_overhead
    return SimResult.from_outcomes(
        model_names=prep.model_names, group_names=gnames, arrival=prep.arrival,
        model_codes=prep.model_codes, slo=prep.request_slo,
        slo_of_model=prep.slo_of_model, start=start_t, finish=finish,
        group=group, status=status, group_busy_seconds=busy,
        group_num_stages=[stages.get(name, 1) for name in gnames],
        warmup=opts.warmup, cooldown=opts.cooldown, trim=opts.trim, engine="schedule")


def schedule_from(placements: Sequence[Placement], starts: Sequence[float]) -> PlacementSchedule:
    """Pair placements with their start times.

    Parameters
    ----------
    placements : Sequence[Placement]
        One placement per window.
    starts : Sequence[float]
        The windows' start times in seconds, strictly increasing, as many as placements.

    Returns
    -------
    PlacementSchedule
        The validated schedule.

    Raises
    ------
    SimulationError
        If the lengths differ or the schedule is invalid.

    Examples
    --------
    >>> from simulator._examples import tiny_placement
    >>> p, _ = tiny_placement()
    >>> schedule_from([p, p], [0.0, 30.0]).starts
    [0.0, 30.0]
    """
    if len(placements) != len(starts):
        raise SimulationError(f"{len(placements)} placements for {len(starts)} start times")
    return PlacementSchedule(windows=tuple(zip(starts, placements, strict=True)))
