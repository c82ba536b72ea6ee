"""Calibrating the contention curve on real stages (alpaserve/runtime/contention.py), and
when fidelity predicts with it."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.errors import SpecError
from alpaserve.placement_spec import Group, Placement
from alpaserve.runtime.contention import contention_applies
from tests._fixtures_runtime import cpu_devices, gamma_workload, tiny_spec


def placement(pipeline_degree: int) -> Placement:
    a = tiny_spec("a", num_layers=2, hidden_size=32, seq_len=8)
    return Placement(cluster=homogeneous_cluster(8, "cpu"), models={"a": a},
                     groups=(Group.uniform(name="g0", device_ids=list(range(pipeline_degree)),
                                           pipeline_degree=pipeline_degree, models=[a]),))


class _CPU:
    platform = "cpu"


class _GPU:
    platform = "gpu"


def test_auto_predicts_with_contention_for_pipelines_on_cpu_only() -> None:
    pp2, pp1 = placement(2), placement(1)
    assert contention_applies("auto", pp2, {"devices": [_CPU()] * 2})
    assert not contention_applies("auto", pp1, {"devices": [_CPU()]})  # one stage per group
    assert not contention_applies("auto", pp2, {"devices": [_GPU()] * 2})  # own devices
    assert not contention_applies("auto", pp2, {"devices": [_CPU()] * 2, "backend": "ray"})
    assert not contention_applies("auto", pp2, {"devices": [_CPU()] * 2},
                                  custom_simulator=True)
    assert contention_applies("on", pp1, {"devices": [_GPU()]})
    assert not contention_applies("off", pp2, {"devices": [_CPU()] * 2})
    with pytest.raises(SpecError, match="needs the local backend"):
        contention_applies("on", pp2, {"backend": "ray"})
    with pytest.raises(SpecError, match="contention must be 'auto', 'on' or 'off', got 'yes'"):
        contention_applies("yes", pp2, {})


def test_calibration_times_each_stage_alone_and_together() -> None:
    from alpaserve.runtime.contention import calibrate_contention
    from alpaserve.runtime.runtime import Runtime

    p = placement(2)
    with Runtime(p, devices=cpu_devices(), calibrate=False, repeats=3) as rt:
        cal = calibrate_contention(rt.executors, p.groups, rt.profile, repeats=3,
                                   window=0.04)
        with pytest.raises(SpecError, match="window > 0"):
            calibrate_contention(rt.executors, p.groups, rt.profile, window=0.0)
    assert cal.curve.busy == (1, 2)
    assert set(cal.samples) == {1, 2}
    assert len(cal.samples[2]) == 4  # one per thread and pass
    (entry,) = list(cal.lone)
    assert (entry.model, entry.config.key, entry.batch_size) == ("a", "pp2-tp1", 1)
    assert len(entry.stage_latencies) == 2
    assert all(x > 0 for x in entry.stage_latencies)
    assert cal.seconds > 0
    assert list(json.loads(json.dumps(cal.to_dict()))["lone_ms"]) == ["a/pp2-tp1/bs1"]
    # every call's time over its thread's median: percentiles 0..100, around 1
    assert len(cal.spread) == 101
    assert all(a <= b for a, b in zip(cal.spread, cal.spread[1:], strict=False))
    assert cal.spread[0] <= 1.0 <= cal.spread[-1]
    assert len(json.loads(json.dumps(cal.to_dict()))["spread"]) == 11

    class NoStages:  # a Ray group runs its stages elsewhere
        pass

    with pytest.raises(SpecError, match="needs the local backend"):
        calibrate_contention([NoStages()], p.groups, rt.profile)


def test_calibration_splits_its_samples_by_group() -> None:
    """Two pp2 groups: each pass starts its burst from another group, so both groups are
    measured alone (count 1) and every thread's sample lands in its own group's curve."""
    from alpaserve.runtime.bracket import bracket
    from alpaserve.runtime.contention import calibrate_contention
    from alpaserve.runtime.runtime import Runtime

    a = tiny_spec("a", num_layers=2, hidden_size=32, seq_len=8)
    p = Placement(cluster=homogeneous_cluster(8, "cpu"), models={"a": a}, groups=tuple(
        Group.uniform(name=f"g{i}", device_ids=[2 * i, 2 * i + 1], pipeline_degree=2,
                      models=[a]) for i in range(2)))
    with Runtime(p, devices=cpu_devices(), calibrate=False, repeats=3) as rt:
        cal = calibrate_contention(rt.executors, p.groups, rt.profile, repeats=3,
                                   window=0.02)
    assert len(cal.group_samples) == len(cal.group_curves) == 2
    for n, pooled in cal.samples.items():
        split = [x for g in cal.group_samples for x in g.get(n, ())]
        assert sorted(split) == sorted(pooled)
    assert all(len(g[1]) == 1 for g in cal.group_samples)  # each alone in one pass
    assert all(c.busy == (1, 2, 3, 4) for c in cal.group_curves)
    assert cal.curves == cal.group_curves
    data = json.loads(json.dumps(cal.to_dict()))
    assert [c["busy"] for c in data["group_curves"]] == [[1, 2, 3, 4]] * 2
    both = bracket(cal, cal)
    assert [len(g[1]) for g in both.group_samples] == [2, 2]
    assert both.group_curves == cal.group_curves


def test_fidelity_reports_both_predictions() -> None:
    from alpaserve.runtime.fidelity import measure_fidelity

    p = placement(2)
    w = gamma_workload(rate=50.0, cv=2.0, n=20, models=["a"], seed=3)
    options: dict[str, Any] = {"devices": cpu_devices(), "repeats": 3}
    rep = measure_fidelity(p, w, slo_scale=5.0, runtime_options=options, probe_host=False,
                           contention="on")
    data = rep.to_dict()
    assert data["prediction"] == "contention-aware"
    assert data["predicted_attainment"] == rep.attainment_sim
    assert 0.0 <= data["predicted_attainment_uncontended"] <= 1.0
    assert data["contention"]["curve"]["busy"] == [1, 2]
    assert len(data["contention"]["group_curves"]) == 1
    assert "predicted_attainment_one_curve" not in data["contention"]  # one group: the same
    assert len(data["contention"]["sample_attainments"]) == 9  # drawn from the spread
    # calibrated just before and just after the run: the prediction uses their average
    assert len(data["contention"]["bracket"]) == 2
    assert data["contention"]["shift"] >= 0.0
    assert "prediction: contention-aware" in rep.format()
    assert "calibrated before and after the run" in rep.format()
    assert "one curve for every group" not in rep.format()
    two = {**data["contention"], "group_curves": [{"slowdown": [1.0, 2.5]},
                                                   {"slowdown": [1.0, 1.5]}],
           "predicted_attainment_one_curve": 0.5}
    text = dataclasses.replace(rep, contention=two).format()
    assert "slowdown by stages busy per group, 1..: 1.00, 2.50 | 1.00, 1.50;" in text
    assert "with one curve for every group: 50.00%" in text
    plain = measure_fidelity(p, w, slo_scale=5.0, runtime_options=options, probe_host=False,
                             contention="off")
    assert plain.contention is None
    assert plain.to_dict()["prediction"] == "plain"
    assert "prediction: the simulator" in plain.format()


def test_lone_runs_pairs_each_stage_run_with_its_lone_latency() -> None:
    """Two requests batched together run each stage once; a dropped one runs nothing."""
    import numpy as np

    from alpaserve.profiles import ProfileDB
    from alpaserve.runtime.contention import lone_runs
    from alpaserve.runtime.result import RunResult, ServeTrace
    from tests._fixtures_simulator import entry

    p = placement(2)
    config = p.groups[0].models["a"]
    lone = ProfileDB([entry("a", config, 2, [0.1, 0.2]), entry("a", config, 1, [0.05, 0.1])])
    nan = float("nan")
    trace = ServeTrace(decided=np.zeros(3), stage_begin=np.array([[0.0, 0.3], [0.0, 0.3],
                                                                  [nan, nan]]),
                       stage_end=np.array([[0.3, 0.6], [0.3, 0.6], [nan, nan]]),
                       feedback=True, overhead=0.0, max_batch=2,
                       batch_size=np.array([2, 2, 0], dtype=np.int32))
    real = RunResult.from_columns(arrival=[0.0, 0.0, 0.1], start=[0.0, 0.0, nan],
                                  finish=[0.6, 0.6, nan], group=[0, 0, -1], status=[0, 0, 1],
                                  model_codes=[0, 0, 0], model_names=("a",),
                                  slo=[1.0, 1.0, 1.0], trace=trace)
    begin, end, base = lone_runs(real, p, lone)
    assert begin.tolist() == [0.0, 0.3]
    assert end.tolist() == [0.3, 0.6]
    assert base.tolist() == [0.1, 0.2]  # the batch of two's lone latencies
    untraced = RunResult.from_columns(arrival=[0.0], start=[0.0], finish=[0.1], group=[0],
                                      status=[0], model_codes=[0], model_names=("a",),
                                      slo=[1.0])
    assert all(x.size == 0 for x in lone_runs(untraced, p, lone))
