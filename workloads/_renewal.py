"""Shared machinery of the renewal arrival processes in :mod:`workloads.arrivals`: argument
checks, the documented size limit, and generation by count or by duration with a stationary
(residual-life) or ordinary first gap. See :mod:`workloads.arrivals` for the theory.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from workloads._rng import SeedLike, as_generator
from workloads.errors import WorkloadError

FloatArray = npt.NDArray[np.float64]
StartMode = Literal["stationary", "ordinary"]
START_MODES: tuple[str, ...] = ("stationary", "ordinary")
# The most arrivals one ``generate`` call may produce (8 bytes each: 400 MB). A larger
# request is almost always a unit mistake or an extreme CV, and fails before allocating.
MAX_ARRIVALS = 50_000_000
_CHUNK = 1 << 22  # gaps drawn at a time by duration (32 MB), so memory follows the count


def check_request(n: int | None, duration: float | None, start: float) -> None:
    """Validate the ``n`` / ``duration`` / ``start`` arguments of ``generate``."""
    if (n is None) == (duration is None):
        raise WorkloadError(f"give exactly one of n and duration, got n={n!r}, "
                            f"duration={duration!r}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0):
        raise WorkloadError(f"n must be a non-negative int, got {n!r}")
    if duration is not None and not (math.isfinite(duration) and duration >= 0):
        raise WorkloadError(f"duration must be a non-negative finite number, got {duration!r}")
    if not math.isfinite(start):
        raise WorkloadError(f"start must be finite, got {start!r}")
    if n is not None and n > MAX_ARRIVALS:
        raise WorkloadError(f"n = {n} arrivals exceeds the limit of {MAX_ARRIVALS} "
                            "(workloads.arrivals.MAX_ARRIVALS)")


def check_positive(name: str, value: float) -> None:
    """Raise unless ``value`` is a positive finite number (``name`` names it)."""
    if not (isinstance(value, int | float | np.floating | np.integer)
            and math.isfinite(value) and value > 0):
        raise WorkloadError(f"{name} must be a positive finite number, got {value!r}")


def check_start_mode(mode: object) -> None:
    """Raise unless ``mode`` is ``"stationary"`` or ``"ordinary"``."""
    if mode not in START_MODES:
        raise WorkloadError(f"start_mode must be one of {list(START_MODES)}, got {mode!r}")


def check_expected(rate: float, duration: float) -> None:
    """Raise if ``rate * duration`` arrivals would exceed :data:`MAX_ARRIVALS`."""
    expected = rate * duration
    if not expected <= MAX_ARRIVALS:
        raise WorkloadError(f"rate {rate!r}/s over {duration!r} s expects {expected:.3g} "
                            f"arrivals, above the limit of {MAX_ARRIVALS} "
                            "(workloads.arrivals.MAX_ARRIVALS)")


class _Renewal:
    """Shared generation for processes with i.i.d. gaps; subclasses fill a gap buffer."""

    if TYPE_CHECKING:  # provided by each subclass as a field or a property

        @property
        def rate(self) -> float: ...

        @property
        def cv(self) -> float: ...

        @property
        def start_mode(self) -> StartMode: ...

    def _fill_gaps(self, rng: np.random.Generator, out: FloatArray) -> None:
        raise NotImplementedError

    def _length_biased(self, rng: np.random.Generator) -> float:
        """One gap drawn with density ``rate * x * f(x)`` (the gap covering an instant)."""
        raise NotImplementedError

    @property
    def _memoryless(self) -> bool:
        """True when an ordinary first gap is already a residual life (Poisson)."""
        return False

    def _residual(self, rng: np.random.Generator) -> float:
        """One draw of the residual life (density ``rate * (1 - F(x))``): ``U * L``."""
        length = self._length_biased(rng)
        return float(rng.random()) * length

    def _by_count(self, rng: np.random.Generator, n: int, start: float,
                  stationary: bool = False) -> FloatArray:
        buf = np.empty(n, dtype=np.float64)
        if n:
            self._fill_gaps(rng, buf)
            if stationary:
                buf[0] = self._residual(rng)
            buf[0] += start
            np.cumsum(buf, out=buf)  # in place: no second n-sized array
        return buf

    def generate(self, *, seed: SeedLike, n: int | None = None, duration: float | None = None,
                 start: float = 0.0) -> FloatArray:
        """Sorted arrival times: ``n`` of them, or all those in ``[start, start + duration)``.

        With ``start_mode="stationary"`` the first gap is a residual life (see the module
        docstring), otherwise an ordinary gap. More than :data:`MAX_ARRIVALS` arrivals
        (asked for, expected, or drawn) raise :class:`WorkloadError`.

        Parameters
        ----------
        seed
            An int, a ``SeedSequence`` or a ``numpy.random.Generator``.
        n, duration
            Exactly one: the number of arrivals, or the span in seconds.
        start
            Time origin in seconds.

        Returns
        -------
        numpy.ndarray
            Sorted float64 arrival times.

        Examples
        --------
        >>> from workloads.arrivals import GammaProcess, poisson
        >>> t = GammaProcess(rate=10.0, cv=2.0).generate(n=5, seed=0)
        >>> t.shape, bool((t[1:] >= t[:-1]).all())
        ((5,), True)
        >>> t = poisson(100.0).generate(duration=1.0, start=5.0, seed=0)
        >>> bool(t.min() >= 5.0 and t.max() < 6.0)
        True
        """
        check_request(n, duration, start)
        # A Poisson process needs no residual draw, which keeps its streams as they were.
        stationary = self.start_mode == "stationary" and not self._memoryless
        rng = as_generator(seed)
        if n is not None:
            return self._by_count(rng, int(n), float(start), stationary)
        if duration is None:  # for mypy; check_request guarantees it
            raise WorkloadError("duration is required when n is not given")
        check_expected(self.rate, duration)
        end = float(start) + float(duration)
        mean = self.rate * duration
        # Draw enough for the whole span with high probability; loop on the rare shortfall.
        # Chunks are bounded, so an extreme CV fails below instead of allocating gigabytes.
        spread = self.cv * math.sqrt(mean) if math.isfinite(self.cv) else 0.1 * mean
        want = min(int(mean + 6.0 * spread + 16), _CHUNK)
        chunks = [self._by_count(rng, want, float(start), stationary)]
        drawn = want
        while chunks[-1][-1] < end:
            if drawn > MAX_ARRIVALS:
                raise WorkloadError(
                    f"more than {MAX_ARRIVALS} arrivals drawn in {duration!r} s at rate "
                    f"{self.rate!r}/s and CV {self.cv!r} (workloads.arrivals.MAX_ARRIVALS); "
                    "lower the CV or the duration")
            remaining = (end - chunks[-1][-1]) * self.rate
            want = min(int(remaining * 1.2 + 6.0 * math.sqrt(remaining + 1.0) + 16), _CHUNK)
            chunks.append(self._by_count(rng, want, float(chunks[-1][-1])))
            drawn += want
        arr = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
        kept = int(np.searchsorted(arr, end, side="left"))
        if kept > MAX_ARRIVALS:
            raise WorkloadError(f"{kept} arrivals in {duration!r} s at rate {self.rate!r}/s "
                                f"and CV {self.cv!r} exceed the limit of {MAX_ARRIVALS} "
                                "(workloads.arrivals.MAX_ARRIVALS); lower the CV or duration")
        return arr[:kept]
