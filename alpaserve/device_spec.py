"""Accelerator (and CPU) specs with their peak rates, memory and prices.

Sources: peak dense fp16 tensor-core FLOP/s and memory bandwidth from NVIDIA's data sheets
(V100 SXM2: 125 TFLOP/s, 900 GB/s; A100 SXM4: 312 TFLOP/s, 1.555 TB/s for 40 GB and
2.039 TB/s for 80 GB; H100 SXM5: 989 TFLOP/s, 3.35 TB/s; T4: 65 TFLOP/s, 320 GB/s).
``num_sms`` is the number of streaming multiprocessors (V100 80, A100 108, H100 132, T4 40);
the cost model uses it for wave quantization of matmuls, and 0 (the CPU, custom specs) turns that
off. ``reserved_bytes`` is memory the framework keeps for itself. Memory budgets of the V100
presets: ``v100-16gb`` leaves 13 GB (13e9 bytes, 12.1 GiB) of its 16 GiB usable, ``v100-32gb``
29 GiB. AlpaServe's artifact budgets "13 GB" per 16 GB V100 as ``13 * 1024**3`` bytes (13 GiB,
5 bert-1.3b per device instead of 4): reproduce it with ``with_usable_memory(13 * GIB)``,
``plan(..., memory_budget=13 * GIB)`` or ``alpaserve plan --memory-gib 13``. Prices are per
device-hour on AWS us-east-1 on-demand (p3, p3dn, p4d, p4de, p5, g4dn, c5 instances divided
by their GPU count), and typical spot prices; for T4 the spot/on-demand pair is
SpotServe's $1.90/h vs $3.91/h for a 4×T4 g4dn node.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from alpaserve._validation import (
    non_empty_name,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    preset,
)
from alpaserve.errors import SpecError

GB = 1_000_000_000
GIB = 1 << 30


@dataclass(frozen=True, kw_only=True)
class DeviceSpec:
    """One accelerator.

    Parameters
    ----------
    name : str
        Preset or custom name; non-empty.
    peak_flops : float
        Peak dense fp16 FLOP/s; positive.
    memory_bandwidth : float
        Device memory bandwidth in bytes/s; positive.
    memory_bytes : int
        Device memory in bytes; positive.
    reserved_bytes : int, default 0
        Memory the framework keeps for itself, in bytes; below ``memory_bytes``.
    price_on_demand, price_spot : float, default 0.0
        USD per device-hour on each market; non-negative.
    kind : str, default "gpu"
        Device kind (``"gpu"``, ``"cpu"``, ...).
    num_sms : int, default 0
        Streaming multiprocessors, for wave quantization of matmuls; 0 turns it off.

    Raises
    ------
    SpecError
        If a value is out of range or ``reserved_bytes`` leaves no memory.

    Examples
    --------
    >>> v100 = device_preset("v100-16gb")
    >>> round(v100.usable_memory_bytes / 1e9)
    13
    """

    name: str
    peak_flops: float
    memory_bandwidth: float
    memory_bytes: int
    reserved_bytes: int = 0
    price_on_demand: float = 0.0
    price_spot: float = 0.0
    kind: str = "gpu"
    num_sms: int = 0

    def __post_init__(self) -> None:
        owner = f"DeviceSpec({self.name!r})"
        non_empty_name("DeviceSpec", "name", self.name)
        positive_float(owner, "peak_flops", self.peak_flops)
        positive_float(owner, "memory_bandwidth", self.memory_bandwidth)
        positive_int(owner, "memory_bytes", self.memory_bytes)
        non_negative_int(owner, "reserved_bytes", self.reserved_bytes)
        if self.reserved_bytes >= self.memory_bytes:
            raise SpecError(f"{owner}.reserved_bytes={self.reserved_bytes} leaves no memory "
                            f"of memory_bytes={self.memory_bytes}")
        non_negative_float(owner, "price_on_demand", self.price_on_demand)
        non_negative_float(owner, "price_spot", self.price_spot)
        non_empty_name(owner, "kind", self.kind)
        non_negative_int(owner, "num_sms", self.num_sms)

    @property
    def usable_memory_bytes(self) -> int:
        """Memory available for weights, activations and KV cache."""
        return self.memory_bytes - self.reserved_bytes

    def with_usable_memory(self, budget: int) -> DeviceSpec:
        """This device with exactly ``budget`` bytes usable (the rest reserved).

        Parameters
        ----------
        budget
            Usable bytes per device, at most ``memory_bytes``.

        Returns
        -------
        DeviceSpec
            A copy whose ``reserved_bytes`` is ``memory_bytes - budget``.

        Examples
        --------
        >>> v100 = device_preset("v100-16gb").with_usable_memory(13 * GIB)
        >>> v100.usable_memory_bytes == 13 * GIB, v100.name
        (True, 'v100-16gb')
        """
        positive_int(f"DeviceSpec({self.name!r})", "memory budget", budget)
        if budget > self.memory_bytes:
            raise SpecError(f"memory budget {budget} bytes ({budget / GIB:.2f} GiB) exceeds "
                            f"the {self.memory_bytes / GIB:.2f} GiB of {self.name!r}")
        return replace(self, reserved_bytes=self.memory_bytes - int(budget))

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict.

        Returns
        -------
        dict of str to Any
            Every field by name; :meth:`from_dict` inverts it.

        Examples
        --------
        >>> DeviceSpec.from_dict(device_preset("t4").to_dict()) == device_preset("t4")
        True
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceSpec:
        """Build a spec from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : dict of str to Any
            The fields by name; missing ones take their defaults.

        Returns
        -------
        DeviceSpec
            The validated spec.

        Raises
        ------
        SpecError
            If a key is unknown, a required field is missing or a value is out of range.

        Examples
        --------
        >>> DeviceSpec.from_dict({"name": "x", "peak_flops": 1e12, "memory_bandwidth": 1e11,
        ...                      "memory_bytes": 8 * GIB}).usable_memory_bytes == 8 * GIB
        True
        """
        try:
            return cls(**data)
        except TypeError as exc:
            raise SpecError(f"cannot build a DeviceSpec from {data!r}: {exc}") from exc


def _presets() -> dict[str, DeviceSpec]:
    specs = [
        DeviceSpec(name="v100-16gb", peak_flops=125e12, memory_bandwidth=900e9,
                   memory_bytes=16 * GIB, reserved_bytes=16 * GIB - 13 * GB,
                   price_on_demand=3.06, price_spot=0.92, num_sms=80),
        DeviceSpec(name="v100-32gb", peak_flops=125e12, memory_bandwidth=900e9,
                   memory_bytes=32 * GIB, reserved_bytes=3 * GIB,
                   price_on_demand=3.90, price_spot=1.17, num_sms=80),
        DeviceSpec(name="a100-40gb", peak_flops=312e12, memory_bandwidth=1555e9,
                   memory_bytes=40 * GIB, reserved_bytes=3 * GIB,
                   price_on_demand=4.10, price_spot=1.23, num_sms=108),
        DeviceSpec(name="a100-80gb", peak_flops=312e12, memory_bandwidth=2039e9,
                   memory_bytes=80 * GIB, reserved_bytes=4 * GIB,
                   price_on_demand=5.12, price_spot=1.54, num_sms=108),
        DeviceSpec(name="h100-80gb", peak_flops=989e12, memory_bandwidth=3350e9,
                   memory_bytes=80 * GIB, reserved_bytes=4 * GIB,
                   price_on_demand=12.29, price_spot=3.69, num_sms=132),
        DeviceSpec(name="t4", peak_flops=65e12, memory_bandwidth=320e9,
                   memory_bytes=16 * GIB, reserved_bytes=2 * GIB,
                   price_on_demand=3.912 / 4, price_spot=1.90 / 4, num_sms=40),
        DeviceSpec(name="cpu", peak_flops=2.0e12, memory_bandwidth=80e9,
                   memory_bytes=64 * GIB, reserved_bytes=4 * GIB,
                   price_on_demand=0.68, price_spot=0.26, kind="cpu"),
    ]
    return {s.name: s for s in specs}


def device_preset_names() -> tuple[str, ...]:
    """Names of the device presets.

    Returns
    -------
    tuple of str
        Every name :func:`device_preset` accepts.

    Examples
    --------
    >>> device_preset_names()[:2]
    ('v100-16gb', 'v100-32gb')
    """
    return tuple(_presets())


def device_preset(name: str) -> DeviceSpec:
    """Return the device preset called ``name`` (case-insensitive).

    Parameters
    ----------
    name : str
        A name of :func:`device_preset_names`, in any case.

    Returns
    -------
    DeviceSpec
        The preset.

    Raises
    ------
    SpecError
        If no preset has that name.

    Examples
    --------
    >>> device_preset("A100-80GB").num_sms
    108
    """
    return preset(_presets(), name, "device")
