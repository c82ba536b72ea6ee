"""The search's knobs and what it reports: options, log entries, outcomes.

Shared by our search (:mod:`placement.alpaserve_search`), the published policy and the
baselines, which log their candidates the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alpaserve.errors import SpecError
from alpaserve.placement_spec import Placement
from placement.space import Assignment


@dataclass(frozen=True, kw_only=True)
class SearchOptions:
    """Knobs of the search.

    Parameters
    ----------
    max_group_size : int, optional
        Largest group in devices; None means ``min(devices, 4 × node size)``.
    screen_batch : int, optional
        Replicas the screening greedy adds per simulation; None means half the groups.
    refine_top : int
        Screened layouts to refine (at least 1 is refined).
    refine_gap : float, optional
        Of those, refine only the layouts whose screened score is at most this share of
        the bucket's training requests below the best screened one (the best is always
        refined); None refines all ``refine_top``. A heuristic: refining gains a layout 0
        to 2.7 points, and on 30 random instances the farthest below the best a layout
        screened and still won after refining was 0.6 points; with 0.01 those instances
        got the same plans as with None (``benchmarks/bench_refine_gap.py``).
    top_models, top_groups : int
        Look-ahead width: the neediest models × the least-loaded groups scored per step.
    local_rounds : int
        Most rounds of add/swap local search.
    lookahead_max_replicas : int
        The look-ahead runs only when the screened plan has at most this many replicas.
    bucketing : bool
        Also try latency buckets on split devices (see :mod:`placement.buckets`).
    bucket_ratio : float
        Latency jump between consecutive models that starts a new bucket.
    n_jobs : int
        Processes scoring layouts at once (1: in this process).
    threads : int
        With ``n_jobs`` 1, threads screening and refining layouts (the compiled evaluator
        releases the GIL). 0 is automatic: one per CPU when the training workload is large
        enough for threads to pay, else the caller's thread alone (see
        :func:`~placement.task_pool.search_threads`). Layouts are independent and
        results keep their order, so the plan is the same for any number of threads.
    progress : bool
        Show progress bars (tqdm).

    Examples
    --------
    >>> SearchOptions(refine_top=1).top_models
    4
    """

    max_group_size: int | None = None
    screen_batch: int | None = None
    refine_top: int = 2
    refine_gap: float | None = 0.01
    top_models: int = 4
    top_groups: int = 3
    local_rounds: int = 40
    lookahead_max_replicas: int = 160
    bucketing: bool = True
    bucket_ratio: float = 2.0
    n_jobs: int = 1
    progress: bool = False
    threads: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) \
                or self.threads < 0:
            raise SpecError(f"SearchOptions.threads must be an integer >= 0, "
                            f"got {self.threads!r}")
        gap = self.refine_gap
        if gap is not None and (isinstance(gap, bool) or not isinstance(gap, (int, float))
                                or not 0 <= gap <= 1):
            raise SpecError(f"SearchOptions.refine_gap must be None or in [0, 1], got {gap!r}")


@dataclass(frozen=True, kw_only=True)
class LogEntry:
    """One candidate the search scored (on the training workload).

    Parameters
    ----------
    bucket : str
        The bucket's label (``"all"``, or ``"bucket<k>/<n>@<split>"``).
    devices : int
        Devices the bucket had.
    layout : str
        The layout's key, e.g. ``"2x2 pp2-tp1"``.
    phase : str
        The search phase, e.g. ``"screen"`` or ``"lookahead+local+fill"``.
    good : int
        Training requests served within their SLO.
    requests : int
        Training requests of the bucket.
    evaluations : int
        Simulations the phase ran.
    seconds : float
        Wall-clock seconds the layout's screening or refinement took (a refinement's two
        independent halves summed).

    Examples
    --------
    >>> e = LogEntry(bucket="all", devices=2, layout="2x1 pp1-tp1", phase="screen", good=3,
    ...              requests=4, evaluations=5, seconds=0.1)
    >>> e.attainment
    0.75
    """

    bucket: str
    devices: int
    layout: str
    phase: str
    good: int
    requests: int
    evaluations: int
    seconds: float

    @property
    def attainment(self) -> float:
        """Good / requests, in ``[0, 1]`` (NaN without requests)."""
        return self.good / self.requests if self.requests else math.nan


@dataclass(frozen=True, kw_only=True)
class SearchOutcome:
    """The search's best placement, its score on the training workload and its log.

    Parameters
    ----------
    placement : Placement
        The best placement found.
    good : int
        Its training requests served within their SLO.
    requests : int
        Training requests.
    log : tuple of LogEntry
        Every candidate scored.

    Examples
    --------
    See :func:`alpaserve_search`.
    """

    placement: Placement
    good: int
    requests: int
    log: tuple[LogEntry, ...]

    @property
    def attainment(self) -> float:
        """Good / requests on the training workload (NaN without requests)."""
        return self.good / self.requests if self.requests else math.nan

    @property
    def evaluations(self) -> int:
        """Simulations the whole search ran."""
        return sum(e.evaluations for e in self.log)


@dataclass(frozen=True, kw_only=True)
class BucketResult:
    """The best plan for one bucket and the log of its search.

    Parameters
    ----------
    good : int
        The plan's good training requests.
    assignment : Assignment or None
        The plan; None when no layout could host any model.
    log : list of LogEntry
        Every candidate scored.

    Examples
    --------
    See :func:`solve_bucket`.
    """

    good: int
    assignment: Assignment | None
    log: list[LogEntry]
