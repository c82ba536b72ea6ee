"""The fast engine: array setup around the kernels of :mod:`simulator.engine.kernels`.

:func:`run_fast` runs one placement with per-request outcomes; the attainment-only runs are
:mod:`simulator.engine.attainment`'s (re-exported here).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.engine import kernels as fast
from simulator.engine.percentiles import percentiles_in_place, percentiles_of
from simulator.engine.record import record_run, recordable
from simulator.options import SimulationOptions
from simulator.prepared import PreparedWorkload
from simulator.result import UNSERVED, SimResult, Summary, stats_window
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
    from alpaserve.group_spec import Group
    from alpaserve.model_spec import ModelSpec
    from alpaserve.parallel_config import ParallelConfig
    from alpaserve.placement_spec import Placement
    from alpaserve.profiles import ProfileDB, ProfileEntry
    from simulator.engine.attainment import attainment_fast
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


# The attainment-only runs live in simulator.engine.attainment, which imports this module;
# they are re-exported here on first access, so either module can be imported first.
_ATTAINMENT_NAMES = frozenset({"MAX_INTERLEAVED", "attainment_batch", "attainment_fast",
                               "batch_plan"})


def __getattr__(name: str) -> Any:
    if name in _ATTAINMENT_NAMES:
        from simulator.engine import attainment

        return getattr(attainment, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
