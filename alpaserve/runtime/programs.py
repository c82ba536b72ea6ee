"""The traced bodies of the runtime's programs, as module-level functions.

``jax.jit`` over a module-level function with static arguments (not a closure built per
stage) lets every stage of the same shape on the same devices share JAX's trace and compile
caches: another model of that shape, or a runtime built again, compiles nothing new.
:mod:`alpaserve.runtime.model` builds the stages; ``jax`` is imported lazily.
"""

from __future__ import annotations

from typing import Any

from alpaserve.runtime import layers
from alpaserve.runtime.weights import LAYER_KEYS

MESH_AXES = ("rows", "cols")
# Leading None is the stacked-layer axis; the tensor-parallel axis spans the whole sub-mesh.
_TP_DIMS = {"w_qkv": 3, "b_qkv": 2, "w_o": 1, "w_1": 2, "b_1": 1, "w_2": 1}


def _spec_for(name: str, ndim: int) -> Any:
    from jax.sharding import PartitionSpec

    dims: list[Any] = [None] * ndim
    if name in _TP_DIMS:
        dims[_TP_DIMS[name]] = MESH_AXES
    return PartitionSpec(*dims)


STAGE_STATIC = ("mesh", "first", "head_dim", "decoder")  # stage_program's static arguments


def param_specs(first: bool) -> dict[str, Any]:
    """How a stage's weights are split over its sub-mesh (Megatron-style).

    Parameters
    ----------
    first : bool
        Whether the stage is the first (it also holds the embeddings).

    Returns
    -------
    dict
        ``{"layers": {key: PartitionSpec}, "embed": {...}}`` matching the stage's weights.
    """
    from jax.sharding import PartitionSpec

    ndims = {"w_qkv": 4, "b_qkv": 3, "w_o": 3, "w_1": 3, "w_2": 3}  # with the layer axis
    specs: dict[str, Any] = {"layers": {k: _spec_for(k, ndims.get(k, 2)) for k in LAYER_KEYS}}
    if first:
        emb_spec = PartitionSpec(None, MESH_AXES)
        specs["embed"] = {"tok_emb": emb_spec, "pos_emb": emb_spec}
    return specs


def stage_program(p: dict[str, Any], x: Any, *, mesh: Any, first: bool, head_dim: int,
                  decoder: bool) -> Any:
    """One stage: ``shard_map`` of the local computation over the stage's sub-mesh.

    Parameters
    ----------
    p : dict
        The stage's placed weights (split as :func:`param_specs` says).
    x : jax.Array
        Token ids (first stage) or hidden states, replicated on the sub-mesh.
    mesh : jax.sharding.Mesh
        The stage's sub-mesh (static).
    first : bool
        Whether the stage embeds the tokens first (static).
    head_dim : int
        Width of one attention head (static).
    decoder : bool
        GPT (causal) when true, BERT otherwise (static).

    Returns
    -------
    jax.Array
        Hidden states, replicated on the sub-mesh.
    """
    import jax
    from jax.sharding import PartitionSpec

    def local(p: dict[str, Any], x: Any) -> Any:
        def reduce(y: Any) -> Any:
            return jax.lax.psum(y, MESH_AXES)

        if first:
            part = layers.embed(x, p["embed"]["tok_emb"], p["embed"]["pos_emb"])
            x = jax.lax.all_gather(part, MESH_AXES, axis=2, tiled=True)
        return layers.layer_stack(x, p["layers"], head_dim=head_dim, decoder=decoder,
                                  reduce=reduce)

    # Every device ends a stage with the full activation (after the psum), so the output is
    # replicated; the vma checker cannot prove it through the all_gather and scan carry.
    return jax.shard_map(local, mesh=mesh, in_specs=(param_specs(first), PartitionSpec()),
                         out_specs=PartitionSpec(), check_vma=False)(p, x)


def reference_program(p: dict[str, Any], x: Any, *, head_dim: int, decoder: bool) -> Any:
    """The unsharded forward pass on one device.

    Parameters
    ----------
    p : dict
        All weights (``"embed"`` and ``"layers"``), unsharded.
    x : jax.Array
        Token ids ``(batch, seq)``.
    head_dim : int
        Width of one attention head (static).
    decoder : bool
        GPT (causal) when true, BERT otherwise (static).

    Returns
    -------
    jax.Array
        The last layer's hidden states.
    """
    h = layers.embed(x, p["embed"]["tok_emb"], p["embed"]["pos_emb"])
    return layers.layer_stack(h, p["layers"], head_dim=head_dim, decoder=decoder)
