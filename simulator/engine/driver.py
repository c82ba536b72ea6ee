"""The fast engine: array setup around the kernels of :mod:`simulator.engine.kernels`."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from alpaserve.errors import SimulationError
from simulator.engine import kernels as fast
from simulator.engine import parallel as fast_parallel
from simulator.engine.parallel import run_time_parallel, span_bounds
from simulator.engine.percentiles import percentiles_in_place, percentiles_of
from simulator.engine.record import record_run, recordable
from simulator.options import SimulationOptions
from simulator.prepared import PreparedWorkload
from simulator.result import UNSERVED, AttainmentSummary, SimResult, Summary, stats_window
from simulator.semantics import POLICY_CODES, PlacementTables

logger = logging.getLogger(__name__)


def _window(prepared: PreparedWorkload, options: SimulationOptions
            ) -> tuple[int, int, bool, float, float]:
    """(i0, i1, clip, lo, hi): the measured index range and the busy-time clip window."""
    if options.warmup == 0 and options.cooldown == 0:
        return 0, len(prepared), False, 0.0, 0.0
    (lo, hi), (i0, i1) = stats_window(prepared.arrival, prepared.arrival,
                                      warmup=options.warmup, cooldown=options.cooldown,
                                      trim=options.trim)
    return i0, i1, True, lo, hi


def _threads(options: SimulationOptions) -> int:
    return options.threads or os.cpu_count() or 1


def _run(prepared: PreparedWorkload, tables: PlacementTables, options: SimulationOptions,
         record: bool, kernels: Any = None) -> dict[str, Any]:
    n, G, M = len(prepared), tables.num_groups, len(prepared.model_names)
    i0, i1, clip, lo, hi = _window(prepared, options)
    F = np.full((G, tables.max_stages), -np.inf)
    out: dict[str, Any] = {
        "good_pm": np.zeros(M, dtype=np.int64),
        "count_pm": np.zeros(M, dtype=np.int64),
        "busy": np.zeros(G),
        "window": (i0, i1),
        "stats": None,  # (served, dropped, unserved, latency sum, max finish) when known
    }
    size = n if record else 0
    out["start"] = np.empty(size)
    out["finish"] = np.empty(size)
    out["group"] = np.empty(size, dtype=np.int32)
    out["status"] = np.empty(size, dtype=np.int8)
    out["batch"] = np.empty(size, dtype=np.int32)
    out["latency"] = np.empty(i1 - i0 if record else 0)
    rec_stages = record and options.record_stages
    out["stage_start"] = (np.full((n, tables.max_stages), np.nan) if rec_stages
                          else np.empty((0, tables.max_stages)))
    if kernels:
        pipeline, batching = kernels[:2]
    else:
        pipeline, batching = fast.pipeline_kernel, fast.batching_kernel
        if tables.max_stages <= fast.MAX_FIXED_STAGES:
            pipeline = fast.pipeline_kernels[tables.max_stages - 1]
    policy = POLICY_CODES[options.policy]
    if M == 0 or G == 0:
        out["status"][:] = UNSERVED
        out["group"][:] = -1
        out["start"][:] = np.nan
        out["finish"][:] = np.nan
        out["batch"][:] = 0
        out["count_pm"][:] = np.bincount(prepared.model_codes[i0:i1], minlength=M)
    elif options.batching:
        gm_ptr, gm_models = tables.group_models
        batching(prepared.arrival, prepared.model_codes, prepared.deadline, tables.cand_ptr,
                 tables.cand_groups, tables.num_stages, tables.lat, tables.sizes,
                 tables.num_sizes, gm_ptr, gm_models, F, policy,
                 options.admission, options.request_overhead, record, out["start"],
                 out["finish"], out["group"], out["status"], out["batch"], out["stage_start"],
                 rec_stages, i0, i1, out["good_pm"], out["count_pm"], out["busy"], clip, lo, hi)
    else:
        cands, ncand = tables.padded_candidates
        lat1, latc = tables.batch1_latencies
        served_gm = np.zeros((G, M), dtype=np.int64)
        stats = np.zeros(5)
        pipeline(prepared.arrival, prepared.model_codes, prepared.deadline, cands, ncand,
                 tables.num_stages, lat1, latc, F, policy, options.admission,
                 options.request_overhead, record,
                 out["start"], out["finish"], out["group"], out["status"], out["batch"],
                 out["stage_start"], rec_stages, i0, i1, out["good_pm"], out["count_pm"],
                 out["busy"], served_gm, clip, lo, hi, out["latency"], stats)
        if record:
            out["stats"] = stats
        if not clip:
            out["busy"] = (served_gm * lat1.sum(axis=2)).sum(axis=1)
    return out


def run_fast(prepared: PreparedWorkload, tables: PlacementTables, options: SimulationOptions,
             *, kernels: Any = None) -> SimResult:
    """Simulate with the compiled kernels.

    Runs without batching or stage starts, under earliest-finish or AlpaServe's rule, take
    the recording kernels of :mod:`simulator.engine.record` (earliest-finish runs without
    trimming time-parallel on ``options.threads``); the rest take the general kernels.

    Parameters
    ----------
    prepared : PreparedWorkload
        The requests, encoded once.
    tables : PlacementTables
        The placement compiled for ``prepared`` with ``options``' batch limit and inflation.
    options : SimulationOptions
        How the run goes (``engine`` is not read).
    kernels : tuple of callables, optional
        Replaces the general ``(pipeline, batching, summary)`` kernels, e.g. with their
        ``py_func`` to run the uncompiled code; the recording kernels are then not used.

    Returns
    -------
    SimResult
        Every request's outcome (``engine="fast"``), identical to the reference engine's.

    Examples
    --------
    >>> from simulator._examples import tiny_placement
    >>> from simulator.prepared import prepare
    >>> from simulator.semantics import compile_placement
    >>> from workloads.workload import Workload
    >>> p, db = tiny_placement()
    >>> w = prepare(Workload.from_arrays(arrival=[0.0, 0.05, 0.1], model="bert-1.3b"),
    ...             slo=0.25)
    >>> t = compile_placement(p, db, w.model_names)
    >>> run_fast(w, t, SimulationOptions()).finish.round(2).tolist()
    [0.1, 0.2, 0.3]
    >>> t2 = compile_placement(p, db, w.model_names, max_batch=2)
    >>> r = run_fast(w, t2, SimulationOptions(max_batch=2))
    >>> r.batch_size.tolist(), r.finish.tolist()
    ([1, 2, 2], [0.1, 0.25, 0.25])
    """
    M = len(prepared.model_names)
    if not kernels and recordable(tables, M, options):
        rec = record_run(prepared, tables, options, threads=_threads(options),
                         window=_window(prepared, options))
        return SimResult.from_outcomes(
            model_names=prepared.model_names, group_names=tables.group_names,
            arrival=prepared.arrival, model_codes=prepared.model_codes,
            slo=prepared.request_slo, slo_of_model=prepared.slo_of_model,
            start=rec.start, finish=rec.finish, group=rec.group, status=rec.status,
            group_busy_seconds=rec.busy, group_num_stages=tables.num_stages.tolist(),
            warmup=options.warmup, cooldown=options.cooldown, trim=options.trim,
            engine="fast",
            summary=rec.summary, copy=False)
    out = _run(prepared, tables, options, record=True, kernels=kernels)
    i0, i1 = out["window"]
    lat_buf = out["latency"]
    if out["stats"] is not None:  # the pipeline kernel counted on the way
        served, dropped, unserved, total, max_finish = out["stats"].tolist()
        served, dropped, unserved = int(served), int(dropped), int(unserved)
        req_pm, good_pm = out["count_pm"], out["good_pm"]
    else:
        summary_kernel = kernels[2] if kernels else fast.summary_kernel
        req_pm, good_pm = np.zeros(M, dtype=np.int64), np.zeros(M, dtype=np.int64)
        served, dropped, unserved, total, _, max_finish = summary_kernel(
            prepared.arrival, prepared.model_codes, prepared.deadline, out["finish"],
            out["status"], i0, i1, req_pm, good_pm, lat_buf, out["group"],
            np.zeros((0, 0), dtype=np.int64))
    percentiles = percentiles_of if fast.HAVE_NUMBA and not kernels else percentiles_in_place
    summary = Summary(requests_per_model=req_pm, good_per_model=good_pm, num_served=served,
                      num_dropped=dropped, num_unserved=unserved,
                      latency_mean=total / served if served else math.nan,
                      latency_percentiles=percentiles(  # type: ignore[arg-type]
                          lat_buf[:served]),
                      max_finish=max_finish)
    return SimResult.from_outcomes(
        model_names=prepared.model_names, group_names=tables.group_names,
        arrival=prepared.arrival, model_codes=prepared.model_codes,
        slo=prepared.request_slo, slo_of_model=prepared.slo_of_model,
        start=out["start"], finish=out["finish"], group=out["group"], status=out["status"],
        batch_size=out["batch"],
        stage_start=out["stage_start"] if options.record_stages else None,
        group_busy_seconds=out["busy"], group_num_stages=tables.num_stages.tolist(),
        warmup=options.warmup, cooldown=options.cooldown, trim=options.trim,
            engine="fast", summary=summary,
        copy=False)


def _specialised(tables: PlacementTables, num_models: int,
                 options: SimulationOptions) -> bool:
    """Whether the per-stage-count attainment kernel applies (else the general kernels).

    Parameters
    ----------
    tables : PlacementTables
        The compiled placement.
    num_models : int
        Models in the workload.
    options : SimulationOptions
        The run's options.

    Returns
    -------
    bool
        True for earliest-finish runs without batching, with numba, at least one group and
        model, and at most :data:`~simulator.engine.kernels.MAX_FIXED_STAGES` stages.
    """
    return (fast.HAVE_NUMBA and not options.batching and options.policy == "earliest-finish"
            and tables.num_groups > 0 and num_models > 0
            and tables.max_stages <= fast.MAX_FIXED_STAGES)


#: Placements interleaved in one pass of the attainment kernel: past about 4 the processor
#: has enough independent chains; 8 leaves room for wide candidate lists.
MAX_INTERLEAVED = 8


def batch_plan(tables: Sequence[PlacementTables], num_models: int,
               options: SimulationOptions, *, workers: int = 1) -> list[list[int]]:
    """Split placements (by index) into batches for :func:`attainment_batch`.

    Placements the specialised kernel takes are grouped by stage count into batches of at
    most :data:`MAX_INTERLEAVED`, small enough that there are at least ``workers`` batches
    when there are that many placements; every other placement is a batch of its own.

    Parameters
    ----------
    tables : Sequence[PlacementTables]
        The compiled placements.
    num_models : int
        Models in the workload.
    options : SimulationOptions
        The runs' options (they decide which kernel each placement takes).
    workers : int, default 1
        Threads that will run the batches.

    Returns
    -------
    list of list of int
        Batches of indices into ``tables``; every index appears in exactly one batch.

    Examples
    --------
    >>> from simulator._examples import tiny_placement
    >>> from simulator.semantics import compile_placement
    >>> p, db = tiny_placement()
    >>> t = compile_placement(p, db, ["bert-1.3b"])
    >>> batch_plan([t, t, t], 1, SimulationOptions(), workers=2)
    [[0, 1], [2]]
    """
    by_stages: dict[int, list[int]] = {}
    plan: list[list[int]] = []
    for index, t in enumerate(tables):
        if _specialised(t, num_models, options):
            by_stages.setdefault(t.max_stages, []).append(index)
        else:
            plan.append([index])
    size = max(1, min(MAX_INTERLEAVED, -(-len(tables) // max(1, workers))))
    for indices in by_stages.values():
        plan.extend(indices[k:k + size] for k in range(0, len(indices), size))
    return plan


def attainment_batch(prepared: PreparedWorkload, tables: Sequence[PlacementTables],
                     options: SimulationOptions, *, threads: int = 1
                     ) -> list[AttainmentSummary]:
    """:func:`attainment_fast` of each placement, in one interleaved pass where possible.

    The placements must all take the specialised kernel with the same stage count (as
    :func:`batch_plan` groups them), or be a single placement of any kind. With
    ``threads > 1`` a long workload is also cut into time-parallel spans
    (:mod:`simulator.engine.parallel`); the counts are exact either way.

    Parameters
    ----------
    prepared : PreparedWorkload
        The requests, encoded once.
    tables : Sequence[PlacementTables]
        The placements, compiled for ``prepared`` and ``options``.
    options : SimulationOptions
        The runs' options.
    threads : int, default 1
        Threads for the time-parallel spans of one pass.

    Returns
    -------
    list of AttainmentSummary
        Per placement, in order: per-model good and measured counts.

    Raises
    ------
    SimulationError
        If several placements are given that do not all take the specialised kernel with
        one stage count.

    Examples
    --------
    >>> from simulator._examples import tiny_placement
    >>> from simulator.prepared import prepare
    >>> from simulator.semantics import compile_placement
    >>> from workloads.workload import Workload
    >>> p, db = tiny_placement()
    >>> w = prepare(Workload.from_arrays(arrival=[0.0, 0.05, 0.1], model="bert-1.3b"),
    ...             slo=0.25)
    >>> t = compile_placement(p, db, w.model_names)
    >>> [s.good_per_model.tolist() for s in attainment_batch(w, [t, t], SimulationOptions())]
    [[3], [3]]
    """
    M = len(prepared.model_names)
    if not tables:
        return []
    if len(tables) == 1 and not _specialised(tables[0], M, options):
        out = _run(prepared, tables[0], options, record=False)
        return [AttainmentSummary(model_names=prepared.model_names,
                                  requests_per_model=out["count_pm"],
                                  good_per_model=out["good_pm"])]
    stages = {t.max_stages for t in tables}
    if len(stages) != 1 or not all(_specialised(t, M, options) for t in tables):
        raise SimulationError("attainment_batch needs placements of one stage count that "
                              f"the specialised kernel takes; got stage counts {sorted(stages)}")
    smax = stages.pop()
    P = len(tables)
    padded = [t.padded_candidates for t in tables]
    width = max(c.shape[1] for c, _ in padded)
    cands = np.empty((M, P, width), dtype=np.int64)
    ncand = np.empty((M, P), dtype=np.int64)
    latc = np.empty((M, P, width, smax))
    rows = np.arange(M)[:, None]
    for p, (t, (c, nc)) in enumerate(zip(tables, padded, strict=True)):
        # widen with each model's first host: re-evaluating it never changes the choice
        c = np.concatenate([c, np.repeat(c[:, :1], width - c.shape[1], axis=1)], axis=1)
        cands[:, p, :] = c
        ncand[:, p] = nc
        latc[:, p] = t.lat[c, rows, 0, :]
    i0, i1, _, _, _ = _window(prepared, options)
    bounds = span_bounds(len(prepared), threads)
    spans = len(bounds) - 1
    # per span: its speculative good counts and their checkpoints, and its repair's counts
    good = [np.zeros((M, P), dtype=np.int64) for _ in range(spans)]
    snap_good = [np.empty((0, M, P), dtype=np.int64) for _ in range(spans)]
    repaired = [np.zeros((M, P), dtype=np.int64) for _ in range(spans)]
    counts = [np.zeros(M, dtype=np.int64) for _ in range(spans)]

    def run_span(span: int, begin: int, end: int, state: np.ndarray, snap_out: np.ndarray,
                 couple: np.ndarray, stride: int) -> int:
        repair = couple.shape[0] > 0
        if not repair:
            snap_good[span] = np.empty((snap_out.shape[0], M, P), dtype=np.int64)
        return int(fast.attainment_kernels[smax - 1](
            prepared.arrival[begin:end], prepared.model_codes[begin:end],
            deadline[begin:end], slo_pm, cands, ncand, latc, state, options.admission,
            options.request_overhead, i0 - begin, i1 - begin,
            repaired[span] if repair else good[span],
            np.zeros(M, dtype=np.int64) if repair else counts[span], stride, snap_out,
            snap_good[span], couple))

    # per-model SLOs: the kernel forms deadlines on the fly (an empty array stays empty)
    deadline, slo_pm = prepared.kernel_deadlines()
    stride = fast_parallel.CHECKPOINT_STRIDE
    reran = run_time_parallel(bounds, (P, max(t.num_groups for t in tables), smax), run_span,
                              stride=stride)
    good_pm, count_pm = good[0], np.sum(counts, axis=0)
    for span in range(1, spans):
        if reran[span] == bounds[span + 1] - bounds[span]:  # the repair redid it all
            good_pm = good_pm + repaired[span]
        else:  # the repair's prefix, then the speculative run from where they coincide
            good_pm = good_pm + repaired[span] + good[span] - \
                snap_good[span][reran[span] // stride]
    if spans > 1:
        logger.debug("attainment: %d spans on threads, repairs reran %s requests", spans,
                     reran)
    return [AttainmentSummary(model_names=prepared.model_names,
                              requests_per_model=count_pm.copy(),
                              good_per_model=np.ascontiguousarray(good_pm[:, p]))
            for p in range(P)]


def attainment_fast(prepared: PreparedWorkload, tables: PlacementTables,
                    options: SimulationOptions) -> AttainmentSummary:
    """Per-model good and measured counts only: no per-request arrays are written.

    Earliest-finish without batching runs a kernel specialised to the stage count (see
    :func:`simulator.engine.kernels._make_attainment_kernel`), on ``options.threads`` threads;
    other cases use the general kernels.

    Parameters
    ----------
    prepared : PreparedWorkload
        The requests, encoded once.
    tables : PlacementTables
        The placement, compiled for ``prepared`` and ``options``.
    options : SimulationOptions
        The run's options.

    Returns
    -------
    AttainmentSummary
        Per-model good and measured counts, equal to those :func:`run_fast` reports.

    Examples
    --------
    >>> from simulator._examples import tiny_placement
    >>> from simulator.prepared import prepare
    >>> from simulator.semantics import compile_placement
    >>> from workloads.workload import Workload
    >>> p, db = tiny_placement()
    >>> w = prepare(Workload.from_arrays(arrival=[0.0, 0.05, 0.1], model="bert-1.3b"),
    ...             slo=0.25)
    >>> t = compile_placement(p, db, w.model_names)
    >>> attainment_fast(w, t, SimulationOptions()).attainment
    1.0
    """
    return attainment_batch(prepared, [tables], options, threads=_threads(options))[0]


def warm_up(stage_counts: Sequence[int] = (1,)) -> float:
    """Compile (or load from cache) the kernels for these stage counts.

    Parameters
    ----------
    stage_counts : Sequence[int], default (1,)
        Pipeline stage counts to compile the kernels for (each >= 1).

    Returns
    -------
    float
        Wall-clock seconds spent.

    Examples
    --------
    >>> warm_up((1, 2)) >= 0.0
    True
    """
    from alpaserve.cluster_spec import Mesh, homogeneous_cluster
    from alpaserve.model_spec import ModelSpec
    from alpaserve.parallel_config import ParallelConfig
    from alpaserve.placement_spec import Group, Placement
    from alpaserve.profiles import ProfileDB, ProfileEntry
    from simulator.prepared import prepare
    from simulator.semantics import compile_placement
    from workloads.workload import Workload

    begin = time.perf_counter()
    spec = ModelSpec(name="m", family="bert", num_layers=8, hidden_size=64, num_heads=4,
                     ffn_size=256, vocab_size=100, seq_len=8)
    prepared = prepare(Workload.from_arrays(arrival=[0.0, 0.001], model="m"), slo=1.0)
    for stages in stage_counts:
        config = ParallelConfig.uniform(num_layers=8, pipeline_degree=stages)
        group = Group(name="g", stage_meshes=tuple(Mesh(device_ids=(k,)) for k in range(stages)),
                      models={"m": config})
        placement = Placement(cluster=homogeneous_cluster(stages), models={"m": spec},
                              groups=(group,))
        db = ProfileDB(ProfileEntry(model="m", config=config, batch_size=b,
                                    stage_latencies=(0.01 * b,) * stages,
                                    stage_weight_bytes=(0,) * stages,
                                    stage_peak_memory_bytes=(0,) * stages, source="analytic")
                       for b in (1, 2))
        for max_batch in (1, 2):
            tables = compile_placement(placement, db, prepared.model_names, max_batch=max_batch)
            options = SimulationOptions(max_batch=max_batch)
            run_fast(prepared, tables, options)
            attainment_fast(prepared, tables, options)
    return time.perf_counter() - begin
