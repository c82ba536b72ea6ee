"""Token-level latency of a decoder LLM: prefill, decode steps, whole requests, throughput.

See :mod:`alpaserve.cost.llm` for the model: per-stage rooflines, all-reduces per layer, and
the pipeline formula over micro-batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from alpaserve._validation import positive_int
from alpaserve.cost.llm.config import LLMConfig
from alpaserve.cost.llm.stages import StagePlan, _stages
from alpaserve.cost.primitives import allreduce_time, p2p_time, roofline_time
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.hardware import SpotHardware

FloatLike = float | npt.NDArray[np.float64]


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
    >>> from alpaserve.model_presets import model_preset
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
    >>> from alpaserve.model_presets import model_preset
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
    >>> from alpaserve.model_presets import model_preset
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
    >>> from alpaserve.model_presets import model_preset
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
