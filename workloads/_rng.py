"""Explicit random state: every generator in the package takes a seed or a Generator."""

from __future__ import annotations

import numpy as np

from workloads.errors import WorkloadError

SeedLike = int | np.random.Generator | np.random.SeedSequence


def as_generator(seed: SeedLike) -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed, a SeedSequence or a Generator.

    A Generator is used as given (its state advances); global random state is never used.

    Examples
    --------
    >>> float(as_generator(7).random()) == float(as_generator(7).random())
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise WorkloadError(f"seed must be an int, SeedSequence or numpy Generator, got {seed!r}")
    if seed < 0:
        raise WorkloadError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))


def spawn(seed: SeedLike, n: int) -> list[np.random.Generator]:
    """``n`` independent child generators derived from ``seed``.

    Examples
    --------
    >>> a, b = spawn(1, 2)
    >>> float(a.random()) != float(b.random())
    True
    """
    return as_generator(seed).spawn(n)

