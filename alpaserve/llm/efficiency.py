"""Efficiency constants of the analytic LLM cost model, and their values fitted per GPU kind.

:class:`Efficiency` holds the fractions of the data-sheet rates kernels reach, the fixed
per-kernel time, the roofline blend and the link constants used by
:mod:`alpaserve.llm.analytic`. :func:`calibrated_efficiency` returns the constants fitted by
:func:`alpaserve.llm.calibration.fit_efficiency` and
:func:`~alpaserve.llm.calibration.fit_link` on Vidur's A100 (DGX A100 80 GB) and H100 (DGX)
profiles (``benchmarks/validate_llm_cost.py`` prints the fit and the errors it leaves):

* A100: matmul 0.718, memory 0.811, elementwise 1.0, kernel 4.26 us, sharpness 1.58;
  all-reduce 152 GB/s bus bandwidth + 39 us (8 GPUs); error median 2.4-4.3%, p90 7-10%.
* H100: matmul 0.722, memory 0.896, elementwise 0.807, kernel 3.82 us, sharpness 1.99,
  GEMM tile 256 tokens with half its padding charged (``tile_padding`` 0.5: chosen by a scan
  over 0-1, refitting the rest; the free least-squares optimum, 0.62, raises Llama-2-7B tp 1's
  p90); all-reduce 339 GB/s + 29 us (8 GPUs); error median 2.6-4.4%, p90 6.9-12.3%.

The error is that of the per-layer non-attention time over 259 token counts (1-4,096) per
(model, tp) for Llama-2-7B, CodeLlama-34B (A100) and Llama-2-70B at tp 1, 2, 4, 8. Residual
adds, SiLU and RoPE are the worst single operators (25-80% median error; they are small), the
GEMMs within a few percent at most sizes; H100's error peaked (p90 14-15% on Llama-2-70B)
where its GEMMs step up at tile boundaries (256, 512 tokens), which ``tile_padding`` models.
The all-reduce's alpha-beta fit leaves 4-12% median error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from alpaserve._validation import non_negative_float, positive_float
from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import SpecError


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
    sharpness : float, default 4
        Exponent ``k`` of the roofline blend ``(compute^k + memory^k)^(1/k)``, >= 1: 1 adds
        the two times, large values take their maximum.
    gemm_tile : float, default 256
        Tokens of a GEMM tile: a GEMM of more tokens is padded to a multiple of it.
    tile_padding : float, default 0
        Fraction of that padding charged as FLOPs, in ``[0, 1]`` (0: no quantization).

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
    sharpness: float = 4.0
    gemm_tile: float = 256.0
    tile_padding: float = 0.0

    def __post_init__(self) -> None:
        for name in ("matmul", "memory", "elementwise", "attention_compute",
                     "attention_memory"):
            value = positive_float("Efficiency", name, getattr(self, name))
            if value > 1:
                raise SpecError(f"Efficiency.{name} must be in (0, 1], got {value!r}")
        for name in ("allreduce_bandwidth", "link_bandwidth", "inter_node_bandwidth"):
            positive_float("Efficiency", name, getattr(self, name))
        if positive_float("Efficiency", "sharpness", self.sharpness) < 1:
            raise SpecError(f"Efficiency.sharpness must be >= 1, got {self.sharpness!r}")
        positive_float("Efficiency", "gemm_tile", self.gemm_tile)
        if not 0 <= non_negative_float("Efficiency", "tile_padding", self.tile_padding) <= 1:
            raise SpecError(f"Efficiency.tile_padding must be in [0, 1], got "
                            f"{self.tile_padding!r}")
        for name in ("kernel_s", "allreduce_latency_s", "link_latency_s",
                     "inter_node_latency_s"):
            non_negative_float("Efficiency", name, getattr(self, name))


# Fitted by benchmarks/validate_llm_cost.py (compute: fit_efficiency over every model and
# tensor degree; all-reduce: fit_link at 8 workers; link: send/recv inside a node; inter-node:
# send/recv with one device per node). Immutable: a tuple of (name prefix, constants).
_CALIBRATED = (
    ("a100", Efficiency(matmul=0.718, memory=0.811, elementwise=1.0, kernel_s=4.26e-6,
                        sharpness=1.58, allreduce_bandwidth=152e9, allreduce_latency_s=39e-6,
                        link_bandwidth=286e9, link_latency_s=13.2e-6,
                        inter_node_bandwidth=8e9, inter_node_latency_s=29e-6)),
    ("h100", Efficiency(matmul=0.722, memory=0.896, elementwise=0.807, kernel_s=3.82e-6,
                        sharpness=1.99, gemm_tile=256.0, tile_padding=0.5,
                        allreduce_bandwidth=339e9, allreduce_latency_s=28.6e-6,
                        link_bandwidth=357e9, link_latency_s=7.6e-6,
                        inter_node_bandwidth=36e9, inter_node_latency_s=19.1e-6)),
)


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
    for prefix, eff in _CALIBRATED:
        if device.name.lower().startswith(prefix):
            return eff
    return Efficiency()


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

