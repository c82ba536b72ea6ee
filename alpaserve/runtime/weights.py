"""Random transformer weights, generated on the host from an explicit seed.

Every layer draws from its own stream (``numpy.random.default_rng([seed, 1 + layer])``) and
the embeddings from ``[seed, 0]``, so a layer's weights do not depend on how the model is cut
into stages: a sharded pipeline and the unsharded reference see identical values.

Layout (``h`` hidden, ``f`` FFN width; one transformer layer)::

    ln1_g, ln1_b   (h,)        w_qkv (h, 3, h)   b_qkv (3, h)    w_o (h, h)   b_o (h,)
    ln2_g, ln2_b   (h,)        w_1   (h, f)      b_1   (f,)      w_2 (f, h)   b_2 (h,)

``w_qkv[:, j, :]`` holds the query/key/value projection (``j`` = 0, 1, 2) with heads laid out
contiguously along the last axis, so splitting that axis in ``t`` equal parts gives each
device ``num_heads / t`` whole heads (Megatron's column split).
"""

from __future__ import annotations

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
    rng = np.random.default_rng([seed, 1 + layer])
    h, f = spec.hidden_size, spec.ffn_size

    def normal(*shape: int, scale: float = INIT_SCALE) -> HostArray:
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(scale))

    return {
        "ln1_g": 1.0 + normal(h, scale=0.1), "ln1_b": normal(h, scale=0.1),
        "w_qkv": normal(h, 3, h), "b_qkv": normal(3, h),
        "w_o": normal(h, h), "b_o": normal(h),
        "ln2_g": 1.0 + normal(h, scale=0.1), "ln2_b": normal(h, scale=0.1),
        "w_1": normal(h, f), "b_1": normal(f),
        "w_2": normal(f, h), "b_2": normal(h),
    }


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
    layers = [layer_weights(spec, i, seed) for i in range(start, end)]
    return {k: np.stack([w[k] for w in layers]) for k in LAYER_KEYS}


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
    rng = np.random.default_rng([seed, 0])
    h = spec.hidden_size
    scale = np.float32(INIT_SCALE)
    return {
        "tok_emb": rng.standard_normal((spec.vocab_size, h), dtype=np.float32) * scale,
        "pos_emb": rng.standard_normal((spec.seq_len, h), dtype=np.float32) * scale,
    }


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
