"""Renewal arrival processes: Gamma (Poisson at CV 1), deterministic, uniform and Pareto.

Every process is a frozen, keyword-only dataclass with a theoretical mean ``rate`` (requests
per second) and inter-arrival ``cv``, and one method, :meth:`generate`, that draws sorted
arrival times either by count (``n``) or over a time span (``duration``). Generation is
vectorised: inter-arrival gaps are drawn into one float64 buffer and summed in place, so
1 M arrivals cost a few tens of milliseconds. Randomness comes only from the given ``seed``
(an int, a ``SeedSequence`` or a ``numpy.random.Generator``).

Stationary start (the default)
------------------------------
A renewal process observed from an arbitrary time ``start`` has its first arrival after the
*residual life* of the gap that straddles ``start``, not after an ordinary gap: the gap that
covers a given instant is length-biased. With gap CDF ``F`` and mean ``1/rate`` the residual
life has density ``rate * (1 - F(x))``. With ``start_mode="stationary"`` every process draws
its first gap from that law, exactly, as ``U * L`` with ``L`` the length-biased gap (density
``rate * x * f(x)``) and ``U`` uniform on ``[0, 1)``; the count in any window of length ``T``
then has mean ``rate * T``. For Gamma(shape ``k``, scale ``θ``) gaps, ``L`` is
Gamma(``k + 1``, ``θ``).

``start_mode="ordinary"`` (AlpaServe's generator, and this module's behaviour before) takes
the first arrival one ordinary gap after ``start``. By the renewal theorem its expected count
in ``[start, start + T)`` is ``rate * T + (cv**2 - 1) / 2 + o(1)`` for large ``T``: about
``(cv**2 - 1) / 2`` extra requests per process (31.5 at CV 8), so bursty multi-model mixes
over short windows carry noticeably more load than their nominal rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from workloads._renewal import (
    MAX_ARRIVALS,
    START_MODES,
    StartMode,
    _Renewal,
    check_positive,
    check_start_mode,
)
from workloads._rng import SeedLike
from workloads.errors import WorkloadError
from workloads.pareto import ParetoProcess

FloatArray = npt.NDArray[np.float64]
_MIN_CV = 1e-8  # below this a Gamma process is deterministic to float precision

__all__ = [
    "MAX_ARRIVALS",
    "START_MODES",
    "ArrivalProcess",
    "DeterministicProcess",
    "GammaProcess",
    "ParetoProcess",
    "StartMode",
    "UniformProcess",
    "poisson",
]


@runtime_checkable
class ArrivalProcess(Protocol):
    """What every arrival process offers: its mean rate, its CV and a generator.

    Examples
    --------
    >>> isinstance(GammaProcess(rate=1.0), ArrivalProcess)
    True
    """

    @property
    def rate(self) -> float: ...

    @property
    def cv(self) -> float: ...

    def generate(self, *, seed: SeedLike, n: int | None = None, duration: float | None = None,
                 start: float = 0.0) -> FloatArray:
        """Sorted arrival times: ``n`` of them, or all those in ``[start, start + duration)``.

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
            Time in seconds the process starts at; the first arrival comes one gap later.

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
        >>> DeterministicProcess(rate=2.0, start_mode="ordinary").generate(duration=2.0,
        ...                                                              seed=0).tolist()
        [0.5, 1.0, 1.5]
        """
        ...


@dataclass(frozen=True, kw_only=True)
class GammaProcess(_Renewal):
    """Gamma-distributed gaps with mean ``1/rate`` and CV ``cv``.

    Shape is ``1/cv**2`` and scale ``cv**2/rate``; ``cv = 1`` is a Poisson process and
    ``cv = 0`` is deterministic (so is any CV below ``1e-8``, where the gaps would differ
    from ``1/rate`` by less than their floating-point rounding).

    Parameters
    ----------
    rate : float
        Mean arrival rate in requests per second; positive and finite.
    cv : float, default 1.0
        Coefficient of variation of the gaps; non-negative and finite (1 is Poisson).
    start_mode : {"stationary", "ordinary"}, default "stationary"
        ``"stationary"``: the first gap is a residual life ``U * L`` with
        ``L ~ Gamma(1/cv**2 + 1, cv**2/rate)``, so any window of length ``T`` holds
        ``rate * T`` arrivals on average. ``"ordinary"``: the first gap is an ordinary one
        (AlpaServe's generator), which adds about ``(cv**2 - 1) / 2`` arrivals.

    Raises
    ------
    WorkloadError
        If ``rate`` is not positive or ``cv`` is negative or not finite.

    Examples
    --------
    >>> t = GammaProcess(rate=50.0, cv=4.0).generate(n=200_000, seed=1)
    >>> round(float(len(t) / t[-1]) / 50.0, 1)
    1.0
    >>> GammaProcess(rate=2.0, cv=8.0, start_mode="ordinary").start_mode
    'ordinary'
    """

    rate: float
    cv: float = 1.0
    start_mode: StartMode = "stationary"

    def __post_init__(self) -> None:
        check_positive("rate", self.rate)
        if not (math.isfinite(self.cv) and self.cv >= 0):
            raise WorkloadError(f"cv must be a non-negative finite number, got {self.cv!r}")
        check_start_mode(self.start_mode)
        object.__setattr__(self, "rate", float(self.rate))
        object.__setattr__(self, "cv", float(self.cv))

    @property
    def shape(self) -> float:
        """Gamma shape ``1/cv**2`` (infinite for ``cv = 0``)."""
        return math.inf if self.cv < _MIN_CV else 1.0 / self.cv**2

    @property
    def scale(self) -> float:
        """Gamma scale ``cv**2/rate``."""
        return self.cv**2 / self.rate

    @property
    def _memoryless(self) -> bool:
        return self.cv == 1

    def _length_biased(self, rng: np.random.Generator) -> float:
        if self.cv < _MIN_CV:
            return 1.0 / self.rate
        return float(rng.standard_gamma(self.shape + 1.0)) * self.scale

    def _fill_gaps(self, rng: np.random.Generator, out: FloatArray) -> None:
        if self.cv < _MIN_CV:
            out.fill(1.0 / self.rate)
        elif self.cv == 1:
            rng.standard_exponential(out=out)  # ziggurat: faster than gamma(1)
            out *= 1.0 / self.rate
        else:
            rng.standard_gamma(self.shape, out=out)
            out *= self.scale


def poisson(rate: float) -> GammaProcess:
    """A Poisson process: ``GammaProcess(rate=rate, cv=1)``.

    Parameters
    ----------
    rate : float
        Mean arrival rate in requests per second; positive and finite.

    Returns
    -------
    GammaProcess
        The Gamma process with CV 1 (exponential gaps).

    Examples
    --------
    >>> poisson(3.0)
    GammaProcess(rate=3.0, cv=1.0, start_mode='stationary')
    """
    return GammaProcess(rate=rate, cv=1.0)


@dataclass(frozen=True, kw_only=True)
class DeterministicProcess(_Renewal):
    """Evenly spaced arrivals, one every ``1/rate`` seconds (CV 0).

    With ``start_mode="stationary"`` (default) the phase is random: the first arrival is
    uniform on ``[start, start + 1/rate)``; ``"ordinary"`` puts it at ``start + 1/rate``.

    Parameters
    ----------
    rate : float
        Arrival rate in requests per second; positive and finite.
    start_mode : {"stationary", "ordinary"}, default "stationary"
        The first arrival's phase (above).

    Examples
    --------
    >>> DeterministicProcess(rate=4.0, start_mode="ordinary").generate(n=3, seed=0).tolist()
    [0.25, 0.5, 0.75]
    >>> t = DeterministicProcess(rate=4.0).generate(n=3, seed=0)
    >>> bool(0.0 <= t[0] < 0.25), (t[1:] - t[:-1]).round(6).tolist()
    (True, [0.25, 0.25])
    """

    rate: float
    start_mode: StartMode = "stationary"

    def __post_init__(self) -> None:
        check_positive("rate", self.rate)
        check_start_mode(self.start_mode)
        object.__setattr__(self, "rate", float(self.rate))

    @property
    def cv(self) -> float:
        return 0.0

    def _length_biased(self, rng: np.random.Generator) -> float:
        return 1.0 / self.rate

    def _by_count(self, rng: np.random.Generator, n: int, start: float,
                  stationary: bool = False) -> FloatArray:
        # Multiply instead of summing so that rounding errors do not accumulate.
        out = np.arange(1, n + 1, dtype=np.float64)
        if stationary:
            out -= 1.0 - float(rng.random())
        out /= self.rate
        out += start
        return out


@dataclass(frozen=True, kw_only=True)
class UniformProcess(_Renewal):
    """Gaps uniform on ``[(1 - spread)/rate, (1 + spread)/rate]``; CV is ``spread/sqrt(3)``.

    ``spread`` lies in ``[0, 1]``, so the CV is at most ``1/sqrt(3) ≈ 0.577``.

    Parameters
    ----------
    rate : float
        Mean arrival rate in requests per second; positive and finite.
    spread : float, default 1.0
        Half-width of the gap range relative to the mean gap, in ``[0, 1]`` (0 is
        deterministic).
    start_mode : {"stationary", "ordinary"}, default "stationary"
        The first gap (see :class:`GammaProcess`).

    Raises
    ------
    WorkloadError
        If ``rate`` is not positive or ``spread`` lies outside ``[0, 1]``.

    Examples
    --------
    >>> p = UniformProcess.from_cv(rate=2.0, cv=0.5)
    >>> round(p.spread, 4), round(p.cv, 4)
    (0.866, 0.5)
    """

    rate: float
    spread: float = 1.0
    start_mode: StartMode = "stationary"

    def __post_init__(self) -> None:
        check_positive("rate", self.rate)
        if not (math.isfinite(self.spread) and 0 <= self.spread <= 1):
            raise WorkloadError(f"spread must lie in [0, 1], got {self.spread!r}")
        check_start_mode(self.start_mode)
        object.__setattr__(self, "rate", float(self.rate))
        object.__setattr__(self, "spread", float(self.spread))

    @classmethod
    def from_cv(cls, *, rate: float, cv: float,
                start_mode: StartMode = "stationary") -> UniformProcess:
        """The uniform process with the given CV (at most ``1/sqrt(3)``).

        Parameters
        ----------
        rate : float
            Mean arrival rate in requests per second; positive and finite.
        cv : float
            Coefficient of variation of the gaps, in ``[0, 1/sqrt(3)]``.
        start_mode : {"stationary", "ordinary"}, default "stationary"
            The first gap (see :class:`GammaProcess`).

        Returns
        -------
        UniformProcess
            The process with ``spread = cv * sqrt(3)``.

        Raises
        ------
        WorkloadError
            If ``cv`` lies outside ``[0, 1/sqrt(3)]``.

        Examples
        --------
        >>> UniformProcess.from_cv(rate=1.0, cv=0.0).spread
        0.0
        """
        if not (math.isfinite(cv) and 0 <= cv <= 1 / math.sqrt(3) + 1e-12):
            raise WorkloadError(f"a uniform process has CV in [0, 1/sqrt(3)], got {cv!r}")
        return cls(rate=rate, spread=min(1.0, cv * math.sqrt(3)), start_mode=start_mode)

    @property
    def cv(self) -> float:
        return self.spread / math.sqrt(3)

    def _length_biased(self, rng: np.random.Generator) -> float:
        # Density proportional to x on [lo, hi]: invert its CDF (x² - lo²) / (hi² - lo²).
        lo = (1.0 - self.spread) / self.rate
        hi = (1.0 + self.spread) / self.rate
        return math.sqrt(lo * lo + float(rng.random()) * (hi * hi - lo * lo))

    def _fill_gaps(self, rng: np.random.Generator, out: FloatArray) -> None:
        rng.random(out=out)
        out *= 2.0 * self.spread / self.rate
        out += (1.0 - self.spread) / self.rate
