"""KV-cache use over time, per group: the opt-in timeline both token-level engines record.

**What is recorded.** A group's blocks in use form a step function of time that can change
only at an event: an iteration starting (blocks allocated, sequences preempted) or
completing (a finished request frees its blocks). The timeline holds its *changes*: a point
``(t, b)`` says that from time ``t`` on, ``b`` blocks are in use. Several changes at one
instant (completions, then the scheduling after them) collapse into one point carrying the
value once that instant has settled, and a point that does not change the value is not
kept, so the points' times are strictly increasing and the timeline is the same whichever
engine produced it. Before the first point no block is in use; after a group's last finish,
the last point is 0.

**Bounded memory.** With a cap of ``N`` points per group (``N >= 4``), a group with at most
``N`` changes keeps them all, exactly. Beyond that the changes are cut into consecutive
buckets of ``k`` changes, ``k`` the smallest power of two (at least 2) for which
``(N - 1) // 2`` buckets suffice; each bucket keeps its first change and its highest one
(the earliest of equal highs), and the last change is kept too. So at most ``N`` points
remain, every peak of the group survives, and the result depends only on the changes and
``N``. The compiled engine reaches it online in ``O(N)`` memory (doubling ``k`` and merging
bucket pairs as changes come); :func:`downsample` computes it from all the changes at once
(the SimPy reference keeps them all, then calls it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

DEFAULT_KV_TIMELINE_POINTS = 100_000
MIN_KV_TIMELINE_POINTS = 4


def timeline_points(kv_timeline: bool | int) -> int:
    """The cap on points per group that a ``kv_timeline`` argument asks for.

    Parameters
    ----------
    kv_timeline : bool or int
        ``False`` (no timeline), ``True`` (:data:`DEFAULT_KV_TIMELINE_POINTS`), or the most
        points per group (at least :data:`MIN_KV_TIMELINE_POINTS`).

    Returns
    -------
    int
        The cap; 0 for no timeline.

    Raises
    ------
    SimulationError
        On anything else.

    Examples
    --------
    >>> timeline_points(False), timeline_points(True), timeline_points(500)
    (0, 100000, 500)
    """
    if kv_timeline is False:
        return 0
    if kv_timeline is True:
        return DEFAULT_KV_TIMELINE_POINTS
    if (isinstance(kv_timeline, (int, np.integer)) and not isinstance(kv_timeline, bool)
            and kv_timeline >= MIN_KV_TIMELINE_POINTS):
        return int(kv_timeline)
    raise SimulationError(f"kv_timeline must be True, False or an int >= "
                          f"{MIN_KV_TIMELINE_POINTS} (points per group), got {kv_timeline!r}")


class ChangeLog:
    """The changes of one group's blocks in use, recorded as events settle (no cap).

    ``record(t, b)`` is called after anything that may change the value at time ``t``
    (times non-decreasing); a later call at the same ``t`` replaces the earlier one's value.
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self.blocks: list[int] = []

    def record(self, t: float, blocks: int) -> None:
        """The group holds ``blocks`` blocks from ``t`` on.

        Parameters
        ----------
        t : float
            Now.
        blocks : int
            Blocks in use once the caller's changes are done.
        """
        times, values = self.times, self.blocks
        if times and times[-1] == t:  # the same instant: its settled value counts
            before = values[-2] if len(values) > 1 else 0
            if blocks == before:
                times.pop()
                values.pop()
            else:
                values[-1] = blocks
        elif blocks != (values[-1] if values else 0):
            times.append(t)
            values.append(blocks)


def downsample(times: npt.ArrayLike, blocks: npt.ArrayLike,
               max_points: int) -> tuple[FloatArray, IntArray]:
    """At most ``max_points`` of a group's changes, as the module docstring describes.

    Parameters
    ----------
    times : array_like of float
        Times of the changes, strictly increasing.
    blocks : array_like of int
        Blocks in use from each time on.
    max_points : int
        The cap (at least :data:`MIN_KV_TIMELINE_POINTS`).

    Returns
    -------
    tuple of ndarray
        The kept times (float64) and blocks (int64).

    Raises
    ------
    SimulationError
        If the cap is too small or the arrays differ in length.

    Examples
    --------
    >>> t, b = downsample([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [1, 5, 2, 3, 4, 0], 4)
    >>> t.tolist(), b.tolist()
    ([0.0, 1.0, 5.0], [1, 5, 0])
    """
    t = np.asarray(times, dtype=np.float64)
    b = np.asarray(blocks, dtype=np.int64)
    if t.shape != b.shape or t.ndim != 1:
        raise SimulationError(f"times and blocks must be 1-d of one length, got {t.shape} "
                              f"and {b.shape}")
    cap = timeline_points(max_points)
    n = t.size
    if n <= cap:
        return t.copy(), b.copy()
    k = bucket_stride(n, cap)
    n_buckets = -(-n // k)
    padded = np.full(n_buckets * k, np.iinfo(np.int64).min, dtype=np.int64)
    padded[:n] = b
    first = np.arange(n_buckets) * k
    top = first + np.argmax(padded.reshape(n_buckets, k), axis=1)  # the earliest high
    return emit_buckets(t[first], b[first], t[top], b[top], float(t[-1]), int(b[-1]))


def bucket_stride(n: int, max_points: int) -> int:
    """Changes per bucket once ``n`` changes exceed the cap.

    Parameters
    ----------
    n : int
        Changes seen.
    max_points : int
        The cap.

    Returns
    -------
    int
        The smallest power of two ``k >= 2`` with ``ceil(n / k) <= (max_points - 1) // 2``.
    """
    n_buckets = (max_points - 1) // 2
    k = 2
    while -(-n // k) > n_buckets:
        k *= 2
    return k


def emit_buckets(first_t: FloatArray, first_b: IntArray, top_t: FloatArray, top_b: IntArray,
                 last_t: float, last_b: int) -> tuple[FloatArray, IntArray]:
    """Each bucket's first change, then its highest one when that is another change, then
    the last change when it is neither.

    Parameters
    ----------
    first_t, first_b, top_t, top_b : ndarray
        Per bucket: time and blocks of its first and of its highest change.
    last_t, last_b : float, int
        The last change.

    Returns
    -------
    tuple of ndarray
        Times (float64) and blocks (int64), in time order.
    """
    keep = np.ones((first_t.size, 2), dtype=bool)
    keep[:, 1] = top_t != first_t
    t = np.stack([first_t, top_t], axis=1)[keep]
    b = np.stack([first_b, top_b], axis=1)[keep]
    if t.size == 0 or last_t > t[-1]:
        t = np.append(t, last_t)
        b = np.append(b, last_b)
    return t.astype(np.float64), b.astype(np.int64)


@dataclass(frozen=True, kw_only=True)
class KVTimeline:
    """Per group, the blocks in use after each change (module docstring).

    Parameters
    ----------
    groups : tuple of str
        Group names, deployment order.
    times : tuple of ndarray of float64
        Per group, the times of the kept changes (strictly increasing).
    blocks : tuple of ndarray of int64
        Per group, the blocks in use from each of those times on.
    capacity : ndarray of int64
        Per group, KV blocks (sum over its models).
    changes : ndarray of int64
        Per group, the changes seen (more than ``max_points``: downsampled).
    max_points : int
        The cap on points per group.
    """

    groups: tuple[str, ...]
    times: tuple[FloatArray, ...]
    blocks: tuple[IntArray, ...]
    capacity: IntArray
    changes: IntArray
    max_points: int

    def __post_init__(self) -> None:
        n = len(self.groups)
        if not (len(self.times) == len(self.blocks) == self.capacity.size
                == self.changes.size == n):
            raise SimulationError(f"KVTimeline: {n} groups but {len(self.times)} time arrays, "
                                  f"{len(self.blocks)} block arrays, {self.capacity.size} "
                                  f"capacities and {self.changes.size} change counts")

    @classmethod
    def from_changes(cls, *, groups: tuple[str, ...], logs: Sequence[ChangeLog],
                     capacity: Sequence[int], max_points: int) -> KVTimeline:
        """The timeline of every change, downsampled to ``max_points`` per group.

        Parameters
        ----------
        groups : tuple of str
            Group names.
        logs : sequence of ChangeLog
            Per group, all its changes.
        capacity : sequence of int
            Per group, KV blocks.
        max_points : int
            The cap on points per group.

        Returns
        -------
        KVTimeline
            The timeline.
        """
        kept = [downsample(log.times, log.blocks, max_points) for log in logs]
        return cls(groups=groups, times=tuple(t for t, _ in kept),
                   blocks=tuple(b for _, b in kept),
                   capacity=np.asarray(capacity, dtype=np.int64),
                   changes=np.array([len(log.times) for log in logs], dtype=np.int64),
                   max_points=max_points)

    @property
    def exact(self) -> npt.NDArray[np.bool_]:
        """Per group, whether every change was kept (not downsampled)."""
        return self.changes <= self.max_points

    def block_seconds(self) -> FloatArray:
        """Per group, the time integral of the kept step function (exactly the engine's
        ``kv_block_seconds``, up to rounding, where :attr:`exact`).

        Returns
        -------
        ndarray of float64
            Block-seconds per group.
        """
        return np.array([float(np.sum(b[:-1] * np.diff(t))) if t.size else 0.0
                         for t, b in zip(self.times, self.blocks, strict=True)])

    def utilisation(self) -> dict[str, tuple[FloatArray, FloatArray]]:
        """Per group, its times and the fraction of its KV blocks in use from each on.

        Returns
        -------
        dict of str to (ndarray, ndarray)
            ``{group: (times, fraction)}`` (plain data for
            :func:`alpaserve.llm.plots.plot_kv_timeline`).
        """
        return {g: (t, b / max(int(c), 1))
                for g, t, b, c in zip(self.groups, self.times, self.blocks, self.capacity,
                                      strict=True)}

    def to_frame(self) -> Any:
        """One row per kept point (pandas is imported here).

        Returns
        -------
        pandas.DataFrame
            Columns ``group`` (categorical), ``time``, ``blocks``, ``capacity``,
            ``utilisation``.
        """
        import pandas as pd

        sizes = [t.size for t in self.times]
        codes = np.repeat(np.arange(len(self.groups)), sizes)
        blocks = np.concatenate([np.zeros(0, dtype=np.int64), *self.blocks])
        capacity = self.capacity[codes]
        return pd.DataFrame({
            "group": pd.Categorical.from_codes(codes, categories=self.groups),
            "time": np.concatenate([np.zeros(0), *self.times]),
            "blocks": blocks, "capacity": capacity,
            "utilisation": blocks / np.maximum(capacity, 1)})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description, per group.

        Returns
        -------
        dict
            ``max_points`` and ``groups``: ``{group: {"times", "blocks", "capacity_blocks",
            "changes", "exact"}}``.
        """
        return {"max_points": self.max_points, "groups": {
            g: {"times": t.tolist(), "blocks": b.tolist(), "capacity_blocks": int(c),
                "changes": int(n), "exact": bool(n <= self.max_points)}
            for g, t, b, c, n in zip(self.groups, self.times, self.blocks, self.capacity,
                                     self.changes, strict=True)}}
