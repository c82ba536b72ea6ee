"""How much slower a stage runs while others share its cores, and what that does to a run.

:class:`ContentionCurve` is the measured slowdown ``s(n)`` of a stage while ``n`` stages are
busy; :func:`stretched_durations` applies it to stage runs with processor sharing: each run
does its lone work at rate ``1 / s(n(t))``. :func:`simulator.contention.predict_contended`
builds its fixed point on both.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SimulationError


@dataclass(frozen=True, kw_only=True)
class ContentionCurve:
    """Slowdown of a stage by the number of stages busy at once, ``s(n)``.

    Between measured counts ``s`` is linear; past the last one it grows in proportion to
    ``n`` (processor sharing of a saturated host).

    Parameters
    ----------
    busy : tuple of int
        The measured stage counts, increasing, from 1.
    slowdown : tuple of float
        ``s`` at each count: service time over the stage's lone latency (non-decreasing).

    Raises
    ------
    SimulationError
        When the counts do not start at 1 and increase, or a slowdown is not positive or
        decreases.

    Examples
    --------
    >>> c = ContentionCurve(busy=(1, 2, 4), slowdown=(1.0, 1.5, 2.0))
    >>> c.at([1, 3, 8]).tolist(), c.effective_cores
    ([1.0, 1.75, 4.0], 2.0)
    """

    busy: tuple[int, ...]
    slowdown: tuple[float, ...]

    def __post_init__(self) -> None:
        b, s = np.asarray(self.busy), np.asarray(self.slowdown, dtype=np.float64)
        if not b.size or b.size != s.size or b[0] != 1 or np.any(np.diff(b) <= 0):
            raise SimulationError(f"contention curve counts must start at 1 and increase, "
                                  f"one slowdown each; got busy={self.busy}, "
                                  f"slowdown={self.slowdown}")
        if not np.all(np.isfinite(s)) or np.any(s <= 0) or np.any(np.diff(s) < 0):
            raise SimulationError(f"contention slowdowns must be positive and non-decreasing, "
                                  f"got {self.slowdown}")

    @classmethod
    def flat(cls, up_to: int) -> ContentionCurve:
        """``s(n) = 1`` for ``n <= up_to``: devices that do not share anything.

        Parameters
        ----------
        up_to : int
            The largest count it holds for (the placement's stage count).

        Returns
        -------
        ContentionCurve
            A flat curve.
        """
        return cls(busy=tuple(range(1, max(int(up_to), 1) + 1)),
                   slowdown=(1.0,) * max(int(up_to), 1))

    @classmethod
    def fit(cls, samples: dict[int, Sequence[float]]) -> ContentionCurve:
        """The curve through the median slowdown measured at each count.

        Medians are made non-decreasing (a running maximum: more work on the same cores is
        never faster; a dip is noise).

        Parameters
        ----------
        samples : dict of int to sequence of float
            Per busy-stage count, the measured ratios service time / lone latency.

        Returns
        -------
        ContentionCurve
            The fitted curve.

        Raises
        ------
        SimulationError
            When the counts miss 1 or a count has no finite positive sample.

        Examples
        --------
        >>> ContentionCurve.fit({1: [1.0, 1.1, 0.9], 2: [1.4, 1.6], 3: [1.5]}).slowdown
        (1.0, 1.5, 1.5)
        """
        busy = sorted(samples)
        medians = []
        for n in busy:
            x = np.asarray(samples[n], dtype=np.float64)
            x = x[np.isfinite(x) & (x > 0)]
            if not x.size:
                raise SimulationError(f"no valid contention sample with {n} stages busy")
            medians.append(float(np.median(x)))
        return cls(busy=tuple(int(n) for n in busy),
                   slowdown=tuple(float(v) for v in np.maximum.accumulate(medians)))

    def at(self, n: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """``s(n)`` for each count (see the class doc).

        Parameters
        ----------
        n : array_like
            Busy-stage counts (>= 1).

        Returns
        -------
        numpy.ndarray
            The slowdowns.
        """
        x = np.asarray(n, dtype=np.float64)
        last_n, last_s = float(self.busy[-1]), float(self.slowdown[-1])
        inside = np.interp(x, np.asarray(self.busy, dtype=np.float64), self.slowdown)
        return np.where(x > last_n, last_s * x / last_n, inside)

    @property
    def effective_cores(self) -> float:
        """``n / s(n)`` at the largest count: the stages' worth of work the host does at once.

        Returns
        -------
        float
            Lone-speed stages served in parallel when every measured stage is busy.
        """
        return float(self.busy[-1] / self.slowdown[-1])

    def to_dict(self) -> dict[str, Any]:
        """The curve as JSON-ready values.

        Returns
        -------
        dict
            ``busy``, ``slowdown`` and ``effective_cores``.
        """
        return {"busy": list(self.busy), "slowdown": list(self.slowdown),
                "effective_cores": self.effective_cores}


def stretched_durations(begin: npt.ArrayLike, end: npt.ArrayLike, work: npt.ArrayLike,
                        curve: ContentionCurve | Sequence[ContentionCurve], *,
                        curve_of: npt.ArrayLike | None = None) -> npt.NDArray[np.float64]:
    """Each run's duration when it does ``work`` seconds of lone work from ``begin`` at rate
    ``1 / s(n(t))``, ``n(t)`` being 1 plus the other runs busy over ``[begin, end)``.

    Parameters
    ----------
    begin, end : array_like
        ``(r,)`` seconds: every stage run's interval in the current round.
    work : array_like
        ``(r,)`` seconds: each run's lone latency.
    curve : ContentionCurve or sequence of ContentionCurve
        The slowdown ``s(n)``; or several, one per kind of run (stages of different groups
        suffer differently from the same load: a tensor-parallel stage loses the cores it
        had alone), chosen per run by ``curve_of``.
    curve_of : array_like of int, optional
        ``(r,)``: the index in ``curve`` of each run's curve (required with several).

    Returns
    -------
    numpy.ndarray
        ``(r,)`` seconds: the new durations. A run that meets no other takes
        ``work * s(1)``; with ``s = 1`` throughout, exactly ``work``.

    Examples
    --------
    Two equal runs overlapping for half their time, ``s(2) = 2``: the first has 0.5 s alone,
    then does its last 0.5 s of work at half speed, ending at 1.5 s; the second does 0.25 s of
    work while they overlap, then 0.75 s alone. Iterated, both settle at 1.5 s.

    >>> c = ContentionCurve(busy=(1, 2), slowdown=(1.0, 2.0))
    >>> stretched_durations([0.0, 0.5], [1.0, 1.5], [1.0, 1.0], c).tolist()
    [1.5, 1.25]

    The same two runs, the second unaffected by the first (a flat curve of its own):

    >>> flat = ContentionCurve.flat(2)
    >>> stretched_durations([0.0, 0.5], [1.0, 1.5], [1.0, 1.0], [c, flat],
    ...                     curve_of=[0, 1]).tolist()
    [1.5, 1.0]

    Raises
    ------
    SimulationError
        When ``curve_of`` is missing for several curves, has the wrong length, or names a
        curve that is not given.
    """
    b, e = np.asarray(begin, dtype=np.float64), np.asarray(end, dtype=np.float64)
    w = np.asarray(work, dtype=np.float64)
    curves = [curve] if isinstance(curve, ContentionCurve) else list(curve)
    which = (np.zeros(b.size, dtype=np.int64) if curve_of is None
             else np.asarray(curve_of, dtype=np.int64).reshape(-1))
    if not curves or (curve_of is None and len(curves) > 1) or which.size != b.size \
            or (which.size and not 0 <= int(which.min()) <= int(which.max()) < len(curves)):
        raise SimulationError(f"need one curve index per run (0..{len(curves) - 1}) for "
                              f"{len(curves)} curves and {b.size} runs, got "
                              f"{None if curve_of is None else which.tolist()[:8]}")
    times = np.unique(np.concatenate([b, e]))
    delta = (np.bincount(np.searchsorted(times, b), minlength=times.size)
             - np.bincount(np.searchsorted(times, e), minlength=times.size))
    level = np.cumsum(delta)  # runs busy on [times[j], times[j+1])
    points = times.tolist()
    # s(1 + others) for every level a segment can have, others = level - (own run counted)
    counts = np.arange(1, int(level.max(initial=0)) + 2)
    rates = [c.at(counts).tolist() for c in curves]
    levels, kinds = level.tolist(), which.tolist()
    out = np.empty(b.size)
    for i in range(b.size):
        t, left, own_end = float(b[i]), float(w[i]), float(e[i])
        rate_of = rates[kinds[i]]
        j = bisect.bisect_right(points, t) - 1
        took, stretched, tiny = 0.0, False, 1e-12 * left
        while left > tiny:  # the rest: rounding of the segment sums, not work
            others = (levels[j] - (1 if points[j] < own_end else 0)) if j >= 0 else 0
            s = rate_of[max(others, 0)]
            stretched = stretched or s != 1.0
            seg = points[j + 1] - t if j + 1 < len(points) else float("inf")
            if left * s <= seg:
                took += left * s
                break
            took += seg
            left -= seg / s
            t, j = points[j + 1], j + 1
        out[i] = took if stretched else w[i]
    return out
