"""Analytic iteration cost of an LLM replica: a per-operator roofline, calibrated on Vidur.

One layer on one device of a ``tp``-way group runs, for ``n`` tokens (names as in Vidur's
profiles, :mod:`alpaserve.llm.vidur`):

* ``input_layernorm``: fused residual add + RMSNorm, reads and writes ``2 n h``;
* ``attn_pre_proj``: GEMM ``n × h × (q + 2 kv) / tp`` (GQA: ``kv`` = KV heads × head);
* ``attn_rope``: rotary embedding of Q and K, read and written;
* ``attn_post_proj``: GEMM ``n × (h / tp) × h``;
* ``post_attention_layernorm``: as ``input_layernorm``;
* ``mlp_up_proj``: GEMM ``n × h × 2 ffn / tp`` (gate and up fused; ``ffn`` when plain);
* ``mlp_act``: SiLU × up, reads ``2 ffn / tp`` and writes ``ffn / tp`` per token;
* ``mlp_down_proj``: GEMM ``n × (ffn / tp) × h``;
* ``add``: one residual add, reads ``2 n h`` and writes ``n h``.

Each takes ``kernel_s`` plus a blend of ``flops / (peak · matmul)`` and
``bytes / (bandwidth · memory)`` (their ``sharpness``-norm; the maximum as it grows)
(elementwise kernels use the ``elementwise`` bandwidth fraction). GEMMs get no tile or wave
quantization: cuBLAS picks split-K and narrow tiles for thin outputs, and the wave model of
:func:`alpaserve.cost.primitives.gemm_quantization` overestimated Vidur's measured GEMMs up to
4× between 32 and 1,000 tokens. Beyond one ``gemm_tile`` of tokens, the FLOPs count
``tile_padding`` of the padding to the next tile multiple (H100's GEMMs step up by 25-80 %
every 128-256 tokens from 256 on; 0 turns it off). A layer adds two
ring all-reduces of ``n h`` activations when ``tp > 1`` (alpha-beta:
``latency + 2 (tp - 1) / tp · bytes / bus bandwidth``; NVLink inside a node of
``gpus_per_node``, the inter-node link beyond). Outside the layers: the embedding gather
once, and the LM head (GEMM ``rows × h × vocab / tp``, ``rows = min(n, max_num_seqs)``: one
row per sampled sequence) once per iteration.

Attention is charged through :class:`~alpaserve.llm.iteration.IterationCost`'s coefficients:
prefill ``4 · head_dim · heads / tp`` FLOPs per (query, key) pair and layer at
``attention_compute`` of peak; decode ``2 · kv heads per device · head_dim · dtype`` bytes
per KV token and layer at ``attention_memory`` of the bandwidth. A pipeline hand-off moves
``n h`` activations over the link between stages.

The efficiency constants (:class:`~alpaserve.llm.efficiency.Efficiency`) are fitted on
Vidur's measured operators by :mod:`alpaserve.llm.calibration`;
:func:`~alpaserve.llm.efficiency.calibrated_efficiency` returns them per GPU kind, and
:mod:`alpaserve.llm.efficiency` documents their values and the errors they leave.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from alpaserve._validation import positive_int
from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import SpecError
from alpaserve.llm.efficiency import Efficiency, calibrated_efficiency
from alpaserve.llm.iteration import IterationCost
from alpaserve.llm.shards import stage_layers
from alpaserve.llm.spec import LLMSpec

Floats = npt.NDArray[np.float64]

LAYER_OPERATORS = ("input_layernorm", "attn_pre_proj", "attn_rope", "attn_post_proj",
                   "post_attention_layernorm", "mlp_up_proj", "mlp_act", "mlp_down_proj", "add")
GEMM_OPERATORS = frozenset({"attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_down_proj"})


def _roofline(flops: Floats, bytes_moved: Floats, device: DeviceSpec, compute_eff: float,
              memory_eff: float, kernel_s: float, sharpness: float) -> Floats:
    """``kernel_s`` plus the ``sharpness``-norm of the compute and memory times (max as
    ``sharpness`` grows): kernels near the ridge point overlap the two imperfectly."""
    compute = flops / (device.peak_flops * compute_eff)
    memory = bytes_moved / (device.memory_bandwidth * memory_eff)
    top = np.maximum(np.maximum(compute, memory), 1e-300)
    blend = top * ((compute / top) ** sharpness + (memory / top) ** sharpness) ** (1 / sharpness)
    return np.asarray(blend + kernel_s, dtype=np.float64)


def _gemm(n: Floats, k: int, m: int, spec: LLMSpec, device: DeviceSpec,
          eff: Efficiency) -> Floats:
    """A GEMM of ``n × k`` activations by a ``k × m`` weight."""
    b = spec.dtype_bytes
    # cuBLAS pads the token dimension to its tile beyond one tile; ``tile_padding`` is the
    # fraction of that padding paid on average over its tile choices (measured on H100).
    tile = float(eff.gemm_tile)
    padded = np.where(n > tile, np.ceil(n / tile) * tile, n)
    flops = 2.0 * (n + eff.tile_padding * (padded - n)) * k * m
    moved = (n * k + k * m + n * m) * b
    return _roofline(flops, moved, device, eff.matmul, eff.memory, eff.kernel_s,
                     eff.sharpness)


def _stream(n: Floats, elements_per_token: float, spec: LLMSpec, device: DeviceSpec,
            eff: Efficiency) -> Floats:
    """An elementwise kernel moving ``elements_per_token`` elements per token."""
    moved = n * elements_per_token * spec.dtype_bytes
    return _roofline(np.zeros_like(n), moved, device, 1.0, eff.elementwise, eff.kernel_s,
                     eff.sharpness)


def layer_operator_times(spec: LLMSpec, device: DeviceSpec, *, tp: int,
                         tokens: npt.ArrayLike,
                         efficiency: Efficiency | None = None) -> dict[str, Floats]:
    """Seconds of each non-attention operator of one layer, on one device, by tokens.

    Parameters
    ----------
    spec : LLMSpec
        The model.
    device : DeviceSpec
        The device.
    tp : int
        Tensor-parallel degree.
    tokens : array_like of int
        Token counts ``n`` (each >= 1).
    efficiency : Efficiency, optional
        Constants; by default :func:`calibrated_efficiency` of ``device``.

    Returns
    -------
    dict of str to ndarray
        One array per name of :data:`LAYER_OPERATORS`, aligned with ``tokens``.

    Raises
    ------
    SpecError
        If ``tp`` cannot shard the model or a token count is below 1.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.llm.spec import llm_preset
    >>> ops = layer_operator_times(llm_preset("llama-2-7b"), device_preset("a100-80gb"),
    ...                            tp=1, tokens=[1, 4096])
    >>> bool(ops["mlp_up_proj"][1] > 10 * ops["mlp_up_proj"][0])
    True
    """
    spec.check_tensor_degree(tp)
    n = np.asarray(tokens, dtype=np.float64).reshape(-1)
    if n.size and (not np.all(np.isfinite(n)) or n.min() < 1):
        raise SpecError(f"token counts must be >= 1, got min {n.min()!r}")
    eff = efficiency if efficiency is not None else calibrated_efficiency(device)
    h = spec.hidden_size
    q = -(-h // tp)
    kv = spec.kv_heads_per_device(tp) * spec.head_dim
    ffn = -(-spec.ffn_size // tp)
    up = 2 * ffn if spec.gated_mlp else ffn
    norm = _stream(n, 4.0 * h, spec, device, eff)
    return {
        "input_layernorm": norm,
        "attn_pre_proj": _gemm(n, h, q + 2 * kv, spec, device, eff),
        "attn_rope": _stream(n, 2.0 * (q + kv), spec, device, eff),
        "attn_post_proj": _gemm(n, q, h, spec, device, eff),
        "post_attention_layernorm": norm.copy(),
        "mlp_up_proj": _gemm(n, h, up, spec, device, eff),
        "mlp_act": _stream(n, float(up + ffn) if spec.gated_mlp else 2.0 * ffn, spec, device,
                           eff),
        "mlp_down_proj": _gemm(n, ffn, h, spec, device, eff),
        "add": _stream(n, 3.0 * h, spec, device, eff),
    }


def allreduce_seconds(num_bytes: npt.ArrayLike, *, tp: int, efficiency: Efficiency,
                      inter_node: bool = False) -> Floats:
    """Seconds of a ring all-reduce of ``num_bytes`` per device over ``tp`` devices.

    Parameters
    ----------
    num_bytes : array_like of float
        Bytes each device contributes.
    tp : int
        Devices in the ring; 1 costs nothing.
    efficiency : Efficiency
        Bus bandwidths and latencies.
    inter_node : bool, default False
        Whether the ring spans nodes (the inter-node link bounds it).

    Returns
    -------
    ndarray of float
        ``latency + 2 (tp - 1) / tp · bytes / bandwidth``, zero where ``tp == 1`` or a
        message is empty.

    Examples
    --------
    >>> eff = Efficiency(allreduce_bandwidth=100e9, allreduce_latency_s=1e-5)
    >>> [round(float(t), 6) for t in allreduce_seconds([0, 1e8], tp=2, efficiency=eff)]
    [0.0, 0.00101]
    """
    positive_int("allreduce_seconds", "tp", tp)
    size = np.asarray(num_bytes, dtype=np.float64)
    if tp == 1:
        return np.zeros_like(size)
    bw, lat = ((efficiency.inter_node_bandwidth, efficiency.inter_node_latency_s) if inter_node
               else (efficiency.allreduce_bandwidth, efficiency.allreduce_latency_s))
    out = lat + 2.0 * (tp - 1) / tp * size / bw
    return np.asarray(np.where(size > 0, out, 0.0), dtype=np.float64)


def non_attention_seconds(spec: LLMSpec, device: DeviceSpec, *, tp: int, tokens: npt.ArrayLike,
                          layers: int | None = None, gpus_per_node: int = 8,
                          max_num_seqs: int = 256,
                          efficiency: Efficiency | None = None) -> Floats:
    """Seconds of the non-attention work of ``layers`` layers, the embedding and the LM head.

    Parameters
    ----------
    spec : LLMSpec
        The model.
    device : DeviceSpec
        The device.
    tp : int
        Tensor-parallel degree.
    tokens : array_like of int
        Token counts (each >= 1).
    layers : int, optional
        Layers run; by default all of the model's.
    gpus_per_node : int, default 8
        Devices per node; a ``tp`` above it all-reduces over the inter-node link.
    max_num_seqs : int, default 256
        Most sequences sampled per iteration (rows of the LM head).
    efficiency : Efficiency, optional
        Constants; by default :func:`calibrated_efficiency` of ``device``.

    Returns
    -------
    ndarray of float
        Seconds, aligned with ``tokens``.
    """
    eff = efficiency if efficiency is not None else calibrated_efficiency(device)
    positive_int("non_attention_seconds", "gpus_per_node", gpus_per_node)
    positive_int("non_attention_seconds", "max_num_seqs", max_num_seqs)
    count = spec.num_layers if layers is None else positive_int("non_attention_seconds",
                                                                "layers", layers)
    n = np.asarray(tokens, dtype=np.float64).reshape(-1)
    ops = layer_operator_times(spec, device, tp=tp, tokens=n, efficiency=eff)
    per_layer = sum(ops.values(), np.zeros_like(n))
    per_layer += 2.0 * allreduce_seconds(n * spec.hidden_size * spec.dtype_bytes, tp=tp,
                                         efficiency=eff, inter_node=tp > gpus_per_node)
    embedding = _stream(n, 2.0 * spec.hidden_size, spec, device, eff)
    head = lm_head_seconds(spec, device, tp=tp, tokens=n, max_num_seqs=max_num_seqs,
                           efficiency=eff)
    return np.asarray(count * per_layer + embedding + head, dtype=np.float64)


def lm_head_seconds(spec: LLMSpec, device: DeviceSpec, *, tp: int, tokens: npt.ArrayLike,
                    max_num_seqs: int = 256, efficiency: Efficiency | None = None) -> Floats:
    """Seconds of the LM head: a GEMM of ``min(n, max_num_seqs)`` rows by ``h × vocab / tp``.

    Only the last token of each sequence is sampled; an iteration of ``n`` tokens samples
    at most ``n`` and at most ``max_num_seqs`` sequences, and the GEMM's weight read
    dominates at those sizes, so the bound costs little accuracy.

    Parameters
    ----------
    spec : LLMSpec
        The model.
    device : DeviceSpec
        The device.
    tp : int
        Tensor-parallel degree (vocabulary-parallel head).
    tokens : array_like of int
        Token counts (each >= 1).
    max_num_seqs : int, default 256
        Most sequences sampled per iteration.
    efficiency : Efficiency, optional
        Constants; by default :func:`calibrated_efficiency` of ``device``.

    Returns
    -------
    ndarray of float
        Seconds aligned with ``tokens``.
    """
    spec.check_tensor_degree(tp)
    positive_int("lm_head_seconds", "max_num_seqs", max_num_seqs)
    eff = efficiency if efficiency is not None else calibrated_efficiency(device)
    rows = np.minimum(np.asarray(tokens, dtype=np.float64).reshape(-1), float(max_num_seqs))
    return _gemm(rows, spec.hidden_size, -(-spec.vocab_size // tp), spec, device, eff)


def analytic_iteration_cost(spec: LLMSpec, device: DeviceSpec, *, tp: int, pp: int,
                            max_tokens: int, gpus_per_node: int = 8, max_num_seqs: int = 256,
                            overhead_s: float = 0.0,
                            efficiency: Efficiency | None = None) -> IterationCost:
    """The :class:`IterationCost` of one ``tp × pp`` replica from the analytic model.

    Parameters
    ----------
    spec : LLMSpec
        The model.
    device : DeviceSpec
        One device of the replica.
    tp : int
        Tensor-parallel degree.
    pp : int
        Pipeline stages (layers split as in :func:`alpaserve.llm.shards.stage_layers`).
    max_tokens : int
        Largest batch the table covers (``linear_s`` has ``max_tokens + 1`` entries); the
        cost extrapolates beyond it.
    gpus_per_node : int, default 8
        Devices per node: all-reduces of a wider ``tp`` and hand-offs of a replica wider
        than a node use the inter-node link.
    max_num_seqs : int, default 256
        Most sequences sampled per iteration (rows of the LM head).
    overhead_s : float, default 0
        Fixed seconds per iteration (scheduler, sampling on the host).
    efficiency : Efficiency, optional
        Constants; by default :func:`calibrated_efficiency` of ``device``.

    Returns
    -------
    IterationCost
        ``source="analytic:<device>"``.

    Raises
    ------
    SpecError
        If an argument is out of range.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.llm.spec import llm_preset
    >>> cost = analytic_iteration_cost(llm_preset("llama-2-7b"), device_preset("a100-80gb"),
    ...                                tp=1, pp=1, max_tokens=512)
    >>> bool(cost.linear(512) > cost.linear(1) > 0), cost.source
    (True, 'analytic:a100-80gb')
    """
    positive_int("analytic_iteration_cost", "max_tokens", max_tokens)
    positive_int("analytic_iteration_cost", "gpus_per_node", gpus_per_node)
    layers_per_stage = stage_layers(spec, pp=pp)  # checks pp
    spec.check_tensor_degree(tp)
    eff = efficiency if efficiency is not None else calibrated_efficiency(device)
    n = np.arange(1, max_tokens + 1, dtype=np.float64)
    work = non_attention_seconds(spec, device, tp=tp, tokens=n, gpus_per_node=gpus_per_node,
                                 max_num_seqs=max_num_seqs, efficiency=eff)
    linear = np.concatenate([[0.0], np.maximum.accumulate(work)])
    layers = sum(layers_per_stage)
    heads = spec.num_heads // tp
    prefill = layers * 4.0 * spec.head_dim * heads / (device.peak_flops * eff.attention_compute)
    kv_bytes = 2.0 * spec.kv_heads_per_device(tp) * spec.head_dim * spec.dtype_bytes
    decode = layers * kv_bytes / (device.memory_bandwidth * eff.attention_memory)
    handoff_s = handoff_per_token = 0.0
    if pp > 1:
        cross = tp * pp > gpus_per_node
        bw, lat = ((eff.inter_node_bandwidth, eff.inter_node_latency_s) if cross
                   else (eff.link_bandwidth, eff.link_latency_s))
        handoff_s, handoff_per_token = lat, spec.hidden_size * spec.dtype_bytes / bw
    return IterationCost(linear_s=linear, prefill_attention_s=prefill,
                         decode_attention_s=decode, overhead_s=overhead_s, pipeline_stages=pp,
                         handoff_s=handoff_s, handoff_s_per_token=handoff_per_token,
                         source=f"analytic:{device.name}")

