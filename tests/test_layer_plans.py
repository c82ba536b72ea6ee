from __future__ import annotations

import math

import pytest

from alpaserve.device_spec import device_preset
from alpaserve.model_presets import model_preset
from alpaserve.parallel.layer_plans import LayerPlanner
from alpaserve.parallel.logical_mesh import LogicalMesh

V100 = device_preset("v100-16gb")
MESH = LogicalMesh.uniform((1, 2), bandwidth=130e9, latency=5e-6)


@pytest.mark.parametrize("solver", ["dp", "ilp"])
def test_one_solve_serves_every_budget(solver: str) -> None:
    planner = LayerPlanner(model=model_preset("bert-1.3b"), device=V100, solver=solver)
    low = planner.min_weight_bytes("dense", 1, MESH)
    fastest = planner.plan("dense", 1, MESH, math.inf)
    tight = planner.plan("dense", 1, MESH, low * 1.05)
    assert fastest is not None
    assert tight is not None
    assert tight.weight_bytes <= low * 1.05 < fastest.weight_bytes
    assert tight.latency_s >= fastest.latency_s
    before = planner.solves
    for factor in (1.05, 1.2, 1.5, 3.0):  # budgets between the two: reuse when exact
        planner.plan("dense", 1, MESH, low * factor)
    assert planner.plan("dense", 1, MESH, low * 0.5) is None
    if solver == "dp":
        assert planner.solves == before == 1
    else:
        assert planner.solves <= before + 4


def test_no_reuse_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    planner = LayerPlanner(model=model_preset("bert-1.3b"), device=V100, reuse=False)
    for _ in range(3):
        planner.plan("dense", 1, MESH, math.inf)
    assert planner.solves == 3


def test_dp_and_ilp_agree() -> None:
    spec = model_preset("moe-1.3b")
    dp = LayerPlanner(model=spec, device=V100, solver="dp")
    ilp = LayerPlanner(model=spec, device=V100, solver="ilp")
    for kind in ("dense", "moe"):
        budget = dp.min_weight_bytes(kind, 2, MESH) * 1.3
        a, b = dp.plan(kind, 2, MESH, budget), ilp.plan(kind, 2, MESH, budget)
        assert a is not None
        assert b is not None
        assert a.latency_s == pytest.approx(b.latency_s, rel=1e-9)


def test_bad_solver() -> None:
    with pytest.raises(ValueError, match="intra-op solver"):
        LayerPlanner(model=model_preset("bert-1.3b"), device=V100, solver="magic")  # type: ignore[arg-type]
