"""The recording kernels of the common cases: no batching and no per-stage starts, under
earliest-finish dispatch or AlpaServe's rule, with or without trimming; one compiled per
stage count and case.

It makes the same decisions with the same float operations as
:func:`simulator.engine.kernels.pipeline_kernel` (the general kernel, which every other case
uses) and
writes the per-request outcomes a :class:`~simulator.result.SimResult` keeps. Dropping the
general kernel's per-request branches (policy, stage starts, batch sizes; the window and
clipping unless trimmed) and selecting the group without a branch makes it about 10%
faster, and deadlines may be formed on the fly from per-model SLOs, so that one end-to-end
run never writes a per-request deadline array.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.engine import parallel as fast_parallel
from simulator.engine.common import (
    DROPPED,
    HAVE_NUMBA,
    SERVED,
    UNSERVED,
    _checkpoint,
    _clipped,
    _equivalent,
    _njit,
)
from simulator.engine.parallel import (
    STAT_DROPPED,
    STAT_LATENCY_SUM,
    STAT_MAX_FINISH,
    STAT_MAX_LATENCY,
    STAT_MIN_LATENCY,
    STAT_SERVED,
    STAT_UNSERVED,
)
from simulator.engine.percentiles import served_percentiles
from simulator.engine.stats import served_sum_kernel, summary_kernel
from simulator.options import SimulationOptions
from simulator.prepared import PreparedWorkload
from simulator.result import Summary
from simulator.semantics import PlacementTables

logger = logging.getLogger(__name__)


def _make_record_kernel(smax: int) -> Any:
    """The recording kernel for groups of at most ``smax`` stages (a compile-time constant,
    so the recurrence unrolls)."""

    # nogil: the spans of a time-parallel run execute on threads at once
    @_njit(cache=True, boundscheck=False, nogil=True)
    def record_kernel(arrival: Any, codes: Any, deadline: Any, slo_pm: Any, cands: Any,
                      ncand: Any, latc: Any, nstages: Any, F: Any, admission: bool,
                      overhead: float,
                      out_start: Any, out_finish: Any, out_group: Any, out_status: Any,
                      count_pm: Any, good_pm: Any, served_gm: Any, i0: int, i1: int,
                      busy: Any, lo: float, hi: float, stats: Any, stride: int,
                      snap_out: Any, couple: Any, window: bool, alpaserve: bool) -> int:
        """Decide, time and record every request; returns where it stopped (``n``: the end).

        ``window`` measures only requests ``i0 <= i < i1`` and clips busy time to
        ``[lo, hi]``, as trimming asks; ``alpaserve`` dispatches by AlpaServe's rule instead
        of the earliest finish. (Flags rather than compiled variants: their branches are
        predicted every time, and each variant would take seconds to compile.)

        ``cands``, ``ncand``, ``latc`` and ``nstages`` are as in
        :func:`simulator.engine.kernels.pipeline_kernel`.
        The deadline of request ``i`` is ``deadline[i]``, or ``arrival[i] + slo_pm[m]`` when
        ``deadline`` is empty (the same addition :func:`~simulator.prepared.prepare` makes).
        ``count_pm``/``good_pm`` count measured requests per model (every request, unless
        ``window``), and ``stats`` becomes (served, dropped, unserved, latency sum left to
        right, min latency, max latency: over measured requests; max finish: over all
        served). Busy time: ``served_gm[g, m]`` counts the requests group ``g`` served, or,
        with ``window``, ``busy[g]`` sums its stage-seconds clipped to ``[lo, hi]``.

        Checkpoints: every ``stride`` requests (a power of two; 0: never)
        ``snap_out[j] = F`` when it has rows, and the run stops at the first checkpoint whose
        state is equivalent to ``couple[j]`` when that has rows.
        """
        n = arrival.shape[0]
        width = cands.shape[1]
        inline = deadline.shape[0] == 0
        E = np.empty((width, smax))
        n_served = 0
        n_dropped = 0
        n_unserved = 0
        lat_sum = 0.0
        max_finish = -np.inf
        lat_min = np.inf
        lat_max = -np.inf
        stop = n
        for i in range(n):
            if _checkpoint(i, stride):
                if snap_out.shape[0] > 0:
                    snap_out[i // stride] = F
                if couple.shape[0] > 0 and _equivalent(F, couple[i // stride], arrival[i]):
                    stop = i
                    break
            m = codes[i]
            measured = not window or i0 <= i < i1
            if measured:
                count_pm[m] += 1
            t = arrival[i]
            if ncand[m] == 0:
                out_status[i] = UNSERVED
                out_group[i] = -1
                out_start[i] = np.nan
                out_finish[i] = np.nan
                if measured:
                    n_unserved += 1
                continue
            dl = t + slo_pm[m] if inline else deadline[i]
            best = 0
            g = cands[m, 0]
            ex = np.inf
            if alpaserve:  # the host whose last stage frees first (ties: the lower group)
                key = F[g, nstages[g] - 1]
                for c in range(1, width):
                    h = cands[m, c]
                    f = F[h, nstages[h] - 1]
                    if f < key:
                        key = f
                        best = c
                        g = h
                e = t
                for k in range(smax):
                    e = max(e, F[g, k]) + latc[m, best, k]
                    E[best, k] = e
                ex = e
            else:
                # the recurrence is written out here as in the other kernels: as an inlined
                # helper it measured 2-4% slower on this, the hottest loop
                for c in range(width):
                    h = cands[m, c]
                    e = t
                    for k in range(smax):
                        e = max(e, F[h, k]) + latc[m, c, k]
                        E[c, k] = e
                    # strict improvement: ties keep the lower group
                    best = c if e < ex else best
                    g = h if e < ex else g
                    ex = min(e, ex)
            fin = ex + overhead
            out_group[i] = g
            if admission and fin > dl:
                out_status[i] = DROPPED
                out_start[i] = np.nan
                out_finish[i] = np.nan
                if measured:
                    n_dropped += 1
                continue
            out_start[i] = max(t, F[g, 0])
            if window:  # stage k runs from max(exit of stage k - 1, F[g, k]), clipped
                e = t
                for k in range(smax):
                    busy[g] += _clipped(max(e, F[g, k]), latc[m, best, k], True, lo, hi)
                    e = E[best, k]
            else:
                served_gm[g, m] += 1
            for k in range(smax):
                F[g, k] = E[best, k]
            out_status[i] = SERVED
            out_finish[i] = fin
            max_finish = max(max_finish, fin)
            if not measured:
                continue
            if fin <= dl:
                good_pm[m] += 1
            lat = fin - t
            lat_min = min(lat_min, lat)
            lat_max = max(lat_max, lat)
            lat_sum += lat
            n_served += 1
        stats[STAT_SERVED] = n_served
        stats[STAT_DROPPED] = n_dropped
        stats[STAT_UNSERVED] = n_unserved
        stats[STAT_LATENCY_SUM] = lat_sum
        stats[STAT_MAX_FINISH] = max_finish
        stats[STAT_MIN_LATENCY] = lat_min
        stats[STAT_MAX_LATENCY] = lat_max
        return stop

    return record_kernel


#: Most stages the recording kernels take (one lazily compiled kernel per stage count, as for
#: the attainment kernels).
MAX_RECORD_STAGES = 8
record_kernels = tuple(_make_record_kernel(s) for s in range(1, MAX_RECORD_STAGES + 1))


@dataclass(frozen=True, kw_only=True, eq=False)
class Recorded:
    """What :func:`record_run` produced: the per-request outcomes (full length), the
    statistics of every request and the busy stage-seconds per group.

    Parameters
    ----------
    start, finish : numpy.ndarray of float64, shape (n,)
        Per request: stage-0 start and finish in seconds (NaN unless served).
    group : numpy.ndarray of int32, shape (n,)
        Per request: the group it was dispatched to (-1 when unserved).
    status : numpy.ndarray of int8, shape (n,)
        Per request: ``SERVED``, ``DROPPED`` or ``UNSERVED``.
    summary : Summary
        The statistics over the measured requests.
    busy : numpy.ndarray of float64, shape (G,)
        Per group: stage-seconds executed (clipped to the window when trimming).

    Examples
    --------
    See :func:`record_run`.
    """

    start: np.ndarray
    finish: np.ndarray
    group: np.ndarray
    status: np.ndarray
    summary: Summary
    busy: np.ndarray


def recordable(tables: PlacementTables, num_models: int, options: SimulationOptions) -> bool:
    """Whether :func:`record_run` takes this run (else the general kernels do).

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
        True with numba, without batching or stage starts, under earliest-finish or
        AlpaServe's rule, with at least one group and model and at most
        :data:`MAX_RECORD_STAGES` stages.

    Examples
    --------
    >>> from simulator._examples import tiny_placement
    >>> from simulator.semantics import compile_placement
    >>> p, db = tiny_placement()
    >>> t = compile_placement(p, db, ["bert-1.3b"])
    >>> recordable(t, 1, SimulationOptions()) == HAVE_NUMBA
    True
    >>> recordable(t, 1, SimulationOptions(max_batch=2))
    False
    """
    return (HAVE_NUMBA and not options.batching and not options.record_stages
            and options.policy in ("earliest-finish", "alpaserve") and tables.num_groups > 0
            and num_models > 0 and tables.max_stages <= MAX_RECORD_STAGES)


def record_run(prepared: PreparedWorkload, tables: PlacementTables,
               options: SimulationOptions, *, threads: int,
               window: tuple[int, int, bool, float, float] | None = None) -> Recorded:
    """Simulate with :func:`record_kernel`, time-parallel on ``threads`` threads when the
    workload is long enough (:mod:`simulator.engine.parallel`); exact either way.

    ``window`` is ``(i0, i1, clip, lo, hi)``: with ``clip`` (trimming), only requests
    ``i0:i1`` are measured and busy time is clipped to ``[lo, hi]``. Such runs take one
    thread (clipped busy time is a float sum over every request in order), as do runs under
    AlpaServe's rule, whose decisions read the free times of idle groups, which the spans'
    equivalence test ignores.

    Parameters
    ----------
    prepared : PreparedWorkload
        The requests, encoded once.
    tables : PlacementTables
        The placement, compiled without batching; :func:`recordable` must hold.
    options : SimulationOptions
        The run's options (policy, admission, request overhead).
    threads : int
        Threads for the spans and the statistics' passes (>= 1).
    window : tuple, optional
        ``(i0, i1, clip, lo, hi)`` as above; default: every request measured, no clipping.

    Returns
    -------
    Recorded
        The per-request outcomes, their statistics and the busy time per group.

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
    >>> rec = record_run(w, t, SimulationOptions(), threads=1)
    >>> rec.status.tolist(), rec.summary.num_served, rec.busy.round(2).tolist()
    ([0, 0, 0], 3, [0.3])
    """
    i0, i1, clip, lo, hi = window or (0, len(prepared), False, 0.0, 0.0)
    n, G, M, S = len(prepared), tables.num_groups, len(prepared.model_names), tables.max_stages
    cands, ncand = tables.padded_candidates
    lat1, latc = tables.batch1_latencies
    alpaserve = options.policy == "alpaserve"
    kernel = record_kernels[S - 1]
    busy = np.zeros(G)
    arrival, codes = prepared.arrival, prepared.model_codes
    deadline, slo_pm = prepared.kernel_deadlines()
    outputs = (np.empty(n), np.empty(n), np.empty(n, dtype=np.int32),
               np.empty(n, dtype=np.int8))

    def run(begin: int, end: int, state: np.ndarray, outs: tuple[np.ndarray, ...],
            totals: fast_parallel.SpanTotals, stride: int, snap_out: np.ndarray,
            couple: np.ndarray) -> int:
        # an empty deadline array stays empty: the kernel then forms them
        return int(kernel(arrival[begin:end], codes[begin:end], deadline[begin:end], slo_pm,
                          cands, ncand, latc, tables.num_stages, state, options.admission,
                          options.request_overhead, *outs, totals.count, totals.good,
                          totals.served, i0 - begin, i1 - begin, busy, lo, hi, totals.stats,
                          stride, snap_out, couple, clip, alpaserve))

    def summarize(begin: int, end: int, finish: np.ndarray, status: np.ndarray,
                  group: np.ndarray, totals: fast_parallel.SpanTotals) -> None:
        served, dropped, unserved, total, _, max_finish = summary_kernel(
            arrival[begin:end], codes[begin:end], prepared.deadlines(begin, end), finish,
            status, 0, end - begin,
            totals.count, totals.good, np.empty(end - begin), group, totals.served)
        totals.stats[[STAT_SERVED, STAT_DROPPED, STAT_UNSERVED, STAT_LATENCY_SUM,
                      STAT_MAX_FINISH]] = (served, dropped, unserved, total, max_finish)

    bounds = fast_parallel.span_bounds(n, 1 if clip or alpaserve else threads)
    workers = max(1, threads)  # the spans, then the statistics' passes
    start, finish, group, status = outputs
    with ThreadPoolExecutor(max_workers=workers) as pool:
        totals, reran = fast_parallel.record_time_parallel(
            bounds, (G, S), outputs, M, run, summarize, pool=pool)
        if len(totals) > 1:
            logger.debug("simulate: %d spans on threads, repairs reran %s requests",
                         len(totals), reran)
        stats = np.array([t.stats for t in totals])
        served = int(stats[:, STAT_SERVED].sum())
        # the latency sum left to right, as one run adds it: the first span's own (it is
        # never repaired), carried on over the later spans' outcomes beside the order
        # statistics' first pass
        after = bounds[1]
        total = (pool.submit(served_sum_kernel, finish[after:], arrival[after:],
                             status[after:], stats[0, STAT_LATENCY_SUM])
                 if len(totals) > 1 else None)
        percentiles = served_percentiles(finish[i0:i1], arrival[i0:i1], status[i0:i1],
                                         served, stats[:, STAT_MIN_LATENCY].min(),
                                         stats[:, STAT_MAX_LATENCY].max(), pool=pool,
                                         threads=workers)
        latency_sum = stats[0, STAT_LATENCY_SUM] if total is None else total.result()
    served_gm = np.sum([t.served for t in totals], axis=0)
    summary = Summary(
        requests_per_model=np.sum([t.count for t in totals], axis=0),
        good_per_model=np.sum([t.good for t in totals], axis=0),
        num_served=served, num_dropped=int(stats[:, STAT_DROPPED].sum()),
        num_unserved=int(stats[:, STAT_UNSERVED].sum()),
        latency_mean=latency_sum / served if served else math.nan,
        latency_percentiles=percentiles,  # type: ignore[arg-type]
        max_finish=float(stats[:, STAT_MAX_FINISH].max()))
    return Recorded(start=start, finish=finish, group=group, status=status, summary=summary,
                    busy=busy if clip else (served_gm * lat1.sum(axis=2)).sum(axis=1))
