"""Multi-model mixes: shares, per-model CVs, independence of per-model streams."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from workloads.arrivals import DeterministicProcess, GammaProcess
from workloads.errors import WorkloadError
from workloads.mixes import (
    MixSpec,
    generate_mix,
    mix_processes,
    power_law_shares,
    workload_from_process,
)
from workloads.stats import summarize


def test_power_law_shares() -> None:
    s = power_law_shares(4, 2.0)
    assert s.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(s / s[0], [1, 1 / 4, 1 / 9, 1 / 16])
    np.testing.assert_allclose(power_law_shares(3, 0.0), 1 / 3)


def test_zipf_mix_rates_and_cvs() -> None:
    cvs = [0.5, 1.0, 2.0, 4.0]
    spec = MixSpec.zipf(4, total_rate=200.0, alpha=1.0, cv=cvs)
    w = generate_mix(spec, duration=2000.0, seed=1)
    s = summarize(w)
    expected = spec.rates()
    for i, name in enumerate(w.model_names):
        m = s.by_model[name]
        assert m.rate == pytest.approx(expected[i], rel=0.06)
        assert m.cv == pytest.approx(cvs[i], rel=0.1)
    assert s.rate == pytest.approx(200.0, rel=0.03)


def test_explicit_shares_and_zero_share_model() -> None:
    spec = MixSpec(model_names=("a", "b", "c"), total_rate=10.0, shares=(3.0, 1.0, 0.0),
                   slo=(0.5, 1.0, 2.0))
    np.testing.assert_allclose(spec.rates(), [7.5, 2.5, 0.0])
    w = generate_mix(spec, duration=400.0, seed=2)
    counts = w.counts_by_model()
    assert counts["c"] == 0
    assert w.model_names == ("a", "b", "c")
    assert counts["a"] / counts["b"] == pytest.approx(3.0, rel=0.15)
    assert set(w.slo[w.model_codes == 0].tolist()) == {0.5}


def test_equal_split_by_default_and_scalar_slo() -> None:
    spec = MixSpec(model_names=("a", "b"), total_rate=4.0, slo=0.25)
    np.testing.assert_allclose(spec.rates(), [2.0, 2.0])
    assert set(generate_mix(spec, duration=10.0, seed=0).slo.tolist()) <= {0.25}


def test_streams_are_independent_per_model() -> None:
    procs = {"a": GammaProcess(rate=5.0, cv=2.0), "b": GammaProcess(rate=5.0, cv=2.0)}
    w1 = mix_processes(procs, duration=50.0, seed=9, model_names=["a", "b"])
    w2 = mix_processes(procs, duration=50.0, seed=9, model_names=["a", "b", "z"])
    np.testing.assert_array_equal(w1.filter_models(["a"]).arrival,
                                  w2.filter_models(["a"]).arrival)
    assert not np.array_equal(w1.filter_models(["a"]).arrival, w1.filter_models(["b"]).arrival)
    assert generate_mix(MixSpec.zipf(2, total_rate=5.0, alpha=1.0), duration=9.0,
                        seed=3).equals(generate_mix(MixSpec.zipf(2, total_rate=5.0, alpha=1.0),
                                                    duration=9.0, seed=3))


def test_workload_from_process() -> None:
    w = workload_from_process(DeterministicProcess(rate=2.0, start_mode="ordinary"), model="m",
                              duration=2.0, seed=0, slo=1.0)
    assert w.arrival.tolist() == [0.5, 1.0, 1.5]
    assert w.slo.tolist() == [1.0] * 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model_names": (), "total_rate": 1.0}, "non-empty"),
        ({"model_names": ("a", "a"), "total_rate": 1.0}, "distinct"),
        ({"model_names": ("a",), "total_rate": 0.0}, "total_rate"),
        ({"model_names": ("a",), "total_rate": 1.0, "shares": (1.0,), "zipf_alpha": 1.0},
         "not both"),
        ({"model_names": ("a", "b"), "total_rate": 1.0, "shares": (1.0,)}, "1 shares"),
        ({"model_names": ("a",), "total_rate": 1.0, "shares": (-1.0,)}, "shares"),
        ({"model_names": ("a",), "total_rate": 1.0, "zipf_alpha": -1.0}, "alpha"),
        ({"model_names": ("a", "b"), "total_rate": 1.0, "cv": (1.0,)}, "values of cv"),
        ({"model_names": ("a",), "total_rate": 1.0, "cv": -1.0}, "cv"),
        ({"model_names": ("a",), "total_rate": 1.0, "slo": 0.0}, "slo"),
    ],
)
def test_invalid_specs(kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(WorkloadError, match=match):
        MixSpec(**kwargs)


def test_unknown_process_model() -> None:
    with pytest.raises(WorkloadError, match="not in model_names"):
        mix_processes({"x": GammaProcess(rate=1.0)}, duration=1.0, seed=0, model_names=["a"])


def test_start_mode_reaches_every_process() -> None:
    spec = MixSpec(model_names=("a", "b"), total_rate=2.0, cv=4.0, start_mode="ordinary")
    assert {p.start_mode for p in spec.processes().values()} == {"ordinary"}
    assert MixSpec(model_names=("a",), total_rate=1.0).processes()["a"].start_mode \
        == "stationary"
    with pytest.raises(WorkloadError, match="start_mode"):
        MixSpec(model_names=("a",), total_rate=1.0, start_mode="warm")  # type: ignore[arg-type]


@pytest.mark.parametrize(("cv", "alpha", "n", "mode", "count", "digest"), [
    (4.0, 0.5, 32, "stationary", 1511, "c2479e542b52cf5b"),
    (0.0, 0.0, 3, "stationary", 1500, "f5e383f95fbaac1f"),
    (8.0, 0.5, 7, "ordinary", 2364, "36c6b87a35a3b126"),
])
def test_mixes_are_those_of_the_unoptimised_code(cv: float, alpha: float, n: int, mode: str,
                                                  count: int, digest: str) -> None:
    # digests recorded with the code before the fast paths (commit 8d1f68f)
    spec = MixSpec(model_names=tuple(f"m{i}" for i in range(n)), total_rate=30.0,
                   zipf_alpha=alpha, cv=cv, start_mode=mode)  # type: ignore[arg-type]
    w = generate_mix(spec, duration=50.0, seed=3, start=2.5)
    got = hashlib.sha256(w.arrival.tobytes() + w.model_codes.tobytes()).hexdigest()[:16]
    assert (len(w), got) == (count, digest)
