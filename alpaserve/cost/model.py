"""Analytic cost model: roofline compute, alpha-beta communication, memory per device.

Model
-----
* Every operator of a layer (:mod:`alpaserve.cost.layers`) takes its own roofline time,
  ``max(flops / (peak × e_mm × q), bytes / (bandwidth × e_mem))``. ``e_mm`` is the fraction
  of peak that a large, well-shaped fp16 GEMM reaches; ``q`` is the tile and wave
  quantization of the GEMM's output on the device's SMs (NVIDIA, *Matrix Multiplication
  Background User's Guide*: a GEMM runs in whole 128×256 tiles and whole waves of one tile
  per SM); ``e_mem`` is the fraction of the data-sheet memory bandwidth that streaming
  kernels reach. Non-matmul operators are memory-bound.
* Tensor parallelism (Megatron-style) divides the matmuls and attention by the degree ``t``
  and adds two ring all-reduces of the ``batch × seq × hidden`` activation per layer,
  ``2(n-1)/n × bytes / bw + latency``, on the slowest link among the stage's devices
  (:meth:`ClusterSpec.link`). MoE experts are sharded the same way, so MoE layers also end
  in all-reduces rather than all-to-alls.
* Each layer pays a fixed ``LAYER_OVERHEAD_S`` (kernel launches, about a dozen per layer)
  and each stage a fixed ``STAGE_OVERHEAD_S`` (launching the stage's executable and
  synchronising with its neighbours).
* The activation that a stage sends to the next one (``batch × seq × hidden``) costs
  ``bytes / bw + latency`` on the link between the two sub-meshes and is counted in the
  *sending* stage's latency, since that stage's devices are busy until the send is done.
* Memory per device: the stage's weights divided by ``t``, the peak live activations of one
  layer, the received activation, and for decoders the KV cache of every layer of the
  stage at ``seq_len``.

The config search (:mod:`alpaserve.parallel`) prices every sharding strategy with the same
:func:`op_time` on the same kernel constructors of :mod:`alpaserve.cost.layers`, at the
per-device shard shapes, and adds the same overheads, so its Megatron plans cost exactly what
:func:`stage_latency` gives (``tests/test_cost_consistency.py``).

Calibration
-----------
Targets (AlpaServe, Li et al., OSDI 2023, and the figures used throughout this project): on a
V100, BERT-1.3B at batch 1 runs in about 0.10 s and BERT-2.6B in about 0.15 s, with about
2.6 GB and 5.2 GB of weights; pipeline parallelism adds about 0.9% per stage. At sequence
length 2048, the FLOPs of the two models differ by 2.0×, yet the latencies by 1.5×. Two
physical effects close most of that gap: the attention scores (heads × seq², the same 32 heads
in both models) are memory-bound and cost the same per layer, and BERT-1.3B's GEMMs with a
2048-wide output fill 1.6 waves of 80 SMs (40% of the second wave idles: 80% overall), while
BERT-2.6B's 2560-wide outputs fill exactly two. With ``e_mm = 0.8`` (100 TFLOP/s, what cuBLAS
reaches on large fp16 GEMMs on a V100), ``e_mem = 0.85`` (765 GB/s), 0.1 ms per layer and
1 ms per stage the model gives 0.099 s and 0.161 s (-1% and +8%); ``tests/test_cost_model.py``
holds the figures to 15%. BERT-6.7B comes out at 0.36 s. Pipelining costs BERT-1.3B about
1.1% per extra stage (pp2 +1.1%, pp4 +3.2%). The remaining excess on BERT-2.6B is the part
of the published ratio that FLOP counts cannot explain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from alpaserve._validation import positive_int
from alpaserve.cluster_spec import ClusterSpec
from alpaserve.cost.layers import LayerCost, embedding_cost, layer_cost
from alpaserve.cost.primitives import (
    DEFAULT_MATMUL_EFFICIENCY,
    DEFAULT_MEMORY_EFFICIENCY,
    GEMM_TILE,
    LAYER_OVERHEAD_S,
    STAGE_OVERHEAD_S,
    allreduce_time,
    gemm_quantization,
    op_time,
    ops_time,
    p2p_time,
    roofline_time,
)
from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig, StageConfig
from alpaserve.profiles import ProfileDB, ProfileEntry

__all__ = [
    "DEFAULT_MATMUL_EFFICIENCY",
    "DEFAULT_MEMORY_EFFICIENCY",
    "GEMM_TILE",
    "LAYER_OVERHEAD_S",
    "STAGE_OVERHEAD_S",
    "allreduce_time",
    "analytic_profiles",
    "check_fits",
    "fits",
    "gemm_quantization",
    "layer_time",
    "min_devices_to_fit",
    "op_time",
    "ops_time",
    "p2p_time",
    "profile_entry",
    "resolve_stage_devices",
    "roofline_time",
    "single_device_latency",
    "stage_latencies",
    "stage_latency",
    "stage_peak_memory_bytes",
    "uniform_configs",
]

logger = logging.getLogger(__name__)


def layer_time(cost: LayerCost, device: DeviceSpec, *, bandwidth: float,
               latency: float) -> float:
    """Compute, tensor-parallel all-reduces and fixed overhead of one layer on one device.

    Parameters
    ----------
    cost : LayerCost
        The layer's per-device operators and all-reduces.
    device : DeviceSpec
        The device.
    bandwidth : float
        Bandwidth of the tensor-parallel group's slowest link, bytes/s.
    latency : float
        Latency of that link, seconds.

    Returns
    -------
    float
        Seconds: operator roofline times, all-reduces and ``LAYER_OVERHEAD_S``.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.model_spec import model_preset
    >>> cost = layer_cost(model_preset("bert-1.3b"), 0)
    >>> t = layer_time(cost, device_preset("v100-16gb"), bandwidth=130e9, latency=5e-6)
    >>> round(t * 1e3, 1)  # milliseconds
    4.1
    """
    compute = ops_time(cost.ops, device)
    comm = cost.num_allreduces * allreduce_time(cost.allreduce_bytes, cost.tensor_degree,
                                                bandwidth, latency)
    return compute + comm + LAYER_OVERHEAD_S


def _activation_bytes(model: ModelSpec, batch_size: int) -> int:
    return batch_size * model.seq_len * model.hidden_size * model.dtype_bytes


def stage_latency(*, model: ModelSpec, stage: StageConfig, cluster: ClusterSpec,
                  device_ids: Sequence[int], batch_size: int = 1,
                  next_device_ids: Sequence[int] | None = None) -> float:
    """Latency of one stage, including the send of its output to the next stage if any.

    Parameters
    ----------
    model : ModelSpec
        The model.
    stage : StageConfig
        The stage's layers and mesh.
    cluster : ClusterSpec
        The cluster (device and links).
    device_ids : sequence of int
        The stage's devices; as many as its tensor degree.
    batch_size : int, default 1
        Requests in the batch.
    next_device_ids : sequence of int, optional
        Devices of the next stage; the activation transfer to them is added.

    Returns
    -------
    float
        Seconds: ``STAGE_OVERHEAD_S``, the embedding on the first stage, every layer, and
        the send.

    Raises
    ------
    SpecError
        If the number of devices differs from the stage's tensor degree.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_spec import model_preset
    >>> bert, cluster = model_preset("bert-1.3b"), homogeneous_cluster(8)
    >>> whole = StageConfig(layer_start=0, layer_end=24)
    >>> round(stage_latency(model=bert, stage=whole, cluster=cluster, device_ids=[0]), 3)
    0.099
    """
    if len(device_ids) != stage.tensor_degree:
        raise SpecError(f"stage over layers [{stage.layer_start}, {stage.layer_end}) has tensor "
                        f"degree {stage.tensor_degree} but {len(device_ids)} devices "
                        f"{list(device_ids)}")
    bandwidth, latency = cluster.link(device_ids)
    total = STAGE_OVERHEAD_S
    if stage.layer_start == 0:
        total += op_time(embedding_cost(model, batch_size=batch_size), cluster.device)
    for layer in range(stage.layer_start, stage.layer_end):
        cost = layer_cost(model, layer, batch_size=batch_size, tensor_degree=stage.tensor_degree)
        total += layer_time(cost, cluster.device, bandwidth=bandwidth, latency=latency)
    if next_device_ids is not None:
        bw, lat = cluster.link([*device_ids, *next_device_ids])
        total += p2p_time(_activation_bytes(model, batch_size), bw, lat)
    return total


def stage_peak_memory_bytes(*, model: ModelSpec, config: ParallelConfig,
                            batch_size: int = 1) -> tuple[int, ...]:
    """Peak memory per device of each stage: weights, live activations and KV cache.

    Parameters
    ----------
    model : ModelSpec
        The model.
    config : ParallelConfig
        The stages.
    batch_size : int, default 1
        Requests in the batch.

    Returns
    -------
    tuple of int
        Bytes per device of each stage.

    Raises
    ------
    SpecError
        If the config cannot run ``model``.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> bert = model_preset("bert-1.3b")
    >>> one = stage_peak_memory_bytes(model=bert, config=ParallelConfig.uniform(num_layers=24))
    >>> round(one[0] / 1e9, 2)
    3.23
    """
    weights = config.stage_weight_bytes(model)
    peaks = []
    for stage, weight in zip(config.stages, weights, strict=True):
        costs = [layer_cost(model, layer, batch_size=batch_size, tensor_degree=stage.tensor_degree)
                 for layer in range(stage.layer_start, stage.layer_end)]
        live = max(c.activation_bytes for c in costs) + _activation_bytes(model, batch_size)
        peaks.append(weight + live + sum(c.kv_cache_bytes for c in costs))
    return tuple(peaks)


def stage_latencies(*, model: ModelSpec, config: ParallelConfig, cluster: ClusterSpec,
                    batch_size: int = 1,
                    stage_device_ids: Sequence[Sequence[int]] | None = None
                    ) -> tuple[float, ...]:
    """Latency of every stage of ``config`` (see :func:`stage_latency`).

    Parameters
    ----------
    model : ModelSpec
        The model.
    config : ParallelConfig
        The stages.
    cluster : ClusterSpec
        The cluster.
    batch_size : int, default 1
        Requests in the batch.
    stage_device_ids : sequence of sequence of int, optional
        Devices of each stage; default: stages packed on devices ``0, 1, ...``.

    Returns
    -------
    tuple of float
        Seconds per stage; each but the last includes the send to the next stage.

    Raises
    ------
    SpecError
        If the config cannot run ``model`` or the devices do not fit the config.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_spec import model_preset
    >>> cfg = ParallelConfig.uniform(num_layers=24, pipeline_degree=2)
    >>> lats = stage_latencies(model=model_preset("bert-1.3b"), config=cfg,
    ...                        cluster=homogeneous_cluster(8))
    >>> [round(x, 3) for x in lats]
    [0.05, 0.05]
    """
    config.validate_for(model)
    meshes = resolve_stage_devices(config, cluster, stage_device_ids)
    return tuple(
        stage_latency(model=model, stage=stage, cluster=cluster, device_ids=meshes[k],
                      batch_size=batch_size,
                      next_device_ids=meshes[k + 1] if k + 1 < len(meshes) else None)
        for k, stage in enumerate(config.stages))


def resolve_stage_devices(config: ParallelConfig, cluster: ClusterSpec,
                          stage_device_ids: Sequence[Sequence[int]] | None
                          ) -> list[tuple[int, ...]]:
    """The device ids of each stage; ``None`` packs stages on devices ``0, 1, ...``.

    Parameters
    ----------
    config : ParallelConfig
        The stages.
    cluster : ClusterSpec
        The cluster the devices belong to.
    stage_device_ids : sequence of sequence of int or None
        Devices of each stage, or None to pack them.

    Returns
    -------
    list of tuple of int
        The devices of each stage.

    Raises
    ------
    SpecError
        If the config needs more devices than the cluster has, the lists do not match the
        stages' tensor degrees, a device is outside the cluster or used twice.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> cfg = ParallelConfig.uniform(num_layers=4, pipeline_degree=2, tensor_degree=2)
    >>> resolve_stage_devices(cfg, homogeneous_cluster(4), None)
    [(0, 1), (2, 3)]
    """
    if config.num_devices > cluster.num_devices:
        raise SpecError(f"config {config.key} needs {config.num_devices} devices but the "
                        f"cluster has {cluster.num_devices}")
    if stage_device_ids is None:
        starts = [0]
        for t in config.tensor_degrees:
            starts.append(starts[-1] + t)
        return [tuple(range(starts[k], starts[k + 1])) for k in range(config.pipeline_degree)]
    meshes = [tuple(ids) for ids in stage_device_ids]
    if len(meshes) != config.pipeline_degree:
        raise SpecError(f"config {config.key} has {config.pipeline_degree} stages but "
                        f"{len(meshes)} device lists were given: {meshes}")
    seen: set[int] = set()
    for k, (ids, t) in enumerate(zip(meshes, config.tensor_degrees, strict=True)):
        if len(ids) != t:
            raise SpecError(f"stage {k} of config {config.key} has tensor degree {t} but "
                            f"devices {list(ids)}")
        for d in ids:
            cluster.check_device(d)
            if d in seen:
                raise SpecError(f"device {d} is used by more than one stage of {config.key}")
            seen.add(d)
    return meshes


# ---------------------------------------------------------------------- profiles
def profile_entry(*, model: ModelSpec, config: ParallelConfig, cluster: ClusterSpec,
                  batch_size: int = 1,
                  stage_device_ids: Sequence[Sequence[int]] | None = None) -> ProfileEntry:
    """The analytic profile of ``model`` under ``config`` on ``cluster``.

    Without ``stage_device_ids`` the stages are packed on devices ``0, 1, ...``, so a group
    that fits in a node uses intra-node links. Memory is recorded, not checked.

    Parameters
    ----------
    model : ModelSpec
        The model.
    config : ParallelConfig
        The stages.
    cluster : ClusterSpec
        The cluster.
    batch_size : int, default 1
        Requests in the batch.
    stage_device_ids : sequence of sequence of int, optional
        Devices of each stage; default: stages packed on devices ``0, 1, ...``.

    Returns
    -------
    ProfileEntry
        Stage latencies, weights and peak memory, with ``source="analytic"``.

    Raises
    ------
    SpecError
        If the config cannot run ``model`` or the devices do not fit it.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_spec import model_preset
    >>> bert = model_preset("bert-1.3b")
    >>> cfg = ParallelConfig.uniform(num_layers=24, pipeline_degree=2)
    >>> e = profile_entry(model=bert, config=cfg, cluster=homogeneous_cluster(8))
    >>> e.source, [round(x, 3) for x in e.stage_latencies]
    ('analytic', [0.05, 0.05])
    """
    lats = stage_latencies(model=model, config=config, cluster=cluster, batch_size=batch_size,
                           stage_device_ids=stage_device_ids)
    flops = sum(layer_cost(model, layer, batch_size=batch_size).flops
                for layer in range(model.num_layers))
    return ProfileEntry(
        model=model.name, config=config, batch_size=batch_size, stage_latencies=lats,
        stage_weight_bytes=config.stage_weight_bytes(model),
        stage_peak_memory_bytes=stage_peak_memory_bytes(model=model, config=config,
                                                        batch_size=batch_size),
        source="analytic", tflops=flops / sum(lats) / config.num_devices / 1e12,
    )


def single_device_latency(*, model: ModelSpec, device: DeviceSpec, batch_size: int = 1) -> float:
    """Latency of ``model`` on one ``device``, whether or not its weights fit there.

    Parameters
    ----------
    model : ModelSpec
        The model.
    device : DeviceSpec
        The device.
    batch_size : int, default 1
        Requests in the batch.

    Returns
    -------
    float
        Seconds of one forward pass as a single stage.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.model_spec import model_preset
    >>> v100 = device_preset("v100-16gb")
    >>> round(single_device_latency(model=model_preset("bert-2.6b"), device=v100), 3)
    0.161
    """
    cluster = ClusterSpec(num_nodes=1, devices_per_node=1, device=device)
    stage = StageConfig(layer_start=0, layer_end=model.num_layers)
    return stage_latency(model=model, stage=stage, cluster=cluster, device_ids=[0],
                         batch_size=batch_size)


def uniform_configs(model: ModelSpec, max_group_size: int = 8) -> list[ParallelConfig]:
    """Uniform pipeline × tensor configs on power-of-two groups up to ``max_group_size``.

    Kept are those ``model`` admits: the tensor degree divides the heads and the FFN size,
    and the pipeline degree is at most the number of layers.

    Parameters
    ----------
    model : ModelSpec
        The model.
    max_group_size : int, default 8
        Largest group size; positive.

    Returns
    -------
    list of ParallelConfig
        The configs by group size, then pipeline degree.

    Raises
    ------
    SpecError
        If ``max_group_size`` is not positive.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> [c.key for c in uniform_configs(model_preset("bert-1.3b"), 2)]
    ['pp1-tp1', 'pp1-tp2', 'pp2-tp1']
    """
    positive_int("uniform_configs", "max_group_size", max_group_size)
    configs: list[ParallelConfig] = []
    size = 1
    while size <= max_group_size:
        configs += _configs_of_size(model, size)
        size *= 2
    return configs


def _configs_of_size(model: ModelSpec, size: int) -> list[ParallelConfig]:
    configs = []
    for p in (d for d in range(1, size + 1) if size % d == 0):
        t = size // p
        if model.num_heads % t or model.ffn_size % t or p > model.num_layers:
            continue
        configs.append(ParallelConfig.uniform(num_layers=model.num_layers,
                                              pipeline_degree=p, tensor_degree=t))
    return configs


def fits(*, model: ModelSpec, config: ParallelConfig, device: DeviceSpec,
         batch_size: int = 1) -> bool:
    """Whether every stage's peak memory per device fits ``device``'s usable memory.

    Parameters
    ----------
    model : ModelSpec
        The model.
    config : ParallelConfig
        The stages.
    device : DeviceSpec
        The device.
    batch_size : int, default 1
        Requests in the batch.

    Returns
    -------
    bool
        True if no stage's peak exceeds ``device.usable_memory_bytes``.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.model_spec import model_preset
    >>> cfg = ParallelConfig.uniform(num_layers=32)
    >>> fits(model=model_preset("bert-6.7b"), config=cfg, device=device_preset("v100-16gb"))
    False
    """
    peaks = stage_peak_memory_bytes(model=model, config=config, batch_size=batch_size)
    return max(peaks) <= device.usable_memory_bytes


def _smallest_fit(model: ModelSpec, device: DeviceSpec, limit: int) -> int | None:
    size = 1
    while size <= limit:
        if any(fits(model=model, config=c, device=device) for c in _configs_of_size(model, size)):
            return size
        size *= 2
    return None


def min_devices_to_fit(*, model: ModelSpec, device: DeviceSpec) -> int:
    """Smallest power-of-two group on which some uniform config of ``model`` fits at batch 1.

    Parameters
    ----------
    model : ModelSpec
        The model.
    device : DeviceSpec
        The device.

    Returns
    -------
    int
        Devices in the smallest group that fits.

    Raises
    ------
    InfeasibleError
        When no admissible config fits at all.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.model_spec import model_preset
    >>> v100 = device_preset("v100-16gb")
    >>> [min_devices_to_fit(model=model_preset(m), device=v100)
    ...  for m in ("bert-1.3b", "bert-6.7b", "bert-103.5b")]
    [1, 2, 32]
    """
    limit = model.num_layers * model.num_heads
    need = _smallest_fit(model, device, limit)
    if need is None:
        raise InfeasibleError(_no_fit_message(model, device, limit))
    return need


def check_fits(*, model: ModelSpec, device: DeviceSpec, max_group_size: int = 8) -> int:
    """:func:`min_devices_to_fit`, raising ``InfeasibleError`` when it exceeds ``max_group_size``.

    Parameters
    ----------
    model : ModelSpec
        The model.
    device : DeviceSpec
        The device.
    max_group_size : int, default 8
        Largest group allowed; positive.

    Returns
    -------
    int
        Devices in the smallest power-of-two group that fits.

    Raises
    ------
    InfeasibleError
        If no group up to ``max_group_size`` fits the model.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.model_spec import model_preset
    >>> v100 = device_preset("v100-16gb")
    >>> check_fits(model=model_preset("bert-6.7b"), device=v100)
    2
    >>> check_fits(model=model_preset("bert-103.5b"), device=v100)
    Traceback (most recent call last):
    alpaserve.errors.InfeasibleError: model 'bert-103.5b' (207.5 GB of weights) fits no group ...
    """
    positive_int("check_fits", "max_group_size", max_group_size)
    need = _smallest_fit(model, device, max_group_size)
    if need is None:
        raise InfeasibleError(_no_fit_message(model, device, max_group_size))
    return need


def _no_fit_message(model: ModelSpec, device: DeviceSpec, size: int) -> str:
    return (f"model {model.name!r} ({model.weight_bytes / 1e9:.1f} GB of weights) fits no "
            f"group of up to {size} {device.name} devices "
            f"({device.usable_memory_bytes / 1e9:.1f} GB usable each)")


def analytic_profiles(*, models: Iterable[ModelSpec], cluster: ClusterSpec,
                      configs: Mapping[str, Sequence[ParallelConfig]] | None = None,
                      max_group_size: int = 8, batch_sizes: Sequence[int] = (1,)) -> ProfileDB:
    """Analytic profiles of ``models`` at every batch size, for the given or uniform configs.

    ``configs`` maps model names to their configs; a model it does not name, or ``None``,
    gets :func:`uniform_configs` up to ``min(max_group_size, cluster.num_devices)``. Configs
    whose peak memory per device exceeds the device's usable memory are skipped; the number
    skipped is logged. A model with no config that fits raises ``InfeasibleError``.

    Parameters
    ----------
    models : iterable of ModelSpec
        The models.
    cluster : ClusterSpec
        The cluster (device and links).
    configs : Mapping[str, sequence of ParallelConfig], optional
        Configs per model name; default: uniform configs.
    max_group_size : int, default 8
        Largest group of the uniform configs; positive.
    batch_sizes : sequence of int, default (1,)
        Batch sizes to profile; positive.

    Returns
    -------
    ProfileDB
        One analytic entry per model, fitting config and batch size.

    Raises
    ------
    InfeasibleError
        If a model has no config that fits.
    SpecError
        If a size is not positive or a given config cannot run its model.

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_spec import model_preset
    >>> db = analytic_profiles(models=[model_preset("bert-6.7b")], cluster=homogeneous_cluster(4))
    >>> sorted(c.key for c in db.configs("bert-6.7b"))
    ['pp1-tp2', 'pp1-tp4', 'pp2-tp1', 'pp2-tp2', 'pp4-tp1']
    """
    positive_int("analytic_profiles", "max_group_size", max_group_size)
    for b in batch_sizes:
        positive_int("analytic_profiles", "batch_sizes", b)
    size = min(max_group_size, cluster.num_devices)
    db = ProfileDB()
    for model in models:
        chosen = (configs or {}).get(model.name)
        candidates = list(chosen) if chosen is not None else uniform_configs(model, size)
        skipped = 0
        for config in candidates:
            for b in batch_sizes:
                if not fits(model=model, config=config, device=cluster.device, batch_size=b):
                    skipped += 1
                    continue
                db.add(profile_entry(model=model, config=config, cluster=cluster, batch_size=b))
        if skipped:
            logger.info("skipped %d of %d (config, batch size) pairs of %s that exceed the "
                        "%.1f GB usable on %s", skipped, len(candidates) * len(batch_sizes),
                        model.name, cluster.device.usable_memory_bytes / 1e9, cluster.device.name)
        if not db.configs(model.name):
            raise InfeasibleError(_no_fit_message(model, cluster.device, size)
                                  + f" at batch sizes {list(batch_sizes)}")
    return db
