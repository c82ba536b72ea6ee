"""The child generators of a seed equal numpy's spawn, and seeds are checked."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads._rng import as_generator, spawn
from workloads.errors import WorkloadError


def _same(mine: list[np.random.Generator], ref: list[np.random.Generator]) -> bool:
    return len(mine) == len(ref) and all(
        a.bit_generator.state == b.bit_generator.state
        and a.random(3).tolist() == b.random(3).tolist() for a, b in zip(mine, ref, strict=True))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**80), n=st.integers(0, 40))
def test_spawn_of_int_equals_numpy(seed: int, n: int) -> None:
    assert _same(spawn(seed, n), np.random.default_rng(seed).spawn(n))


def test_children_pickle_and_seed_checks() -> None:
    g = spawn(7, 2)[1]
    back = pickle.loads(pickle.dumps(g))
    assert back.random() == g.random()
    for bad in (-1, True, 1.5):
        with pytest.raises(WorkloadError, match="seed"):
            spawn(bad, 2)  # type: ignore[arg-type]
    with pytest.raises(WorkloadError, match="seed must be >= 0"):
        as_generator(-3)
