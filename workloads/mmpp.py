"""A two-state Markov-modulated Poisson process (MMPP): on/off bursts.

The process alternates between an *on* state (Poisson rate ``rate_on``) and an *off* state
(rate ``rate_off``, often 0), staying in each for an exponential time with mean ``mean_on``
and ``mean_off``. It starts in its stationary state distribution.

Generation is vectorised by time change: with ``Λ(t)`` the integrated rate, the arrivals are
``Λ⁻¹`` of a unit-rate Poisson process, so one exponential draw per arrival, one per state
sojourn and a ``searchsorted`` are all it takes, and the output is sorted by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workloads._renewal import check_request
from workloads._rng import SeedLike, as_generator
from workloads.arrivals import GammaProcess
from workloads.errors import WorkloadError

FloatArray = npt.NDArray[np.float64]

__all__ = ["MMPPProcess"]

_UNIT_POISSON = GammaProcess(rate=1.0, cv=1.0, start_mode="ordinary")


@dataclass(frozen=True, kw_only=True)
class MMPPProcess:
    """Two-state MMPP: rates ``rate_on``/``rate_off``, mean sojourns ``mean_on``/``mean_off``.

    Parameters
    ----------
    rate_on : float
        Poisson arrival rate in the on (burst) state, req/s; positive and finite.
    rate_off : float
        Arrival rate in the off state, req/s; non-negative and finite (0: silent).
    mean_on, mean_off : float
        Mean time in seconds spent in each state (exponential sojourns); positive, finite.

    Raises
    ------
    WorkloadError
        If a rate or mean sojourn is out of range.

    Examples
    --------
    >>> p = MMPPProcess(rate_on=100.0, rate_off=0.0, mean_on=1.0, mean_off=9.0)
    >>> p.rate, round(p.cv, 3)
    (10.0, 12.767)
    >>> t = p.generate(duration=60.0, seed=3)
    >>> bool((t[1:] >= t[:-1]).all() and t.max() < 60.0)
    True
    """

    rate_on: float
    rate_off: float
    mean_on: float
    mean_off: float

    def __post_init__(self) -> None:
        for name in ("rate_on", "mean_on", "mean_off"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise WorkloadError(f"{name} must be a positive finite number, got {value!r}")
        if not (math.isfinite(self.rate_off) and self.rate_off >= 0):
            raise WorkloadError(
                f"rate_off must be a non-negative finite number, got {self.rate_off!r}")
        for name in ("rate_on", "rate_off", "mean_on", "mean_off"):
            object.__setattr__(self, name, float(getattr(self, name)))

    # ------------------------------------------------------------------ theory
    @property
    def p_on(self) -> float:
        """Stationary probability of the on state."""
        return self.mean_on / (self.mean_on + self.mean_off)

    @property
    def rate(self) -> float:
        """Long-run mean arrival rate."""
        return self.p_on * self.rate_on + (1.0 - self.p_on) * self.rate_off

    @property
    def cv(self) -> float:
        """CV of the stationary inter-arrival time (phase-type moments of the MMPP)."""
        r_on, r_off = 1.0 / self.mean_on, 1.0 / self.mean_off
        d0 = np.array([[-r_on - self.rate_on, r_on], [r_off, -r_off - self.rate_off]])
        pi = np.array([self.p_on, 1.0 - self.p_on])
        at_arrival = pi * np.array([self.rate_on, self.rate_off])
        at_arrival /= at_arrival.sum()
        inv = np.linalg.inv(-d0)
        ones = np.ones(2)
        m1 = float(at_arrival @ inv @ ones)
        m2 = 2.0 * float(at_arrival @ inv @ inv @ ones)
        return math.sqrt(max(m2 / (m1 * m1) - 1.0, 0.0))

    def count_dispersion(self, window: float) -> float:
        """Variance over mean of the number of arrivals in a window of ``window`` seconds.

        1 for a Poisson process; it grows with the window towards its asymptote
        ``1 + 2 p (1 - p) (rate_on - rate_off)**2 / (rate * s)``, ``s = 1/mean_on + 1/mean_off``.

        Parameters
        ----------
        window : float
            Window length in seconds.

        Returns
        -------
        float
            The index of dispersion of counts for that window (at least 1).

        Examples
        --------
        >>> p = MMPPProcess(rate_on=10.0, rate_off=10.0, mean_on=1.0, mean_off=1.0)
        >>> p.count_dispersion(5.0)
        1.0
        """
        if not (math.isfinite(window) and window > 0):
            raise WorkloadError(f"window must be positive and finite, got {window!r}")
        s = 1.0 / self.mean_on + 1.0 / self.mean_off
        p = self.p_on
        delta2 = (self.rate_on - self.rate_off) ** 2
        shape = 1.0 / s - (1.0 - math.exp(-s * window)) / (s * s * window)
        return 1.0 + 2.0 * p * (1.0 - p) * delta2 * shape / self.rate

    # ------------------------------------------------------------------ generation
    def _segments(self, rng: np.random.Generator, *, until_time: float | None,
                  until_mass: float | None) -> tuple[FloatArray, FloatArray, FloatArray]:
        """State sojourns from time 0 until the time or the integrated rate is covered.

        Returns the segment start times, their rates and ``Λ`` at each segment start.
        """
        cycle = self.mean_on + self.mean_off
        if until_time is not None:
            cycles = until_time / cycle
        else:
            cycles = (until_mass or 0.0) / (self.rate * cycle)
        starts_on = bool(rng.random() < self.p_on)
        durations: list[FloatArray] = []
        total_time = 0.0
        total_mass = 0.0
        while True:
            k = int(cycles * 1.2 + 4.0 * math.sqrt(cycles + 1.0) + 2)
            on = rng.exponential(self.mean_on, k)
            off = rng.exponential(self.mean_off, k)
            pair = np.empty(2 * k)
            pair[0::2], pair[1::2] = (on, off) if starts_on else (off, on)
            durations.append(pair)
            total_time += float(pair.sum())
            first, second = (self.rate_on, self.rate_off) if starts_on else (self.rate_off,
                                                                              self.rate_on)
            total_mass += first * float(pair[0::2].sum()) + second * float(pair[1::2].sum())
            if (until_time is not None and total_time > until_time) or (
                    until_mass is not None and total_mass > until_mass):
                break
            cycles = max(cycles * 0.25, 1.0)
        dur = np.concatenate(durations)
        rates = np.empty_like(dur)
        rates[0::2], rates[1::2] = ((self.rate_on, self.rate_off) if starts_on
                                    else (self.rate_off, self.rate_on))
        seg_start = np.empty_like(dur)
        seg_start[0] = 0.0
        np.cumsum(dur[:-1], out=seg_start[1:])
        mass_start = np.empty_like(dur)
        mass_start[0] = 0.0
        np.cumsum(dur[:-1] * rates[:-1], out=mass_start[1:])
        return seg_start, rates, mass_start

    def generate(self, *, seed: SeedLike, n: int | None = None, duration: float | None = None,
                 start: float = 0.0) -> FloatArray:
        """Sorted arrival times: ``n`` of them, or all those in ``[start, start + duration)``.

        The process starts in a state drawn from its stationary distribution.

        Parameters
        ----------
        seed : int, numpy.random.SeedSequence or numpy.random.Generator
            Source of randomness; the same seed gives the same times.
        n : int, optional
            Number of arrivals to draw (non-negative). Give exactly one of ``n`` and
            ``duration``.
        duration : float, optional
            Length in seconds of the span ``[start, start + duration)`` to fill.
        start : float, default 0.0
            Time in seconds the process starts at.

        Returns
        -------
        numpy.ndarray
            Sorted float64 arrival times in seconds.

        Raises
        ------
        WorkloadError
            If both or neither of ``n`` and ``duration`` are given, or one is negative or
            not finite.

        Examples
        --------
        >>> p = MMPPProcess(rate_on=50.0, rate_off=1.0, mean_on=2.0, mean_off=8.0)
        >>> len(p.generate(n=100, seed=0))
        100
        """
        check_request(n, duration, start)
        rng = as_generator(seed)
        if n is not None:
            if n == 0:
                return np.empty(0)
            mass = _UNIT_POISSON.generate(n=int(n), seed=rng)
            seg_start, rates, mass_start = self._segments(rng, until_time=None,
                                                          until_mass=float(mass[-1]))
        else:
            if duration is None:  # for mypy; check_request guarantees it
                raise WorkloadError("duration is required when n is not given")
            seg_start, rates, mass_start = self._segments(rng, until_time=float(duration),
                                                          until_mass=None)
            k = int(np.searchsorted(seg_start, duration, side="right")) - 1
            total = float(mass_start[k] + rates[k] * (duration - seg_start[k]))
            mass = _UNIT_POISSON.generate(duration=total, seed=rng)
        # Invert Λ: side="right" skips zero-rate (flat) segments.
        seg = np.searchsorted(mass_start, mass, side="right") - 1
        out = mass
        out -= mass_start[seg]
        out /= rates[seg]
        out += seg_start[seg]
        if start:
            out += start
        if duration is not None:
            # Guard the end against rounding in the inversion.
            out = out[: int(np.searchsorted(out, start + duration, side="left"))]
        return out
