"""Model-less queries: a task, an SLO and an accuracy floor per query."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.errors import WorkloadError
from alpaserve.modelless.queries import ModellessQueries
from workloads.workload import Workload


def test_sorted_with_their_floors() -> None:
    q = ModellessQueries.from_arrays(arrival=[3.0, 1.0, 2.0], task=["a", "b", "a"],
                                     slo=[0.1, 0.2, 0.3], min_accuracy=[71.0, 72.0, 73.0])
    assert q.arrival.tolist() == [1.0, 2.0, 3.0]
    assert q.min_accuracy.tolist() == [72.0, 73.0, 71.0]
    assert q.slo.tolist() == [0.2, 0.3, 0.1]
    assert [q.task_of(i) for i in range(3)] == ["b", "a", "a"]
    assert q.tasks == ("a", "b")
    assert not q.min_accuracy.flags.writeable
    assert q.to_dict()["task"] == ["b", "a", "a"]


def test_errors_name_the_value() -> None:
    w = Workload.from_arrays(arrival=[0.0, 1.0], model="t")
    with pytest.raises(WorkloadError, match="slo column"):
        ModellessQueries(workload=w, min_accuracy=np.zeros(2))
    w = w.with_slo(0.1)
    with pytest.raises(WorkloadError, match=r"shape \(3,\)"):
        ModellessQueries(workload=w, min_accuracy=np.zeros(3))
    with pytest.raises(WorkloadError, match=r"min_accuracy\[1\] is 120.0"):
        ModellessQueries(workload=w, min_accuracy=np.array([1.0, 120.0]))
    with pytest.raises(WorkloadError, match="SLOs must be positive"):
        ModellessQueries.from_arrays(arrival=[0.0], task="t", slo=0.0, min_accuracy=0.0)
