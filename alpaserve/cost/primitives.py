"""Cost-model primitives: roofline compute with GEMM quantization, alpha-beta communication.

* compute time is the roofline ``max(flops / (peak × efficiency), bytes / bandwidth)``;
* a ring all-reduce over ``n`` devices costs ``2(n-1)/n × bytes / bw + latency``;
* a point-to-point transfer costs ``bytes / bw + latency``.

The constants are calibrated in :mod:`alpaserve.cost.stage` (see its docstring for sources);
:mod:`alpaserve.cost.model` re-exports everything here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from alpaserve.cost.kernels import OpCost
from alpaserve.device_spec import DeviceSpec

# Fraction of the data-sheet peak that large, well-shaped fp16 GEMMs reach (cuBLAS on V100:
# about 100 of 125 TFLOP/s). Calibrated as described in the module docstring.
DEFAULT_MATMUL_EFFICIENCY = 0.8
# Fraction of the data-sheet memory bandwidth that streaming kernels reach.
DEFAULT_MEMORY_EFFICIENCY = 0.85
# Output tile of a tensor-core GEMM (rows, cols); one tile runs on one SM at a time.
GEMM_TILE = (128, 256)
# Fixed time per layer (kernel launches) and per pipeline stage (executable launch and
# synchronisation with the neighbouring stages); see the module docstring.
LAYER_OVERHEAD_S = 1e-4
STAGE_OVERHEAD_S = 1e-3


def roofline_time(flops: float, bytes_moved: float, device: DeviceSpec,
                  efficiency: float = DEFAULT_MATMUL_EFFICIENCY,
                  memory_efficiency: float = 1.0) -> float:
    """Time of a kernel bound by either compute or memory traffic.

    Parameters
    ----------
    flops : float
        Floating-point operations.
    bytes_moved : float
        Bytes read and written in device memory.
    device : DeviceSpec
        The device (peak FLOP/s, memory bandwidth, SM count).
    efficiency : float, default DEFAULT_MATMUL_EFFICIENCY (0.8)
        Fraction of peak FLOP/s reached.
    memory_efficiency : float, default 1.0
        Fraction of the memory bandwidth reached.

    Returns
    -------
    float
        Seconds: the larger of the compute and the memory time.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> v100 = device_preset("v100-16gb")
    >>> roofline_time(125e12, 0, v100, efficiency=1.0)
    1.0
    >>> roofline_time(0, 900e9, v100)
    1.0
    """
    return max(flops / (device.peak_flops * efficiency),
               bytes_moved / (device.memory_bandwidth * memory_efficiency))


def allreduce_time(num_bytes: float, num_devices: int, bandwidth: float,
                   latency: float) -> float:
    """Ring all-reduce of ``num_bytes`` over ``num_devices`` (0 on one device).

    Parameters
    ----------
    num_bytes : float
        Bytes each device contributes.
    num_devices : int
        Devices in the ring.
    bandwidth : float
        Link bandwidth in bytes/s.
    latency : float
        Link latency in seconds (paid once).

    Returns
    -------
    float
        Seconds: ``2 (n - 1) / n * num_bytes / bandwidth + latency``.

    Examples
    --------
    >>> round(allreduce_time(1e9, 4, 100e9, 1e-5), 6)
    0.01501
    >>> allreduce_time(1e9, 1, 100e9, 1e-5)
    0.0
    """
    if num_devices <= 1:
        return 0.0
    return 2.0 * (num_devices - 1) / num_devices * num_bytes / bandwidth + latency


def p2p_time(num_bytes: float, bandwidth: float, latency: float) -> float:
    """One point-to-point transfer (0 for no bytes).

    Parameters
    ----------
    num_bytes : float
        Bytes sent.
    bandwidth : float
        Link bandwidth in bytes/s.
    latency : float
        Link latency in seconds.

    Returns
    -------
    float
        Seconds: ``num_bytes / bandwidth + latency``.

    Examples
    --------
    >>> p2p_time(1e9, 1e9, 0.5)
    1.5
    """
    if num_bytes <= 0:
        return 0.0
    return num_bytes / bandwidth + latency


def gemm_quantization(gemm: tuple[int, int, int], device: DeviceSpec) -> float:
    """Useful fraction of the tiles and waves a GEMM output ``(count, rows, cols)`` occupies.

    The tile is :data:`GEMM_TILE`, narrowed to the next power of two (at least 16) for
    outputs thinner than it, as cuBLAS picks narrower tiles for them.

    Parameters
    ----------
    gemm : tuple of (int, int, int)
        ``(count, rows, cols)``: ``count`` independent output matrices of that shape.
    device : DeviceSpec
        The device (peak FLOP/s, memory bandwidth, SM count).

    Returns
    -------
    float
        Useful fraction in ``(0, 1]``; waves are rounded up to a multiple of the SM count
        when the device has SMs.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> v100 = device_preset("v100-16gb")
    >>> gemm_quantization((1, 2048, 2048), v100), gemm_quantization((1, 2048, 2560), v100)
    (0.8, 1.0)
    """
    count, rows, cols = gemm
    tile_rows = min(GEMM_TILE[0], max(16, 1 << (rows - 1).bit_length()))
    tile_cols = min(GEMM_TILE[1], max(16, 1 << (cols - 1).bit_length()))
    tiles = count * math.ceil(rows / tile_rows) * math.ceil(cols / tile_cols)
    if device.num_sms > 0:
        tiles = math.ceil(tiles / device.num_sms) * device.num_sms
    return count * rows * cols / (tiles * tile_rows * tile_cols)


def op_time(op: OpCost, device: DeviceSpec, *,
            matmul_efficiency: float = DEFAULT_MATMUL_EFFICIENCY,
            memory_efficiency: float = DEFAULT_MEMORY_EFFICIENCY) -> float:
    """Roofline time of one operator on ``device``: the cost of every kernel in the project.

    A matmul (``op.gemm`` set) runs at ``matmul_efficiency`` times its tile and wave
    quantization on the device's SMs (:func:`gemm_quantization`); memory traffic streams at
    ``memory_efficiency`` of the bandwidth. :func:`alpaserve.cost.stage.layer_time` sums it
    over a layer's Megatron-sharded operators; :mod:`alpaserve.parallel.sharding` over the
    operators of each sharding strategy, built with the same constructors of
    :mod:`alpaserve.cost.layers` at the per-device shapes.

    Parameters
    ----------
    op : OpCost
        The operator's FLOPs, bytes and GEMM shape.
    device : DeviceSpec
        The device (peak FLOP/s, memory bandwidth, SM count).
    matmul_efficiency : float, default DEFAULT_MATMUL_EFFICIENCY (0.8)
        Fraction of peak FLOP/s a well-shaped GEMM reaches.
    memory_efficiency : float, default DEFAULT_MEMORY_EFFICIENCY (0.85)
        Fraction of the memory bandwidth streaming reaches.

    Returns
    -------
    float
        Seconds.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.cost.kernels import matmul_cost
    >>> v100 = device_preset("v100-16gb")
    >>> narrow, wide = (matmul_cost("mm", 2048, 2048, n, 2) for n in (2048, 2560))
    >>> round(op_time(narrow, v100) * 1e6), round(op_time(wide, v100) * 1e6)  # 1.6 vs 2 waves
    (215, 215)
    """
    eff = matmul_efficiency
    if op.gemm is not None:
        eff *= gemm_quantization(op.gemm, device)
    return roofline_time(op.flops, op.bytes_moved, device, efficiency=eff,
                         memory_efficiency=memory_efficiency)


def ops_time(ops: Iterable[OpCost], device: DeviceSpec, *,
             matmul_efficiency: float = DEFAULT_MATMUL_EFFICIENCY,
             memory_efficiency: float = DEFAULT_MEMORY_EFFICIENCY) -> float:
    """Sum of :func:`op_time` over ``ops`` (kernels run one after another).

    Parameters
    ----------
    ops : iterable of OpCost
        The operators.
    device : DeviceSpec
        The device (peak FLOP/s, memory bandwidth, SM count).
    matmul_efficiency : float, default DEFAULT_MATMUL_EFFICIENCY (0.8)
        Fraction of peak FLOP/s a well-shaped GEMM reaches.
    memory_efficiency : float, default DEFAULT_MEMORY_EFFICIENCY (0.85)
        Fraction of the memory bandwidth streaming reaches.

    Returns
    -------
    float
        Seconds.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> from alpaserve.cost.kernels import gelu_cost
    >>> v100 = device_preset("v100-16gb")
    >>> ops_time([gelu_cost(1e6, 2)] * 2, v100) == 2 * op_time(gelu_cost(1e6, 2), v100)
    True
    """
    return sum((op_time(op, device, matmul_efficiency=matmul_efficiency,
                        memory_efficiency=memory_efficiency) for op in ops), 0.0)
