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
    60-second window's Gamma process, as AlpaServe does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.model_spec import model_copies
from alpaserve.sweep.runner import SweepCase
from placement.plan import plan
from workloads.mixes import MixSpec
from workloads.rescale import RescaleSpec, rescale


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
    case : SweepCase
        The case; its ``settings`` are read as described in this module's docstring.

    Returns
    -------
    dict of str to Any
        The case's varied values and ``attainment``, ``p99_s`` (seconds), ``dropped``,
        ``requests``, ``devices_used``, ``groups`` and ``plan_wall_s`` (seconds) on the
        held-out test traffic.

    Examples
    --------
    >>> from alpaserve.sweep.runner import SweepGrid
    >>> grid = SweepGrid(policies=("sr",), devices=(1,),
    ...                  settings={"models": "bert-1.3b:1", "rate": 2, "duration": 10})
    >>> row = run_plan_case(grid.cases()[0])
    >>> row["devices_used"], row["requests"] > 0, 0.0 <= row["attainment"] <= 1.0
    (1, True, True)
    """
    settings = case.settings
    models = model_copies(str(settings.get("models", "bert-1.3b:8")))
    per_node = int(settings.get("devices_per_node", 8))
    cluster = homogeneous_cluster(case.devices, str(settings.get("device", "v100-16gb")),
                                  devices_per_node=min(per_node, case.devices))
    names = tuple(m.name for m in models)
    result = plan(models, cluster, _workload(case, names, settings),
                  slo_scale=case.slo_scale, policy=case.policy, seed=case.seed,
                  duration=float(settings.get("duration", 60.0)))
    r = result.test_result
    return {"policy": case.policy, "devices": case.devices, "rate_scale": case.rate_scale,
            "cv_scale": case.cv_scale, "slo_scale": case.slo_scale,
            "attainment": r.attainment, "p99_s": r.latency_p99,
            "dropped": r.num_dropped, "requests": r.num_requests,
            "devices_used": result.placement.num_devices_used,
            "groups": len(result.placement.groups), "plan_wall_s": result.wall_time}
