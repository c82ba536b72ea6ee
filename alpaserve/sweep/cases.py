"""The default sweep runner: one :class:`SweepCase` → one :func:`placement.plan` call.

A case's fixed ``settings`` describe the models, the cluster's devices and the base traffic;
the case varies the policy, the number of devices, and the rate, CV and SLO scales (and, for
a trace, the time window). Settings keys and defaults:

``models``
    ``"bert-1.3b:8,bert-2.6b:4"`` (preset:copies, comma separated). Default ``bert-1.3b:8``.
``device``, ``devices_per_node``
    Device preset and node size (``v100-16gb``, 8).
``rate``, ``cv``, ``zipf``, ``duration``
    Base synthetic traffic: total req/s, inter-arrival CV, power-law exponent (0 = equal),
    seconds to plan for and to test on (``16``, ``4``, ``0``, ``60``).
``trace``
    A trace file (any format ``alpaserve trace`` reads) replacing the synthetic traffic;
    a case's ``window`` (seconds) selects part of it, and its rate and CV scales refit each
    60-second window's Gamma process, as AlpaServe does. A relative path is taken from the
    current directory (``alpaserve sweep --trace FILE`` overrides it).

Any other key is an error (:data:`SETTINGS` is the schema). Each case simulates on one
thread: a sweep gets its parallelism from running cases side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.model_presets import model_copies
from alpaserve.sweep.runner import SweepCase
from alpaserve.sweep.schema import SettingsSchema
from placement.plan import plan
from simulator.options import SimulationOptions
from workloads.mixes import MixSpec
from workloads.rescale import RescaleSpec, rescale


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


SETTINGS: SettingsSchema = {
    "models": ("a string like 'bert-1.3b:8,bert-2.6b:4'", _text),
    "device": ("a device preset name", _text),
    "devices_per_node": ("a positive integer", _positive_int),
    "rate": ("a number (req/s)", _number),
    "cv": ("a number", _number),
    "zipf": ("a number (0 = equal shares)", _number),
    "duration": ("a number (seconds)", _number),
    "trace": ("a trace file path", _text),
}


def _workload(case: SweepCase, names: tuple[str, ...], settings: Mapping[str, Any]) -> Any:
    if "trace" not in settings:
        return MixSpec(model_names=names, total_rate=float(settings.get("rate", 16.0)) *
                       case.rate_scale, cv=float(settings.get("cv", 4.0)) * case.cv_scale,
                       zipf_alpha=float(settings["zipf"]) if settings.get("zipf") else None)
    from alpaserve.cli._workload_args import trace_workload

    workload = trace_workload(str(Path(settings["trace"])), names)
    if case.window is not None:
        workload = workload.window(*case.window, rebase=True)
    if case.rate_scale != 1.0 or case.cv_scale != 1.0:
        workload = rescale(workload, RescaleSpec(window=60.0, rate_scale=case.rate_scale,
                                                 cv_scale=case.cv_scale),
                           seed=case.seed).workload
    return workload


def run_plan_case(case: SweepCase) -> dict[str, Any]:
    """Plan one case and return its metrics (attainment, p99, devices used, plan time).

    Parameters
    ----------
    case
        The case; its ``settings`` follow :data:`SETTINGS`.

    Returns
    -------
    dict
        ``attainment``, ``p99_s``, ``dropped``, ``requests``, ``devices_used``, ``groups``,
        ``plan_wall_s`` (the case's axes are added by the sweep).

    Examples
    --------
    >>> case = SweepCase(policy="sr", devices=1, rate_scale=1.0, cv_scale=1.0, slo_scale=5.0,
    ...                  window=None, seed=0, settings={"models": "bert-1.3b:1", "rate": 2,
    ...                                                 "duration": 10})
    >>> 0.0 <= run_plan_case(case)["attainment"] <= 1.0
    True
    """
    settings = case.settings
    models = model_copies(str(settings.get("models", "bert-1.3b:8")))
    per_node = int(settings.get("devices_per_node", 8))
    cluster = homogeneous_cluster(case.devices, str(settings.get("device", "v100-16gb")),
                                  devices_per_node=min(per_node, case.devices))
    names = tuple(m.name for m in models)
    result = plan(models, cluster, _workload(case, names, settings),
                  slo_scale=case.slo_scale, policy=case.policy, seed=case.seed,
                  duration=float(settings.get("duration", 60.0)),
                  options=SimulationOptions(threads=1))
    r = result.test_result
    return {"attainment": r.attainment, "p99_s": r.latency_p99,
            "dropped": r.num_dropped, "requests": r.num_requests,
            "devices_used": result.placement.num_devices_used,
            "groups": len(result.placement.groups), "plan_wall_s": result.wall_time}
