"""A prepared workload: per-model or per-request SLOs, deadlines formed on first use."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.errors import SimulationError
from simulator.prepared import PreparedWorkload, prepare
from workloads.workload import Workload


def workload(n: int = 500, slo: np.ndarray | None = None) -> Workload:
    rng = np.random.default_rng(8)
    return Workload.from_arrays(arrival=np.cumsum(rng.exponential(0.1, n)),
                                model=rng.integers(0, 3, n).astype(np.int32),
                                model_names=["a", "b", "c"], slo=slo)


def test_per_model_slos_are_formed_on_first_use() -> None:
    w = workload()
    p = prepare(w, {"a": 0.3, "b": 0.7, "c": 1.1})
    assert "deadline" not in vars(p)
    assert "slo" not in vars(p)
    expected = np.array([0.3, 0.7, 1.1])[w.model_codes]
    np.testing.assert_array_equal(p.slo, expected)
    np.testing.assert_array_equal(p.deadline, w.arrival + expected)
    assert p.deadline is p.deadline  # kept
    assert p.model_codes.dtype == np.int32
    assert not p.deadline.flags.writeable
    assert not p.slo.flags.writeable
    assert prepare(w, 0.5).slo_of_model.tolist() == [0.5, 0.5, 0.5]


def test_kernel_deadlines_and_slices_match_the_deadlines() -> None:
    w = workload()
    per_model = prepare(w, {"a": 0.3, "b": 0.7, "c": 1.1})
    deadline, slo_pm = per_model.kernel_deadlines()
    assert deadline.size == 0
    assert slo_pm.tolist() == [0.3, 0.7, 1.1]
    np.testing.assert_array_equal(per_model.deadlines(10, 40), per_model.deadline[10:40])
    per_request = prepare(workload(slo=np.linspace(0.1, 0.9, 500)))
    deadline, slo_pm = per_request.kernel_deadlines()
    assert slo_pm.size == 0
    np.testing.assert_array_equal(deadline, per_request.deadline)
    np.testing.assert_array_equal(per_request.deadlines(3, 9), per_request.deadline[3:9])


def test_per_request_slos_are_kept_as_given() -> None:
    slo = np.linspace(0.1, 0.9, 500)
    p = prepare(workload(slo=slo), 99.0)  # the column wins over slo=
    assert p.slo_of_model is None
    np.testing.assert_array_equal(p.slo, slo)
    np.testing.assert_array_equal(p.deadline, p.arrival + slo)


def test_bad_slos_are_named() -> None:
    w = workload(4)
    with pytest.raises(SimulationError, match=r"SLO must be a positive number of seconds, "
                                              r"got -1\.0"):
        prepare(w, -1.0)
    with pytest.raises(SimulationError, match=r"no SLO given for models \['c'\]"):
        prepare(w, {"a": 1.0, "b": 1.0})
    with pytest.raises(SimulationError, match="the workload has no slo column"):
        prepare(w)
    with pytest.raises(SimulationError, match="expected a Workload, got 3"):
        prepare(3)  # type: ignore[arg-type]


def test_exactly_one_slo_source() -> None:
    arrival, codes = np.zeros(2), np.zeros(2, dtype=np.int32)
    with pytest.raises(SimulationError, match="exactly one of slo_of_model and request_slo"):
        PreparedWorkload(model_names=("a",), arrival=arrival, model_codes=codes)
    with pytest.raises(SimulationError, match=r"slo_of_model has shape \(2,\), expected \(1,\)"):
        PreparedWorkload(model_names=("a",), arrival=arrival, model_codes=codes,
                         slo_of_model=np.ones(2))
    with pytest.raises(SimulationError, match=r"request_slo has shape \(3,\), expected \(2,\)"):
        PreparedWorkload(model_names=("a",), arrival=arrival, model_codes=codes,
                         request_slo=np.ones(3))
