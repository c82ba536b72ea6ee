"""Comparing two results of the same requests: attainment, latency and per-request agreement.

:func:`compare_results` takes any two results with the :class:`ResultLike` columns (the
runtime's :class:`RunResult`, the simulator's ``SimResult``) for the *same* requests and
reports SLO attainment overall and per model, the difference in percentage points
(real minus simulated), latency percentiles of the served requests, and how often the two
agree request by request on status and group. :mod:`alpaserve.runtime.fidelity` produces
such reports from real runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alpaserve.errors import SimulationError
from alpaserve.runtime.replay_check import ReplayReport
from alpaserve.runtime.result import RequestStatus, ResultLike, attainment, latency
from alpaserve.runtime.stationarity import Stationarity, Tolerance

DEFAULT_PERCENTILES = (50.0, 90.0, 99.0)


@dataclass(frozen=True, kw_only=True)
class FidelityReport:
    """Real vs simulated outcomes of the same requests (differences are real - sim).

    Parameters
    ----------
    num_requests : int
        Requests compared.
    attainment_real, attainment_sim : float
        SLO attainment of the real run and of the simulation.
    per_model_real, per_model_sim : dict of str to float
        Attainment per model.
    percentiles : tuple of float
        The latency percentiles compared.
    latency_real, latency_sim : tuple of float
        Latency in seconds at each percentile (served requests).
    status_counts_real, status_counts_sim : dict of str to int
        Requests per outcome.
    status_agreement : float
        Fraction of requests with the same outcome in both.
    group_agreement : float
        Fraction of requests served by the same group in both.
    extra : dict, optional
        Run metadata (profiles, SLOs, timings).
    host : Stationarity, optional
        What the host did during the run, when probed.
    replay : ReplayReport, optional
        How closely the simulator reproduced the run given its measured timings
        (:mod:`alpaserve.runtime.replay_check`), when the run recorded them.
    contention : dict, optional
        When the prediction is the contention-aware one
        (:func:`simulator.contention.predict_contended`): its curves, lone latencies, rounds,
        ``predicted_attainment_uncontended``, the plain simulator's attainment, and (with a
        curve per group) ``predicted_attainment_one_curve``, the prediction with one curve
        pooled over every group.
    """

    num_requests: int
    attainment_real: float
    attainment_sim: float
    per_model_real: dict[str, float]
    per_model_sim: dict[str, float]
    percentiles: tuple[float, ...]
    latency_real: tuple[float, ...]
    latency_sim: tuple[float, ...]
    status_counts_real: dict[str, int]
    status_counts_sim: dict[str, int]
    status_agreement: float
    group_agreement: float
    extra: dict[str, Any] = field(default_factory=dict)
    host: Stationarity | None = None  # what the run saw of the host (measure_fidelity)
    replay: ReplayReport | None = None
    contention: dict[str, Any] | None = None

    @property
    def host_steady(self) -> bool | None:
        """Whether the host was steady by the default :class:`Tolerance` (``None``: not
        probed)."""
        return None if self.host is None else not self.host.violations(Tolerance())

    @property
    def attainment_diff_pp(self) -> float:
        """Real minus simulated attainment, in percentage points."""
        return 100.0 * (self.attainment_real - self.attainment_sim)

    @property
    def per_model_diff_pp(self) -> dict[str, float]:
        return {m: 100.0 * (self.per_model_real[m] - self.per_model_sim[m])
                for m in self.per_model_real}

    @property
    def latency_diff(self) -> tuple[float, ...]:
        return tuple(r - s for r, s in zip(self.latency_real, self.latency_sim, strict=True))

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values, differences included.

        Returns
        -------
        dict
            Every field, plus ``attainment_diff_pp``, per-model differences, and the
            summary keys ``predicted_attainment``, ``measured_attainment``,
            ``replay_agreement`` and ``host_steady``. NaN becomes ``None``.
        """
        return _json_safe({
            "predicted_attainment": self.attainment_sim,
            "predicted_attainment_uncontended": (
                self.attainment_sim if self.contention is None
                else self.contention["predicted_attainment_uncontended"]),
            "prediction": "plain" if self.contention is None else "contention-aware",
            "measured_attainment": self.attainment_real,
            "replay_agreement": None if self.replay is None else self.replay.agreement,
            "host_steady": self.host_steady,
            "num_requests": self.num_requests,
            "attainment_real": self.attainment_real,
            "attainment_sim": self.attainment_sim,
            "attainment_diff_pp": self.attainment_diff_pp,
            "per_model_real": self.per_model_real,
            "per_model_sim": self.per_model_sim,
            "per_model_diff_pp": self.per_model_diff_pp,
            "percentiles": list(self.percentiles),
            "latency_real": list(self.latency_real),
            "latency_sim": list(self.latency_sim),
            "latency_diff": list(self.latency_diff),
            "status_counts_real": self.status_counts_real,
            "status_counts_sim": self.status_counts_sim,
            "status_agreement": self.status_agreement,
            "group_agreement": self.group_agreement,
            **({"extra": self.extra} if self.extra else {}),
            **({"host": self.host.to_dict()} if self.host is not None else {}),
            **({"replay": self.replay.to_dict()} if self.replay is not None else {}),
            **({"contention": self.contention} if self.contention is not None else {}),
        })

    def format(self) -> str:
        """A plain-text table.

        Returns
        -------
        str
            Attainment, per-model attainment, latency percentiles and outcome counts, real vs sim.
        """
        lines = [f"requests: {self.num_requests}",
                 f"{'':<22}{'real':>10}{'sim':>10}{'diff':>10}",
                 f"{'attainment (%)':<22}{100 * self.attainment_real:>10.2f}"
                 f"{100 * self.attainment_sim:>10.2f}{self.attainment_diff_pp:>+10.2f}"]
        for m in sorted(self.per_model_real):
            lines.append(f"{'  ' + m:<22}{100 * self.per_model_real[m]:>10.2f}"
                         f"{100 * self.per_model_sim[m]:>10.2f}"
                         f"{self.per_model_diff_pp[m]:>+10.2f}")
        for p, r, s in zip(self.percentiles, self.latency_real, self.latency_sim, strict=True):
            lines.append(f"{f'latency p{p:g} (ms)':<22}{1e3 * r:>10.3f}{1e3 * s:>10.3f}"
                         f"{1e3 * (r - s):>+10.3f}")
        for st in RequestStatus:
            name = st.name.lower()
            lines.append(f"{name:<22}{self.status_counts_real[name]:>10d}"
                         f"{self.status_counts_sim[name]:>10d}")
        lines.append(f"same status: {100 * self.status_agreement:.1f}%   "
                     f"same group (both served): {100 * self.group_agreement:.1f}%")
        c = self.contention
        if c is None:
            lines.append("prediction: the simulator (each stage its profiled latency)")
        else:
            curves = c.get("group_curves") or [c["curve"]]
            curve = " | ".join(", ".join(f"{s:.2f}" for s in g["slowdown"]) for g in curves)
            per = " per group" if len(curves) > 1 else ""
            lines.append(f"prediction: contention-aware (slowdown by stages busy{per}, 1..: "
                         f"{curve}; {c['rounds']} rounds, "
                         f"{'converged' if c['converged'] else 'NOT converged'}); the "
                         f"simulator alone: {100 * c['predicted_attainment_uncontended']:.2f}%")
            if "predicted_attainment_one_curve" in c:
                lines.append(f"  with one curve for every group: "
                             f"{100 * c['predicted_attainment_one_curve']:.2f}%")
            if c.get("shift") is not None:
                lines.append(f"  calibrated before and after the run (their average used; "
                             f"they differ by {100 * c['shift']:.1f}%)")
        if self.replay is not None:
            rp = self.replay
            lines.append(f"replay with the measured timings: {100 * rp.agreement:.1f}% of "
                         f"requests reproduced, {rp.rule_violations} rule violations, "
                         f"handoff p99 {1e3 * rp.handoff_p99:.3f} ms")
        if self.host is not None:
            lines.append(f"host: {self.host.describe()}")
        return "\n".join(lines)


def _percentiles(result: ResultLike, qs: Sequence[float]) -> tuple[float, ...]:
    served = np.asarray(result.status) == RequestStatus.SERVED
    lat = latency(result)[served]
    if not lat.size:
        return tuple(float("nan") for _ in qs)
    return tuple(float(x) for x in np.percentile(lat, list(qs)))


def compare_results(real: ResultLike, sim: ResultLike, *,
                    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
                    arrival_tolerance: float = 1e-6) -> FidelityReport:
    """Compare two results of the same requests field by field.

    Parameters
    ----------
    real, sim : RunResult or SimResult
        Outcomes of the same requests.
    percentiles : sequence of float, default (50, 90, 99)
        Latency percentiles to compare.
    arrival_tolerance : float, default 1e-6
        The largest arrival-time difference, in seconds, still counted as the same request.

    Returns
    -------
    FidelityReport
        Differences are real minus sim.

    Raises
    ------
    SimulationError
        When the two results do not hold the same requests.

    Examples
    --------
    >>> from alpaserve.runtime.result import RunResult
    >>> def mk(fin, st):
    ...     return RunResult.from_columns(arrival=[0, 0, 1, 1], start=[0, 0, 1, 1],
    ...         finish=fin, group=[0, 0, 0, 0], status=st, model_codes=[0, 1, 0, 1],
    ...         model_names=("a", "b"), slo=[1, 1, 1, 1])
    >>> rep = compare_results(mk([0.5, 0.5, 1.5, 2.5], [0, 0, 0, 0]),
    ...                       mk([0.5, 0.5, 1.5, 1.5], [0, 0, 0, 0]))
    >>> rep.attainment_diff_pp, rep.per_model_diff_pp
    (-25.0, {'a': 0.0, 'b': -50.0})
    """
    n = len(np.asarray(real.arrival))
    if len(np.asarray(sim.arrival)) != n:
        raise SimulationError(f"cannot compare results of {n} and "
                              f"{len(np.asarray(sim.arrival))} requests")
    if tuple(real.model_names) != tuple(sim.model_names) or not np.array_equal(
            real.model_codes, sim.model_codes):
        raise SimulationError("the two results are for different request models")
    if n and not np.allclose(real.arrival, sim.arrival, rtol=0, atol=arrival_tolerance):
        worst = float(np.max(np.abs(np.asarray(real.arrival) - np.asarray(sim.arrival))))
        raise SimulationError(f"the two results' arrivals differ by up to {worst!r}s; "
                              "were they run on the same (scaled) workload?")
    codes = np.asarray(real.model_codes)
    names = tuple(real.model_names)
    present = [i for i in range(len(names)) if np.any(codes == i)]
    real_st, sim_st = np.asarray(real.status), np.asarray(sim.status)
    both = (real_st == RequestStatus.SERVED) & (sim_st == RequestStatus.SERVED)
    return FidelityReport(
        num_requests=n,
        attainment_real=attainment(real), attainment_sim=attainment(sim),
        per_model_real={names[i]: attainment(real, codes == i) for i in present},
        per_model_sim={names[i]: attainment(sim, codes == i) for i in present},
        percentiles=tuple(float(p) for p in percentiles),
        latency_real=_percentiles(real, percentiles),
        latency_sim=_percentiles(sim, percentiles),
        status_counts_real={s.name.lower(): int(np.sum(real_st == s)) for s in RequestStatus},
        status_counts_sim={s.name.lower(): int(np.sum(sim_st == s)) for s in RequestStatus},
        status_agreement=float(np.mean(real_st == sim_st)) if n else 1.0,
        group_agreement=(float(np.mean(np.asarray(real.group)[both]
                                       == np.asarray(sim.group)[both]))
                         if both.any() else 1.0),
    )


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (strict JSON)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value
