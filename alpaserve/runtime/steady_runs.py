"""Repeating a real-time attempt until enough of them saw a steady host.

:func:`run_until_steady` runs an attempt until ``needed`` of them were steady (judged by
:class:`~alpaserve.runtime.stationarity.Tolerance`), at most ``max_attempts`` times;
:class:`SteadyRuns` keeps every attempt, why each unsteady one was set aside, and the median of
the steady ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from alpaserve._validation import positive_int
from alpaserve.errors import SimulationError, SpecError
from alpaserve.runtime.stationarity import Stationarity, Tolerance

logger = logging.getLogger(__name__)

R = TypeVar("R")


@dataclass(frozen=True, kw_only=True)
class Attempt(Generic[R]):
    """One attempt's result, what it saw of the host, and why it was set aside (if it was).

    Parameters
    ----------
    result : object
        What the attempt returned (e.g. a :class:`~alpaserve.runtime.fidelity.FidelityReport`).
    stationarity : Stationarity
        What it saw of the host.
    violations : tuple of str
        Why it was set aside; empty when the host was steady.
    """

    result: R
    stationarity: Stationarity
    violations: tuple[str, ...]

    @property
    def steady(self) -> bool:
        return not self.violations


@dataclass(frozen=True, kw_only=True)
class SteadyRuns(Generic[R]):
    """Every attempt of :func:`run_until_steady`, in order.

    Parameters
    ----------
    attempts : tuple of Attempt
        Every attempt, in order.
    needed : int
        Steady attempts wanted.
    tolerance : Tolerance
        The limits the attempts were judged by.
    """

    attempts: tuple[Attempt[R], ...]
    needed: int
    tolerance: Tolerance

    @property
    def steady(self) -> list[R]:
        return [a.result for a in self.attempts if a.steady]

    @property
    def complete(self) -> bool:
        """Whether ``needed`` attempts saw a steady host (otherwise the premise failed)."""
        return len(self.steady) >= self.needed

    def median(self, key: Callable[[R], float]) -> R:
        """The steady result of median ``|key|``; with an even count, the larger of the two.

        Judging ``|key|`` (not ``key``) means at least half the steady attempts are as
        close as the one returned.

        Parameters
        ----------
        key : callable
            Maps a result to the number judged (e.g. an attainment difference in points).

        Returns
        -------
        object
            The chosen steady attempt's result.

        Raises
        ------
        SimulationError
            When no attempt was steady.
        """
        ranked = sorted(self.steady, key=lambda r: abs(key(r)))
        if not ranked:
            raise SimulationError(f"no steady attempt among {len(self.attempts)}: "
                                  f"{self.skip_reason()}")
        return ranked[len(ranked) // 2]

    def skip_reason(self, render: Callable[[R], str] | None = None) -> str:
        """Why the comparison could not be made, with every attempt's measurements and,
        with ``render``, its (unjudged) result.

        Parameters
        ----------
        render : callable, optional
            Formats a result for the message.

        Returns
        -------
        str
            A multi-line message for ``pytest.skip`` or a log.
        """
        lines = [f"{len(self.steady)} of {len(self.attempts)} attempts saw a steady host "
                 f"({self.needed} needed); the premise of a real-time comparison (stages "
                 f"keep their profiled speed) failed:"]
        for i, a in enumerate(self.attempts):
            why = "; ".join(a.violations) or "steady"
            shown = f" -> {render(a.result)}" if render is not None else ""
            lines.append(f"  attempt {i}: {why} [{a.stationarity.describe()}]{shown}")
        return "\n".join(lines)

    def describe(self, render: Callable[[R], str] = str) -> str:
        """Every attempt: its verdict on the host, then its result.

        Parameters
        ----------
        render : callable, default str
            Formats a result.

        Returns
        -------
        str
            One paragraph per attempt.
        """
        return "\n\n".join(
            f"attempt {i} ({'steady' if a.steady else '; '.join(a.violations)}):\n"
            f"{render(a.result)}" for i, a in enumerate(self.attempts))


def run_until_steady(attempt: Callable[[int], tuple[R, Stationarity]], *, needed: int = 3,
                     max_attempts: int = 5,
                     tolerance: Tolerance | None = None) -> SteadyRuns[R]:
    """Call ``attempt(i)`` until ``needed`` attempts saw a steady host, ``max_attempts`` at most.

    Stops early once the attempts left cannot reach ``needed``.

    Parameters
    ----------
    attempt : callable
        ``attempt(i)`` runs attempt ``i`` and returns its result and what it saw of the host.
    needed : int, default 3
        Steady attempts wanted.
    max_attempts : int, default 5
        The most attempts made.
    tolerance : Tolerance, optional
        The limits; :class:`Tolerance`'s defaults when omitted.

    Returns
    -------
    SteadyRuns
        Every attempt made; ``complete`` when ``needed`` were steady.

    Examples
    --------
    >>> from alpaserve.runtime.host_load import HostLoad
    >>> quiet = HostLoad(wall=1.0, other_cores=0.0, steal_cores=0.0, own_cores=0.5)
    >>> drifts = iter([0.5, 0.01, 0.02])
    >>> runs = run_until_steady(lambda i: (i, Stationarity(drift={"m": next(drifts)},
    ...                                                    load=quiet)), needed=2)
    >>> runs.steady, runs.complete, len(runs.attempts)
    ([1, 2], True, 3)
    """
    positive_int("run_until_steady", "needed", needed)
    positive_int("run_until_steady", "max_attempts", max_attempts)
    if needed > max_attempts:
        raise SpecError(f"run_until_steady.needed ({needed}) exceeds max_attempts "
                        f"({max_attempts})")
    tol = tolerance if tolerance is not None else Tolerance()
    attempts: list[Attempt[R]] = []
    steady = 0
    for i in range(max_attempts):
        result, seen = attempt(i)
        why = seen.violations(tol)
        attempts.append(Attempt(result=result, stationarity=seen, violations=why))
        steady += not why
        logger.info("attempt %d: %s (%s)", i, "; ".join(why) or "steady", seen.describe())
        if steady >= needed or steady + (max_attempts - i - 1) < needed:
            break
    return SteadyRuns(attempts=tuple(attempts), needed=needed, tolerance=tol)
