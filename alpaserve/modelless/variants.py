"""Model variants for model-less serving (INFaaS): hardware types and variants.

A *variant* is one way to serve a task: an architecture (ResNet-50, MobileNet-v2, ...) in a
framework or with an optimisation (TensorFlow, TensorRT, Neuron, ...) on one hardware type
(a CPU VM, a GPU VM, an accelerator VM). Its latency for a batch of ``b`` inputs is modelled as
``slope × b + intercept``, fitted by least squares from profiled points
(:func:`~alpaserve.modelless.latency_fit.fit_latency`, re-exported here with
:class:`LatencyFit`). The registry that holds variants per task is in
:mod:`alpaserve.modelless.registry`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from alpaserve._validation import (
    non_empty_name,
    non_negative_float,
    positive_int,
)
from alpaserve.errors import ProfileError, SpecError
from alpaserve.modelless.latency_fit import LatencyFit, fit_latency

__all__ = ["HARDWARE_KINDS", "HardwareType", "LatencyFit", "Variant", "fit_latency"]

HARDWARE_KINDS = ("cpu", "gpu", "accelerator")


@dataclass(frozen=True, kw_only=True)
class HardwareType:
    """A kind of worker (a VM with its devices) that variants run on.

    Parameters
    ----------
    name : str
        Unique name of the type (non-empty).
    kind : str
        ``cpu``, ``gpu`` or ``accelerator``.
    price_per_hour : float
        Dollars per hour for one worker (>= 0).
    startup_time : float
        Seconds from request to a worker ready to load variants (>= 0).
    memory_bytes : int
        Memory for the variants loaded on one worker, bytes (> 0).
    description : str
        Free text.

    Raises
    ------
    SpecError
        If a value is out of range.

    Examples
    --------
    >>> hw = HardwareType(name="cpu", kind="cpu", price_per_hour=0.17, startup_time=30.0,
    ...                   memory_bytes=8 << 30)
    >>> hw.price_per_second * 3600
    0.17
    """

    name: str
    kind: str
    price_per_hour: float
    startup_time: float
    memory_bytes: int
    description: str = ""

    def __post_init__(self) -> None:
        owner = f"HardwareType({self.name!r})"
        non_empty_name("HardwareType", "name", self.name)
        if self.kind not in HARDWARE_KINDS:
            raise SpecError(f"{owner}.kind must be one of {HARDWARE_KINDS}, got {self.kind!r}")
        non_negative_float(owner, "price_per_hour", self.price_per_hour)
        non_negative_float(owner, "startup_time", self.startup_time)
        positive_int(owner, "memory_bytes", self.memory_bytes)

    @property
    def price_per_second(self) -> float:
        return self.price_per_hour / 3600.0

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict.

        Returns
        -------
        dict
            The fields by name.
        """
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class Variant:
    """One servable version of a task: architecture × framework × hardware.

    Parameters
    ----------
    task : str
        Task the variant serves.
    name : str
        Name, unique within the task.
    architecture : str
        Model architecture (``resnet50``, ...).
    framework : str
        Framework or optimisation (``tensorflow``, ``tensorrt-fp16``, ...).
    hardware : str
        Name of its :class:`HardwareType`.
    accuracy : float
        Top-1 accuracy, percent in [0, 100].
    latency_slope : float
        Seconds per item of a batch (>= 0).
    latency_intercept : float
        Seconds per batch (>= 0; slope + intercept > 0).
    load_latency : float
        Seconds to load it on a ready worker (>= 0).
    peak_memory_bytes : int
        Peak memory while serving, bytes (> 0).
    max_batch : int
        Largest batch it runs (>= 1).
    price_per_hour : float
        Dollars per hour of one worker of ``hardware``.

    Raises
    ------
    SpecError
        If a value is out of range.

    Examples
    --------
    >>> v = Variant(task="classification", name="resnet50-cpu", architecture="resnet50",
    ...             framework="tensorflow", hardware="cpu", accuracy=74.9,
    ...             latency_slope=0.04, latency_intercept=0.005, load_latency=2.0,
    ...             peak_memory_bytes=500 << 20, max_batch=4, price_per_hour=0.17)
    >>> round(v.latency(4), 3), round(v.throughput(4), 1)
    (0.165, 24.2)
    >>> v.max_batch_within(0.1), round(v.capacity(0.2), 1)
    (2, 23.5)
    """

    task: str
    name: str
    architecture: str
    framework: str
    hardware: str
    accuracy: float
    latency_slope: float
    latency_intercept: float
    load_latency: float
    peak_memory_bytes: int
    max_batch: int
    price_per_hour: float

    def __post_init__(self) -> None:
        owner = f"Variant({self.name!r})"
        for name in ("task", "name", "architecture", "framework", "hardware"):
            non_empty_name("Variant", name, getattr(self, name))
        acc = non_negative_float(owner, "accuracy", self.accuracy)
        if acc > 100:
            raise SpecError(f"{owner}.accuracy is top-1 percent in [0, 100], got {acc!r}")
        non_negative_float(owner, "latency_slope", self.latency_slope)
        non_negative_float(owner, "latency_intercept", self.latency_intercept)
        if self.latency_slope + self.latency_intercept <= 0:
            raise SpecError(f"{owner} has zero latency at batch 1 "
                            f"(slope {self.latency_slope!r}, intercept "
                            f"{self.latency_intercept!r})")
        non_negative_float(owner, "load_latency", self.load_latency)
        positive_int(owner, "peak_memory_bytes", self.peak_memory_bytes)
        positive_int(owner, "max_batch", self.max_batch)
        non_negative_float(owner, "price_per_hour", self.price_per_hour)

    # ------------------------------------------------------------------ performance
    def latency(self, batch: int = 1) -> float:
        """Predicted latency of one batch of ``batch`` inputs (seconds).


        Parameters
        ----------
        batch : int
            Inputs in the batch.

        Returns
        -------
        float
            ``slope × batch + intercept``, seconds.
        """
        return self.latency_slope * batch + self.latency_intercept

    def throughput(self, batch: int | None = None) -> float:
        """Inputs per second when running back-to-back batches of ``batch`` (default max).


        Parameters
        ----------
        batch : int or None
            Batch size; None means ``max_batch``.

        Returns
        -------
        float
            Inputs per second.
        """
        b = self.max_batch if batch is None else batch
        return b / self.latency(b)

    def max_batch_within(self, budget: float) -> int:
        """Largest batch (≤ ``max_batch``) whose latency fits ``budget``; 0 if none does.


        Parameters
        ----------
        budget : float
            Seconds available (``inf`` allowed).

        Returns
        -------
        int
            A batch size in ``[0, max_batch]``.
        """
        if self.latency_slope == 0 or math.isinf(budget):
            return self.max_batch if self.latency_intercept <= budget else 0
        b = math.floor((budget - self.latency_intercept) / self.latency_slope + 1e-9)
        return max(0, min(self.max_batch, b))

    def capacity(self, slo: float) -> float:
        """Sustainable inputs per second of one replica under a latency SLO.

        Queries wait for the batch ahead of theirs and then run in their own, so a batch
        size ``b`` meets the SLO when ``2 × latency(b) ≤ slo`` in the worst case; the
        capacity is the throughput at the largest such batch (0 if even batch 1 is too slow).

        Parameters
        ----------
        slo : float
            Latency SLO, seconds.

        Returns
        -------
        float
            Inputs per second of one replica; 0 when batch 1 misses the SLO.
        """
        b = self.max_batch_within(slo / 2.0)
        if b == 0:
            return 0.0 if self.latency(1) > slo else self.throughput(1)
        return self.throughput(b)

    @property
    def price_per_second(self) -> float:
        return self.price_per_hour / 3600.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.task, self.name)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_points(cls, *, batch_sizes: Sequence[int], latencies: Sequence[float],
                    max_fit_error: float | None = None, **fields: Any) -> Variant:
        """Build a variant whose latency line is fitted from profiled points.

        ``max_fit_error`` (relative) rejects profiles that a line does not describe.

        Parameters
        ----------
        batch_sizes : sequence of int
            Profiled batch sizes.
        latencies : sequence of float
            Their latencies, seconds.
        max_fit_error : float or None
            Largest relative error allowed at a point; None accepts any fit.
        **fields
            The other fields of :class:`Variant`.

        Returns
        -------
        Variant
            With the fitted slope and intercept.

        Raises
        ------
        ProfileError
            If the points cannot be fitted or the fit is worse than ``max_fit_error``.

        Examples
        --------
        >>> v = Variant.from_points(batch_sizes=[1, 4], latencies=[0.03, 0.06],
        ...     task="t", name="v", architecture="a", framework="f", hardware="cpu",
        ...     accuracy=70.0, load_latency=1.0, peak_memory_bytes=1, max_batch=4,
        ...     price_per_hour=0.1)
        >>> round(v.latency_slope, 3), round(v.latency_intercept, 3)
        (0.01, 0.02)
        """
        fit = fit_latency(batch_sizes, latencies)
        if max_fit_error is not None and fit.max_relative_error > max_fit_error:
            raise ProfileError(f"variant {fields.get('name')!r}: a line fits its profile only "
                               f"within {fit.max_relative_error:.1%}, above the allowed "
                               f"{max_fit_error:.1%}")
        return cls(latency_slope=fit.slope, latency_intercept=fit.intercept, **fields)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict.

        Returns
        -------
        dict
            The fields by name (:meth:`from_dict` reads it back).
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Variant:
        """A variant from a plain dict.

        Parameters
        ----------
        data : dict
            Fields by name, as :meth:`to_dict` writes them.

        Returns
        -------
        Variant
            The variant.

        Raises
        ------
        SpecError
            If a field is missing, unknown or out of range.
        """
        try:
            return cls(**data)
        except TypeError as exc:
            raise SpecError(f"cannot build a Variant from {data!r}: {exc}") from exc
