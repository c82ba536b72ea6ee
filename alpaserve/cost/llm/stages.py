"""Per-stage costs of an LLM config: layers, weight bytes, FLOPs and KV bytes per token.

:func:`stage_plan` computes them once per (model, config); the timing and memory functions
of :mod:`alpaserve.cost.llm` take the plan or compute the stages themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from alpaserve.cost.llm.config import LLMConfig
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec


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
    >>> from alpaserve.model_presets import model_preset
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
    >>> from alpaserve.model_presets import model_preset
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
    >>> from alpaserve.model_presets import model_preset
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


def _layer_flops_per_token(model: ModelSpec) -> float:
    return 2.0 * model.layer_params(0)


def _kv_bytes_per_layer_token(model: ModelSpec) -> float:
    return model.kv_cache_bytes_per_token() / model.num_layers

