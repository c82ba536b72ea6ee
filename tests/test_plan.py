"""plan(): validated placements, held-out tests, determinism, policies and errors."""

from __future__ import annotations

import json
import math

import pytest

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.errors import InfeasibleError, ProfileError, SpecError
from alpaserve.model_presets import model_preset
from placement import POLICIES, ClockworkOptions, plan
from placement._examples import tiny_cluster, tiny_model, tiny_profiles
from workloads.mixes import MixSpec, generate_mix

MODELS = [tiny_model("a"), tiny_model("b"), tiny_model("c")]
MIX = MixSpec(model_names=("a", "b", "c"), total_rate=12.0, zipf_alpha=1.0, cv=3.0)


def _plan(**kw):
    args = {"slo": 0.3, "duration": 20.0, "profiles": tiny_profiles(MODELS)}
    args.update(kw)
    return plan(MODELS, tiny_cluster(4), MIX, **args)


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_returns_a_validated_plan(policy):
    r = _plan(policy=policy, clockwork=ClockworkOptions(window=5.0))
    assert r.policy == policy
    assert r.placement.cluster.num_devices == 4
    assert 0.0 <= r.attainment <= 1.0
    assert 0.0 <= r.train_attainment <= 1.0
    assert "fresh sample" in r.test_source
    text = r.explain()
    assert "groups:" in text
    assert "per-model attainment" in text
    data = json.loads(r.to_json())
    assert data["policy"] == policy
    assert data["placement"]["groups"]
    if policy == "clockwork++":
        assert r.schedule is not None
        assert len(r.schedule.windows) >= 2


def test_deterministic_for_a_seed_and_test_is_held_out():
    a, b = _plan(seed=7), _plan(seed=7)
    assert a.placement == b.placement
    assert a.attainment == b.attainment
    train = generate_mix(MIX, duration=20.0, seed=7)
    assert len(a.test_result) != len(train) or a.test_result.arrival.tolist() != \
        train.arrival.tolist()


def test_trace_workload_holds_out_a_later_window():
    w = generate_mix(MIX, duration=40.0, seed=1)
    r = plan(MODELS, tiny_cluster(4), w, slo=0.3, profiles=tiny_profiles(MODELS), policy="sr")
    assert "later window" in r.test_source
    assert r.test_result.arrival.min() >= w.arrival[0] + 0.5 * w.duration - 1e-9


def test_slo_below_fastest_latency_is_reported_per_model():
    r = _plan(slo={"a": 0.3, "b": 0.001, "c": 0.3}, policy="sr")
    assert set(r.slo_warnings) == {"b"}
    assert r.test_result.attainment_per_model["b"] == 0.0 or math.isnan(
        r.test_result.attainment_per_model["b"])
    assert "SLO below fastest latency" in r.explain()


def test_errors():
    huge = model_preset("bert-103.5b")
    with pytest.raises(InfeasibleError, match=r"'bert-103.5b' needs .* GB short"):
        plan([huge, model_preset("bert-1.3b")], homogeneous_cluster(4), MIX)
    with pytest.raises(SpecError, match="unknown policy 'best'"):
        _plan(policy="best")
    with pytest.raises(ProfileError, match=r"no entries for models \['c'\]"):
        _plan(profiles=tiny_profiles(MODELS[:2]))
    with pytest.raises(SpecError, match=r"no SLO given for models \['c'\]"):
        _plan(slo={"a": 1.0, "b": 1.0})


@pytest.mark.parametrize("duration", [0.0, -1.0, math.nan, math.inf])
def test_a_mix_needs_a_positive_duration(duration: float) -> None:
    # issue 17: a zero span planned for no requests and reported NaN attainment
    models = [tiny_model("a")]
    with pytest.raises(SpecError, match="duration must be a positive finite"):
        plan(models, tiny_cluster(2), MixSpec(model_names=("a",), total_rate=8.0), slo=0.3,
             duration=duration, profiles=tiny_profiles(models), policy="sr")


def _bert_copies(n: int) -> list:
    from alpaserve.model_presets import model_copies

    return list(model_copies(f"bert-1.3b:{n}"))


def _hosted_on_one_device(result) -> int:
    return sum(len(g.models) for g in result.placement.groups)


@pytest.mark.parametrize(("scale", "budget", "want"), [
    (1.0, None, 4),          # analytic 2.64 GB each, 13e9 bytes (the preset): 4
    (1.0, 13 << 30, 5),      # AlpaServe's 13 GiB: 5
    (0.8, 13 << 30, 6),      # measured 2.11 GB each, 13 GiB: 6
])
def test_memory_budget_and_profile_weights_decide_what_fits(scale, budget, want):
    from alpaserve.profiles import ProfileDB
    from placement.problem import build_profiles
    from tests._fixtures_profiles import measured_profiles

    models = _bert_copies(7)
    cluster = homogeneous_cluster(1)
    profiles = (build_profiles(models, cluster, max_group_size=1) if scale == 1.0
                else measured_profiles(models, weight_scale=scale))
    assert isinstance(profiles, ProfileDB)
    mix = MixSpec(model_names=tuple(m.name for m in models), total_rate=20.0, cv=1.0)
    r = plan(models, cluster, mix, slo=2.0, duration=20.0, profiles=profiles, policy="sr",
             memory_budget=budget)
    assert _hosted_on_one_device(r) == want
    if budget is not None:
        assert r.placement.cluster.device.usable_memory_bytes == budget
    text = r.explain()
    assert ("profile (measured)" if scale != 1.0 else "profile (analytic)") in text


def test_infeasibility_follows_profile_weights():
    from tests._fixtures_profiles import measured_profiles

    big = model_preset("bert-6.7b")  # 13.3 GB analytic: one V100 (13 GB) cannot hold it
    with pytest.raises(InfeasibleError, match=r"bert-6.7b.*\(analytic\)"):
        plan([big], homogeneous_cluster(1), MixSpec(model_names=(big.name,), total_rate=1.0))
    light = measured_profiles([big], weight_scale=0.9)
    r = plan([big], homogeneous_cluster(1), MixSpec(model_names=(big.name,), total_rate=1.0),
             slo=5.0, duration=20.0, profiles=light, policy="sr")
    assert r.placement.hosted_models == {big.name}
    small = model_preset("bert-1.3b")
    heavy = measured_profiles([small], weight_scale=6.0, )  # 15.8 GB measured
    with pytest.raises(InfeasibleError, match=r"bert-1.3b.*\(profiled\)"):
        plan([small], homogeneous_cluster(1), MixSpec(model_names=(small.name,),
                                                      total_rate=1.0), profiles=heavy)


def test_in_sample_plans_on_the_evaluation_workload():
    r = _plan(policy="sr", in_sample=True)
    assert "in-sample" in r.test_source
    assert r.train_attainment == pytest.approx(r.attainment)


def test_bad_memory_budget():
    with pytest.raises(SpecError, match="exceeds"):
        _plan(memory_budget=1 << 50)
    with pytest.raises(SpecError, match="memory_budget must be an int"):
        _plan(memory_budget=1.5e9)


def test_alpaserve_mode_search_scores_what_the_simulator_runs():
    from simulator.options import SimulationOptions

    # in-sample, the search's count and the test simulation's must agree exactly, which
    # needs the search to use float32 latencies too
    r = _plan(policy="sr", in_sample=True, options=SimulationOptions.alpaserve())
    assert r.train_attainment == r.attainment


def test_batching_options_test_the_plan_with_batches() -> None:
    """``options.max_batch`` reaches the test run, with analytic profiles at each size."""
    from simulator import SimulationOptions

    models = [tiny_model("a"), tiny_model("b")]
    mix = MixSpec(model_names=("a", "b"), total_rate=400.0, cv=4.0)
    kw = {"slo_scale": 8.0, "duration": 5.0, "policy": "sr", "seed": 1}
    batched = plan(models, tiny_cluster(2), mix, options=SimulationOptions(max_batch=4), **kw)
    single = plan(models, tiny_cluster(2), mix, **kw)
    assert batched.placement == single.placement  # the search scores without batching
    sizes = batched.test_result.batch_size[batched.test_result.status == 0]
    assert 1 < sizes.max() <= 4
    assert batched.test_result.attainment > single.test_result.attainment


def test_problem_summaries_follow_the_profile_database() -> None:
    """The summaries kept by the database equal a direct scan, before and after an add."""
    import dataclasses

    from alpaserve.parallel_config import ParallelConfig
    from alpaserve.profiles import ProfileEntry
    from placement._examples import tiny_problem
    from placement.problem import check_feasible

    p = tiny_problem(num_models=3)
    p = dataclasses.replace(p, options=dataclasses.replace(p.options, stage_inflation=0.01,
                                                           overhead=0.002))

    def scan() -> tuple[dict, dict, dict]:
        fastest, ref, light = {}, {}, {}
        for m in p.model_names:
            es = p.profiles.entries(m, 1)
            fastest[m] = min(sum(p.options.inflate(e.stage_latencies)) for e in es) \
                + p.options.overhead
            ref[m] = min((e.config.num_devices, e.total_latency) for e in es)[1]
            light[m] = min(max(e.stage_weight_bytes) for e in p.profiles.entries(m)
                           if e.config.num_devices <= p.cluster.num_devices)
        return fastest, ref, light

    fastest, ref, _ = scan()
    assert p.fastest_latency() == fastest
    assert p.reference_latency() == ref
    # a faster, lighter entry for m1 on one device changes every summary at once
    cfg = ParallelConfig.uniform(num_layers=p.models[1].num_layers)
    heavy = p.profiles.get("m1", cfg, 1)
    p.profiles.add(ProfileEntry(model="m1", config=cfg, batch_size=1,
                                stage_latencies=(0.001,), stage_weight_bytes=(10,),
                                stage_peak_memory_bytes=(11,), source="measured"))
    fastest2, ref2, _ = scan()
    assert p.fastest_latency() == fastest2 != fastest
    assert p.reference_latency() == ref2 != ref
    assert p.slo_warnings() == {}
    # memory: a budget below every profiled weight but the new one's
    tight = dataclasses.replace(p.cluster, device=p.cluster.device.with_usable_memory(100))
    with pytest.raises(InfeasibleError, match=r"'m0' needs .* GB per device \(profiled\)"):
        check_feasible(p.models, tight, p.profiles)
    check_feasible(p.models[1:2], tight, p.profiles)  # m1 now fits in 10 bytes
    p.profiles.add(heavy)  # back to the heavy entry: m1 no longer fits
    with pytest.raises(InfeasibleError, match="'m1' needs"):
        check_feasible(p.models[1:2], tight, p.profiles)


def test_shape_rows_are_shared_by_equal_problems_until_an_add() -> None:
    """A later plan of the same problem reuses the rows; any input of theirs or an add()
    makes new ones, equal to a fresh selection."""
    import dataclasses

    import numpy as np

    from alpaserve.parallel_config import ParallelConfig
    from alpaserve.profiles import ProfileEntry
    from placement._examples import tiny_problem
    from placement.config_select import shape_rows
    from placement.partitions import GroupShape

    p = tiny_problem(num_models=3)
    twin = dataclasses.replace(p, slo=dict(p.slo))  # a new problem, equal inputs
    shape = GroupShape(pipeline=1, tensor=1)
    rows = p.row_cache.rows(shape)
    assert twin.row_cache is p.row_cache
    assert twin.row_cache.rows(shape) is rows

    def fresh(q):
        return shape_rows(models=q.models, shape=shape, profiles=q.profiles,
                          options=q.options, slo=q.slo,
                          capacity=q.cluster.device.usable_memory_bytes)

    others = [dataclasses.replace(p, slo={**p.slo, "m2": 0.01}),
              dataclasses.replace(p, options=dataclasses.replace(p.options,
                                                                 stage_inflation=0.5)),
              dataclasses.replace(p, cluster=dataclasses.replace(
                  p.cluster, device=p.cluster.device.with_usable_memory(10))),
              dataclasses.replace(p, models=(p.models[0], p.models[1].renamed("m9"),
                                             p.models[2]))]
    for q in others:
        assert q.row_cache is not p.row_cache
        got, want = q.row_cache.rows(shape), fresh(q)
        assert got.configs == want.configs
        assert np.array_equal(got.latency, want.latency)
        assert np.array_equal(got.feasible, want.feasible)
    assert not others[2].row_cache.rows(shape).feasible.any()  # 10 bytes hold nothing
    assert others[1].row_cache.rows(shape).latency[0, 0] == 1.5 * rows.latency[0, 0]
    # an add: the rows follow the database (m1 on one device gets faster)
    cfg = ParallelConfig.uniform(num_layers=p.models[1].num_layers)
    p.profiles.add(ProfileEntry(model="m1", config=cfg, batch_size=1,
                                stage_latencies=(0.001,), stage_weight_bytes=(10,),
                                stage_peak_memory_bytes=(11,), source="measured"))
    after = dataclasses.replace(p, slo=dict(p.slo))
    assert after.row_cache is not p.row_cache
    new = after.row_cache.rows(shape)
    assert new.latency[1, 0] == 0.001
    assert new.latency[0, 0] == rows.latency[0, 0]
    assert np.array_equal(new.memory, fresh(after).memory)


def test_can_host_equals_the_built_spaces_replica_mask() -> None:
    """Skipping a layout before building its space decides as the space would."""
    import dataclasses

    from placement._examples import tiny_problem
    from placement.buckets import layouts

    for memory_models in (0.3, 0.6, 2.5):  # nothing fits one device, some groups, all
        p = tiny_problem(num_models=3, num_devices=4, memory_models=memory_models)
        p = dataclasses.replace(p, slo=dict(p.slo))
        for lay in layouts(p.cluster, range(4)):
            for idx in (None, [2], [0, 2]):
                want = p.search_space(lay.groups(), idx).replica_mask().any()
                assert p.can_host(lay.groups(), idx) == want, (lay.key, idx)
