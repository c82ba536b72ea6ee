"""Workload invariants: sorted, immutable, window/merge/filter partitions, equality."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests._fixtures_workloads import workloads
from workloads.errors import WorkloadError
from workloads.workload import OPTIONAL_COLUMNS, Workload


@given(workloads())
def test_sorted_and_read_only(w: Workload) -> None:
    assert np.all(np.diff(w.arrival) >= 0)
    for col in ("arrival", "model_codes", *OPTIONAL_COLUMNS):
        values = getattr(w, col)
        if values is not None:
            assert not values.flags.writeable
            assert values.shape == (len(w),)


@given(workloads(), st.lists(st.floats(-2e3, 2e3), min_size=1, max_size=5))
def test_windows_partition_the_workload(w: Workload, cuts: list[float]) -> None:
    edges = sorted({-1e4, *cuts, 1e4})
    parts = [w.window(a, b) for a, b in zip(edges, edges[1:], strict=False)]
    assert sum(len(p) for p in parts) == len(w)
    assert Workload.merge(parts).equals(w) or len(w) == 0
    for (a, b), p in zip(zip(edges, edges[1:], strict=False), parts, strict=True):
        assert np.all((p.arrival >= a) & (p.arrival < b))


@given(workloads(), st.floats(-1e3, 1e3))
def test_window_rebase_shifts_to_start(w: Workload, start: float) -> None:
    part = w.window(start, start + 100.0, rebase=True)
    assert np.all((part.arrival >= -1e-9) & (part.arrival < 100.0 + 1e-9))


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


def test_equals_distinguishes_columns_and_names() -> None:
    w = Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "b"])
    assert w.equals(Workload.from_arrays(arrival=[1.0, 0.0], model=["b", "a"]))
    assert not w.equals(w.with_slo(1.0))
    assert not w.equals(Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "b"],
                                             model_names=["b", "a"]))
    assert not w.equals("not a workload")  # type: ignore[arg-type]


def test_merge_rejects_mismatched_columns() -> None:
    a = Workload.from_arrays(arrival=[0.0], model="m", slo=1.0)
    b = Workload.from_arrays(arrival=[1.0], model="m")
    with pytest.raises(WorkloadError, match="slo"):
        Workload.merge([a, b])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"arrival": [0.0, np.nan], "model": "m"}, "finite"),
        ({"arrival": [0.0], "model": "m", "slo": 0.0}, "positive"),
        ({"arrival": [0.0], "model": "m", "prompt_tokens": [-1]}, ">= 0"),
        ({"arrival": [0.0], "model": "m", "prompt_tokens": [1.5]}, "whole"),
        ({"arrival": [0.0], "model": [3], "model_names": ["a"]}, "codes"),
        ({"arrival": [0.0], "model": ["x"], "model_names": ["a"]}, "not in"),
    ],
)
def test_invalid_columns(kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(WorkloadError, match=match):
        Workload.from_arrays(**kwargs)
