"""Hypothesis strategies for specs, configs, placements and profiles (foundation tests)."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

from alpaserve.cluster_spec import ClusterSpec
from alpaserve.device_spec import DeviceSpec
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig, StageConfig
from alpaserve.profiles import SOURCES, ProfileEntry

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._", min_size=1, max_size=12)
finite_pos = st.floats(min_value=1e-6, max_value=1e15, allow_nan=False, allow_infinity=False)


@st.composite
def model_specs(draw: st.DrawFn) -> ModelSpec:
    family = draw(st.sampled_from(["bert", "gpt", "moe"]))
    heads = draw(st.sampled_from([1, 2, 4, 8]))
    experts = draw(st.integers(2, 8)) if family == "moe" else 0
    return ModelSpec(
        name=draw(names), family=family, num_layers=draw(st.integers(1, 12)),
        hidden_size=heads * draw(st.integers(1, 16)), num_heads=heads,
        ffn_size=draw(st.integers(1, 128)), vocab_size=draw(st.integers(1, 1000)),
        seq_len=draw(st.integers(1, 256)), dtype_bytes=draw(st.sampled_from([1, 2, 4])),
        num_experts=experts, expert_interval=draw(st.integers(1, 3)),
        top_k=draw(st.integers(1, experts)) if experts else 2,
    )


@st.composite
def device_specs(draw: st.DrawFn) -> DeviceSpec:
    memory = draw(st.integers(2, 1 << 40))
    return DeviceSpec(name=draw(names), peak_flops=draw(finite_pos),
                      memory_bandwidth=draw(finite_pos), memory_bytes=memory,
                      reserved_bytes=draw(st.integers(0, memory - 1)),
                      price_on_demand=draw(st.floats(0, 100)), price_spot=draw(st.floats(0, 100)),
                      num_sms=draw(st.integers(0, 200)))


@st.composite
def cluster_specs(draw: st.DrawFn) -> ClusterSpec:
    return ClusterSpec(num_nodes=draw(st.integers(1, 8)),
                       devices_per_node=draw(st.integers(1, 8)), device=draw(device_specs()),
                       intra_node_bandwidth=draw(finite_pos),
                       inter_node_bandwidth=draw(finite_pos),
                       intra_node_latency=draw(st.floats(0, 1)),
                       inter_node_latency=draw(st.floats(0, 1)))


@st.composite
def parallel_configs(draw: st.DrawFn, num_layers: int | None = None,
                     equal_meshes: bool = False) -> ParallelConfig:
    layers = num_layers if num_layers is not None else draw(st.integers(1, 24))
    cuts = sorted(draw(st.sets(st.integers(1, layers - 1), max_size=4))) if layers > 1 else []
    bounds = [0, *cuts, layers]
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 4)))
    return ParallelConfig(stages=tuple(
        StageConfig(layer_start=a, layer_end=b,
                    mesh_shape=shape if equal_meshes else (draw(st.integers(1, 2)),
                                                           draw(st.integers(1, 4))))
        for a, b in itertools.pairwise(bounds)))


@st.composite
def profile_entries(draw: st.DrawFn, model: str = "m", num_layers: int = 8,
                    uniform: bool = False) -> ProfileEntry:
    if uniform:
        config = ParallelConfig.uniform(
            num_layers=num_layers, pipeline_degree=draw(st.integers(1, num_layers)),
            tensor_degree=draw(st.sampled_from([1, 2, 4, 8])))
    else:
        config = draw(parallel_configs(num_layers=num_layers))
    p = config.pipeline_degree
    lats = st.lists(st.floats(1e-6, 1e3), min_size=p, max_size=p)
    ints = st.lists(st.integers(0, 1 << 40), min_size=p, max_size=p)
    return ProfileEntry(model=model, config=config, batch_size=draw(st.integers(1, 64)),
                        stage_latencies=tuple(draw(lats)), stage_weight_bytes=tuple(draw(ints)),
                        stage_peak_memory_bytes=tuple(draw(ints)),
                        source=draw(st.sampled_from(SOURCES)),
                        latency_std=draw(st.floats(0, 1)), tflops=draw(st.floats(0, 1000)))
