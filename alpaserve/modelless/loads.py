"""Time-varying loads for model-less serving: rate profiles and their arrival processes.

A :class:`RateProfile` is a piecewise-linear arrival rate (queries per second) over time.
:func:`sample_arrivals` draws a renewal process with that rate by time rescaling: unit-rate
inter-arrival gaps (exponential for Poisson, Gamma with the given coefficient of variation
for burstier loads) are mapped through the inverse of the cumulative rate. The three loads of
INFaaS's evaluation are :func:`flat_load` (4 QPS), :func:`steady_load` (650 → 700 QPS) and
:func:`fluctuating_load` (4–80 QPS); :func:`load_preset` returns them by name.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alpaserve.errors import WorkloadError
from alpaserve.modelless.queries import ModellessQueries
from workloads._rng import SeedLike, as_generator
from workloads.arrivals import MAX_ARRIVALS

_MAX_GRID = 10_000_000  # 50 ms rate-grid points: 5.8 days of load, 80 MB

FloatArray = npt.NDArray[np.float64]
LOAD_NAMES = ("flat", "steady", "fluctuating")


@dataclass(frozen=True, kw_only=True)
class RateProfile:
    """A piecewise-linear rate: ``rates[i]`` QPS at ``times[i]``, constant past the ends.


    Parameters
    ----------
    times : tuple of float
        Knot times, seconds, strictly increasing (finite).
    rates : tuple of float
        Arrival rate at each knot, queries per second (finite, >= 0); as many as ``times``.

    Raises
    ------
    WorkloadError
        If the lengths differ, the times do not increase or a rate is negative.

    Examples
    --------
    >>> p = RateProfile(times=(0.0, 10.0), rates=(0.0, 10.0))
    >>> p.rate(5.0), round(p.expected_count(10.0), 6)
    (5.0, 50.0)
    """

    times: tuple[float, ...]
    rates: tuple[float, ...]

    def __post_init__(self) -> None:
        t = tuple(float(x) for x in self.times)
        r = tuple(float(x) for x in self.rates)
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "rates", r)
        if not t or len(t) != len(r):
            raise WorkloadError(f"a rate profile needs as many times as rates, got {len(t)} "
                                f"times and {len(r)} rates")
        if any(b <= a for a, b in itertools.pairwise(t)) or not np.all(np.isfinite(t)):
            raise WorkloadError(f"rate profile times must increase strictly, got {t}")
        if any(not (x >= 0 and np.isfinite(x)) for x in r):
            raise WorkloadError(f"rates must be finite and non-negative, got {r}")

    def rate(self, t: float | FloatArray) -> FloatArray | float:
        """The rate at ``t``: linear between knots, constant past the ends.


        Parameters
        ----------
        t : float or numpy.ndarray
            Time or times, seconds.

        Returns
        -------
        float or numpy.ndarray
            The interpolated rate, queries per second (a float for a scalar ``t``).
        """
        out = np.interp(t, self.times, self.rates)
        return float(out) if np.ndim(out) == 0 else out

    def cumulative(self, grid: FloatArray) -> FloatArray:
        """Expected arrivals in [0, t] for each t of a sorted grid starting at 0.


        Parameters
        ----------
        grid : numpy.ndarray
            Sorted times, seconds, starting at 0.

        Returns
        -------
        numpy.ndarray
            Expected arrivals in ``[0, grid[i]]`` (trapezoidal rule), same shape as ``grid``.
        """
        r = np.interp(grid, self.times, self.rates)
        steps = np.diff(grid) * (r[1:] + r[:-1]) / 2.0
        # np.interp is exact at the profile's knots only if they are on the grid
        return np.concatenate([[0.0], np.cumsum(steps)])

    def expected_count(self, duration: float) -> float:
        """Parameters
        ----------
        duration : float
            End of the window, seconds.

        Returns
        -------
        float
            Expected number of arrivals in ``[0, duration]``.
        """
        grid = _grid(self, duration)
        return float(self.cumulative(grid)[-1])


def _grid(profile: RateProfile, duration: float) -> FloatArray:
    points = duration / 0.05
    if not points <= _MAX_GRID:  # checked before allocating (NaN fails too)
        raise WorkloadError(f"duration {duration!r} s needs a 50 ms rate grid of {points:.3g} "
                            f"points, above the limit of {_MAX_GRID} ({_MAX_GRID * 0.05:g} s)")
    knots = [t for t in profile.times if 0 < t < duration]
    base = np.linspace(0.0, duration, max(2, int(points) + 1))
    return np.unique(np.concatenate([base, knots]))


def sample_arrivals(profile: RateProfile, duration: float, *, seed: SeedLike,
                    cv: float = 1.0) -> FloatArray:
    """Arrival times in ``[0, duration)`` of a renewal process following ``profile``.

    Parameters
    ----------
    profile : RateProfile
        The arrival rate over time.
    duration : float
        Length of the window, seconds (positive, finite).
    seed : int or numpy.random.Generator
        Random state (a Generator is advanced).
    cv : float
        Coefficient of variation of the unit-rate gaps (positive, finite): 1 gives a Poisson
        process, larger values Gamma-distributed bursts (shape ``1/cv²``).

    Returns
    -------
    numpy.ndarray
        Sorted arrival times, seconds, in ``[0, duration)``; empty when the rate is 0.

    Raises
    ------
    WorkloadError
        If ``duration`` or ``cv`` is not positive and finite.

    Examples
    --------
    >>> a = sample_arrivals(RateProfile(times=(0.0,), rates=(100.0,)), 50.0, seed=0)
    >>> 4700 < a.size < 5300, bool(np.all(np.diff(a) >= 0)), bool(a.max() < 50.0)
    (True, True, True)
    """
    if not (np.isfinite(duration) and duration > 0):
        raise WorkloadError(f"duration must be positive and finite, got {duration!r}")
    if not (np.isfinite(cv) and cv > 0):
        raise WorkloadError(f"cv must be positive and finite, got {cv!r}")
    rng = as_generator(seed)
    grid = _grid(profile, duration)
    cum = profile.cumulative(grid)
    total = float(cum[-1])
    if total <= 0:
        return np.empty(0)
    if total > MAX_ARRIVALS:
        raise WorkloadError(f"the load expects {total:.3g} arrivals in {duration!r} s, above "
                            f"the limit of {MAX_ARRIVALS} (workloads.arrivals.MAX_ARRIVALS)")
    shape = 1.0 / (cv * cv)
    chunks: list[FloatArray] = []
    reached = 0.0
    while reached < total:
        n = int((total - reached) * 1.1) + 16
        gaps = rng.exponential(1.0, n) if cv == 1.0 else rng.gamma(shape, 1.0 / shape, n)
        points = reached + np.cumsum(gaps)
        chunks.append(points)
        reached = float(points[-1])
    unit = np.concatenate(chunks)
    unit = unit[unit < total]
    # invert the cumulative rate; flat stretches (rate 0) have no arrivals
    times = np.interp(unit, cum, grid)
    return np.minimum(times, np.nextafter(duration, 0.0))


def flat_load(rate: float = 4.0) -> RateProfile:
    """INFaaS's flat low load: a constant rate (default 4 QPS).


    Parameters
    ----------
    rate : float
        Queries per second.

    Returns
    -------
    RateProfile
        The constant rate.
    """
    return RateProfile(times=(0.0,), rates=(rate,))


def steady_load(duration: float, start: float = 650.0, end: float = 700.0) -> RateProfile:
    """INFaaS's steady high load: a slow ramp from ``start`` to ``end`` QPS.


    Parameters
    ----------
    duration : float
        Seconds over which the rate ramps.
    start : float
        Rate at time 0, queries per second.
    end : float
        Rate at ``duration``, queries per second.

    Returns
    -------
    RateProfile
        A linear ramp, constant after ``duration``.
    """
    return RateProfile(times=(0.0, duration), rates=(start, end))


def fluctuating_load(duration: float, low: float = 4.0, high: float = 80.0,
                     period: float = 1800.0, step: float = 10.0) -> RateProfile:
    """INFaaS's fluctuating load: a sinusoid between ``low`` and ``high`` QPS.

    It starts at ``low`` and peaks every ``period`` seconds (sampled every ``step`` seconds).

    Parameters
    ----------
    duration : float
        Seconds covered by the profile's knots.
    low : float
        Trough rate, queries per second (>= 0).
    high : float
        Peak rate, queries per second (>= ``low``).
    period : float
        Seconds between peaks.
    step : float
        Seconds between knots.

    Returns
    -------
    RateProfile
        The sampled sinusoid.

    Raises
    ------
    WorkloadError
        If ``high < low`` or ``low < 0``.

    Examples
    --------
    >>> p = fluctuating_load(600.0, period=600.0)
    >>> p.rate(0.0), p.rate(300.0), p.rate(600.0)
    (4.0, 80.0, 4.0)
    """
    if not (high >= low >= 0):
        raise WorkloadError(f"need high >= low >= 0, got low={low!r} high={high!r}")
    t = np.arange(0.0, duration + step, step)
    r = low + (high - low) * (1 - np.cos(2 * np.pi * t / period)) / 2
    return RateProfile(times=tuple(t.tolist()), rates=tuple(r.tolist()))


def load_preset(name: str, duration: float) -> RateProfile:
    """The named INFaaS load: ``flat``, ``steady`` or ``fluctuating``.


    Parameters
    ----------
    name : str
        ``flat`` (4 QPS), ``steady`` (650 -> 700 QPS over the run) or ``fluctuating`` (4-80
        QPS, period ``min(1800, duration)``).
    duration : float
        Length of the run, seconds.

    Returns
    -------
    RateProfile
        The load.

    Raises
    ------
    WorkloadError
        If ``name`` is unknown.
    """
    if name == "flat":
        return flat_load()
    if name == "steady":
        return steady_load(duration)
    if name == "fluctuating":
        return fluctuating_load(duration, period=min(1800.0, duration))
    raise WorkloadError(f"unknown load {name!r}; known: {', '.join(LOAD_NAMES)}")


def make_queries(profile: RateProfile, duration: float, *, seed: SeedLike,
                 task: str, slo: float, accuracy_mix: Mapping[float, float] | None = None,
                 cv: float = 1.0) -> ModellessQueries:
    """Model-less queries for one task with a rate profile and a mix of accuracy floors.

    Parameters
    ----------
    profile : RateProfile
        The arrival rate over time.
    duration : float
        Length of the window, seconds.
    seed : int or numpy.random.Generator
        Random state of the arrivals and of the floors drawn.
    task : str
        Task of every query.
    slo : float
        Latency SLO of every query, seconds.
    accuracy_mix : mapping of float to float or None
        Floor (top-1 %) to the fraction of queries asking for it (fractions sum to 1);
        None: no query sets a floor.
    cv : float
        Coefficient of variation of the inter-arrival gaps.

    Returns
    -------
    ModellessQueries
        The queries, sorted by arrival.

    Raises
    ------
    WorkloadError
        If the fractions are negative or do not sum to 1, or a window value is invalid.

    Examples
    --------
    >>> q = make_queries(flat_load(10.0), 100.0, seed=1, task="t",
    ...                  slo=0.2, accuracy_mix={70.0: 0.5, 75.0: 0.5})
    >>> sorted(set(q.min_accuracy.tolist())), q.tasks
    ([70.0, 75.0], ('t',))
    """
    rng = as_generator(seed)
    arrival = sample_arrivals(profile, duration, seed=rng, cv=cv)
    mix = {0.0: 1.0} if accuracy_mix is None else dict(accuracy_mix)
    floors = np.array(list(mix), dtype=np.float64)
    weights = np.array(list(mix.values()), dtype=np.float64)
    if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise WorkloadError(f"accuracy_mix fractions must be >= 0 and sum to 1, got {mix}")
    acc = floors[rng.choice(floors.size, size=arrival.size, p=weights)]
    return ModellessQueries.from_arrays(arrival=arrival, task=task, slo=slo, min_accuracy=acc)


def concatenate_profiles(parts: Sequence[tuple[float, RateProfile]]) -> RateProfile:
    """Profiles played one after another, each for its duration (a step load, say).


    Parameters
    ----------
    parts : sequence of (float, RateProfile)
        Each part's duration, seconds (positive), and profile (read from its own time 0).

    Returns
    -------
    RateProfile
        The parts back to back.

    Raises
    ------
    WorkloadError
        If a duration is not positive.

    Examples
    --------
    >>> p = concatenate_profiles([(10.0, flat_load(1.0)), (10.0, flat_load(5.0))])
    >>> p.rate(5.0), p.rate(15.0)
    (1.0, 5.0)
    """
    times: list[float] = []
    rates: list[float] = []
    offset = 0.0
    for duration, prof in parts:
        if not duration > 0:
            raise WorkloadError(f"each part needs a positive duration, got {duration!r}")
        inner = [t for t in prof.times if 0 < t < duration]
        for t in [0.0, *inner, duration * (1 - 1e-9)]:
            times.append(offset + t)
            rates.append(float(prof.rate(t)))
        offset += duration
    return RateProfile(times=tuple(times), rates=tuple(rates))
