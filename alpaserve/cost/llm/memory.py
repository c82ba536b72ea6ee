"""Device memory of a decoder LLM: weights, KV cache and activations; the smallest fit."""

from __future__ import annotations

from collections.abc import Sequence

from alpaserve.cost.llm.config import LLMConfig
from alpaserve.cost.llm.stages import _stages
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.hardware import SpotHardware


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
    >>> from alpaserve.model_presets import model_preset
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
    >>> from alpaserve.model_presets import model_preset
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
    >>> from alpaserve.model_presets import model_preset
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
