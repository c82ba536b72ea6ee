"""Heavy-tailed arrivals: a renewal process with Pareto (Lomax) inter-arrival gaps.

A :class:`ParetoProcess` is one of the renewal processes of :mod:`workloads.arrivals` (same
``generate``, stationary or ordinary start; re-exported there), for burstiness whose gaps
have a power-law tail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workloads._renewal import StartMode, _Renewal, check_positive, check_start_mode
from workloads.errors import WorkloadError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class ParetoProcess(_Renewal):
    """Pareto (type I) gaps with tail index ``shape > 1`` and mean ``1/rate``.

    The scale is ``(shape - 1) / (shape * rate)``. The CV is ``1/sqrt(shape (shape - 2))``
    for ``shape > 2`` and infinite otherwise: a heavy-tailed, very bursty process.

    Parameters
    ----------
    rate : float
        Mean arrival rate in requests per second; positive and finite.
    shape : float
        Tail index ``a``; must exceed 1 for a finite mean (the CV is finite above 2).
    start_mode : {"stationary", "ordinary"}, default "stationary"
        The first gap (see :class:`GammaProcess`).

    Raises
    ------
    WorkloadError
        If ``rate`` is not positive or ``shape`` is not above 1.

    Examples
    --------
    >>> p = ParetoProcess.from_cv(rate=1.0, cv=2.0)
    >>> round(p.shape, 4), round(p.cv, 4)
    (2.118, 2.0)
    """

    rate: float
    shape: float
    start_mode: StartMode = "stationary"

    def __post_init__(self) -> None:
        check_positive("rate", self.rate)
        if not (math.isfinite(self.shape) and self.shape > 1):
            raise WorkloadError(
                f"Pareto shape must exceed 1 for a finite mean, got {self.shape!r}")
        check_start_mode(self.start_mode)
        object.__setattr__(self, "rate", float(self.rate))
        object.__setattr__(self, "shape", float(self.shape))

    @classmethod
    def from_cv(cls, *, rate: float, cv: float,
                start_mode: StartMode = "stationary") -> ParetoProcess:
        """The Pareto process whose gaps have the given (positive, finite) CV.

        Parameters
        ----------
        rate : float
            Mean arrival rate in requests per second; positive and finite.
        cv : float
            Coefficient of variation of the gaps; positive and finite.
        start_mode : {"stationary", "ordinary"}, default "stationary"
            The first gap (see :class:`GammaProcess`).

        Returns
        -------
        ParetoProcess
            The process with ``shape = 1 + sqrt(1 + 1/cv**2)``.

        Raises
        ------
        WorkloadError
            If ``cv`` is not positive and finite.

        Examples
        --------
        >>> round(ParetoProcess.from_cv(rate=2.0, cv=1.0).scale, 4)
        0.2929
        """
        check_positive("cv", cv)
        return cls(rate=rate, shape=1.0 + math.sqrt(1.0 + 1.0 / cv**2), start_mode=start_mode)

    @property
    def cv(self) -> float:
        a = self.shape
        return math.inf if a <= 2 else 1.0 / math.sqrt(a * (a - 2.0))

    @property
    def scale(self) -> float:
        """The minimum gap ``x_m``."""
        return (self.shape - 1.0) / (self.shape * self.rate)

    def _length_biased(self, rng: np.random.Generator) -> float:
        # x * f(x) of Pareto(a, x_m) is Pareto(a - 1, x_m): a proper law for any a > 1.
        return self.scale * math.exp(float(rng.standard_exponential()) / (self.shape - 1.0))

    def _fill_gaps(self, rng: np.random.Generator, out: FloatArray) -> None:
        # Inverse transform x_m * U**(-1/a) = x_m * exp(E/a), computed in place.
        rng.standard_exponential(out=out)
        out *= 1.0 / self.shape
        np.exp(out, out=out)
        out *= self.scale
