"""The child generators of a seed equal numpy's spawn, and seeds are checked."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads._rng import as_generator, child_generators, spawn
from workloads.errors import WorkloadError


def _same(mine: list[np.random.Generator], ref: list[np.random.Generator]) -> bool:
    return len(mine) == len(ref) and all(
        a.bit_generator.state == b.bit_generator.state
        and a.random(3).tolist() == b.random(3).tolist() for a, b in zip(mine, ref, strict=True))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**80), n=st.integers(0, 40))
def test_spawn_of_int_equals_numpy(seed: int, n: int) -> None:
    assert _same(spawn(seed, n), np.random.default_rng(seed).spawn(n))


@settings(max_examples=60, deadline=None)
@given(entropy=st.one_of(st.integers(0, 2**130), st.lists(st.integers(0, 2**40), min_size=1,
                                                          max_size=6)),
       key=st.lists(st.integers(0, 2**40), max_size=3), done=st.integers(0, 5),
       n=st.integers(1, 12))
def test_child_generators_equal_numpy_and_leave_the_parent(entropy: object, key: list[int],
                                                           done: int, n: int) -> None:
    seq = np.random.SeedSequence(entropy, spawn_key=tuple(key), n_children_spawned=done)
    mine = child_generators(seq, n)
    assert seq.n_children_spawned == done  # not advanced
    ref = np.random.default_rng(seq).spawn(n)
    assert _same(mine, ref)
    # a child spawns as numpy's does, and reports the same key
    assert _same(mine[-1].spawn(2), ref[-1].spawn(2))
    assert mine[0].bit_generator.seed_seq.spawn_key == ref[0].bit_generator.seed_seq.spawn_key
    assert mine[0].bit_generator.seed_seq.generate_state(3).tolist() \
        == ref[0].bit_generator.seed_seq.generate_state(3).tolist()


def test_odd_sequences_fall_back_to_numpy() -> None:
    for seq in (np.random.SeedSequence(3, pool_size=8),
                np.random.SeedSequence(np.array([1, 2], dtype=np.uint32))):
        assert _same(child_generators(seq, 3), np.random.default_rng(seq).spawn(3))


def test_children_pickle_and_seed_checks() -> None:
    g = spawn(7, 2)[1]
    back = pickle.loads(pickle.dumps(g))
    assert back.random() == g.random()
    for bad in (-1, True, 1.5):
        with pytest.raises(WorkloadError, match="seed"):
            spawn(bad, 2)  # type: ignore[arg-type]
    with pytest.raises(WorkloadError, match="seed must be >= 0"):
        as_generator(-3)
