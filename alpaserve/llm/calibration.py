"""Calibrate the analytic LLM cost model on measured operators, and report its error.

:func:`fit_efficiency` fits the compute constants of
:class:`~alpaserve.llm.efficiency.Efficiency` (matmul and memory fractions, elementwise
bandwidth, per-kernel time, roofline blend) by least squares on the relative error of the
per-layer non-attention time, over every (model, tensor degree, token count) measured on one
GPU kind. :func:`fit_link` fits a collective's alpha-beta constants (latency, bus bandwidth)
by weighted linear least squares on its relative error. :func:`operator_error_table` and
:func:`link_error_table` report the error the constants leave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import ProfileError, SpecError
from alpaserve.llm.analytic import LAYER_OPERATORS, allreduce_seconds, layer_operator_times
from alpaserve.llm.collectives import CollectiveProfile
from alpaserve.llm.efficiency import Efficiency
from alpaserve.llm.spec import LLMSpec
from alpaserve.llm.vidur import OperatorProfile

Floats = npt.NDArray[np.float64]
# (field, lower bound, upper bound, scale) of the fitted compute constants.
_FITTED = (("matmul", 0.05, 1.0, 1.0), ("memory", 0.05, 1.0, 1.0),
           ("elementwise", 0.05, 1.0, 1.0), ("kernel_s", 0.0, 5e-5, 1e-6),
           ("sharpness", 1.0, 50.0, 1.0))


@dataclass(frozen=True, kw_only=True)
class CalibrationCase:
    """One model's measured operators on one GPU kind.

    Parameters
    ----------
    spec : LLMSpec
        The model (must match the profile's shape).
    device : DeviceSpec
        The GPU kind the profile was measured on.
    profile : OperatorProfile
        The measured operators.

    Raises
    ------
    ProfileError
        If the profile does not describe ``spec``.
    """

    spec: LLMSpec
    device: DeviceSpec
    profile: OperatorProfile

    def __post_init__(self) -> None:
        self.profile.check_matches(self.spec)


@dataclass(frozen=True, kw_only=True)
class OperatorError:
    """Error of the analytic per-layer time against one measured (model, GPU, tp).

    Parameters
    ----------
    model : str
        Model name.
    device : str
        Device name.
    tp : int
        Tensor degree.
    points : int
        Token counts compared.
    median, p90, max : float
        Of ``|predicted / measured - 1|`` of the per-layer non-attention total.
    bias : float
        Median of ``predicted / measured - 1`` (positive: the model is slower).
    per_operator : mapping of str to float
        Median ``|predicted / measured - 1|`` of each operator.
    """

    model: str
    device: str
    tp: int
    points: int
    median: float
    p90: float
    max: float
    bias: float
    per_operator: MappingProxyType[str, float]


def _relative_errors(case: CalibrationCase, tp: int, eff: Efficiency,
                     ) -> tuple[Floats, dict[str, Floats]]:
    n = case.profile.tokens[tp]
    pred = layer_operator_times(case.spec, case.device, tp=tp, tokens=n, efficiency=eff)
    meas = case.profile.seconds[tp]
    total_p = sum(pred.values(), np.zeros_like(n))
    total_m = case.profile.layer_seconds(tp=tp, tokens=n)
    per_op = {op: pred[op] / np.maximum(meas[op], 1e-12) - 1 for op in LAYER_OPERATORS}
    return np.asarray(total_p / total_m - 1, dtype=np.float64), per_op


def _usable_degrees(case: CalibrationCase) -> list[int]:
    out = []
    for tp in case.profile.tensor_degrees:
        try:
            case.spec.check_tensor_degree(tp)
        except SpecError:
            continue
        out.append(tp)
    return out


def fit_efficiency(cases: Sequence[CalibrationCase], *,
                   start: Efficiency | None = None) -> Efficiency:
    """Least-squares fit of the compute constants on the measured per-layer times.

    Parameters
    ----------
    cases : sequence of CalibrationCase
        Measured models, all on one GPU kind.
    start : Efficiency, optional
        Initial constants (and the unfitted link constants kept); defaults to
        ``Efficiency()``.

    Returns
    -------
    Efficiency
        ``start`` with ``matmul``, ``memory``, ``elementwise``, ``kernel_s`` and
        ``sharpness`` fitted.

    Raises
    ------
    ProfileError
        If ``cases`` is empty.
    """
    from scipy.optimize import least_squares  # lazy: scipy is slow to import

    if not cases:
        raise ProfileError("fit_efficiency needs at least one measured profile")
    base = start if start is not None else Efficiency()

    def build(x: Floats) -> Efficiency:
        return replace(base, **{name: float(min(hi, max(lo, v * scale)))
                                for (name, lo, hi, scale), v in zip(_FITTED, x, strict=True)})

    def residuals(x: Floats) -> Floats:
        eff = build(x)
        return np.concatenate([_relative_errors(c, tp, eff)[0] for c in cases
                               for tp in _usable_degrees(c)])

    x0 = np.array([getattr(base, name) / scale for name, _, _, scale in _FITTED])
    lower = np.array([lo / scale for _, lo, _, scale in _FITTED])
    upper = np.array([hi / scale for _, _, hi, scale in _FITTED])
    fit = least_squares(residuals, np.clip(x0, lower, upper), bounds=(lower, upper))
    return build(fit.x)


def operator_error_table(cases: Sequence[CalibrationCase],
                         efficiency: Efficiency | None = None) -> list[OperatorError]:
    """The analytic model's error on every measured (model, GPU, tp).

    Parameters
    ----------
    cases : sequence of CalibrationCase
        Measured models.
    efficiency : Efficiency, optional
        Constants; by default each device's calibrated ones.

    Returns
    -------
    list of OperatorError
        One row per case and usable tensor degree.
    """
    from alpaserve.llm.efficiency import calibrated_efficiency

    rows = []
    for case in cases:
        eff = efficiency if efficiency is not None else calibrated_efficiency(case.device)
        for tp in _usable_degrees(case):
            err, per_op = _relative_errors(case, tp, eff)
            absolute = np.abs(err)
            rows.append(OperatorError(
                model=case.spec.name, device=case.device.name, tp=tp, points=int(err.size),
                median=float(np.median(absolute)), p90=float(np.quantile(absolute, 0.9)),
                max=float(absolute.max()), bias=float(np.median(err)),
                per_operator=MappingProxyType({op: float(np.median(np.abs(e)))
                                               for op, e in per_op.items()})))
    return rows


@dataclass(frozen=True, kw_only=True)
class LinkFit:
    """Alpha-beta constants of a collective and the error they leave.

    Parameters
    ----------
    num_workers : int
        Devices taking part.
    devices_per_node : int
        Of them per node.
    latency_s : float
        Fitted fixed seconds.
    bandwidth : float
        Fitted bus bandwidth, bytes/s (all-reduce: of ``2 (w - 1) / w`` times the bytes).
    median, p90 : float
        Of ``|predicted / measured - 1|`` over the measured sizes.
    """

    num_workers: int
    devices_per_node: int
    latency_s: float
    bandwidth: float
    median: float
    p90: float


def _traffic(profile: CollectiveProfile, workers: int, sizes: Floats) -> Floats:
    factor = 2.0 * (workers - 1) / workers if profile.collective == "all_reduce" else 1.0
    return np.asarray(factor * sizes, dtype=np.float64)


def fit_link(profile: CollectiveProfile, *, num_workers: int,
             devices_per_node: int | None = None, min_bytes: float = 0.0) -> LinkFit:
    """Fit ``latency + traffic / bandwidth`` to a measured collective.

    Parameters
    ----------
    profile : CollectiveProfile
        The measured collective.
    num_workers : int
        Devices taking part.
    devices_per_node : int, optional
        Of them per node; by default all on one node.
    min_bytes : float, default 0
        Smallest message used in the fit.

    Returns
    -------
    LinkFit
        The constants (latency >= 0) and their error.

    Raises
    ------
    ProfileError
        If that group was not measured or has fewer than two messages.
    """
    per_node = num_workers if devices_per_node is None else devices_per_node
    key = (num_workers, per_node)
    if key not in profile.sizes:
        raise ProfileError(f"{profile.path}: no {profile.collective} measured for "
                           f"(num_workers, devices_per_node)={key}; measured: "
                           f"{sorted(profile.sizes)}")
    keep = profile.sizes[key] >= min_bytes
    sizes, times = profile.sizes[key][keep], profile.seconds[key][keep]
    if sizes.size < 2 or np.any(times <= 0):
        raise ProfileError(f"{profile.path}: need two positive times to fit {key}")
    traffic = _traffic(profile, num_workers, sizes)
    design = np.column_stack([1.0 / times, traffic / times])
    (alpha, beta), *_ = np.linalg.lstsq(design, np.ones_like(times), rcond=None)
    alpha, beta = max(0.0, float(alpha)), max(float(beta), 1e-15)
    err = np.abs((alpha + beta * traffic) / times - 1)
    return LinkFit(num_workers=num_workers, devices_per_node=per_node, latency_s=alpha,
                   bandwidth=1.0 / beta, median=float(np.median(err)),
                   p90=float(np.quantile(err, 0.9)))


def allreduce_error(profile: CollectiveProfile, efficiency: Efficiency, *, num_workers: int,
                    gpus_per_node: int = 8) -> tuple[float, float]:
    """Median and p90 relative error of the analytic all-reduce against a measured one.

    Parameters
    ----------
    profile : CollectiveProfile
        A measured all-reduce.
    efficiency : Efficiency
        The analytic constants.
    num_workers : int
        Devices taking part (on ``min(num_workers, gpus_per_node)`` per node).
    gpus_per_node : int, default 8
        Devices per node.

    Returns
    -------
    tuple of float
        ``(median, p90)`` of ``|predicted / measured - 1|``.
    """
    per_node = min(num_workers, gpus_per_node)
    sizes = profile.sizes[(num_workers, per_node)]
    measured = profile.time_s(sizes, num_workers=num_workers, devices_per_node=per_node)
    predicted = allreduce_seconds(sizes, tp=num_workers, efficiency=efficiency,
                                  inter_node=num_workers > gpus_per_node)
    err = np.abs(predicted / measured - 1)
    return float(np.median(err)), float(np.quantile(err, 0.9))


def efficiency_fields(efficiency: Efficiency) -> dict[str, float]:
    """The constants as a dict, for printing.

    Parameters
    ----------
    efficiency : Efficiency
        The constants.

    Returns
    -------
    dict of str to float
        Every field.
    """
    return {f.name: float(getattr(efficiency, f.name)) for f in fields(efficiency)}
