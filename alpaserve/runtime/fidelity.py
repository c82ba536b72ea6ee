"""How closely a simulation predicts a real run: attainment and latency differences.

:func:`compare_results` takes any two results with the :class:`ResultLike` columns (the
runtime's :class:`RunResult`, the simulator's ``SimResult``) for the *same* requests and
reports SLO attainment overall and per model, the difference in percentage points
(real minus simulated), latency percentiles of the served requests, and how often the two
agree request by request on status and group.

:func:`measure_fidelity` runs a placement and workload through the :class:`Runtime`, then
through a simulator fed the profile the runtime measured, and compares them. The simulator is
a parameter (``simulate(placement, workload, profile, slo) -> ResultLike``); the default is
:func:`simulate_with_profile`, the library's simulator (:func:`simulator.simulate`) with its
default options, which are the policy the runtime's dispatcher implements.

Where and why a real run parts from its prediction (CPU contention, pipelines on shared
cores, dispatch overhead, timer jitter, other processes, a host whose speed drifts), with
what was measured of each, is ``docs/fidelity.rst``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from alpaserve.errors import SimulationError
from alpaserve.placement_spec import Placement
from alpaserve.profiles import ProfileDB
from alpaserve.runtime.bracket import ContentionCalibration, bracket
from alpaserve.runtime.comparison import DEFAULT_PERCENTILES, FidelityReport, compare_results
from alpaserve.runtime.contention import (
    Contention,
    calibrate_contention,
    contention_applies,
    lone_runs,
)
from alpaserve.runtime.host_load import cpu_sample, host_load
from alpaserve.runtime.replay_check import replay_check
from alpaserve.runtime.result import RequestStatus, ResultLike, RunResult, attainment
from alpaserve.runtime.stationarity import (
    Stationarity,
    Tolerance,
    alone_speed,
    profile_drift,
    service_tail,
)
from alpaserve.runtime.steady_runs import SteadyRuns, run_until_steady
from simulator import SimulationOptions
from simulator import simulate as run_simulation
from simulator.contention import predict_contended
from workloads import Workload

logger = logging.getLogger(__name__)

Simulate = Callable[[Placement, Workload, ProfileDB, Any], ResultLike]
def simulate_with_profile(placement: Placement, workload: Workload, profile: ProfileDB,
                          slo: float | dict[str, float] | None = None, *,
                          max_batch: int = 1) -> ResultLike:
    """The simulator's prediction of ``workload`` on ``placement`` with ``profile``.

    Parameters
    ----------
    placement : Placement
        The groups and hosted models.
    workload : Workload
        The requests.
    profile : ProfileDB
        The stage latencies to simulate with (e.g. measured on the runtime).
    slo : float or dict of str to float, optional
        SLO in seconds, one or per model; the workload's own by default.
    max_batch : int, default 1
        Largest batch (the runtime's ``max_batch``); the profile's sizes up to it are used.

    Returns
    -------
    SimResult
        The predicted outcome of every request.
    """
    return run_simulation(placement, profile, workload, SimulationOptions(max_batch=max_batch),
                          slo=slo)


def slo_from_latency(stage_latencies: dict[tuple[int, str], tuple[float, ...]],
                     scale: float) -> dict[str, float]:
    """Per model: ``scale`` x its single-request latency on its fastest group.

    Parameters
    ----------
    stage_latencies : dict of (int, str) to tuple of float
        ``(group, model) -> per-stage seconds``.
    scale : float
        The SLO multiple.

    Returns
    -------
    dict of str to float
        SLO in seconds per model.

    Examples
    --------
    >>> slo_from_latency({(0, "a"): (0.1, 0.1), (1, "a"): (0.15,)}, 5.0)
    {'a': 0.75}
    """
    out: dict[str, float] = {}
    for (_, model), lats in stage_latencies.items():
        total = scale * float(sum(lats))
        out[model] = min(out.get(model, total), total)
    return out


def measure_fidelity(placement: Placement, workload: Workload, *,
                     slo: float | dict[str, float] | None = None,
                     slo_scale: float | None = None, time_scale: float = 1.0,
                     simulate: Simulate | None = None,
                     runtime_options: dict[str, Any] | None = None,
                     percentiles: Sequence[float] = DEFAULT_PERCENTILES,
                     probe_host: bool = True, contention: Contention = "auto"
                     ) -> FidelityReport:
    """Serve ``workload`` on ``placement`` for real, simulate it with the measured profile,
    and compare.

    SLOs come from the workload, from ``slo``, or (``slo_scale``) as that multiple of each
    model's measured single-request latency (:func:`slo_from_latency`). ``runtime_options``
    go to :class:`~alpaserve.runtime.runtime.Runtime` (``devices``, ``backend``,
    ``repeats``...). The simulator sees the workload with its arrivals scaled by
    ``time_scale``, as the runtime replays it. With ``probe_host`` the serving-path profile
    is measured again after the run and the host's load recorded (:attr:`FidelityReport.host`,
    see :mod:`alpaserve.runtime.stationarity`); judging it is the caller's business, or use
    :func:`measure_fidelity_steady`.

    Parameters
    ----------
    placement : Placement
        The groups and the models they host.
    workload : Workload
        The requests to serve.
    slo : float or dict of str to float, optional
        SLO in seconds, one or per model; else from the workload or ``slo_scale``.
    slo_scale : float, optional
        SLO as this multiple of each model's measured single-request latency.
    time_scale : float, default 1.0
        Multiplies every arrival time (both the real replay and the simulation).
    simulate : callable, optional
        ``simulate(placement, workload, profile, slo)`` giving the prediction; the simulator
        by default (the mutation tests pass broken ones).
    runtime_options : dict, optional
        Keyword arguments of :class:`~alpaserve.runtime.runtime.Runtime`.
    percentiles : sequence of float, default (50, 90, 99)
        Latency percentiles to compare.
    probe_host : bool, default True
        Measure the profile again after the run and read the host's load.
    contention : {"auto", "on", "off"}, default "auto"
        Predict with the contention model
        (:func:`~alpaserve.runtime.contention.contention_applies`): the curve is calibrated
        just before and just after serving (:func:`~alpaserve.runtime.bracket.bracket`)
        and the report's ``contention`` holds their average, both parts, their shift and the
        plain simulator's attainment.

    Returns
    -------
    FidelityReport
        Real vs predicted outcomes; ``host`` filled in with ``probe_host``.
    """
    with _Session(placement, workload, slo=slo, slo_scale=slo_scale, time_scale=time_scale,
                  simulate=simulate, runtime_options=runtime_options,
                  percentiles=percentiles, contention=contention) as session:
        if not probe_host:
            return session.compare(session.serve(), attempt=0, host=None)
        return session.attempt(0, recalibrate=False)[0]


def measure_fidelity_steady(placement: Placement, workload: Workload, *,
                            slo: float | dict[str, float] | None = None,
                            slo_scale: float | None = None, time_scale: float = 1.0,
                            simulate: Simulate | None = None,
                            runtime_options: dict[str, Any] | None = None,
                            percentiles: Sequence[float] = DEFAULT_PERCENTILES,
                            needed: int = 3, max_attempts: int = 5,
                            tolerance: Tolerance | None = None,
                            contention: Contention = "auto") -> SteadyRuns[FidelityReport]:
    """:func:`measure_fidelity` repeated on one runtime until ``needed`` attempts saw a
    steady host (:func:`~alpaserve.runtime.stationarity.run_until_steady`).

    Each attempt recalibrates the serving-path profile (unless ``runtime_options`` gives a
    profile or turns calibration off), serves the workload with it, measures the profile
    again and reads the host's load; the simulator predicts with the profile the attempt
    served with. SLOs are fixed once, from the calibration when the runtime opens. When
    ``runs.complete``, judge ``runs.median(lambda r: r.attainment_diff_pp)``; otherwise
    ``runs.skip_reason()`` says what the host did.

    Parameters
    ----------
    placement : Placement
        The groups and the models they host.
    workload : Workload
        The requests to serve.
    slo : float or dict of str to float, optional
        SLO in seconds, one or per model; else from the workload or ``slo_scale``.
    slo_scale : float, optional
        SLO as this multiple of each model's measured single-request latency.
    time_scale : float, default 1.0
        Multiplies every arrival time (both the real replay and the simulation).
    simulate : callable, optional
        ``simulate(placement, workload, profile, slo)`` giving the prediction; the simulator
        by default (the mutation tests pass broken ones).
    runtime_options : dict, optional
        Keyword arguments of :class:`~alpaserve.runtime.runtime.Runtime`.
    percentiles : sequence of float, default (50, 90, 99)
        Latency percentiles to compare.
    needed : int, default 3
        Steady attempts wanted.
    max_attempts : int, default 5
        The most attempts made.
    tolerance : Tolerance, optional
        How unsteady a host may be; :class:`~alpaserve.runtime.stationarity.Tolerance`'s
        defaults when omitted.
    contention : {"auto", "on", "off"}, default "auto"
        Predict with the contention model
        (:func:`~alpaserve.runtime.contention.contention_applies`), its curve measured again
        just before and just after every attempt.

    Returns
    -------
    SteadyRuns of FidelityReport
        Every attempt with its host verdict.

    Examples
    --------
    See ``tests/test_runtime_fidelity.py``; it runs in real time, so no doctest.
    """
    with _Session(placement, workload, slo=slo, slo_scale=slo_scale, time_scale=time_scale,
                  simulate=simulate, runtime_options=runtime_options,
                  percentiles=percentiles, contention=contention) as session:
        return run_until_steady(lambda i: session.attempt(i, recalibrate=True),
                                needed=needed, max_attempts=max_attempts, tolerance=tolerance)


class _Session:
    """An open runtime, the workload with its SLOs fixed, and one attempt at a time."""

    def __init__(self, placement: Placement, workload: Workload, *,
                 slo: float | dict[str, float] | None, slo_scale: float | None,
                 time_scale: float, simulate: Simulate | None,
                 runtime_options: dict[str, Any] | None,
                 percentiles: Sequence[float], contention: Contention = "auto") -> None:
        from alpaserve.runtime.runtime import Runtime

        if slo_scale is not None and slo is not None:
            raise SimulationError("give slo or slo_scale, not both")
        self.contended = contention_applies(contention, placement, runtime_options or {},
                                            custom_simulator=simulate is not None)
        self.calibration: ContentionCalibration | None = None
        self.placement = placement
        self.workload = workload
        self.slo, self.slo_scale, self.time_scale = slo, slo_scale, time_scale
        max_batch = int((runtime_options or {}).get("max_batch", 1))
        self.simulate: Simulate = simulate if simulate is not None else (
            lambda p, w, prof, slo: simulate_with_profile(p, w, prof, slo, max_batch=max_batch))
        self.percentiles = percentiles
        self.runtime = Runtime(placement, **(runtime_options or {}))

    def __enter__(self) -> _Session:
        rt = self.runtime.open()
        try:
            if self.slo_scale is not None:
                self.slo = slo_from_latency(rt.stage_latencies(), self.slo_scale)
            slos = self.workload.slo_array(self.slo)
        except BaseException:
            rt.close()
            raise
        w = self.workload
        self.served = _with_slos(w, slos)
        self.scaled = Workload.from_arrays(arrival=np.asarray(w.arrival) * self.time_scale,
                                           model=w.model_codes, model_names=w.model_names,
                                           slo=slos)
        return self

    def __exit__(self, *exc: object) -> None:
        self.runtime.close()

    def _calibrated(self) -> ContentionCalibration:
        rt = self.runtime
        template = rt.kernel_profile if rt.kernel_profile is not None else rt.profile
        return calibrate_contention(rt.executors, self.placement.groups, template,
                                    batch_sizes=rt.batch_sizes, clock=rt.clock)

    def serve(self) -> ResultLike:
        """Serve the workload once; where contention applies, calibrate the curve just
        before and just after and keep their average (:func:`bracket`)."""
        if not self.contended:
            return self.runtime.serve(self.served, time_scale=self.time_scale)
        before = self._calibrated()
        real = self.runtime.serve(self.served, time_scale=self.time_scale)
        self.calibration = bracket(before, self._calibrated())
        return real

    def attempt(self, i: int, *, recalibrate: bool) -> tuple[FidelityReport, Stationarity]:
        """Serve once, measure the serving-path profile again, and read the host's load
        over both; with ``recalibrate`` a measured profile is first measured afresh.

        The profile served with is the "before" probe where the runtime calibrated it;
        otherwise one is taken.
        """
        rt = self.runtime
        start = cpu_sample()
        if rt.kernel_profile is not None and rt.calibrate:
            before = rt.recalibrate() if recalibrate else rt.profile
        else:  # a given or kernel-only profile is no serving-path probe
            before = rt.measure_serving_path()
        real = self.serve()
        drift = profile_drift(before, rt.measure_serving_path())
        cal = self.calibration
        seen = Stationarity(drift=drift, load=host_load(start, cpu_sample()),
                            tail=service_tail(self._service_times(real)),
                            calibration_skew=cal.skew if cal is not None else None,
                            calibration_shift=cal.shift if cal is not None else None,
                            alone_speed=(alone_speed(*lone_runs(real, self.placement, cal.lone))
                                         if cal is not None else None))
        report = self.compare(real, attempt=i, host=seen)
        logger.info("fidelity attempt %d: real - sim %+.2f pp; host: %s", i,
                    report.attainment_diff_pp, seen.describe())
        return report, seen

    def _service_times(self, real: ResultLike) -> np.ndarray:
        """Finish - start of the requests served by single-stage groups (pure service)."""
        shallow = [g for g, group in enumerate(self.placement.groups) if group.num_stages == 1]
        served = np.asarray(real.status) == RequestStatus.SERVED
        mask = served & np.isin(np.asarray(real.group), shallow)
        return (np.asarray(real.finish) - np.asarray(real.start))[mask]

    def compare(self, real: ResultLike, *, attempt: int,
                host: Stationarity | None) -> FidelityReport:
        profile = self.runtime.profile
        sim = self.simulate(self.placement, self.scaled, profile, None)
        contention = None
        if self.calibration is not None:
            rt, cal = self.runtime, self.calibration
            pred = predict_contended(self.placement, profile, self.scaled, lone=cal.lone,
                                     curve=cal.curves, max_batch=rt.max_batch,
                                     feedback=rt.feedback, overhead=rt.overhead,
                                     spread=cal.spread)
            if not pred.converged:
                logger.warning("the contention-aware prediction did not converge in %d "
                               "rounds (last change %.3g)", pred.rounds, pred.change)
            contention = {**cal.to_dict(), **pred.to_dict(),
                          "predicted_attainment_uncontended": attainment(sim)}
            if len(cal.group_curves) > 1:  # what one curve for every group would have said
                contention["predicted_attainment_one_curve"] = float(predict_contended(
                    self.placement, profile, self.scaled, lone=cal.lone, curve=cal.curve,
                    max_batch=rt.max_batch, feedback=rt.feedback, overhead=rt.overhead,
                    spread=cal.spread).result.attainment)
            sim = pred.result
        report = compare_results(real, sim, percentiles=self.percentiles)
        replay = (replay_check(self.placement, profile, real)
                  if isinstance(real, RunResult) and real.trace is not None else None)
        slo = self.slo if isinstance(self.slo, dict | float | int) else None
        return replace(report, host=host, replay=replay, contention=contention,
                       extra={"time_scale": self.time_scale, "profile_entries": len(profile),
                              "max_batch": self.runtime.max_batch,
                              "slo": slo, "attempt": attempt})

def _with_slos(workload: Workload, slos: np.ndarray) -> Workload:
    return Workload.from_arrays(arrival=workload.arrival, model=workload.model_codes,
                                model_names=workload.model_names, slo=slos)
