"""The dedicated and MuxServe-style baselines."""

from __future__ import annotations

import pytest

from alpaserve.errors import PlacementError
from placement.llm import dedicated_plan, muxserve_plan
from placement.llm.baselines import dedicated_layout, muxserve_layout
from placement.llm.demand import ModelDemand, estimated_throughput, model_demands
from tests._fixtures_llm_plan import toy_problem, toy_workload


def _demands(rates: dict[str, float]) -> dict[str, ModelDemand]:
    return {m: ModelDemand(requests=int(r * 10), rate=r, mean_prompt=200.0, mean_output=40.0)
            for m, r in rates.items()}


def test_dedicated_gives_one_model_per_group_by_load_times_size() -> None:
    problem = toy_problem(num_devices=8)
    slots = dedicated_layout(problem, _demands({"a": 10.0, "b": 1.0, "c": 1.0}))
    assert all(len(s.models) == 1 for s in slots)
    assert sum(s.size for s in slots) == 8
    by_model: dict[str, int] = {}
    for s in slots:
        by_model[s.models[0]] = by_model.get(s.models[0], 0) + s.size
        assert (s.tp, s.pp) == ((2, 1) if s.models[0] == "c" else (1, 1))  # smallest fit
    assert by_model["a"] > by_model["b"]  # a: 10 req/s of 2 GB; b: 1 req/s of 4 GB


def test_dedicated_needs_one_replica_of_each() -> None:
    with pytest.raises(PlacementError, match="needs 4 devices, the cluster has 2"):
        dedicated_layout(toy_problem(num_devices=2, gpus_per_node=2),
                         _demands({"a": 1.0, "b": 1.0, "c": 1.0}))


def test_muxserve_colocates_with_a_shared_cache_and_maximises_the_estimate() -> None:
    problem = toy_problem(num_devices=8)
    demands = _demands({"a": 30.0, "b": 5.0, "c": 2.0})
    slots, tried = muxserve_layout(problem, demands)
    assert tried > 1
    assert {m for s in slots for m in s.models} == {"a", "b", "c"}
    assert all(s.kv_sharing == "shared" for s in slots)
    assert all(m in s.models for s in slots for m in s.models)
    value = estimated_throughput(problem, slots, demands)
    dedicated = dedicated_layout(problem, demands)
    assert value >= estimated_throughput(problem, dedicated, demands) * 0.999 or len(slots) > 0
    assert sum(s.size for s in slots) <= 8


def test_muxserve_partitioned_when_sharing_is_not_allowed() -> None:
    slots, _ = muxserve_layout(toy_problem(kv_sharing=("partitioned",)),
                               _demands({"a": 3.0, "b": 2.0, "c": 1.0}))
    assert all(s.kv_sharing == "partitioned" for s in slots)


def test_baseline_plans_are_scored() -> None:
    work = toy_workload(duration=10.0)
    for make, name in ((dedicated_plan, "dedicated"), (muxserve_plan, "muxserve")):
        plan = make(toy_problem(), work)
        assert plan.method == name
        # MuxServe's co-located groups are scored with both KV modes, the better kept.
        assert plan.simulations == (1 if name == "dedicated" else 2)
        assert plan.train_requests == len(work)
        assert 0 <= plan.train_good <= len(work)


def test_model_demands() -> None:
    work = toy_workload(duration=10.0)
    d = model_demands(work, ("a", "b", "c"))
    assert d["a"].rate > d["b"].rate > d["c"].rate > 0
    assert sum(x.requests for x in d.values()) == len(work)
    assert 64 <= d["a"].mean_prompt <= 512


def test_muxserve_meshes_stay_inside_a_node_and_host_each_model_once() -> None:
    problem = toy_problem(num_devices=8)
    slots, _ = muxserve_layout(problem, _demands({"a": 30.0, "b": 5.0, "c": 2.0}))
    assert all(s.size <= problem.gpus_per_node and s.pp == 1 for s in slots)
    hosted = [m for s in slots for m in s.models]
    assert sorted(hosted) == ["a", "b", "c"]
