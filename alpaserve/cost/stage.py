"""Analytic cost model: roofline compute, alpha-beta communication, memory per device.

The latency and the peak memory of each pipeline stage; :mod:`alpaserve.cost.model` builds
profile entries and checks fits on top of them.

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

from collections.abc import Sequence

from alpaserve.cluster_spec import ClusterSpec
from alpaserve.cost.layers import LayerCost, embedding_cost, layer_cost
from alpaserve.cost.primitives import (
    LAYER_OVERHEAD_S,
    STAGE_OVERHEAD_S,
    allreduce_time,
    op_time,
    ops_time,
    p2p_time,
)
from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig, StageConfig


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
    >>> from alpaserve.model_presets import model_preset
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
    >>> from alpaserve.model_presets import model_preset
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
    >>> from alpaserve.model_presets import model_preset
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
    >>> from alpaserve.model_presets import model_preset
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
    >>> from alpaserve.model_presets import model_preset
    >>> v100 = device_preset("v100-16gb")
    >>> round(single_device_latency(model=model_preset("bert-2.6b"), device=v100), 3)
    0.161
    """
    cluster = ClusterSpec(num_nodes=1, devices_per_node=1, device=device)
    stage = StageConfig(layer_start=0, layer_end=model.num_layers)
    return stage_latency(model=model, stage=stage, cluster=cluster, device_ids=[0],
                         batch_size=batch_size)

