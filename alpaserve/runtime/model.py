"""JAX models built from a :class:`ModelSpec` and sharded as a :class:`ParallelConfig` says.

Each pipeline stage is one jitted ``shard_map`` program on its own sub-mesh (the stage's
``mesh_shape``, axes ``("rows", "cols")``). Tensor-parallel weights are split over both mesh
axes together (Megatron-style, see :mod:`alpaserve.runtime.layers`); layer norms and the biases
added after an all-reduce are replicated; the first stage also holds the embeddings, split
along the hidden axis and all-gathered after the lookup. Activations leave a stage replicated
on its sub-mesh and are moved to the next one with ``jax.device_put``.

A request is one forward pass over ``seq_len`` tokens (AlpaServe's serving model for both
BERT and GPT); the output is the last layer's hidden states. ``jax`` is imported lazily.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig, StageConfig
from alpaserve.runtime.programs import (
    MESH_AXES,
    STAGE_STATIC,
    param_specs,
    reference_program,
    stage_program,
)
from alpaserve.runtime.weights import check_supported, stage_weights

logger = logging.getLogger(__name__)



def resolve_dtype(spec: ModelSpec, dtype: Any = None) -> Any:
    """The JAX dtype to run ``spec`` in: ``dtype`` if given, else from ``spec.dtype_bytes``.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    dtype : optional
        A dtype or its name; overrides the spec.

    Returns
    -------
    numpy.dtype
        ``bfloat16`` for 2-byte models, ``float32`` for 4-byte ones, or ``dtype``.

    Raises
    ------
    SpecError
        When ``spec.dtype_bytes`` is neither 2 nor 4 and no ``dtype`` is given.
    """
    import jax.numpy as jnp

    if dtype is not None:
        return jnp.dtype(dtype)
    by_bytes = {2: jnp.bfloat16, 4: jnp.float32}
    if spec.dtype_bytes not in by_bytes:
        raise SpecError(f"model {spec.name!r} has dtype_bytes={spec.dtype_bytes}; the runtime "
                        "runs 2 (bfloat16) or 4 (float32)")
    return jnp.dtype(by_bytes[spec.dtype_bytes])


class StageProgram:
    """One pipeline stage of one model: its sub-mesh, placed weights and jitted program.

    Call it on an input already placed with :meth:`place` (token ids for the first stage,
    hidden states otherwise); the result is replicated on this stage's sub-mesh.

    Parameters
    ----------
    model : str
        The model's name.
    index : int
        The stage's index in the pipeline.
    stage : StageConfig
        Its layer range and tensor degree.
    mesh : jax.sharding.Mesh
        Its sub-mesh.
    params : dict
        The placed (sharded) weights.
    fn : callable
        The jitted program ``fn(params, x)`` (a jitted function, or a ``functools.partial``
        of one binding its static arguments).
    first : bool
        Whether it is the first stage (takes token ids and embeds them).
    """

    def __init__(self, *, model: str, index: int, stage: StageConfig, mesh: Any,
                 params: dict[str, Any], fn: Any, first: bool) -> None:
        from jax.sharding import NamedSharding, PartitionSpec

        self.model = model
        self.index = index
        self.stage = stage
        self.mesh = mesh
        self.params = params
        self.fn = fn
        self.first = first
        self.input_sharding = NamedSharding(mesh, PartitionSpec())

    def place(self, x: Any) -> Any:
        """Move ``x`` (host array or another stage's output) onto this stage's devices.

        Parameters
        ----------
        x : array_like or jax.Array
            The stage's input.

        Returns
        -------
        jax.Array
            ``x`` replicated on this stage's sub-mesh.
        """
        import jax

        return jax.device_put(x, self.input_sharding)

    def __call__(self, x: Any) -> Any:
        """Run the stage on an input already placed with :meth:`place`.

        Parameters
        ----------
        x : jax.Array
            Token ids (first stage) or hidden states.

        Returns
        -------
        jax.Array
            Hidden states, replicated on this stage's sub-mesh.
        """
        return self.fn(self.params, x)

    def lower(self, x: Any) -> Any:
        """Lower the program for ``x`` (see ``jax.stages``): ``.compile()`` returns the
        executable JAX serves ``x``'s shape with, from its cache when already compiled.

        Parameters
        ----------
        x : jax.Array
            An input placed with :meth:`place`.

        Returns
        -------
        jax.stages.Lowered
            The lowered program.
        """
        fn: Any = self.fn
        if isinstance(fn, functools.partial):
            jitted: Any = fn.func
            return jitted.lower(self.params, x, *fn.args, **fn.keywords)
        return fn.lower(self.params, x)

    @property
    def device_ids(self) -> tuple[int, ...]:
        return tuple(int(d.id) for d in self.mesh.devices.flat)

    def weight_bytes_per_device(self) -> dict[int, int]:
        """Bytes of weights resident on each device, summed over the shards actually placed.

        Returns
        -------
        dict of int to int
            JAX device id to bytes.
        """
        import jax

        totals = dict.fromkeys(self.device_ids, 0)
        for leaf in jax.tree_util.tree_leaves(self.params):
            for shard in leaf.addressable_shards:
                totals[int(shard.device.id)] += int(shard.data.nbytes)
        return totals

    @property
    def weight_bytes(self) -> int:
        """The most weight bytes any device of this stage holds."""
        return max(self.weight_bytes_per_device().values())


class ModelPipeline:
    """A model's stages, in order. :meth:`forward` runs one batch through all of them.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    config : ParallelConfig
        Its stages.
    dtype : numpy.dtype
        The dtype it runs in.
    stages : sequence of StageProgram
        The built stages, in order.
    """

    def __init__(self, *, spec: ModelSpec, config: ParallelConfig, dtype: Any,
                 stages: Sequence[StageProgram]) -> None:
        self.spec = spec
        self.config = config
        self.dtype = dtype
        self.stages = tuple(stages)

    def forward(self, tokens: Any) -> Any:
        """Hidden states of the last layer for ``tokens`` of shape ``(batch, seq_len)``.

        Parameters
        ----------
        tokens : array_like
            Token ids ``(batch, seq_len)``.

        Returns
        -------
        jax.Array
            ``(batch, seq_len, hidden_size)``.
        """
        x = tokens
        for stage in self.stages:
            x = stage(stage.place(x))
        return x

    @property
    def stage_weight_bytes(self) -> tuple[int, ...]:
        return tuple(s.weight_bytes for s in self.stages)


def build_stage(spec: ModelSpec, stage: StageConfig, index: int, devices: Sequence[Any], *,
                seed: int = 0, dtype: Any = None) -> StageProgram:
    """Place stage ``index``'s weights on ``devices`` and jit its program (compiled lazily).

    Parameters
    ----------
    spec : ModelSpec
        A dense BERT or GPT model.
    stage : StageConfig
        The stage's layer range and tensor degree.
    index : int
        The stage's index (stage 0 also embeds).
    devices : sequence of jax.Device
        Exactly ``stage.tensor_degree`` devices.
    seed : int, default 0
        Seed of the random weights.
    dtype : optional
        JAX dtype; from ``spec.dtype_bytes`` by default.

    Returns
    -------
    StageProgram
        The stage, weights placed, program not yet compiled.

    Raises
    ------
    SpecError
        When the device count differs from the tensor degree, or the degree does not divide
        the head count and FFN width.
    """
    import jax
    from jax.sharding import Mesh, NamedSharding

    check_supported(spec)
    if len(devices) != stage.tensor_degree:
        raise SpecError(f"stage {index} of {spec.name!r} needs {stage.tensor_degree} devices "
                        f"for mesh {stage.mesh_shape}, got {len(devices)}")
    t = stage.tensor_degree
    if spec.num_heads % t or spec.ffn_size % t:
        raise SpecError(f"tensor degree {t} of stage {index} does not divide num_heads="
                        f"{spec.num_heads} and ffn_size={spec.ffn_size} of {spec.name!r}")
    jdtype = resolve_dtype(spec, dtype)
    mesh = Mesh(np.asarray(devices, dtype=object).reshape(stage.mesh_shape), MESH_AXES)
    first = stage.layer_start == 0

    shardings = jax.tree_util.tree_map(lambda s: NamedSharding(mesh, s), param_specs(first))
    params = stage_weights(spec, stage.layer_start, stage.layer_end, seed, embed=first,
                           dtype=jdtype, shardings=shardings)

    logger.debug("built stage %d of %s on devices %s", index, spec.name,
                 [d.id for d in devices])
    # One module-level program with static arguments, not a closure, so stages of the same
    # shape on the same devices (another model of that shape, a rebuilt runtime) share
    # JAX's trace and compile caches instead of compiling again.
    fn = functools.partial(jax.jit(stage_program, static_argnames=STAGE_STATIC),
                           mesh=mesh, first=first, head_dim=spec.head_dim,
                           decoder=spec.is_decoder)
    return StageProgram(model=spec.name, index=index, stage=stage, mesh=mesh, params=params,
                        fn=fn, first=first)


def split_devices(config: ParallelConfig, devices: Sequence[Any]) -> list[list[Any]]:
    """Consecutive runs of ``devices``, one of each stage's tensor degree.

    Parameters
    ----------
    config : ParallelConfig
        The stages.
    devices : sequence
        At least ``config.num_devices`` devices.

    Returns
    -------
    list of list
        Each stage's devices.

    Raises
    ------
    SpecError
        When there are too few devices.

    Examples
    --------
    >>> cfg = ParallelConfig.uniform(num_layers=4, pipeline_degree=2, tensor_degree=2)
    >>> split_devices(cfg, list("abcdef"))
    [['a', 'b'], ['c', 'd']]
    """
    need = config.num_devices
    if len(devices) < need:
        raise SpecError(f"config {config.key} needs {need} devices, only {len(devices)} given")
    out, start = [], 0
    for stage in config.stages:
        out.append(list(devices[start:start + stage.tensor_degree]))
        start += stage.tensor_degree
    return out


def build_pipeline(spec: ModelSpec, config: ParallelConfig, devices: Sequence[Any], *,
                   seed: int = 0, dtype: Any = None,
                   stage_devices: Sequence[Sequence[Any]] | None = None) -> ModelPipeline:
    """Build every stage of ``spec`` under ``config``.

    ``devices`` are consumed in order (stage 0 takes the first ``t_0``, and so on) unless
    ``stage_devices`` lists each stage's devices explicitly (as a placement's group does).

    Parameters
    ----------
    spec : ModelSpec
        A dense BERT or GPT model.
    config : ParallelConfig
        Its stages.
    devices : sequence of jax.Device
        Devices to consume in order (ignored when ``stage_devices`` is given).
    seed : int, default 0
        Seed of the random weights.
    dtype : optional
        JAX dtype; from ``spec.dtype_bytes`` by default.
    stage_devices : sequence of sequence of jax.Device, optional
        Each stage's devices.

    Returns
    -------
    ModelPipeline
        The built stages.

    Raises
    ------
    SpecError
        When devices are missing or ``stage_devices`` has the wrong number of stages.
    """
    config.validate_for(spec)
    per_stage = (split_devices(config, devices) if stage_devices is None
                 else [list(d) for d in stage_devices])
    if len(per_stage) != config.pipeline_degree:
        raise SpecError(f"config {config.key} has {config.pipeline_degree} stages, "
                        f"got devices for {len(per_stage)}")
    stages = [build_stage(spec, stage, k, per_stage[k], seed=seed, dtype=dtype)
              for k, stage in enumerate(config.stages)]
    return ModelPipeline(spec=spec, config=config, dtype=resolve_dtype(spec, dtype),
                         stages=stages)


def reference_forward(spec: ModelSpec, tokens: Any, *, seed: int = 0, dtype: Any = None,
                      device: Any = None) -> np.ndarray:
    """The unsharded forward pass on one device, for checking a sharded pipeline's numerics.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    tokens : array_like
        Token ids ``(batch, seq_len)``.
    seed : int, default 0
        Seed of the random weights.
    dtype : optional
        JAX dtype; from ``spec.dtype_bytes`` by default.
    device : jax.Device, optional
        Where to run; JAX's default device when omitted.

    Returns
    -------
    numpy.ndarray
        The last layer's hidden states.
    """
    import jax

    check_supported(spec)
    jdtype = resolve_dtype(spec, dtype)
    device = device if device is not None else jax.devices()[0]
    params = stage_weights(spec, 0, spec.num_layers, seed, embed=True, dtype=jdtype,
                           shardings=jax.sharding.SingleDeviceSharding(device))

    run = jax.jit(reference_program, static_argnames=("head_dim", "decoder"))
    return np.asarray(run(params, jax.device_put(np.asarray(tokens), device),
                          head_dim=spec.head_dim, decoder=spec.is_decoder))
