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


def child_generators(seq: np.random.SeedSequence, n: int) -> list[np.random.Generator]:
    """The generators ``default_rng(c)`` of the children ``seq.spawn(n)`` would give next.

    ``seq`` itself is left as it is (its ``n_children_spawned`` does not advance): for a
    caller that owns ``seq`` and spawns from it once.

    Parameters
    ----------
    seq : numpy.random.SeedSequence
        The parent sequence.
    n : int
        Number of children.

    Returns
    -------
    list of numpy.random.Generator
        The generators numpy's ``spawn`` would give.

    Examples
    --------
    >>> seq = np.random.SeedSequence(4)
    >>> mine = [g.random() for g in child_generators(seq, 3)]
    >>> seq.n_children_spawned
    0
    >>> mine == [g.random() for g in np.random.default_rng(seq).spawn(3)]
    True
    """
    first = seq.n_children_spawned
    return [np.random.default_rng(np.random.SeedSequence(
        seq.entropy, spawn_key=(*seq.spawn_key, first + i), pool_size=seq.pool_size))
        for i in range(n)]
