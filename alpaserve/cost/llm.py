"""Token-level latency and memory of a decoder LLM under a (data, pipeline, tensor) config.

A request is a *prefill* of its prompt (compute-bound: every prompt token goes through every
weight) followed by one *decode step* per output token (bound by memory bandwidth: each step
reads the stage's weights and the KV cache of every active request).

Per pipeline stage and micro-batch the time is the roofline of its FLOPs and bytes on one
device of the tensor-parallel group (``alpaserve.cost.model.roofline_time``), plus two ring
all-reduces per layer of the micro-batch's activations (Megatron-style tensor parallelism).
A batch split into ``M`` micro-batches over ``P`` stages takes the pipeline formula
``(stage time + inter-stage transfer) × (P + M − 1)``, where the stage time is that of one
micro-batch (= the full-batch stage time / M when compute-bound).

The tied LM head runs on the last stage (only on the last prompt token during the prefill);
with ``P > 1`` that stage holds its own copy of the embedding matrix, as in Megatron.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve._validation import positive_int
from alpaserve.cost.model import (
    allreduce_time,
    p2p_time,
    roofline_time,
)
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.spot.hardware import SpotHardware

FloatLike = float | npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """``data`` replicas, each ``pipeline`` stages of ``tensor`` devices, serving static
    batches of up to ``batch`` requests split into ``micro_batches``.

    Parameters
    ----------
    data : int
        Replicas; positive.
    pipeline : int
        Pipeline stages per replica; positive.
    tensor : int
        Devices per stage (tensor parallelism); positive.
    batch : int
        Largest static batch, in requests; positive.
    micro_batches : int, default 1
        Micro-batches a batch is split into in the pipeline; at most ``batch``.

    Raises
    ------
    SpecError
        If a value is not positive or ``micro_batches > batch``.

    Examples
    --------
    >>> c = LLMConfig(data=2, pipeline=2, tensor=4, batch=8, micro_batches=2)
    >>> c.key, c.num_devices, c.replica_devices
    ('d2-p2-t4-b8-m2', 16, 8)
    """

    data: int
    pipeline: int
    tensor: int
    batch: int
    micro_batches: int = 1

    def __post_init__(self) -> None:
        for name in ("data", "pipeline", "tensor", "batch", "micro_batches"):
            positive_int("LLMConfig", name, getattr(self, name))
        if self.micro_batches > self.batch:
            raise SpecError(f"LLMConfig.micro_batches={self.micro_batches} exceeds "
                            f"batch={self.batch}")

    @property
    def replica_devices(self) -> int:
        return self.pipeline * self.tensor

    @property
    def num_devices(self) -> int:
        return self.data * self.replica_devices

    @property
    def key(self) -> str:
        return (f"d{self.data}-p{self.pipeline}-t{self.tensor}-b{self.batch}"
                f"-m{self.micro_batches}")

    def with_data(self, data: int) -> LLMConfig:
        """The same replica shape with another number of replicas.

        Parameters
        ----------
        data : int
            Replicas; positive.

        Returns
        -------
        LLMConfig
            The config with ``data`` replicas.

        Examples
        --------
        >>> cfg = LLMConfig(data=1, pipeline=2, tensor=2, batch=4)
        >>> cfg.with_data(3).key
        'd3-p2-t2-b4-m1\'
        """
        return LLMConfig(data=data, pipeline=self.pipeline, tensor=self.tensor,
                         batch=self.batch, micro_batches=self.micro_batches)

    def parallel_config(self, model: ModelSpec) -> ParallelConfig:
        """The per-replica pipeline (uniform layer split).

        Parameters
        ----------
        model : ModelSpec
            The model to split.

        Returns
        -------
        ParallelConfig
            ``pipeline`` stages of ``tensor`` devices.

        Raises
        ------
        SpecError
            If the config cannot run ``model``.

        Examples
        --------
        >>> cfg = LLMConfig(data=1, pipeline=2, tensor=2, batch=4)
        >>> from alpaserve.model_spec import model_preset
        >>> cfg.parallel_config(model_preset("gpt-1.3b")).key
        'pp2-tp2\'
        """
        cfg = ParallelConfig.uniform(num_layers=model.num_layers, pipeline_degree=self.pipeline,
                                     tensor_degree=self.tensor)
        cfg.validate_for(model)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict.

        Returns
        -------
        dict of str to Any
            ``data``, ``pipeline``, ``tensor``, ``batch`` and ``micro_batches``.

        Examples
        --------
        >>> cfg = LLMConfig(data=1, pipeline=2, tensor=2, batch=4)
        >>> cfg.to_dict()
        {'data': 1, 'pipeline': 2, 'tensor': 2, 'batch': 4, 'micro_batches': 1}
        """
        return {"data": self.data, "pipeline": self.pipeline, "tensor": self.tensor,
                "batch": self.batch, "micro_batches": self.micro_batches}


@dataclass(frozen=True, kw_only=True)
class StageCost:
    """One pipeline stage: its layers, weight bytes per device, whether it runs the LM
    head, and the dense FLOPs and KV-cache bytes of one token through all its layers.

    Parameters
    ----------
    layers : int
        Layers in the stage.
    weight_bytes : float
        Weight bytes per device (with the LM head's copy of the embedding on the last stage
        of a pipeline).
    head : bool
        Whether the stage runs the LM head (the last stage).
    flops_per_token : float
        Dense FLOPs of one token through the stage's layers (whole group).
    kv_bytes_per_token : float
        KV-cache bytes one token adds in the stage (whole group).

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> plan = stage_plan(model_preset("gpt-1.3b"), LLMConfig(data=1, pipeline=1, tensor=1,
    ...                                                        batch=1))
    >>> plan.stages[0].layers, plan.stages[0].head
    (24, True)
    """

    layers: int
    weight_bytes: float
    head: bool
    flops_per_token: float
    kv_bytes_per_token: float


@dataclass(frozen=True, kw_only=True)
class StagePlan:
    """The stages of ``config`` for ``model``, computed once and reused by the simulator.

    Parameters
    ----------
    model : ModelSpec
        The decoder model.
    config : LLMConfig
        The config the stages were computed for.
    stages : tuple of StageCost
        One entry per pipeline stage.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> plan = stage_plan(model_preset("gpt-1.3b"), LLMConfig(data=1, pipeline=2, tensor=1,
    ...                                                        batch=1))
    >>> [s.layers for s in plan.stages], [s.head for s in plan.stages]
    ([12, 12], [False, True])
    """

    model: ModelSpec
    config: LLMConfig
    stages: tuple[StageCost, ...]


def stage_plan(model: ModelSpec, config: LLMConfig) -> StagePlan:
    """Per-stage costs of ``config``.

    Parameters
    ----------
    model : ModelSpec
        A decoder (``gpt``) model.
    config : LLMConfig
        The parallel config.

    Returns
    -------
    StagePlan
        The stages, for the ``plan`` argument of the timing functions.

    Raises
    ------
    SpecError
        If ``model`` is not a decoder or the config cannot run it.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> stage_plan(model_preset("bert-1.3b"), LLMConfig(data=1, pipeline=1, tensor=1, batch=1))
    Traceback (most recent call last):
    ...
    alpaserve.errors.SpecError: model 'bert-1.3b' is not a decoder (family 'bert')
    """
    return StagePlan(model=model, config=config, stages=tuple(_compute_stages(model, config)))


def _stages(model: ModelSpec, config: LLMConfig,
            plan: StagePlan | None = None) -> tuple[StageCost, ...] | list[StageCost]:
    if plan is not None:
        if (plan.model is not model and plan.model != model) or \
                (plan.config.pipeline, plan.config.tensor) != (config.pipeline, config.tensor):
            raise SpecError(f"stage plan for {plan.config.key} of {plan.model.name!r} does "
                            f"not match config {config.key} of {model.name!r}")
        return plan.stages
    return _compute_stages(model, config)


def _compute_stages(model: ModelSpec, config: LLMConfig) -> list[StageCost]:
    if not model.is_decoder:
        raise SpecError(f"model {model.name!r} is not a decoder (family {model.family!r})")
    pc = config.parallel_config(model)
    per_device = pc.stage_weight_bytes(model)
    head_bytes = model.vocab_size * model.hidden_size * model.dtype_bytes / config.tensor
    out = []
    for k, stage in enumerate(pc.stages):
        last = k == len(pc.stages) - 1
        extra = head_bytes if last and config.pipeline > 1 else 0.0
        out.append(StageCost(layers=stage.num_layers, weight_bytes=per_device[k] + extra,
                             head=last,
                             flops_per_token=stage.num_layers * _layer_flops_per_token(model),
                             kv_bytes_per_token=stage.num_layers
                             * _kv_bytes_per_layer_token(model)))
    return out


def _roofline(flops: FloatLike, bytes_moved: FloatLike, hw: SpotHardware) -> FloatLike:
    """``roofline_time`` at ``hw``'s calibrated efficiencies, elementwise (it uses Python
    ``max``, which arrays do not support)."""
    device = hw.device
    if np.ndim(flops) == 0 and np.ndim(bytes_moved) == 0:
        return roofline_time(float(flops), float(bytes_moved), device,
                             efficiency=hw.compute_efficiency,
                             memory_efficiency=hw.memory_efficiency)
    return np.maximum(np.asarray(flops) / (device.peak_flops * hw.compute_efficiency),
                      np.asarray(bytes_moved) / (device.memory_bandwidth
                                                 * hw.memory_efficiency))


def _layer_flops_per_token(model: ModelSpec) -> float:
    return 2.0 * model.layer_params(0)


def _kv_bytes_per_layer_token(model: ModelSpec) -> float:
    return model.kv_cache_bytes_per_token() / model.num_layers


def _pipeline_time(stage_times: list[FloatLike], activation_bytes: FloatLike,
                   hw: SpotHardware, config: LLMConfig) -> FloatLike:
    slowest = stage_times[0]
    for t in stage_times[1:]:
        slowest = np.maximum(slowest, t)
    hop: FloatLike = 0.0
    if config.pipeline > 1:
        bw, lat = hw.link(tensor_degree=config.replica_devices)
        hop = (p2p_time(float(activation_bytes), bw, lat) if np.ndim(activation_bytes) == 0
               else np.asarray(activation_bytes) / bw + lat)  # p2p_time elementwise
    return (slowest + hop) * (config.pipeline + config.micro_batches - 1)


def prefill_time(model: ModelSpec, hw: SpotHardware, config: LLMConfig,
                 prompt_lengths: Sequence[int] | npt.ArrayLike, *,
                 plan: StagePlan | None = None) -> float:
    """Time to prefill one batch of prompts on one replica (0 for no prompts).

    Parameters
    ----------
    model : ModelSpec
        A decoder.
    hw : SpotHardware
        The replica's hardware, with its calibrated efficiencies.
    config : LLMConfig
        Pipeline, tensor and micro-batch degrees.
    prompt_lengths : array_like of int
        Tokens to prefill per request.
    plan : StagePlan, optional
        ``config``'s :func:`stage_plan`; saves recomputing the stages on every call.

    Returns
    -------
    float
        Seconds.

    Raises
    ------
    SpecError
        ``model`` is not a decoder, or ``config`` cannot run it.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> from alpaserve.spot.hardware import g4dn_hardware
    >>> m, hw = model_preset("gpt-20b"), g4dn_hardware()
    >>> one = prefill_time(m, hw, LLMConfig(data=1, pipeline=1, tensor=4, batch=1), [512])
    >>> two = prefill_time(m, hw, LLMConfig(data=1, pipeline=1, tensor=4, batch=1), [512, 512])
    >>> 1.0 < one < 2.0 and 1.9 < two / one < 2.1  # T4 as measured: ~1.65 s (tables)
    True
    """
    p = np.asarray(prompt_lengths, dtype=np.float64).ravel()
    if p.size == 0:
        return 0.0
    m, t, h = config.micro_batches, config.tensor, model.hidden_size
    tokens, squares, requests = p.sum() / m, (p * p).sum() / m, p.size / m
    act_bytes = tokens * h * model.dtype_bytes
    bw, lat = hw.link(tensor_degree=t)
    times: list[FloatLike] = []
    for st in _stages(model, config, plan):
        flops = st.flops_per_token * tokens + st.layers * 2.0 * h * squares
        if st.head:
            flops += 2.0 * model.vocab_size * h * requests
        kv_write = st.kv_bytes_per_token * tokens / t
        compute = _roofline(flops / t, st.weight_bytes + kv_write, hw)
        times.append(compute + 2 * st.layers * allreduce_time(act_bytes, t, bw, lat)
                     + st.layers * hw.layer_overhead)
    return float(_pipeline_time(times, act_bytes, hw, config))


def decode_step_time(model: ModelSpec, hw: SpotHardware, config: LLMConfig, *,
                     active: FloatLike, context_tokens: FloatLike,
                     plan: StagePlan | None = None) -> FloatLike:
    """One decode step of ``active`` requests whose contexts total ``context_tokens``.

    Parameters
    ----------
    model : ModelSpec
        A decoder.
    hw : SpotHardware
        The replica's hardware, with its calibrated efficiencies.
    config : LLMConfig
        Pipeline, tensor and micro-batch degrees.
    active : float or array
        Requests decoding (one entry per step for arrays).
    context_tokens : float or array
        Their cached context in total, tokens.
    plan : StagePlan, optional
        ``config``'s :func:`stage_plan`.

    Returns
    -------
    float or numpy.ndarray
        Seconds, shaped like the arguments.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> from alpaserve.spot.hardware import g4dn_hardware
    >>> m, hw = model_preset("gpt-20b"), g4dn_hardware()
    >>> cfg = LLMConfig(data=1, pipeline=1, tensor=4, batch=8)
    >>> step = decode_step_time(m, hw, cfg, active=1, context_tokens=600)
    >>> 0.07 < step < 0.1  # ~10 GB of weights per T4 at 39% of 320 GB/s; measured 87 ms
    True
    """
    n = np.asarray(active, dtype=np.float64) / config.micro_batches
    ctx = np.asarray(context_tokens, dtype=np.float64) / config.micro_batches
    t, h = config.tensor, model.hidden_size
    act_bytes = n * h * model.dtype_bytes
    bw, lat = hw.link(tensor_degree=t)
    times: list[FloatLike] = []
    for st in _stages(model, config, plan):
        flops = st.flops_per_token * n + st.layers * 4.0 * h * ctx
        if st.head:
            flops = flops + 2.0 * model.vocab_size * h * n
        kv_read = st.kv_bytes_per_token * ctx / t
        compute = _roofline(flops / t, st.weight_bytes + kv_read, hw)
        # allreduce_time is arithmetic only, so it broadcasts over arrays.
        comm = 2 * st.layers * allreduce_time(act_bytes, t, bw, lat)  # type: ignore[arg-type]
        times.append(compute + comm + st.layers * hw.layer_overhead)
    out = _pipeline_time(times, act_bytes, hw, config)
    return float(out) if np.ndim(out) == 0 else np.asarray(out, dtype=np.float64)


def request_latency(model: ModelSpec, hw: SpotHardware, config: LLMConfig, *,
                    prompt_tokens: int, output_tokens: int, batch: int | None = None) -> float:
    """Latency of a full batch of identical requests: prefill plus every decode step.

    Parameters
    ----------
    model : ModelSpec
        A decoder (``gpt``) model.
    hw : SpotHardware
        The device and its links.
    config : LLMConfig
        The parallel config and batch.
    prompt_tokens : int
        Prompt length of each request; positive.
    output_tokens : int
        Tokens each request generates; positive.
    batch : int, optional
        Requests in the batch; default ``config.batch``.

    Returns
    -------
    float
        Seconds from the start of the prefill to the last token.

    Raises
    ------
    SpecError
        If a token count is not positive or the config cannot run ``model``.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> from alpaserve.spot.hardware import g4dn_hardware
    >>> cfg = LLMConfig(data=1, pipeline=1, tensor=4, batch=1)
    >>> lat = request_latency(model_preset("gpt-20b"), g4dn_hardware(), cfg,
    ...                       prompt_tokens=512, output_tokens=128)
    >>> 10.0 < lat < 14.0  # the measured T4 profile gives 12.45 s
    True
    """
    b = config.batch if batch is None else batch
    positive_int("request_latency", "prompt_tokens", prompt_tokens)
    positive_int("request_latency", "output_tokens", output_tokens)
    steps = np.arange(1, output_tokens + 1, dtype=np.float64)
    decode = decode_step_time(model, hw, config, active=np.full_like(steps, b),
                              context_tokens=b * (prompt_tokens + steps))
    return prefill_time(model, hw, config, [prompt_tokens] * b) + float(np.sum(decode))


def throughput(model: ModelSpec, hw: SpotHardware, config: LLMConfig, *, prompt_tokens: int,
               output_tokens: int) -> float:
    """Requests per second of all replicas, each serving full static batches back to back.

    Parameters
    ----------
    model : ModelSpec
        A decoder (``gpt``) model.
    hw : SpotHardware
        The device and its links.
    config : LLMConfig
        The parallel config and batch.
    prompt_tokens : int
        Prompt length of each request; positive.
    output_tokens : int
        Tokens each request generates; positive.

    Returns
    -------
    float
        ``data * batch`` divided by :func:`request_latency` of a full batch.

    Raises
    ------
    SpecError
        If a token count is not positive or the config cannot run ``model``.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> from alpaserve.spot.hardware import g4dn_hardware
    >>> m, hw = model_preset("gpt-20b"), g4dn_hardware()
    >>> one = throughput(m, hw, LLMConfig(data=1, pipeline=1, tensor=4, batch=1),
    ...                  prompt_tokens=512, output_tokens=128)
    >>> two = throughput(m, hw, LLMConfig(data=2, pipeline=1, tensor=4, batch=1),
    ...                  prompt_tokens=512, output_tokens=128)
    >>> round(two / one, 6)
    2.0
    """
    latency = request_latency(model, hw, config, prompt_tokens=prompt_tokens,
                              output_tokens=output_tokens)
    return config.data * config.batch / latency


def device_memory_bytes(model: ModelSpec, config: LLMConfig, *, context_tokens: int) -> float:
    """Peak bytes on the busiest device: weights, the KV cache of a full batch at
    ``context_tokens`` each, and the prefill's FFN activations of one micro-batch.

    Parameters
    ----------
    model : ModelSpec
        A decoder (``gpt``) model.
    config : LLMConfig
        The parallel config and batch.
    context_tokens : int
        Context length (prompt plus output) of every request.

    Returns
    -------
    float
        Bytes on the device of the busiest stage.

    Raises
    ------
    SpecError
        If ``model`` is not a decoder or the config cannot run it.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> m = model_preset("gpt-20b")
    >>> round(device_memory_bytes(m, LLMConfig(data=1, pipeline=1, tensor=4, batch=1),
    ...                           context_tokens=0) / 1e9, 1)
    10.1
    """
    t = config.tensor
    micro = -(-config.batch // config.micro_batches)
    peak = 0.0
    for st in _stages(model, config):
        kv = config.batch * context_tokens * st.kv_bytes_per_token / t
        act = micro * context_tokens * model.ffn_size * model.dtype_bytes / t
        peak = max(peak, st.weight_bytes + kv + act)
    return peak


def fits_memory(model: ModelSpec, hw: SpotHardware, config: LLMConfig, *,
                context_tokens: int) -> bool:
    """Whether every device of ``config`` holds its weights, KV cache and activations.

    Parameters
    ----------
    model : ModelSpec
        A decoder (``gpt``) model.
    hw : SpotHardware
        The device and its links.
    config : LLMConfig
        The parallel config and batch.
    context_tokens : int
        Context length of every request.

    Returns
    -------
    bool
        True if :func:`device_memory_bytes` fits the device's usable memory; False also
        when the config cannot run ``model``.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> from alpaserve.spot.hardware import g4dn_hardware
    >>> m, hw = model_preset("gpt-20b"), g4dn_hardware()
    >>> [fits_memory(m, hw, LLMConfig(data=1, pipeline=1, tensor=t, batch=1), context_tokens=2048)
    ...  for t in (2, 4)]
    [False, True]
    """
    try:
        need = device_memory_bytes(model, config, context_tokens=context_tokens)
    except SpecError:
        return False
    return need <= hw.device.usable_memory_bytes


def memory_floor(model: ModelSpec, hw: SpotHardware, *, context_tokens: int,
                 tensor_degrees: Sequence[int] = (1, 2, 4, 8), max_pipeline: int = 16) -> int:
    """The fewest devices (``pipeline × tensor``) one replica needs to serve one request.

    Parameters
    ----------
    model : ModelSpec
        A decoder (``gpt``) model.
    hw : SpotHardware
        The device and its links.
    context_tokens : int
        Context length of the request.
    tensor_degrees : sequence of int, default (1, 2, 4, 8)
        Tensor degrees to try.
    max_pipeline : int, default 16
        Largest pipeline degree to try.

    Returns
    -------
    int
        The smallest ``pipeline * tensor`` that fits at batch 1.

    Raises
    ------
    InfeasibleError
        If no tried shape fits.

    Examples
    --------
    >>> from alpaserve.model_spec import model_preset
    >>> from alpaserve.spot.hardware import g4dn_hardware
    >>> memory_floor(model_preset("gpt-20b"), g4dn_hardware(), context_tokens=2048)
    4
    """
    best: int | None = None
    for t in tensor_degrees:
        for p in range(1, max_pipeline + 1):
            cfg = LLMConfig(data=1, pipeline=p, tensor=t, batch=1)
            if p <= model.num_layers and fits_memory(model, hw, cfg,
                                                     context_tokens=context_tokens):
                best = p * t if best is None else min(best, p * t)
                break
    if best is None:
        raise InfeasibleError(f"model {model.name!r} does not fit any pipeline <= "
                              f"{max_pipeline} × tensor in {tuple(tensor_degrees)} of "
                              f"{hw.device.name} devices at {context_tokens} context tokens")
    return best
