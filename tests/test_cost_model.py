"""The analytic cost model: calibration, parallelism overheads, memory, profiles, fit checks."""

from __future__ import annotations

import itertools
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.cluster_spec import ClusterSpec, homogeneous_cluster
from alpaserve.cost.model import (
    analytic_profiles,
    check_fits,
    fits,
    min_devices_to_fit,
    profile_entry,
    single_device_latency,
    stage_latencies,
    stage_peak_memory_bytes,
    uniform_configs,
)
from alpaserve.device_spec import device_preset
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.model_presets import model_preset
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from tests._fixtures_foundation import model_specs

V100 = device_preset("v100-16gb")
BERT13, BERT26, BERT67 = (model_preset(f"bert-{s}b") for s in ("1.3", "2.6", "6.7"))


def uniform(model: ModelSpec, p: int = 1, t: int = 1) -> ParallelConfig:
    return ParallelConfig.uniform(num_layers=model.num_layers, pipeline_degree=p,
                                  tensor_degree=t)


# ---------------------------------------------------------------------- calibration
@pytest.mark.parametrize(("model", "latency", "weights_gb"),
                         [(BERT13, 0.10, 2.6), (BERT26, 0.15, 5.2)])
def test_calibration_against_alpaserve(model: ModelSpec, latency: float,
                                       weights_gb: float) -> None:
    assert single_device_latency(model=model, device=V100) == pytest.approx(latency, rel=0.15)
    assert model.weight_bytes / 1e9 == pytest.approx(weights_gb, rel=0.15)


def test_latency_ordering_across_models_and_devices() -> None:
    lat = [single_device_latency(model=m, device=V100) for m in (BERT13, BERT26, BERT67)]
    assert lat == sorted(lat)
    # The published ratio is 1.5; pure FLOP counts would give about 2.
    assert 1.4 < lat[1] / lat[0] < 1.75
    a100 = single_device_latency(model=BERT13, device=device_preset("a100-80gb"))
    h100 = single_device_latency(model=BERT13, device=device_preset("h100-80gb"))
    assert h100 < a100 < lat[0]


def test_pipeline_adds_a_few_percent_per_stage() -> None:
    cluster = homogeneous_cluster(8)
    base = single_device_latency(model=BERT13, device=V100)
    for p in (2, 4, 8):
        e = profile_entry(model=BERT13, config=uniform(BERT13, p), cluster=cluster)
        per_stage = (e.total_latency / base - 1) / (p - 1)
        assert 0.002 < per_stage < 0.03, (p, per_stage)
        assert e.max_stage_latency < base / p * 1.1


def test_batching_raises_latency_sublinearly_at_most() -> None:
    one = single_device_latency(model=BERT13, device=V100)
    four = single_device_latency(model=BERT13, device=V100, batch_size=4)
    assert 2.5 * one < four <= 4 * one


# ---------------------------------------------------------------------- communication
def test_tensor_parallel_cost_grows_across_nodes() -> None:
    cluster = homogeneous_cluster(16)  # two nodes of 8
    cfg = uniform(BERT13, 1, 2)
    inside = stage_latencies(model=BERT13, config=cfg, cluster=cluster,
                             stage_device_ids=[[6, 7]])
    across = stage_latencies(model=BERT13, config=cfg, cluster=cluster,
                             stage_device_ids=[[7, 8]])
    assert across[0] > 1.5 * inside[0]
    assert inside[0] < single_device_latency(model=BERT13, device=V100)


def test_pipeline_transfer_cost_grows_across_nodes() -> None:
    cluster = homogeneous_cluster(16)
    cfg = uniform(BERT13, 2)
    near = stage_latencies(model=BERT13, config=cfg, cluster=cluster,
                           stage_device_ids=[[0], [1]])
    far = stage_latencies(model=BERT13, config=cfg, cluster=cluster,
                          stage_device_ids=[[0], [8]])
    activation = 2048 * BERT13.hidden_size * 2
    assert far[0] - near[0] == pytest.approx(
        activation / cluster.inter_node_bandwidth - activation / cluster.intra_node_bandwidth
        + cluster.inter_node_latency - cluster.intra_node_latency, rel=1e-9)
    assert far[1] == near[1]  # the receiving stage does not pay for the transfer


def test_more_tensor_parallelism_is_faster_inside_a_node() -> None:
    cluster = homogeneous_cluster(8)
    lats = [profile_entry(model=BERT26, config=uniform(BERT26, 1, t), cluster=cluster)
            .total_latency for t in (1, 2, 4, 8)]
    assert lats == sorted(lats, reverse=True)


# ---------------------------------------------------------------------- memory
def test_memory_per_device_falls_as_one_over_devices() -> None:
    whole = stage_peak_memory_bytes(model=BERT26, config=uniform(BERT26))[0]
    assert whole > BERT26.weight_bytes
    for p, t in [(2, 1), (1, 2), (2, 2), (4, 2), (1, 8), (8, 1)]:
        peaks = stage_peak_memory_bytes(model=BERT26, config=uniform(BERT26, p, t))
        weights = uniform(BERT26, p, t).stage_weight_bytes(BERT26)
        # Weights fall as 1/(p·t); one layer's activations are per stage, so fall as 1/t only.
        assert whole / (p * t) < max(peaks) < 2.1 * whole / (p * t), (p, t)
        assert sum(weights) / p == pytest.approx(BERT26.weight_bytes / (p * t), rel=1e-6)
    halves = [max(stage_peak_memory_bytes(model=BERT26, config=uniform(BERT26, p, t)))
              for p, t in [(1, 1), (1, 2), (2, 2), (2, 4), (4, 4)]]
    assert all(b < 0.75 * a for a, b in itertools.pairwise(halves))


def test_decoders_hold_a_kv_cache() -> None:
    gpt = model_preset("gpt-1.3b")
    enc = stage_peak_memory_bytes(model=BERT13, config=uniform(BERT13))[0]
    dec = stage_peak_memory_bytes(model=gpt, config=uniform(gpt))[0]
    assert dec - enc == gpt.kv_cache_bytes_per_token() * gpt.seq_len
    assert stage_peak_memory_bytes(model=gpt, config=uniform(gpt), batch_size=2)[0] > dec


# ---------------------------------------------------------------------- fit checks
def test_min_devices_and_check_fits() -> None:
    assert min_devices_to_fit(model=BERT13, device=V100) == 1
    assert min_devices_to_fit(model=BERT67, device=V100) == 2
    assert not fits(model=BERT67, config=uniform(BERT67), device=V100)
    assert check_fits(model=BERT67, device=V100, max_group_size=2) == 2
    with pytest.raises(InfeasibleError,
                       match=r"'bert-6.7b' \(13.3 GB of weights\) fits no group of up to 1 "
                             r"v100-16gb devices \(13.0 GB usable each\)"):
        check_fits(model=BERT67, device=V100, max_group_size=1)
    tiny = ModelSpec(name="huge-1l", family="bert", num_layers=1, hidden_size=65536,
                     num_heads=1, ffn_size=65536, vocab_size=10, seq_len=8)
    with pytest.raises(InfeasibleError, match=r"'huge-1l' .* GB of weights.*v100-16gb"):
        min_devices_to_fit(model=tiny, device=V100)


# ---------------------------------------------------------------------- profiles
def test_uniform_configs_respect_the_model() -> None:
    keys = [c.key for c in uniform_configs(BERT13, 8)]
    assert keys[:3] == ["pp1-tp1", "pp1-tp2", "pp2-tp1"]
    assert len(keys) == 10
    three_heads = ModelSpec(name="h3", family="bert", num_layers=2, hidden_size=48,
                            num_heads=3, ffn_size=192, vocab_size=10, seq_len=8)
    assert [c.key for c in uniform_configs(three_heads, 8)] == ["pp1-tp1", "pp2-tp1"]
    with pytest.raises(SpecError, match=r"max_group_size.*0"):
        uniform_configs(BERT13, 0)


def test_analytic_profiles_skip_and_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="alpaserve.cost.model"):
        db = analytic_profiles(models=[BERT13, BERT67], cluster=homogeneous_cluster(8),
                               batch_sizes=(1, 2))
    assert len(db.configs("bert-1.3b")) == 10
    assert "pp1-tp1" not in {c.key for c in db.configs("bert-6.7b")}
    assert "skipped 2 of 20 (config, batch size) pairs of bert-6.7b" in caplog.text
    e = db.get("bert-1.3b", uniform(BERT13, 2, 2), 2)
    assert e.source == "analytic"
    assert e.tflops > 0
    assert e.stage_weight_bytes == uniform(BERT13, 2, 2).stage_weight_bytes(BERT13)


def test_analytic_profiles_with_given_configs_and_errors() -> None:
    cfgs = {"bert-1.3b": [uniform(BERT13, 2)]}
    db = analytic_profiles(models=[BERT13], cluster=homogeneous_cluster(4), configs=cfgs)
    assert db.configs("bert-1.3b") == cfgs["bert-1.3b"]
    with pytest.raises(InfeasibleError, match=r"'bert-103.5b'.*up to 8 v100-16gb"):
        analytic_profiles(models=[model_preset("bert-103.5b")], cluster=homogeneous_cluster(8))
    small = homogeneous_cluster(2)
    assert {c.num_devices for c in analytic_profiles(models=[BERT13], cluster=small)
            .configs("bert-1.3b")} == {1, 2}
    with pytest.raises(SpecError, match=r"batch_sizes.*0"):
        analytic_profiles(models=[BERT13], cluster=small, batch_sizes=(0,))


@pytest.mark.parametrize(("ids", "match"), [
    ([[0]], "2 stages but 1 device lists"),
    ([[0], [0]], "device 0 is used by more than one stage"),
    ([[0], [1, 2]], r"tensor degree 1 but devices \[1, 2\]"),
    ([[0], [9]], "device id 9 is outside"),
])
def test_stage_device_errors(ids: list[list[int]], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        profile_entry(model=BERT13, config=uniform(BERT13, 2), cluster=homogeneous_cluster(8),
                      stage_device_ids=ids)


def test_config_larger_than_cluster() -> None:
    with pytest.raises(SpecError, match=r"pp4-tp2 needs 8 devices but the cluster has 4"):
        profile_entry(model=BERT13, config=uniform(BERT13, 4, 2),
                      cluster=homogeneous_cluster(4))


@given(model_specs(), st.sampled_from([1, 2, 4]), st.sampled_from([1, 2]),
       st.integers(1, 4))
def test_profiles_are_consistent(model: ModelSpec, t: int, p: int, batch: int) -> None:
    if model.num_heads % t or model.ffn_size % t or p > model.num_layers:
        return
    cluster = ClusterSpec(num_nodes=2, devices_per_node=4, device=V100)
    cfg = uniform(model, p, t)
    e = profile_entry(model=model, config=cfg, cluster=cluster, batch_size=batch)
    assert all(lat > 0 for lat in e.stage_latencies)
    assert all(peak > w for peak, w in zip(e.stage_peak_memory_bytes, e.stage_weight_bytes,
                                           strict=True))
    bigger = profile_entry(model=model, config=cfg, cluster=cluster, batch_size=batch + 1)
    assert bigger.total_latency > e.total_latency
