"""Random transformer weights, generated where they live from an explicit seed.

Weights are computed inside a jitted function whose outputs carry the stage's shardings, so
each device creates only its own shard, directly in the model's dtype: nothing passes through
host memory at full precision (a 6.7B-parameter model used to take minutes and tens of GB of
host RAM). The generator is counter-based: element ``e`` of tensor ``j`` of layer ``l`` is a
32-bit integer hash (:func:`mix`) of ``(seed, 1 + l, j, e)``, mapped to a uniform value with
the standard deviation wanted (0.02 for matrices and biases, 0.1 around 1 or 0 for layer
norms); the embeddings are stream ``l = -1``. A value depends on nothing else, so a layer's
weights do not depend on how the model is cut into stages or sharded: a sharded pipeline and
the unsharded reference see identical values. A hash of an index compiles in well under a
second, where ``jax.random``'s threefry took 3-12 s per stage on a loaded 2-core CPU host,
which dominated building a runtime; serving latency does not depend on the values.

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
    biggest = max(h * max(3 * h, f), spec.vocab_size * h)
    if biggest >= 2**32:
        raise SpecError(f"model {spec.name!r} has a weight tensor of {biggest} elements; the "
                        "weight generator counts elements in 32 bits")
    out_dtype = jnp.dtype(dtype) if dtype is not None else jnp.dtype(jnp.float32)
    # a module-level program with static shapes: stages of one shape on the same devices
    # (another model, a rebuilt runtime) reuse JAX's compiled generator
    # (it runs once per stage: XLA's backend optimisations would only halve a cheap run and
    # double the compile)
    options: dict[str, Any] = {} if shardings is None else {"out_shardings": shardings}
    fn = jax.jit(_generate, static_argnames=("shapes", "embed_shapes", "dtype"),
                 compiler_options={"xla_backend_optimization_level": 0}, **options)
    result: dict[str, Any] = fn(
        _seed_words(seed), np.arange(start + 1, end + 1, dtype=np.uint32),
        shapes=tuple((k, shapes[k]) for k in LAYER_KEYS),
        embed_shapes=(("tok_emb", (spec.vocab_size, h)), ("pos_emb", (spec.seq_len, h)))
        if embed else (), dtype=out_dtype)
    return result


def _uniform(stream: Any, shape: tuple[int, ...]) -> Any:
    """Uniform on (-1, 1) with unit variance; element ``e`` of row ``r`` hashes
    ``stream[r] + mix(e)`` (``stream`` broadcasts over all axes but the first)."""
    import jax
    import jax.numpy as jnp

    idx = jnp.zeros(shape, jnp.uint32)
    stride = 1
    for axis in range(len(shape) - 1, 0, -1):
        idx = idx + jax.lax.broadcasted_iota(jnp.uint32, shape, axis) * np.uint32(stride)
        stride *= shape[axis]
    bits = mix(stream + mix(idx))
    # the top 24 bits, centred, then scaled by sqrt(3)
    return (((bits >> 8).astype(jnp.float32) + 0.5) * (2.0**-23) - 1.0) * _SQRT3


def _generate(seed_words: Any, layer_ids: Any, *, shapes: tuple[tuple[str, tuple[int, ...]], ...],
              embed_shapes: tuple[tuple[str, tuple[int, ...]], ...], dtype: Any) -> dict[str, Any]:
    """The weights of layers ``layer_ids - 1`` (and the embeddings when ``embed_shapes``)."""
    import jax.numpy as jnp

    base = mix(seed_words[0] ^ mix(seed_words[1] + np.uint32(0x9E3779B9)))
    layers: dict[str, Any] = {}
    for j, (name, shape) in enumerate(shapes):
        rows = layer_ids.reshape((-1,) + (1,) * len(shape))
        x = _uniform(_stream(base, rows, j), (layer_ids.shape[0], *shape))
        std = 0.1 if name.startswith("ln") else INIT_SCALE
        layers[name] = (x * std + (1.0 if name.endswith("_g") else 0.0)).astype(dtype)
    tree: dict[str, Any] = {"layers": layers}
    if embed_shapes:
        zero = jnp.zeros((1, 1), jnp.uint32)
        tree["embed"] = {name: (_uniform(_stream(base, zero, j), (1, *shape))[0]
                                * INIT_SCALE).astype(dtype)
                         for j, (name, shape) in enumerate(embed_shapes)}
    return tree


_SQRT3 = 3.0**0.5  # a uniform on (-1, 1) times sqrt(3) has unit variance


def mix(x: Any) -> Any:
    """A bijective 32-bit integer hash (C. Wellons' ``lowbias32``), elementwise.

    Parameters
    ----------
    x : array of uint32
        NumPy or JAX integers; wrapping arithmetic.

    Returns
    -------
    array of uint32
        The hashed values, same shape and library.

    Examples
    --------
    >>> import numpy as np
    >>> mix(np.arange(3, dtype=np.uint32)).tolist()
    [0, 1753845952, 3507691905]
    """
    x = x ^ (x >> 16)
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _seed_words(seed: int) -> npt.NDArray[np.uint32]:
    """The seed's low and high 32 bits (a traced argument: one program serves every seed)."""
    s = int(seed)
    return np.asarray([s & 0xFFFFFFFF, (s >> 32) & 0xFFFFFFFF], dtype=np.uint32)


def _stream(base: Any, rows: Any, tensor: int) -> Any:
    """The stream of tensor ``tensor`` of each row's layer (row 0: the embeddings)."""
    return mix(base + mix(rows * np.uint32(64) + np.uint32(tensor)))


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
