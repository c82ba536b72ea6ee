"""Explicit random state: every generator in the package takes a seed or a Generator.

:func:`spawn` of an int seed and :func:`child_generators` compute the children of a
``SeedSequence`` directly (numpy's documented SeedSequence hash, vectorised over the
children) instead of building ``n`` SeedSequences one by one; the generators are the same
bit for bit (the tests compare them with numpy's own ``spawn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.random.bit_generator import ISpawnableSeedSequence

from workloads.errors import WorkloadError

SeedLike = int | np.random.Generator | np.random.SeedSequence

# numpy's SeedSequence constants (O'Neill's seed_seq with numpy's mixing)
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_M32 = 0xFFFFFFFF
_POOL = 4


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
    _check_int_seed(seed)
    return np.random.default_rng(int(seed))


def _check_int_seed(seed: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise WorkloadError(f"seed must be an int, SeedSequence or numpy Generator, got {seed!r}")
    if seed < 0:
        raise WorkloadError(f"seed must be >= 0, got {seed}")


def spawn(seed: SeedLike, n: int) -> list[np.random.Generator]:
    """``n`` independent child generators derived from ``seed``.

    Equal to ``as_generator(seed).spawn(n)``; a SeedSequence or Generator given records the
    children it spawned (as numpy does), an int seed's fresh sequence is never seen again, so
    its children are computed directly.

    Examples
    --------
    >>> a, b = spawn(1, 2)
    >>> float(a.random()) != float(b.random())
    True
    """
    if isinstance(seed, np.random.Generator | np.random.SeedSequence):
        return as_generator(seed).spawn(n)
    _check_int_seed(seed)
    return _children(int(seed), _words(int(seed)), (), 0, n)


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
        Bit for bit the generators numpy would give; each child's ``seed_seq.spawn`` works
        too (it builds the real SeedSequence on first use).

    Examples
    --------
    >>> seq = np.random.SeedSequence(4)
    >>> mine = [g.random() for g in child_generators(seq, 3)]
    >>> mine == [g.random() for g in np.random.default_rng(seq).spawn(3)]
    True
    """
    entropy = _entropy_words(seq.entropy)
    if entropy is None or seq.pool_size != _POOL:
        kids = np.random.SeedSequence(seq.entropy, spawn_key=seq.spawn_key,
                                      pool_size=seq.pool_size,
                                      n_children_spawned=seq.n_children_spawned).spawn(n)
        return [np.random.default_rng(k) for k in kids]
    return _children(seq.entropy, entropy, tuple(seq.spawn_key), int(seq.n_children_spawned),
                     n)


class _ChildSeed(ISpawnableSeedSequence):
    """A child SeedSequence's PCG64 seed words, computed ahead; the real sequence is built
    only if someone spawns from the child or asks for other words."""

    __slots__ = ("_entropy", "_key", "_seq", "_state")

    def __init__(self, entropy: Any, key: tuple[int, ...],
                 state: npt.NDArray[np.uint64]) -> None:
        self._entropy = entropy
        self._key = key
        self._state = state
        self._seq: np.random.SeedSequence | None = None

    @property
    def seq(self) -> np.random.SeedSequence:
        """The equivalent numpy SeedSequence (built on first use)."""
        if self._seq is None:
            self._seq = np.random.SeedSequence(self._entropy, spawn_key=self._key)
        return self._seq

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        """As ``SeedSequence.generate_state``."""
        if n_words == 4 and np.dtype(dtype) == np.uint64:
            return self._state.copy()
        return self.seq.generate_state(n_words, dtype)

    def spawn(self, n_children: int  # type: ignore[override]
              ) -> list[np.random.SeedSequence]:
        """As ``SeedSequence.spawn``."""
        return self.seq.spawn(n_children)

    def __getattr__(self, name: str) -> object:  # entropy, spawn_key, pool, ... of the real one
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.seq, name)


def _words(value: int) -> list[int]:
    """``value`` as little-endian 32-bit words (at least one), as numpy coerces an int."""
    out = [value & _M32]
    value >>= 32
    while value:
        out.append(value & _M32)
        value >>= 32
    return out


def _entropy_words(entropy: object) -> list[int] | None:
    """Words of an int or a sequence of non-negative ints; None for anything else."""
    if isinstance(entropy, int | np.integer) and not isinstance(entropy, bool) and entropy >= 0:
        return _words(int(entropy))
    if isinstance(entropy, Sequence | np.ndarray) and len(entropy) and all(
            isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 0
            for v in entropy):
        return [w for v in entropy for w in _words(int(v))]
    return None


def _children(raw_entropy: Any, entropy: list[int], key: tuple[int, ...], first: int,
              n: int) -> list[np.random.Generator]:
    """Generators of the children ``first .. first + n - 1`` of SeedSequence(raw_entropy,
    key), whose entropy is the 32-bit ``entropy`` words."""
    if n <= 0 or first + n - 1 > _M32:  # a child index of two words: not worth a fast path
        parent = np.random.SeedSequence(raw_entropy, spawn_key=key, n_children_spawned=first)
        return [np.random.default_rng(k) for k in parent.spawn(n)] if n > 0 else []
    run = entropy + [0] * (_POOL - len(entropy))  # a spawned child pads its entropy
    common = run + [w for k in key for w in _words(int(k))]
    # The pool after every word but the child index (shared by all children) ...
    h = _INIT_A
    pool = []
    for i in range(_POOL):
        v, h = _hashmix(common[i], h)
        pool.append(v)
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                v, h = _hashmix(pool[src], h)
                pool[dst] = _mix(pool[dst], v)
    for word in common[_POOL:]:
        for dst in range(_POOL):
            v, h = _hashmix(word, h)
            pool[dst] = _mix(pool[dst], v)
    # ... then the index word, vectorised over the children: row d mixes into pool[d].
    idx = np.arange(first, first + n, dtype=np.uint64)[None, :]
    hx = np.empty((_POOL, 1), dtype=np.uint64)
    hm = np.empty((_POOL, 1), dtype=np.uint64)
    for d in range(_POOL):
        hx[d, 0] = h
        h = (h * _MULT_A) & _M32
        hm[d, 0] = h
    hv = ((idx ^ hx) * hm) & _M32
    hv ^= hv >> 16
    base = np.array(pool, dtype=np.uint64)[:, None]
    mixed = (base * _MIX_L - hv * _MIX_R) & _M32
    mixed ^= mixed >> 16
    # generate_state(4, uint64): eight 32-bit words cycling over the pool, paired low-high
    hx = np.empty((2 * _POOL, 1), dtype=np.uint64)
    hm = np.empty((2 * _POOL, 1), dtype=np.uint64)
    h = _INIT_B
    for i in range(2 * _POOL):
        hx[i, 0] = h
        h = (h * _MULT_B) & _M32
        hm[i, 0] = h
    words = ((mixed[np.arange(2 * _POOL) % _POOL] ^ hx) * hm) & _M32
    words ^= words >> 16
    states = np.ascontiguousarray((words[0::2] | (words[1::2] << 32)).T)
    pcg, gen = np.random.PCG64, np.random.Generator
    return [gen(pcg(_ChildSeed(raw_entropy, (*key, first + i), states[i])))  # type: ignore[arg-type]
            for i in range(n)]


def _hashmix(value: int, h: int) -> tuple[int, int]:
    value ^= h
    h = (h * _MULT_A) & _M32
    value = (value * h) & _M32
    return value ^ (value >> 16), h


def _mix(x: int, y: int) -> int:
    r = (_MIX_L * x - _MIX_R * y) & _M32
    return r ^ (r >> 16)
