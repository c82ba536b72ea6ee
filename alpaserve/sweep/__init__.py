"""Batch runs: resumable parameter sweeps over a process pool or Ray, and the
plan-per-case runner. Application code: it sits above :mod:`placement`.

:func:`load_sweep` reads a sweep's results as a tidy :class:`pandas.DataFrame`.
"""

from alpaserve.sweep.storage import load_sweep

__all__ = ["load_sweep"]
