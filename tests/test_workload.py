"""Workload basics: sorted, immutable columns and exact equality."""

from __future__ import annotations

import numpy as np
from _fixtures_workloads import workloads
from hypothesis import given

from workloads.workload import OPTIONAL_COLUMNS, Workload


@given(workloads())
def test_sorted_and_read_only(w: Workload) -> None:
    assert np.all(np.diff(w.arrival) >= 0)
    for col in ("arrival", "model_codes", *OPTIONAL_COLUMNS):
        values = getattr(w, col)
        if values is not None:
            assert not values.flags.writeable
            assert values.shape == (len(w),)


def test_equals_distinguishes_columns_and_names() -> None:
    w = Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "b"])
    assert w.equals(Workload.from_arrays(arrival=[1.0, 0.0], model=["b", "a"]))
    assert not w.equals(w.with_slo(1.0))
    assert not w.equals(Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "b"],
                                             model_names=["b", "a"]))
    assert not w.equals("not a workload")  # type: ignore[arg-type]
