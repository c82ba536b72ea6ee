"""The contention-aware prediction (simulator/contention.py): fixed points and samples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.errors import SimulationError
from alpaserve.placement_spec import Group, Placement
from alpaserve.profiles import ProfileDB
from simulator import SimulationOptions, simulate
from simulator.contention import predict_contended
from simulator.slowdown import ContentionCurve
from tests._fixtures_runtime import tiny_spec
from tests._fixtures_simulator import entry, random_scenario
from workloads import Workload

TWO_X = ContentionCurve(busy=(1, 2), slowdown=(1.0, 2.0))


def pipeline() -> tuple[Placement, ProfileDB]:
    spec = tiny_spec("a", num_layers=2)
    placement = Placement(cluster=homogeneous_cluster(2, "cpu"), models={"a": spec},
                          groups=(Group.uniform(name="g0", device_ids=[0, 1],
                                                pipeline_degree=2, models=[spec]),))
    config = placement.groups[0].models["a"]
    return placement, ProfileDB([entry("a", config, 1, [1.0, 1.0])])


def test_a_pipeline_converges_to_its_hand_computed_times() -> None:
    """Request 0 runs stage 0 alone on [0, 1]; then its stage 1 and request 1's stage 0
    (arriving at 1) share the cores at s(2) = 2 and end at 3; request 1's stage 1 runs alone
    on [3, 4]."""
    placement, db = pipeline()
    w = Workload.from_arrays(arrival=[0.0, 1.0], model="a", slo=100.0)
    pred = predict_contended(placement, db, w, lone=db, curve=TWO_X, tolerance=1e-4)
    assert pred.converged
    assert pred.result.finish.tolist() == pytest.approx([3.0, 4.0], rel=1e-3)
    np.testing.assert_allclose(pred.service, [[1.0, 2.0], [2.0, 1.0]], rtol=1e-3)
    assert pred.attainments[0] == 1.0
    again = predict_contended(placement, db, w, lone=db, curve=TWO_X, tolerance=1e-4)
    assert again.result.finish.tobytes() == pred.result.finish.tobytes()  # deterministic
    assert again.rounds == pred.rounds
    assert pred.to_dict()["converged"] is True
    # both take 3 s instead of the 2 s the plain prediction gives them
    tight = Workload.from_arrays(arrival=[0.0, 1.0], model="a", slo=2.5)
    assert simulate(placement, db, tight).attainment == 1.0
    assert predict_contended(placement, db, tight, lone=db, curve=TWO_X).result.attainment \
        == 0.0


def test_the_rounds_are_capped_and_reported() -> None:
    placement, db = pipeline()
    w = Workload.from_arrays(arrival=[0.0, 1.0], model="a", slo=100.0)
    pred = predict_contended(placement, db, w, lone=db, curve=TWO_X, max_rounds=2)
    assert (pred.rounds, pred.converged) == (2, False)
    assert pred.change > 0.01
    with pytest.raises(SimulationError, match="0 < damping <= 1"):
        predict_contended(placement, db, w, lone=db, curve=TWO_X, damping=0.0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), max_batch=st.sampled_from([1, 2]))
def test_without_contention_it_is_the_plain_prediction(seed: int, max_batch: int) -> None:
    sc = random_scenario(seed, n=60, cv=2.0)
    stages = sum(g.num_stages for g in sc.placement.groups)
    pred = predict_contended(sc.placement, sc.profiles, sc.workload, lone=sc.profiles,
                             curve=ContentionCurve.flat(stages), slo=sc.slo,
                             max_batch=max_batch)
    sim = simulate(sc.placement, sc.profiles, sc.workload,
                   SimulationOptions(max_batch=max_batch), slo=sc.slo)
    assert pred.converged
    assert pred.rounds == 2  # the profiled replay, then the same again
    np.testing.assert_array_equal(pred.result.status, sim.status)
    np.testing.assert_array_equal(pred.result.group, sim.group)
    np.testing.assert_array_equal(pred.result.finish, sim.finish)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_contention_never_helps(seed: int) -> None:
    """Stretching stages can only delay: attainment is at most the plain prediction's when the
    dispatcher is told nothing (no feedback), and every stage takes at least its lone time."""
    sc = random_scenario(seed, n=60, cv=2.0, max_groups=2, max_stages=3)
    curve = ContentionCurve(busy=(1, 2, 3), slowdown=(1.0, 1.6, 2.2))
    pred = predict_contended(sc.placement, sc.profiles, sc.workload, lone=sc.profiles,
                             curve=curve, slo=sc.slo, feedback=False)
    sim = simulate(sc.placement, sc.profiles, sc.workload, slo=sc.slo)
    np.testing.assert_array_equal(pred.result.status, sim.status)  # decisions: profile only
    served = sim.status == 0
    assert np.all(pred.result.finish[served] >= sim.finish[served] - 1e-12)


def test_a_spread_of_ones_is_the_deterministic_prediction() -> None:
    placement, db = pipeline()
    w = Workload.from_arrays(arrival=[0.0, 1.0], model="a", slo=100.0)
    plain = predict_contended(placement, db, w, lone=db, curve=TWO_X, tolerance=1e-4)
    ones = predict_contended(placement, db, w, lone=db, curve=TWO_X, tolerance=1e-4,
                             spread=[1.0] * 101, samples=3)
    assert ones.result.finish.tobytes() == plain.result.finish.tobytes()
    assert ones.sample_attainments == (1.0, 1.0, 1.0)
    assert plain.sample_attainments == ()


def test_a_spread_samples_the_tail_deterministically() -> None:
    """Each stage run drawn from a spread whose top decile is 3x: some runs of the median
    sample are late where the deterministic fixed point has none; the same seed repeats."""
    placement, db = pipeline()
    w = Workload.from_arrays(arrival=np.arange(40) * 2.5, model="a", slo=2.9)
    spread = [1.0] * 90 + [3.0] * 11
    plain = predict_contended(placement, db, w, lone=db, curve=TWO_X)
    drawn = predict_contended(placement, db, w, lone=db, curve=TWO_X, spread=spread,
                              samples=5, seed=3)
    again = predict_contended(placement, db, w, lone=db, curve=TWO_X, spread=spread,
                              samples=5, seed=3)
    assert plain.result.attainment == 1.0
    assert len(drawn.sample_attainments) == 5
    assert max(drawn.sample_attainments) < 1.0
    assert drawn.result.attainment == sorted(drawn.sample_attainments)[2]  # the median
    assert again.sample_attainments == drawn.sample_attainments


@pytest.mark.parametrize(("spread", "samples", "match"), [
    ([1.0] * 100, 3, "101 positive, non-decreasing percentiles, got 100"),
    ([2.0] + [1.0] * 100, 3, "non-decreasing"),
    ([0.0] * 101, 3, "positive"),
    ([1.0] * 101, 0, "samples must be >= 1, got 0"),
])
def test_a_bad_spread_is_named(spread: list[float], samples: int, match: str) -> None:
    placement, db = pipeline()
    w = Workload.from_arrays(arrival=[0.0], model="a", slo=100.0)
    with pytest.raises(SimulationError, match=match):
        predict_contended(placement, db, w, lone=db, curve=TWO_X, spread=spread,
                          samples=samples)


def two_groups() -> tuple[Placement, ProfileDB]:
    spec = tiny_spec("a", num_layers=2)
    placement = Placement(cluster=homogeneous_cluster(4, "cpu"), models={"a": spec}, groups=(
        Group.uniform(name="g0", device_ids=[0, 1], pipeline_degree=2, models=[spec]),
        Group.uniform(name="g1", device_ids=[2, 3], pipeline_degree=2, models=[spec])))
    config = placement.groups[0].models["a"]
    return placement, ProfileDB([entry("a", config, 1, [1.0, 1.0])])


def test_each_group_can_have_its_own_curve() -> None:
    """Three requests 0.5 s apart alternate between two pipelines: with TWO_X for g0 and a
    flat curve for g1, only g0's stages are stretched; the same curve for both is the
    single-curve prediction."""
    placement, db = two_groups()
    w = Workload.from_arrays(arrival=[0.0, 0.5, 1.0], model="a", slo=100.0)
    single = predict_contended(placement, db, w, lone=db, curve=TWO_X, tolerance=1e-4)
    same = predict_contended(placement, db, w, lone=db, curve=[TWO_X, TWO_X], tolerance=1e-4)
    assert same.result.finish.tobytes() == single.result.finish.tobytes()
    mixed = predict_contended(placement, db, w, lone=db, curve=[TWO_X, ContentionCurve.flat(4)],
                              tolerance=1e-4)
    groups = mixed.result.group.tolist()
    assert sorted(set(groups)) == [0, 1]
    on_g1 = np.asarray(groups) == 1
    np.testing.assert_allclose(mixed.service[on_g1], 1.0)  # flat: the lone time
    assert np.all(mixed.service[~on_g1] > 1.0 + 1e-6)  # g0 overlapped with the others
    assert np.all(single.service[on_g1] > 1.0 + 1e-6)
    with pytest.raises(SimulationError, match="one contention curve per group \\(2\\), got 3"):
        predict_contended(placement, db, w, lone=db, curve=[TWO_X] * 3)
