"""Time-parallel runs of one placement: exact results from several threads at once.

Without batching, a run is a chain: each request's dispatch reads the stage free times ``F``
that the previous one wrote. To use more than one core on *one* run, the requests are cut
into consecutive spans that run at the same time, every span but the first starting
speculatively from an empty cluster and writing a checkpoint of its ``F`` every
:data:`CHECKPOINT_STRIDE` requests. A sequential pass then repairs each later span: it reruns
it from the true state its predecessor ended in and stops at the first checkpoint where its
state is *equivalent* to the speculative one (per group: equal rows, or both rows at or
before the next arrival; see :func:`simulator.engine.common._equivalent`). From an equivalent
state, earliest-finish dispatch takes the same decisions with the same float values, so
the speculative run is exact past that checkpoint and the repair's prefix replaces the rest.

Bursty traffic empties groups often, so a repair usually stops within a few checkpoints.
A cluster that never drains makes the repair rerun its whole span; with two spans that is
no slower than one thread. Policies whose decisions read idle groups' free times
(AlpaServe's rule), or that carry more state (least outstanding, batching), run on one
thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from itertools import pairwise

import numpy as np

from alpaserve.errors import SimulationError

#: Requests between checkpoints (a power of two): each copies ``F`` (a few dozen numbers),
#: so this keeps checkpoints under 1% of the work while a repair overshoots the point where
#: its state coincides by at most this many requests.
CHECKPOINT_STRIDE = 256
#: Spans shorter than this are not worth a thread and a repair.
MIN_SPAN_REQUESTS = 65_536

# run(span, begin, end, F, snap_out, couple, stride) -> where it stopped (relative to begin)
SpanRunner = Callable[[int, int, int, np.ndarray, np.ndarray, np.ndarray, int], int]


def span_bounds(num_requests: int, threads: int, *, min_span: int | None = None) -> list[int]:
    """Span boundaries: ``threads`` spans at most, each at least ``min_span`` long.

    Parameters
    ----------
    num_requests : int
        Requests in the run (>= 0).
    threads : int
        Most spans wanted (one per thread).
    min_span : int, optional
        Fewest requests in a span; default :data:`MIN_SPAN_REQUESTS`. Fewer requests than
        that give one span.

    Returns
    -------
    list of int
        Increasing boundaries from 0 to ``num_requests``; span ``s`` is
        ``bounds[s]:bounds[s + 1]``.

    Examples
    --------
    >>> span_bounds(1_000_000, 2)
    [0, 500000, 1000000]
    >>> span_bounds(100_000, 4)
    [0, 100000]
    """
    min_span = MIN_SPAN_REQUESTS if min_span is None else min_span
    parts = max(1, min(threads, num_requests // max(1, min_span)))
    return np.linspace(0, num_requests, parts + 1).astype(np.int64).tolist()


def run_time_parallel(bounds: list[int], state_shape: tuple[int, ...], run: SpanRunner, *,
                      stride: int | None = None, pool: Executor | None = None) -> list[int]:
    """Run the spans between ``bounds`` at once, then repair every later span in order.

    ``run(span, begin, end, F, snap_out, couple, stride)`` simulates requests
    ``begin:end`` from state ``F`` (updated in place), writing ``snap_out[j] = F`` at every
    checkpoint when ``snap_out`` has rows, or stopping at the first checkpoint ``j`` whose
    state is equivalent to ``couple[j]`` when that has rows; it returns the relative index
    where it stopped. Speculative runs get ``snap_out``; repairs get ``couple`` and must
    overwrite what the speculative run wrote for the requests they cover.

    Parameters
    ----------
    bounds : list of int
        Span boundaries, as :func:`span_bounds` gives them.
    state_shape : tuple of int
        Shape of the state ``F`` (e.g. groups x stages, or placements x groups x stages).
    run : SpanRunner
        Simulates one span as described above.
    stride : int, optional
        Requests between checkpoints, a power of two; default :data:`CHECKPOINT_STRIDE`.
    pool : concurrent.futures.Executor, optional
        Runs the speculative spans; default a pool of one thread per span.

    Returns
    -------
    list of int
        Per span, how many requests its repair reran (0 for the first span): the span's
        length when the states never coincided, else a multiple of ``stride``.

    Raises
    ------
    SimulationError
        If ``stride`` is not a positive power of two.

    Examples
    --------
    >>> def run(span, begin, end, F, snap_out, couple, stride):
    ...     return end - begin  # a chain that never coincides: repairs redo whole spans
    >>> run_time_parallel([0, 10, 20], (1, 1), run, stride=4)
    [0, 10]
    """
    stride = CHECKPOINT_STRIDE if stride is None else stride
    if stride <= 0 or stride & (stride - 1):
        raise SimulationError(f"stride must be a power of two, got {stride}")
    spans = list(pairwise(bounds))
    states = [np.full(state_shape, -np.inf) for _ in spans]
    none = np.empty((0, *state_shape))
    snaps = [none] + [np.empty(((end - begin - 1) // stride + 1, *state_shape))
                      for begin, end in spans[1:]]

    def speculate(span: int) -> int:
        begin, end = spans[span]
        return run(span, begin, end, states[span], snaps[span], none,
                   stride if span else 0)

    if len(spans) == 1:
        speculate(0)
        return [0]
    if pool is None:
        with ThreadPoolExecutor(max_workers=len(spans)) as own:
            list(own.map(speculate, range(len(spans))))
    else:
        list(pool.map(speculate, range(len(spans))))
    reran = [0]
    for span in range(1, len(spans)):
        begin, end = spans[span]
        state = states[span - 1].copy()
        stop = run(span, begin, end, state, none, snaps[span], stride)
        if stop == end - begin:  # never coincided: the repair is the whole span
            states[span] = state
        reran.append(stop)
    return reran


# The statistics a span counts, by index (the recording kernel writes them in this layout)
STAT_SERVED, STAT_DROPPED, STAT_UNSERVED, STAT_LATENCY_SUM, STAT_MAX_FINISH = range(5)
STAT_MIN_LATENCY, STAT_MAX_LATENCY = 5, 6
NUM_STATS = 7


class SpanTotals:
    """What one span's run counted: the statistics of
    :func:`simulator.engine.record.record_kernel` over its requests.

    Parameters
    ----------
    num_groups : int
        Groups of the placement.
    num_models : int
        Models of the workload.

    Attributes
    ----------
    stats : numpy.ndarray of float64, shape (NUM_STATS,)
        Served, dropped and unserved counts, latency sum (s), latest finish (s) and the
        latency bounds (s), at the ``STAT_*`` indices.
    good, count : numpy.ndarray of int64, shape (num_models,)
        Good and measured requests per model.
    served : numpy.ndarray of int64, shape (num_groups, num_models)
        Served requests per group and model.

    Examples
    --------
    >>> SpanTotals(2, 3).served.shape
    (2, 3)
    """

    def __init__(self, num_groups: int, num_models: int) -> None:
        self.stats = np.zeros(NUM_STATS)  # by the STAT_* indices
        self.good = np.zeros(num_models, dtype=np.int64)
        self.count = np.zeros(num_models, dtype=np.int64)
        self.served = np.zeros((num_groups, num_models), dtype=np.int64)


# run(begin, end, state, outputs (start, finish, group, status), totals, stride, snap_out,
#     couple) -> where it stopped
RecordRunner = Callable[[int, int, np.ndarray, tuple[np.ndarray, ...], SpanTotals, int,
                         np.ndarray, np.ndarray], int]
# summarize(begin, end, finish, status, group, totals): summary_kernel over those outcomes,
# writing the counts, latency sum and max finish of totals.stats
Summarizer = Callable[[int, int, np.ndarray, np.ndarray, np.ndarray, SpanTotals], None]


def record_time_parallel(bounds: list[int], state_shape: tuple[int, int],
                         outputs: tuple[np.ndarray, ...], num_models: int,
                         run: RecordRunner, summarize: Summarizer, *,
                         pool: Executor | None = None
                         ) -> tuple[list[SpanTotals], list[int]]:
    """:func:`run_time_parallel` for a run that records every request's outcome.

    Speculative spans write their outcomes in place (``outputs`` are full-length arrays:
    start, finish, group, status) and count their statistics (the ``STAT_*`` layout). A
    repair runs into scratch arrays instead; once it stops, the speculative statistics of
    the requests it reran are recounted from the outcomes they replace (``summarize``) and
    swapped for the repair's, and its outcomes are copied over. The latency bounds stay
    those of both runs: they only need to contain the latencies. A span's latency sum is
    left as it was: only the whole run's, over its outcomes, is exact.

    Parameters
    ----------
    bounds : list of int
        Span boundaries, as :func:`span_bounds` gives them.
    state_shape : tuple of int
        ``(groups, stages)``: the shape of ``F``.
    outputs : tuple of numpy.ndarray
        Full-length ``(start, finish, group, status)`` arrays, written in place.
    num_models : int
        Models of the workload.
    run : RecordRunner
        ``run(begin, end, state, outputs, totals, stride, snap_out, couple)`` simulates
        one span into ``outputs`` (slices for that span) and ``totals``; returns where it
        stopped, relative to ``begin``.
    summarize : Summarizer
        ``summarize(begin, end, finish, status, group, totals)`` recounts the statistics of
        outcomes about to be replaced.
    pool : concurrent.futures.Executor, optional
        Runs the speculative spans; default a pool of one thread per span.

    Returns
    -------
    totals : list of SpanTotals
        Each span's statistics after its repair.
    reran : list of int
        Per span, how many requests its repair reran (see :func:`run_time_parallel`).

    Examples
    --------
    >>> outs = (np.zeros(4), np.zeros(4), np.zeros(4, np.int32), np.zeros(4, np.int8))
    >>> def run(begin, end, state, outputs, totals, stride, snap_out, couple):
    ...     totals.count[0] += end - begin
    ...     return end - begin
    >>> totals, reran = record_time_parallel([0, 4], (1, 1), outs, 1, run, None)
    >>> totals[0].count.tolist(), reran
    ([4], [0])
    """
    num_groups = state_shape[0]
    totals = [SpanTotals(num_groups, num_models) for _ in pairwise(bounds)]

    def runner(span: int, begin: int, end: int, state: np.ndarray, snap_out: np.ndarray,
               couple: np.ndarray, stride: int) -> int:
        if couple.shape[0] == 0:  # speculative (or the first span): in place
            return run(begin, end, state, tuple(o[begin:end] for o in outputs), totals[span],
                       stride, snap_out, couple)
        scratch = tuple(np.empty_like(o[begin:end]) for o in outputs)
        repair = SpanTotals(num_groups, num_models)
        stop = run(begin, end, state, scratch, repair, stride, snap_out, couple)
        replaced = SpanTotals(num_groups, num_models)
        finish, group, status = (o[begin:begin + stop] for o in outputs[1:4])
        summarize(begin, begin + stop, finish, status, group, replaced)
        spec = totals[span]
        counts = slice(STAT_SERVED, STAT_UNSERVED + 1)
        spec.stats[counts] += repair.stats[counts] - replaced.stats[counts]
        # the latest finish the speculative run keeps: its own, unless that was replaced
        kept_max = spec.stats[STAT_MAX_FINISH]
        if not kept_max > replaced.stats[STAT_MAX_FINISH]:
            rest = outputs[1][begin + stop:end]  # NaN: not served
            kept_max = np.fmax.reduce(rest) if rest.size else -np.inf
        spec.stats[STAT_MAX_FINISH] = max(repair.stats[STAT_MAX_FINISH], kept_max)
        spec.stats[STAT_MIN_LATENCY] = min(spec.stats[STAT_MIN_LATENCY],
                                           repair.stats[STAT_MIN_LATENCY])
        spec.stats[STAT_MAX_LATENCY] = max(spec.stats[STAT_MAX_LATENCY],
                                           repair.stats[STAT_MAX_LATENCY])
        spec.good += repair.good - replaced.good
        spec.served += repair.served - replaced.served
        for o, s in zip(outputs, scratch, strict=True):
            o[begin:begin + stop] = s[:stop]
        return stop

    reran = run_time_parallel(bounds, state_shape, runner, pool=pool)
    return totals, reran
