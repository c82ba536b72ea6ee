"""Random transformer weights, generated where they live from an explicit seed.

Weights are drawn with JAX's counter-based generator inside a jitted function whose outputs
carry the stage's shardings, so each device creates only its own shard, directly in the
model's dtype: nothing passes through host memory at full precision (a 6.7B-parameter model
used to take minutes and tens of GB of host RAM). Every tensor has its own stream,
``fold_in(fold_in(key(seed), 1 + layer), tensor)`` (the embeddings use stream 0), so a layer's
weights do not depend on how the model is cut into stages or sharded: a sharded pipeline and
the unsharded reference see identical values (jit's results do not depend on shardings).

Layout (``h`` hidden, ``f`` FFN width; one transformer layer)::

    ln1_g, ln1_b   (h,)        w_qkv (h, 3, h)   b_qkv (3, h)    w_o (h, h)   b_o (h,)
    ln2_g, ln2_b   (h,)        w_1   (h, f)      b_1   (f,)      w_2 (f, h)   b_2 (h,)

``w_qkv[:, j, :]`` holds the query/key/value projection (``j`` = 0, 1, 2) with heads laid out
contiguously along the last axis, so splitting that axis in ``t`` equal parts gives each
device ``num_heads / t`` whole heads (Megatron's column split).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec

HostArray = npt.NDArray[np.float32]
LAYER_KEYS = ("ln1_g", "ln1_b", "w_qkv", "b_qkv", "w_o", "b_o",
              "ln2_g", "ln2_b", "w_1", "b_1", "w_2", "b_2")
INIT_SCALE = 0.02


def check_supported(spec: ModelSpec) -> None:
    """Raise ``SpecError`` unless the runtime can build ``spec`` (dense BERT or GPT).

    Parameters
    ----------
    spec : ModelSpec
        A dense BERT or GPT model.

    Raises
    ------
    SpecError
        When the model's family is not ``"bert"`` or ``"gpt"``.
    """
    if spec.family not in ("bert", "gpt"):
        raise SpecError(f"the runtime builds dense 'bert' and 'gpt' models; model "
                        f"{spec.name!r} has family {spec.family!r}")


def layer_weights(spec: ModelSpec, layer: int, seed: int) -> dict[str, HostArray]:
    """Float32 weights of transformer layer ``layer`` (0-based).

    Parameters
    ----------
    spec : ModelSpec
        A dense BERT or GPT model.
    layer : int
        Layer index.
    seed : int
        Seed; the same seed gives the same weights on every host.

    Returns
    -------
    dict of str to numpy.ndarray
        Layer norms, attention (``w_qkv`` as ``(h, 3, h)``) and FFN weights and biases.

    Examples
    --------
    >>> from alpaserve.model_spec import ModelSpec
    >>> spec = ModelSpec(name="t", family="bert", num_layers=2, hidden_size=8, num_heads=2,
    ...                  ffn_size=16, vocab_size=10, seq_len=4)
    >>> w = layer_weights(spec, 1, seed=0)
    >>> w["w_qkv"].shape, w["w_2"].shape
    ((8, 3, 8), (16, 8))
    >>> sum(a.size for a in w.values()) == spec.layer_params(1)
    True
    """
    check_supported(spec)
    if not 0 <= layer < spec.num_layers:
        raise SpecError(f"layer {layer} is out of range for model {spec.name!r} "
                        f"with {spec.num_layers} layers")
    return {k: np.asarray(v)[0] for k, v in stage_weights(spec, layer, layer + 1, seed,
                                                           embed=False)["layers"].items()}


def stacked_layer_weights(spec: ModelSpec, start: int, end: int,
                          seed: int) -> dict[str, HostArray]:
    """Weights of layers ``[start, end)`` stacked along a new leading axis.

    Parameters
    ----------
    spec : ModelSpec
        A dense BERT or GPT model.
    start, end : int
        The layer range ``[start, end)``.
    seed : int
        Seed; the same seed gives the same weights on every host.

    Returns
    -------
    dict of str to numpy.ndarray
        Each key of :func:`layer_weights` with a leading axis of ``end - start`` layers.

    Raises
    ------
    SpecError
        When the range is empty or outside the model.
    """
    if not 0 <= start < end <= spec.num_layers:
        raise SpecError(f"layer range [{start}, {end}) is invalid for model {spec.name!r} "
                        f"with {spec.num_layers} layers")
    return {k: np.asarray(v) for k, v in stage_weights(spec, start, end, seed,
                                                        embed=False)["layers"].items()}


def embedding_weights(spec: ModelSpec, seed: int) -> dict[str, HostArray]:
    """Token ``(vocab, h)`` and position ``(seq_len, h)`` embeddings.

    Parameters
    ----------
    spec : ModelSpec
        A dense BERT or GPT model.
    seed : int
        Seed; the same seed gives the same weights on every host.

    Returns
    -------
    dict of str to numpy.ndarray
        ``tok_emb`` and ``pos_emb``.

    Examples
    --------
    >>> from alpaserve.model_spec import ModelSpec
    >>> spec = ModelSpec(name="t", family="gpt", num_layers=1, hidden_size=8, num_heads=2,
    ...                  ffn_size=16, vocab_size=10, seq_len=4)
    >>> sum(a.size for a in embedding_weights(spec, 0).values()) == spec.embedding_params
    True
    """
    check_supported(spec)
    return {k: np.asarray(v) for k, v in stage_weights(spec, 0, 1, seed,
                                                        embed=True)["embed"].items()}


def stage_weights(spec: ModelSpec, start: int, end: int, seed: int, *, embed: bool,
                  dtype: Any = None, shardings: Any = None) -> dict[str, Any]:
    """The weights of layers ``[start, end)`` (and the embeddings), created on the devices.

    Parameters
    ----------
    spec : ModelSpec
        A dense BERT or GPT model.
    start, end : int
        The layer range ``[start, end)``.
    seed : int
        Seed; the same seed gives the same values whatever the shardings.
    embed : bool
        Also create the embeddings (the first stage holds them).
    dtype : optional
        The dtype the arrays are created in; float32 by default.
    shardings : pytree of jax.sharding.Sharding, optional
        ``{"layers": {key: sharding}, "embed": {...}}`` matching the result; the default
        device when omitted.

    Returns
    -------
    dict
        ``{"layers": {key: (end - start, ...)}, "embed": {"tok_emb", "pos_emb"}}`` of JAX
        arrays (``"embed"`` only with ``embed``).

    Raises
    ------
    SpecError
        When the range is empty or outside the model, or the family is not supported.
    """
    import jax
    import jax.numpy as jnp

    check_supported(spec)
    if not 0 <= start < end <= spec.num_layers:
        raise SpecError(f"layer range [{start}, {end}) is invalid for model {spec.name!r} "
                        f"with {spec.num_layers} layers")
    h, f = spec.hidden_size, spec.ffn_size
    shapes = {"ln1_g": (h,), "ln1_b": (h,), "w_qkv": (h, 3, h), "b_qkv": (3, h), "w_o": (h, h),
              "b_o": (h,), "ln2_g": (h,), "ln2_b": (h,), "w_1": (h, f), "b_1": (f,),
              "w_2": (f, h), "b_2": (h,)}
    out_dtype = jnp.dtype(dtype) if dtype is not None else jnp.float32

    def one_layer(key: Any) -> dict[str, Any]:
        out = {}
        for j, name in enumerate(LAYER_KEYS):
            norm = name.startswith("ln")
            x = jax.random.normal(jax.random.fold_in(key, j), shapes[name], jnp.float32)
            x = x * (0.1 if norm else INIT_SCALE) + (1.0 if name.endswith("_g") else 0.0)
            out[name] = x.astype(out_dtype)
        return out

    def generate() -> dict[str, Any]:
        base = jax.random.key(seed)
        keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(start + 1, end + 1))
        tree: dict[str, Any] = {"layers": jax.vmap(one_layer)(keys)}
        if embed:
            key = jax.random.fold_in(base, 0)
            tree["embed"] = {
                "tok_emb": (jax.random.normal(jax.random.fold_in(key, 0),
                                              (spec.vocab_size, h)) * INIT_SCALE
                            ).astype(out_dtype),
                "pos_emb": (jax.random.normal(jax.random.fold_in(key, 1), (spec.seq_len, h))
                            * INIT_SCALE).astype(out_dtype)}
        return tree

    result: dict[str, Any] = jax.jit(generate, out_shardings=shardings)()
    return result


def random_tokens(spec: ModelSpec, batch_size: int, seed: int) -> npt.NDArray[np.int32]:
    """A ``(batch_size, seq_len)`` batch of token ids (serving latency ignores the values).

    Parameters
    ----------
    spec : ModelSpec
        A dense BERT or GPT model.
    batch_size : int
        Rows of the batch.
    seed : int
        Seed; the same seed gives the same weights on every host.

    Returns
    -------
    numpy.ndarray of int32
        Ids in ``[0, vocab_size)``.
    """
    rng = np.random.default_rng([seed, 2**31 - 1])
    return rng.integers(0, spec.vocab_size, size=(batch_size, spec.seq_len), dtype=np.int32)
