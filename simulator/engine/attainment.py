"""Attainment-only runs of the fast engine: counts per model, no per-request arrays.

:func:`attainment_fast` scores one placement; :func:`attainment_batch` scores several in one
interleaved pass of the kernel specialised to their stage count, as :func:`batch_plan` groups
them (the placer's inner loop). Other cases fall back to :mod:`simulator.engine.driver`'s
general run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from alpaserve.errors import SimulationError
from simulator.engine import kernels as fast
from simulator.engine import parallel as fast_parallel
from simulator.engine.driver import _run, _threads, _window
from simulator.engine.parallel import run_time_parallel, span_bounds
from simulator.options import SimulationOptions
from simulator.prepared import PreparedWorkload
from simulator.result import AttainmentSummary
from simulator.semantics import PlacementTables

logger = logging.getLogger(__name__)


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
