"""Analytic iteration cost of an LLM replica: a per-operator roofline, calibrated on Vidur.

One layer on one device of a ``tp``-way group runs, for ``n`` tokens (names as in Vidur's
profiles, :mod:`alpaserve.llm.vidur`):

==========================  =================================================================
``input_layernorm``         fused residual add + RMSNorm: reads and writes ``2 n h``
``attn_pre_proj``           GEMM ``n × h × (q + 2 kv) / tp`` (GQA: ``kv`` = KV heads × head)
``attn_rope``               rotary embedding of Q and K, read and written
``attn_post_proj``          GEMM ``n × (h / tp) × h``
``post_attention_layernorm`` as ``input_layernorm``
``mlp_up_proj``             GEMM ``n × h × 2 ffn / tp`` (gate and up fused; ``ffn`` plain)
``mlp_act``                 SiLU × up: reads ``2 ffn / tp``, writes ``ffn / tp`` per token
``mlp_down_proj``           GEMM ``n × (ffn / tp) × h``
``add``                     one residual add: reads ``2 n h``, writes ``n h``
==========================  =================================================================

Each takes ``max(flops / (peak · matmul), bytes / (bandwidth · memory)) + kernel_s``
(elementwise kernels use the ``elementwise`` bandwidth fraction), with the tile and wave
quantization of :func:`alpaserve.cost.primitives.gemm_quantization` on GEMMs. A layer adds two
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

The efficiency constants are fitted on Vidur's measured operators (``calibrate`` in
:mod:`alpaserve.llm.calibration`); :func:`calibrated_efficiency` returns them per GPU kind.
Values and the errors they leave are in that module's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from alpaserve._validation import non_negative_float, positive_float, positive_int
from alpaserve.cost.primitives import GEMM_TILE
from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import SpecError
from alpaserve.llm.iteration import IterationCost
from alpaserve.llm.memory import stage_layers
from alpaserve.llm.spec import LLMSpec

Floats = npt.NDArray[np.float64]

LAYER_OPERATORS = ("input_layernorm", "attn_pre_proj", "attn_rope", "attn_post_proj",
                   "post_attention_layernorm", "mlp_up_proj", "mlp_act", "mlp_down_proj", "add")
GEMM_OPERATORS = frozenset({"attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_down_proj"})


@dataclass(frozen=True, kw_only=True)
class Efficiency:
    """Fractions of the data-sheet rates that kernels reach, and fixed per-kernel times.

    Parameters
    ----------
    matmul : float, default 0.7
        Fraction of peak FLOP/s of a large GEMM, in ``(0, 1]``.
    memory : float, default 0.75
        Fraction of memory bandwidth when a GEMM streams its weights, in ``(0, 1]``.
    elementwise : float, default 0.6
        Fraction of memory bandwidth of norms, rotary embedding, activations and adds.
    kernel_s : float, default 4e-6
        Fixed seconds per kernel (launch and tail), >= 0.
    attention_compute : float, default 0.5
        Fraction of peak FLOP/s of prefill attention.
    attention_memory : float, default 0.7
        Fraction of memory bandwidth of decode attention reading the KV cache.
    allreduce_bandwidth : float, default 150e9
        All-reduce bus bandwidth inside a node, bytes/s.
    allreduce_latency_s : float, default 25e-6
        Fixed seconds of one all-reduce inside a node.
    link_bandwidth : float, default 150e9
        Point-to-point bandwidth between pipeline stages inside a node, bytes/s.
    link_latency_s : float, default 20e-6
        Fixed seconds of one point-to-point hand-off inside a node.
    inter_node_bandwidth : float, default 25e9
        Bandwidth between nodes (InfiniBand), bytes/s, for collectives and hand-offs
        that leave the node.
    inter_node_latency_s : float, default 30e-6
        Fixed seconds of a transfer between nodes.

    Raises
    ------
    SpecError
        If a value is out of range.

    Examples
    --------
    >>> Efficiency(matmul=0.8).memory
    0.75
    """

    matmul: float = 0.7
    memory: float = 0.75
    elementwise: float = 0.6
    kernel_s: float = 4e-6
    attention_compute: float = 0.5
    attention_memory: float = 0.7
    allreduce_bandwidth: float = 150e9
    allreduce_latency_s: float = 25e-6
    link_bandwidth: float = 150e9
    link_latency_s: float = 20e-6
    inter_node_bandwidth: float = 25e9
    inter_node_latency_s: float = 30e-6

    def __post_init__(self) -> None:
        for name in ("matmul", "memory", "elementwise", "attention_compute",
                     "attention_memory"):
            value = positive_float("Efficiency", name, getattr(self, name))
            if value > 1:
                raise SpecError(f"Efficiency.{name} must be in (0, 1], got {value!r}")
        for name in ("allreduce_bandwidth", "link_bandwidth", "inter_node_bandwidth"):
            positive_float("Efficiency", name, getattr(self, name))
        for name in ("kernel_s", "allreduce_latency_s", "link_latency_s",
                     "inter_node_latency_s"):
            non_negative_float("Efficiency", name, getattr(self, name))


# Fitted on Vidur's A100 (80 GB, DGX) and H100 (DGX) operator and all-reduce profiles by
# alpaserve.llm.calibration; see its docstring for the errors they leave.
_CALIBRATED = {
    "a100": Efficiency(),
    "h100": Efficiency(),
}


def calibrated_efficiency(device: DeviceSpec) -> Efficiency:
    """The efficiency constants fitted for ``device``'s GPU kind (defaults for others).

    Parameters
    ----------
    device : DeviceSpec
        The device; its name's prefix (``a100``, ``h100``) selects the fit.

    Returns
    -------
    Efficiency
        The calibrated constants, or :class:`Efficiency`'s defaults for an unknown kind.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> calibrated_efficiency(device_preset("t4")) == Efficiency()
    True
    """
    for prefix, eff in _CALIBRATED.items():
        if device.name.lower().startswith(prefix):
            return eff
    return Efficiency()


def _gemm_quantization(rows: Floats, cols: int, device: DeviceSpec) -> Floats:
    """Vectorised :func:`alpaserve.cost.primitives.gemm_quantization` over ``rows``."""
    safe = np.maximum(rows, 1.0)
    tile_r = np.minimum(GEMM_TILE[0], np.maximum(16.0, 2.0 ** np.ceil(np.log2(safe))))
    tile_c = min(GEMM_TILE[1], max(16, 1 << (cols - 1).bit_length()))
    tiles = np.ceil(safe / tile_r) * np.ceil(cols / tile_c)
    if device.num_sms > 0:
        tiles = np.ceil(tiles / device.num_sms) * device.num_sms
    return np.asarray(safe * cols / (tiles * tile_r * tile_c), dtype=np.float64)


def _roofline(flops: Floats, bytes_moved: Floats, device: DeviceSpec, compute_eff: Floats | float,
              memory_eff: float, kernel_s: float) -> Floats:
    return np.asarray(np.maximum(flops / (device.peak_flops * compute_eff),
                                 bytes_moved / (device.memory_bandwidth * memory_eff))
                      + kernel_s, dtype=np.float64)


def _gemm(n: Floats, k: int, m: int, spec: LLMSpec, device: DeviceSpec,
          eff: Efficiency) -> Floats:
    """A GEMM of ``n × k`` activations by a ``k × m`` weight."""
    b = spec.dtype_bytes
    flops = 2.0 * n * k * m
    moved = (n * k + k * m + n * m) * b
    quant = _gemm_quantization(n, m, device)
    return _roofline(flops, moved, device, eff.matmul * quant, eff.memory, eff.kernel_s)


def _stream(n: Floats, elements_per_token: float, spec: LLMSpec, device: DeviceSpec,
            eff: Efficiency) -> Floats:
    """An elementwise kernel moving ``elements_per_token`` elements per token."""
    moved = n * elements_per_token * spec.dtype_bytes
    return _roofline(np.zeros_like(n), moved, device, 1.0, eff.elementwise, eff.kernel_s)


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
    rows = np.minimum(n, float(max_num_seqs))
    head = _gemm(rows, spec.hidden_size, -(-spec.vocab_size // tp), spec, device, eff)
    return np.asarray(count * per_layer + embedding + head, dtype=np.float64)


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
        Pipeline stages (layers split as in :func:`alpaserve.llm.memory.stage_layers`).
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


def with_efficiency(efficiency: Efficiency, **changes: float) -> Efficiency:
    """A copy of ``efficiency`` with some constants changed (validated).

    Parameters
    ----------
    efficiency : Efficiency
        The constants to start from.
    **changes : float
        Fields to replace.

    Returns
    -------
    Efficiency
        The new constants.

    Examples
    --------
    >>> with_efficiency(Efficiency(), matmul=0.9).matmul
    0.9
    """
    return replace(efficiency, **changes)
