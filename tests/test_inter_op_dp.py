from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.parallel.inter_op_dp import partition_layers


def brute(lat: np.ndarray, mem: np.ndarray, cap: float, stages: int, devices: int,
          sizes: list[int]) -> tuple[float, float] | None:
    """Every split into contiguous stages and every size sequence using all devices."""
    n = len(lat)
    best = None
    for cuts in itertools.combinations(range(1, n), stages - 1):
        bounds = [0, *cuts, n]
        for seq in itertools.product(sizes, repeat=stages):
            if sum(seq) != devices:
                continue
            costs = []
            for (k, i), m in zip(itertools.pairwise(bounds), seq, strict=True):
                if mem[k:i].sum() / m > cap:
                    break
                costs.append(lat[k:i].sum() / m + 0.1 * m)
            else:
                key = (max(costs), sum(costs))
                if best is None or key < best:
                    best = key
    return best


@settings(max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), layers=st.integers(1, 7), stages=st.integers(1, 4),
       unequal=st.booleans())
def test_dp_equals_brute_force(seed: int, layers: int, stages: int, unequal: bool) -> None:
    rng = np.random.default_rng(seed)
    lat = rng.integers(1, 10, layers).astype(float)
    mem = rng.integers(1, 5, layers).astype(float)
    cap = float(rng.integers(3, 12))
    sizes = [1, 2, 4] if unequal else [2]
    devices = int(rng.integers(stages, 4 * stages + 1)) if unequal else 2 * stages

    def cost(offset: int, m: int) -> np.ndarray:
        c = np.full((layers + 1, layers + 1), np.inf)
        for k in range(layers):
            for i in range(k + 1, layers + 1):
                if mem[k:i].sum() / m <= cap:
                    c[k, i] = lat[k:i].sum() / m + 0.1 * m
        return c

    part = partition_layers(num_layers=layers, num_stages=stages, num_devices=devices,
                            sizes=sizes, stage_cost=cost)
    expected = brute(lat, mem, cap, stages, devices, sizes)
    if expected is None:
        assert part is None
        return
    assert part is not None
    assert part.max_stage_latency == pytest.approx(expected[0])
    assert part.total_latency == pytest.approx(expected[1])  # tie-break by total
    assert sum(s.num_devices for s in part.stages) == devices
    assert next(s.layer_start for s in part.stages) == 0
    assert part.stages[-1].layer_end == layers


def test_tie_break_prefers_smaller_total() -> None:
    # Splits (0,1)(1,3) and (0,2)(2,3) both have max 5; the second has the smaller sum.
    table = {(0, 1): 5.0, (1, 3): 5.0, (0, 2): 5.0, (2, 3): 1.0, (0, 3): 9.0, (1, 2): 1.0}

    def cost(offset: int, m: int) -> np.ndarray:
        c = np.full((4, 4), np.inf)
        for (k, i), v in table.items():
            c[k, i] = v
        return c

    part = partition_layers(num_layers=3, num_stages=2, num_devices=2, sizes=[1],
                            stage_cost=cost)
    assert part is not None
    assert [(s.layer_start, s.layer_end) for s in part.stages] == [(0, 2), (2, 3)]
    assert part.total_latency == 6.0


def test_infeasible_and_too_many_stages() -> None:
    def none_fit(offset: int, m: int) -> np.ndarray:
        return np.full((3, 3), np.inf)

    assert partition_layers(num_layers=2, num_stages=1, num_devices=1, sizes=[1],
                            stage_cost=none_fit) is None
    assert partition_layers(num_layers=2, num_stages=3, num_devices=3, sizes=[1],
                            stage_cost=none_fit) is None
