"""What the simulator computes. Both engines implement exactly these rules.

Inputs
------
A :class:`~alpaserve.placement_spec.Placement` (groups, each a pipeline of ``S_g`` stages
hosting some models under a :class:`~alpaserve.parallel_config.ParallelConfig`), a
:class:`~alpaserve.profiles.ProfileDB` and a :class:`~workloads.workload.Workload` whose
requests carry an SLO (the ``slo`` column, else a scalar or per-model default).

Latencies
---------
``L[g][m][b][k]``, the time stage ``k`` of group ``g`` takes for a batch of ``b`` requests of
model ``m``, is the profiled stage latency times ``1 + stage_inflation * S_g``. A request's
*finish* is the time it leaves the last stage (its *exit*) plus ``request_overhead``; the
overhead occupies no stage. A request meets its SLO when ``finish <= arrival + slo``.

Order of events
---------------
Requests are taken in arrival order; requests with equal arrival times keep their workload
order (their index is the sequence number that breaks every tie). At one instant, stage
completions come first, then arrivals (in index order), then batch formations (group by
group). Group ties in dispatch go to the lower group index (placement order).

Execution
---------
Each group runs its requests first come, first served across all the models it hosts. A
request (or batch) occupies stage 0, then stage 1, and so on; a stage serves one request or
batch at a time; the next one enters stage 0 as soon as stage 0 is free; one that finishes a
stage while the next is busy waits in an unbounded FIFO buffer. Because every stage is FIFO
and latencies are positive, the order is the same at every stage, and a group's state is
fully described by ``F[g][k]``, the time its stage ``k`` finishes the work committed so far
(initially ``-inf``). Committing a request (or batch) that may enter stage 0 at ``t`` gives::

    e[-1] = t;  e[k] = max(e[k-1], F[g][k]) + L[g][m][b][k];  F[g][k] = e[k]

with stage ``k`` starting at ``max(e[k-1], F[g][k])``. This is exact, so predictions are exact.

Requests for a model that no group hosts are UNSERVED (group -1). Nothing is lost silently.

Without batching (``max_batch == 1``)
-------------------------------------
A request arriving at ``t`` is committed at ``t`` to one group hosting its model:

* ``earliest-finish``: the group with the smallest predicted exit (recurrence above);
* ``least-outstanding``: the group with the fewest outstanding requests, i.e. requests
  committed to it whose exit is later than ``t``;
* ``alpaserve``: the group whose last stage frees earliest (smallest ``F[g][S_g - 1]``).

With admission on, a request whose predicted finish on the chosen group exceeds
``arrival + slo`` is DROPPED at once (its group is recorded; it uses no resources). Otherwise
it is SERVED: it runs even when late. Its *start* is when it enters stage 0.

With batching (``max_batch > 1``)
---------------------------------
A group keeps a FIFO queue of dispatched requests that have not entered stage 0. The batch
sizes of ``(g, m)`` are the profiled sizes up to ``max_batch`` (size 1 must be profiled).

* Dispatch at ``t`` uses the routing estimate: the recurrence for the request alone, entering
  stage 0 at ``max(t, F[g][0]) + W[g]``, where ``W[g]`` is the batch-1 stage-0 latency summed
  over the queue (``W`` grows on enqueue and shrinks on dequeue in that order, and is reset to
  0 when the queue empties). ``earliest-finish`` minimises that estimate;
  ``least-outstanding`` counts queued requests plus committed ones whose exit is later than
  ``t``; ``alpaserve`` uses ``F[g][S_g - 1]`` as without batching.
* Admission at dispatch (when on) drops the request if even the optimistic estimate, the same
  recurrence with ``W[g] = 0``, misses its deadline; otherwise it joins the queue.
* A batch is formed at the first instant ``t`` when the queue is non-empty and stage 0 is free
  (``F[g][0] <= t``), after that instant's arrivals. The head is the oldest queued request;
  the candidates are the queued requests of its model, oldest first. For each batch size
  ``b`` from the largest down, if ``b`` candidates exist and the batch's predicted finish is
  within the earliest deadline among the first ``b`` candidates, those ``b`` start at ``t``.
  If no size fits, admission on drops the head and forms again at ``t``; admission off runs
  the largest available size anyway (the head is late regardless).

FCFS across models therefore holds only without batching.

Statistics
----------
See :mod:`simulator.result`. A stage's busy time is the sum of its latencies, clipped to the
statistics window when trimming.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alpaserve.errors import ProfileError, SimulationError
from alpaserve.placement_spec import Placement
from alpaserve.profiles import ProfileDB

POLICY_CODES = {"earliest-finish": 0, "least-outstanding": 1, "alpaserve": 2}


@dataclass(frozen=True, kw_only=True, eq=False)
class PlacementTables:
    """A placement compiled against a workload's model list: everything an engine reads.

    ``lat[g, m, j, k]`` is the inflated stage-``k`` latency of batch size ``sizes[g, m, j]``
    (``j < num_sizes[g, m]``, sizes ascending, ``sizes[g, m, 0] == 1``); unhosted pairs have
    ``num_sizes == 0``. ``cand_groups[cand_ptr[m]:cand_ptr[m + 1]]`` are the groups hosting
    model ``m`` in ascending order. Build one with :func:`compile_placement`.

    Parameters
    ----------
    group_names : tuple of str
        The placement's groups, in its order (index ``g``).
    model_names : tuple of str
        The workload's models (index ``m``), hosted or not.
    num_stages : numpy.ndarray of int64, shape (G,)
        Pipeline stages of each group.
    lat : numpy.ndarray of float64, shape (G, M, B, S)
        Stage latencies in seconds, already multiplied by ``1 + stage_inflation * S_g``;
        ``S`` is the largest stage count, ``B`` the most batch sizes of any pair.
    sizes : numpy.ndarray of int64, shape (G, M, B)
        The batch size of each row of ``lat``.
    num_sizes : numpy.ndarray of int64, shape (G, M)
        Rows of ``lat`` in use per pair; 0 when group ``g`` does not host model ``m``.
    cand_ptr : numpy.ndarray of int64, shape (M + 1,)
        CSR offsets into ``cand_groups``.
    cand_groups : numpy.ndarray of int64
        The hosting groups of every model, concatenated.
    max_batch : int
        Largest batch size compiled in (>= 1).
    stage_inflation : float
        The inflation factor per stage applied to ``lat``.
    float32_latencies : bool, default False
        Whether ``lat`` holds float32-rounded latencies (AlpaServe's storage).

    Examples
    --------
    >>> from simulator._examples import tiny_placement
    >>> p, db = tiny_placement(stages=2)
    >>> t = compile_placement(p, db, ["bert-1.3b"], max_batch=2)
    >>> t.lat.shape, t.sizes.tolist(), t.num_sizes.tolist()
    ((1, 1, 2, 2), [[[1, 2]]], [[2]])
    """

    group_names: tuple[str, ...]
    model_names: tuple[str, ...]
    num_stages: npt.NDArray[np.int64]
    lat: npt.NDArray[np.float64]
    sizes: npt.NDArray[np.int64]
    num_sizes: npt.NDArray[np.int64]
    cand_ptr: npt.NDArray[np.int64]
    cand_groups: npt.NDArray[np.int64]
    max_batch: int
    stage_inflation: float
    float32_latencies: bool = False

    @property
    def group_models(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """CSR lists of the models each group hosts: ``(gm_ptr, gm_models)``."""
        hosted = self.num_sizes > 0
        ptr = np.zeros(self.num_groups + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(hosted.sum(axis=1))
        return ptr, np.nonzero(hosted)[1].astype(np.int64)

    @property
    def padded_candidates(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(cands, ncand)``: each model's hosts in a fixed-width row, padded with its first.

        Re-evaluating the first host never changes a strict-minimum choice, and a fixed
        width keeps the fast kernel's loops free of unpredictable exits.
        """
        ncand = np.diff(self.cand_ptr)
        width = max(int(ncand.max()) if ncand.size else 1, 1)
        cands = np.zeros((len(self.model_names), width), dtype=np.int64)
        for m in range(len(self.model_names)):
            hosts = self.cand_groups[self.cand_ptr[m]:self.cand_ptr[m + 1]]
            if hosts.size:
                cands[m, :] = hosts[0]
                cands[m, :hosts.size] = hosts
        return cands, ncand

    @property
    def batch1_latencies(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(lat1, latc)``, both contiguous: the batch-1 stage latencies ``lat1[g, m, k]``
        and the same per padded candidate, ``latc[m, c, k] = lat1[cands[m, c], m, k]``."""
        cands, _ = self.padded_candidates
        lat1 = np.ascontiguousarray(self.lat[:, :, 0, :])
        rows = np.arange(len(self.model_names))[:, None]
        return lat1, np.ascontiguousarray(lat1[cands, rows, :])

    @property
    def num_groups(self) -> int:
        """Number of groups, ``G``."""
        return len(self.group_names)

    @property
    def max_stages(self) -> int:
        """The largest stage count of any group (1 without groups)."""
        return int(self.num_stages.max()) if self.num_stages.size else 1


def compile_placement(placement: Placement, profiles: ProfileDB, model_names: Sequence[str],
                      *, max_batch: int = 1, stage_inflation: float = 0.0,
                      float32_latencies: bool = False) -> PlacementTables:
    """Look up every hosted (model, config) once and lay the latencies out as arrays.

    Parameters
    ----------
    placement : Placement
        The groups and the models each hosts.
    profiles : ProfileDB
        Stage latencies of every hosted (model, config) at batch size 1, and at the
        larger profiled batch sizes when ``max_batch > 1``.
    model_names : Sequence[str]
        The workload's models, in code order; hosted models not listed are skipped.
    max_batch : int, default 1
        Largest batch size to compile; profiled sizes above it are left out.
    stage_inflation : float, default 0.0
        Stage latencies of a group with ``S`` stages are multiplied by
        ``1 + stage_inflation * S``.
    float32_latencies : bool, default False
        Take each profiled latency as float32 and inflate it in float32
        (:func:`inflate_stage`), as AlpaServe's simulator stores and scales them.

    Returns
    -------
    PlacementTables
        The latency and candidate arrays every engine reads.

    Raises
    ------
    ProfileError
        When a hosted model or config has no profile.
    SimulationError
        When ``placement`` is not a :class:`Placement` or ``profiles`` not a
        :class:`ProfileDB`.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_presets import model_preset
    >>> from alpaserve.group_spec import Group
    >>> from alpaserve.profiles import ProfileEntry
    >>> bert = model_preset("bert-1.3b")
    >>> g = Group.uniform(name="g0", device_ids=[0, 1], pipeline_degree=2, models=[bert])
    >>> p = Placement(cluster=homogeneous_cluster(2), models={bert.name: bert}, groups=(g,))
    >>> db = ProfileDB([ProfileEntry(model=bert.name, config=g.models[bert.name],
    ...     batch_size=1, stage_latencies=(0.1, 0.1), stage_weight_bytes=(0, 0),
    ...     stage_peak_memory_bytes=(0, 0), source="analytic")])
    >>> t = compile_placement(p, db, [bert.name], stage_inflation=0.5)
    >>> t.lat[0, 0, 0].tolist(), t.cand_groups.tolist()
    ([0.2, 0.2], [0])
    """
    if not isinstance(placement, Placement):
        raise SimulationError(f"expected a Placement, got {placement!r}")
    if not isinstance(profiles, ProfileDB):
        raise SimulationError(f"expected a ProfileDB, got {profiles!r}")
    names = tuple(model_names)
    index = {m: i for i, m in enumerate(names)}
    groups = placement.groups
    num_stages = np.array([g.num_stages for g in groups], dtype=np.int64)
    smax = int(num_stages.max()) if len(groups) else 1
    profiled = profiles.models()
    per_pair: dict[tuple[int, int], list[tuple[int, tuple[float, ...]]]] = {}
    for gi, group in enumerate(groups):
        scale = 1.0 + stage_inflation * group.num_stages
        for model, config in group.models.items():
            if model not in profiled:
                raise ProfileError(f"group {group.name!r} hosts model {model!r}, which the "
                                   f"profile database does not know; profiled models: "
                                   f"{sorted(profiled)}")
            entry = profiles.get(model, config, 1)
            if model not in index:
                continue  # hosted but never requested
            rows = [(1, inflate_stage(entry.stage_latencies, scale, float32_latencies))]
            if max_batch > 1:
                rows += [(b, inflate_stage(profiles.get(model, config, b).stage_latencies,
                                           scale, float32_latencies))
                         for b in profiles.batch_sizes(model, config) if 1 < b <= max_batch]
            per_pair[gi, index[model]] = rows
    nb = max((len(r) for r in per_pair.values()), default=1)
    lat = np.zeros((len(groups), len(names), nb, smax))
    sizes = np.zeros((len(groups), len(names), nb), dtype=np.int64)
    num_sizes = np.zeros((len(groups), len(names)), dtype=np.int64)
    for (gi, mi), rows in per_pair.items():
        num_sizes[gi, mi] = len(rows)
        for j, (b, stage_lat) in enumerate(rows):
            sizes[gi, mi, j] = b
            lat[gi, mi, j, :len(stage_lat)] = stage_lat
    hosts = [[gi for gi in range(len(groups)) if num_sizes[gi, mi]] for mi in range(len(names))]
    cand_ptr = np.zeros(len(names) + 1, dtype=np.int64)
    cand_ptr[1:] = np.cumsum([len(h) for h in hosts])
    cand_groups = np.array([gi for h in hosts for gi in h], dtype=np.int64)
    return PlacementTables(group_names=tuple(g.name for g in groups), model_names=names,
                           num_stages=num_stages, lat=lat, sizes=sizes, num_sizes=num_sizes,
                           cand_ptr=cand_ptr, cand_groups=cand_groups, max_batch=max_batch,
                           stage_inflation=stage_inflation,
                           float32_latencies=float32_latencies)


def inflate_stage(latencies: Sequence[float], scale: float, float32: bool = False
                  ) -> tuple[float, ...]:
    """Stage latencies times ``scale``; in float32 arithmetic when ``float32``.

    Parameters
    ----------
    latencies
        Profiled stage latencies.
    scale
        ``1 + stage_inflation * stages``.
    float32
        Round each latency to float32 and multiply in float32 (AlpaServe's arrays).

    Returns
    -------
    tuple of float
        The inflated latencies.

    Examples
    --------
    >>> inflate_stage((0.1,), 1.5)
    (0.15000000000000002,)
    >>> inflate_stage((0.1,), 1.5, float32=True) == (float(np.float32(0.15)),)
    True
    """
    if float32:
        return tuple(float(x) for x in np.asarray(latencies, dtype=np.float32)
                     * np.float32(scale))
    return tuple(x * scale for x in latencies)


def commit_exit(free: list[float], stage_lat: Sequence[float], t: float) -> float:
    """The exit time of work entering stage 0 at ``t`` (the recurrence; ``free`` is kept).

    Parameters
    ----------
    free : list of float
        Per stage of the group: the time in seconds it is next free (``F[g][k]``).
    stage_lat : Sequence[float]
        Per stage: the work's latency in seconds (at least ``len(free)`` values).
    t : float
        Time in seconds the work is ready to enter stage 0.

    Returns
    -------
    float
        The time in seconds the work leaves the last stage.

    Examples
    --------
    >>> commit_exit([0.0, 5.0], [1.0, 1.0], 2.0)
    6.0
    """
    e = t
    for k in range(len(free)):
        e = max(e, free[k]) + stage_lat[k]
    return e


def commit(free: list[float], stage_lat: Sequence[float], t: float) -> list[float]:
    """Commit work entering stage 0 at ``t``: update ``free`` and return each stage's start.

    Parameters
    ----------
    free : list of float
        Per stage: the time in seconds it is next free; updated in place to the time the
        work leaves each stage.
    stage_lat : Sequence[float]
        Per stage: the work's latency in seconds.
    t : float
        Time in seconds the work is ready to enter stage 0.

    Returns
    -------
    list of float
        The start time in seconds of the work on each stage.

    Examples
    --------
    >>> free = [0.0, 5.0]
    >>> commit(free, [1.0, 1.0], 2.0), free
    ([2.0, 5.0], [3.0, 6.0])
    """
    starts = []
    e = t
    for k in range(len(free)):
        s = max(e, free[k])
        starts.append(s)
        e = s + stage_lat[k]
        free[k] = e
    return starts


NEG_INF = -math.inf
