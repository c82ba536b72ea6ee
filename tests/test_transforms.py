"""Workload transforms: windows partition, rebase, merge keeps every request, filter."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _fixtures_workloads import workloads
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.errors import WorkloadError
from workloads.workload import Workload


@given(workloads(), st.lists(st.floats(-2e3, 2e3), min_size=1, max_size=5))
def test_windows_partition_the_workload(w: Workload, cuts: list[float]) -> None:
    edges = sorted({-1e4, *cuts, 1e4})
    parts = [w.window(a, b) for a, b in itertools.pairwise(edges)]
    assert sum(len(p) for p in parts) == len(w)
    assert Workload.merge(parts).equals(w) or len(w) == 0
    for (a, b), p in zip(itertools.pairwise(edges), parts, strict=True):
        assert np.all((p.arrival >= a) & (p.arrival < b))


@given(workloads(), st.floats(-1e3, 1e3))
def test_window_rebase_shifts_to_start(w: Workload, start: float) -> None:
    part = w.window(start, start + 100.0, rebase=True)
    assert np.all((part.arrival >= -1e-9) & (part.arrival < 100.0 + 1e-9))


@settings(max_examples=50)
@given(workloads(columns=True), workloads(columns=True))
def test_merge_keeps_every_request_sorted(a: Workload, b: Workload) -> None:
    m = Workload.merge([a, b])
    assert len(m) == len(a) + len(b)
    assert np.all(np.diff(m.arrival) >= 0)
    np.testing.assert_array_equal(np.sort(m.arrival),
                                  np.sort(np.concatenate([a.arrival, b.arrival])))
    counts = m.counts_by_model()
    for w in (a, b):
        for name, c in w.counts_by_model().items():
            assert counts[name] >= c
    assert sum(counts.values()) == len(m)


@given(workloads())
def test_filter_models_partitions_by_model(w: Workload) -> None:
    parts = [w.filter_models([name]) for name in w.model_names]
    assert [len(p) for p in parts] == list(w.counts_by_model().values())
    assert Workload.merge(parts).counts_by_model() == w.counts_by_model()


def test_merge_rejects_mismatched_columns() -> None:
    a = Workload.from_arrays(arrival=[0.0], model="m", slo=1.0)
    b = Workload.from_arrays(arrival=[1.0], model="m")
    with pytest.raises(WorkloadError, match="slo"):
        Workload.merge([a, b])
