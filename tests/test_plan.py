"""plan(): validated placements, held-out tests, determinism, policies and errors."""

from __future__ import annotations

import json
import math

import pytest

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.errors import InfeasibleError, ProfileError, SpecError
from alpaserve.model_spec import model_preset
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
