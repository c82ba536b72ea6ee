"""Transformer math in JAX, written once for the unsharded and the tensor-parallel case.

The functions take the *local* slice of each tensor-parallel weight (``num_heads / t`` heads,
``ffn_size / t`` FFN columns) and a ``reduce`` callable applied to the partial sums of the
row-split matmuls (attention output projection and FFN2). Inside ``shard_map`` ``reduce`` is
``lax.psum`` over the mesh; in the unsharded reference it is the identity. This is exactly
Megatron-LM's split: column-parallel QKV and FFN1, row-parallel output projection and FFN2,
one all-reduce after each.

``jax`` is imported inside the functions (it is an optional extra).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

LN_EPS = 1e-5


def identity(x: Any) -> Any:
    """Return ``x`` unchanged (the reduction of a single device).

    Parameters
    ----------
    x : jax.Array
        Any value.

    Returns
    -------
    jax.Array
        ``x``.
    """
    return x


def layer_norm(x: Any, gamma: Any, beta: Any) -> Any:
    """Layer normalisation over the last axis, computed in float32.

    Parameters
    ----------
    x : jax.Array
        Activations ``(..., h)``.
    gamma, beta : jax.Array
        Scale and shift ``(h,)``.

    Returns
    -------
    jax.Array
        Normalised activations in ``x``'s dtype.
    """
    import jax.numpy as jnp

    x32 = x.astype(jnp.float32)
    mean = x32.mean(-1, keepdims=True)
    var = jnp.square(x32 - mean).mean(-1, keepdims=True)
    y = (x32 - mean) * (1.0 / jnp.sqrt(var + LN_EPS))
    return (y * gamma.astype(jnp.float32) + beta.astype(jnp.float32)).astype(x.dtype)


def attention(x: Any, w: Mapping[str, Any], *, head_dim: int, causal: bool,
              reduce: Callable[[Any], Any]) -> Any:
    """Multi-head self-attention over the local heads, then the row-split output projection.

    Parameters
    ----------
    x : jax.Array
        Hidden states ``(batch, seq, h)``.
    w : mapping of str to jax.Array
        The layer's (local shards of) weights, keyed as
        :func:`~alpaserve.runtime.weights.layer_weights` keys them.
    head_dim : int
        Width of one head.
    causal : bool
        Mask future positions (decoder).
    reduce : callable
        Sums partial results across the tensor-parallel devices (``psum`` inside
        ``shard_map``; the identity on one device).

    Returns
    -------
    jax.Array
        ``(batch, seq, h)`` after the output projection and reduction.
    """
    import jax
    import jax.numpy as jnp

    b, s, _ = x.shape
    qkv = jnp.einsum("bsh,hcd->bscd", x, w["w_qkv"]) + w["b_qkv"]
    local_hidden = qkv.shape[-1]
    qkv = qkv.reshape(b, s, 3, local_hidden // head_dim, head_dim)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    scores = jnp.einsum("bqnd,bknd->bnqk", q, k).astype(jnp.float32)
    scores = scores * (1.0 / float(head_dim) ** 0.5)
    if causal:
        mask = jnp.tril(jnp.ones((s, s), dtype=bool))
        scores = jnp.where(mask, scores, jnp.finfo(jnp.float32).min)
    probs = jax.nn.softmax(scores, axis=-1).astype(x.dtype)
    ctx = jnp.einsum("bnqk,bknd->bqnd", probs, v).reshape(b, s, local_hidden)
    return reduce(ctx @ w["w_o"]) + w["b_o"]


def ffn(x: Any, w: Mapping[str, Any], *, reduce: Callable[[Any], Any]) -> Any:
    """Column-split FFN1 with GELU, row-split FFN2.

    Parameters
    ----------
    x : jax.Array
        Hidden states ``(batch, seq, h)``.
    w : mapping of str to jax.Array
        The layer's (local shards of) weights, keyed as
        :func:`~alpaserve.runtime.weights.layer_weights` keys them.
    reduce : callable
        Sums partial results across the tensor-parallel devices (``psum`` inside
        ``shard_map``; the identity on one device).

    Returns
    -------
    jax.Array
        ``(batch, seq, h)``.
    """
    import jax

    hidden = jax.nn.gelu(x @ w["w_1"] + w["b_1"], approximate=True)
    return reduce(hidden @ w["w_2"]) + w["b_2"]


def transformer_layer(x: Any, w: Mapping[str, Any], *, head_dim: int, decoder: bool,
                      reduce: Callable[[Any], Any] = identity) -> Any:
    """One layer: post-LN for the BERT encoder, pre-LN with a causal mask for the GPT decoder.

    Parameters
    ----------
    x : jax.Array
        Hidden states ``(batch, seq, h)``.
    w : mapping of str to jax.Array
        The layer's (local shards of) weights, keyed as
        :func:`~alpaserve.runtime.weights.layer_weights` keys them.
    head_dim : int
        Width of one head.
    decoder : bool
        GPT (pre-LN, causal) when true, BERT (post-LN) otherwise.
    reduce : callable, optional
        As for :func:`attention`; the identity by default.

    Returns
    -------
    jax.Array
        The layer's output, same shape as ``x``.
    """
    if decoder:
        x = x + attention(layer_norm(x, w["ln1_g"], w["ln1_b"]), w, head_dim=head_dim,
                          causal=True, reduce=reduce)
        return x + ffn(layer_norm(x, w["ln2_g"], w["ln2_b"]), w, reduce=reduce)
    x = layer_norm(x + attention(x, w, head_dim=head_dim, causal=False, reduce=reduce),
                   w["ln1_g"], w["ln1_b"])
    return layer_norm(x + ffn(x, w, reduce=reduce), w["ln2_g"], w["ln2_b"])


def layer_stack(x: Any, stacked: Mapping[str, Any], *, head_dim: int, decoder: bool,
                reduce: Callable[[Any], Any] = identity) -> Any:
    """Apply the layers stacked along the leading axis of ``stacked`` (a ``lax.scan``).

    Parameters
    ----------
    x : jax.Array
        Hidden states ``(batch, seq, h)``.
    stacked : mapping of str to jax.Array
        Weights with a leading layer axis
        (:func:`~alpaserve.runtime.weights.stacked_layer_weights`).
    head_dim : int
        Width of one head.
    decoder : bool
        GPT when true, BERT otherwise.
    reduce : callable, optional
        The tensor-parallel reduction; the identity by default.

    Returns
    -------
    jax.Array
        The last layer's output.
    """
    import jax

    def body(carry: Any, w: Any) -> tuple[Any, None]:
        return transformer_layer(carry, w, head_dim=head_dim, decoder=decoder,
                                 reduce=reduce), None

    out, _ = jax.lax.scan(body, x, dict(stacked))
    return out


def embed(tokens: Any, tok_emb: Any, pos_emb: Any) -> Any:
    """Token plus position embedding of ``(batch, seq)`` ids (any slice of the hidden axis).

    Parameters
    ----------
    tokens : jax.Array
        Token ids ``(batch, seq)``.
    tok_emb : jax.Array
        Token embeddings ``(vocab, h_local)``.
    pos_emb : jax.Array
        Position embeddings ``(seq_len, h_local)``.

    Returns
    -------
    jax.Array
        ``(batch, seq, h_local)``.
    """
    s = tokens.shape[1]
    return tok_emb[tokens] + pos_emb[:s][None, :, :]
