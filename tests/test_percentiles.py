"""Exact percentiles: in place, and of served latencies read from outcomes, on threads and
with any value bounds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine import percentiles
from simulator.engine.percentiles import (
    order_statistics,
    percentiles_in_place,
    percentiles_of,
    served_percentiles,
)
from simulator.engine.stats import served_sum_kernel
from simulator.result import DROPPED, SERVED

values = st.lists(st.one_of(st.floats(0.0, 10.0), st.sampled_from([0.0, -0.0, 0.1, 0.1, 2.5])),
                  min_size=1, max_size=300)


def outcomes(latency: np.ndarray, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finish, arrival and status whose served latencies are ``latency`` (in order), with
    dropped requests (NaN finish) in between."""
    n = latency.shape[0]
    extra = int(rng.integers(0, n + 1))
    status = np.full(n + extra, SERVED, dtype=np.int8)
    status[rng.choice(n + extra, extra, replace=False)] = DROPPED
    arrival = np.zeros(n + extra)
    finish = np.full(n + extra, np.nan)
    finish[status == SERVED] = latency  # arrival 0: finish - arrival is the latency exactly
    return finish, arrival, status


@settings(max_examples=200)
@given(values, st.integers(0, 2**31 - 1), st.sampled_from(["tight", "loose", "inside", "nan"]))
def test_served_percentiles_equal_in_place(xs: list[float], seed: int, bounds: str) -> None:
    """Any bounds, even ones the values fall outside, give the exact percentiles."""
    rng = np.random.default_rng(seed)
    x = np.array(xs)
    finish, arrival, status = outcomes(x, rng)
    lo, hi = {"tight": (x.min(), x.max()), "loose": (-1.0, np.inf),
              "inside": (float(np.median(x)), float(np.median(x))),
              "nan": (np.nan, np.nan)}[bounds]
    qs = (0.0, 37.5, 50.0, 90.0, 99.0, 100.0)
    assert served_percentiles(finish, arrival, status, len(x), lo, hi, qs) == \
        percentiles_in_place(x.copy(), qs)
    kth = sorted({int(k) for k in rng.integers(0, len(x), size=3)})
    np.testing.assert_array_equal(order_statistics(finish, arrival, status, kth, lo, hi),
                                  np.sort(x)[kth])
    assert served_sum_kernel(finish, arrival, status) == float(np.cumsum(x)[-1])


def test_on_threads_equal_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a pool the requests are cut into ranges that count and gather at once."""
    monkeypatch.setattr(percentiles, "_MIN_CHUNK", 64)
    rng = np.random.default_rng(3)
    arrival = np.cumsum(rng.exponential(0.01, 5000))
    finish = arrival + np.round(rng.gamma(2.0, 0.1, 5000), 3)  # many ties across ranges
    status = np.where(rng.random(5000) < 0.1, DROPPED, SERVED).astype(np.int8)
    latency = (finish - arrival)[status == SERVED]
    expected = percentiles_in_place(latency.copy())
    lo, hi, n = float(latency.min()), float(latency.max()), latency.shape[0]
    with ThreadPoolExecutor(max_workers=3) as pool:
        for threads in (1, 2, 3, 7):
            assert served_percentiles(finish, arrival, status, n, lo, hi, pool=pool,
                                      threads=threads) == expected
    assert served_percentiles(finish, arrival, status, n, 0.0, 0.0) == expected  # one bucket


def test_crowded_buckets_are_counted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Values bunched far below the histogram's resolution (a few outliers stretch the
    range) are refined by a second count, still exactly."""
    monkeypatch.setattr(percentiles, "_SORT_AT_MOST", 16)
    rng = np.random.default_rng(4)
    x = np.concatenate([0.1 + rng.random(3000) * 1e-12, [0.1] * 500, [1e6, 3e-9]])
    rng.shuffle(x)
    finish, arrival, status = outcomes(x, rng)
    qs = (0.0, 10.0, 50.0, 90.0, 99.0, 100.0)
    assert served_percentiles(finish, arrival, status, len(x), float(x.min()),
                              float(x.max()), qs) == percentiles_in_place(x.copy(), qs)


def test_no_values_give_nan() -> None:
    empty, none = np.empty(0), np.empty(0, dtype=np.int8)
    assert all(np.isnan(v) for v in served_percentiles(empty, empty, none, 0, 0.0, 1.0))
    assert all(np.isnan(v) for v in percentiles_in_place(np.empty(0)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=200))
def test_percentiles_match_numpy_linear(values: list[float]) -> None:
    a = np.array(values)
    expected = np.percentile(a, [50, 90, 99])
    np.testing.assert_allclose(percentiles_in_place(a.copy()), expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False) | st.sampled_from([0.0, 0.1, 0.25, 5e-324]),
                min_size=1, max_size=300), st.integers(0, 2**32 - 1))
def test_order_statistics_of_values_equal_partition(values: list[float], seed: int) -> None:
    x = np.array(values)
    rng = np.random.default_rng(seed)
    kth = np.unique(rng.integers(0, len(x), size=rng.integers(1, 7))).tolist()
    empty, no_status = np.empty(0), np.empty(0, dtype=np.int8)
    np.testing.assert_array_equal(
        order_statistics(x, empty, no_status, kth, float(x.min()), float(x.max())),
        np.sort(x)[kth])
    kept = x.copy()
    assert percentiles_of(x) == percentiles_in_place(x.copy())
    np.testing.assert_array_equal(x, kept)  # the values are left as they were


@pytest.mark.parametrize("bad", [-1.0, -0.0, np.inf, np.nan])
def test_percentiles_of_values_outside_the_ordered_range(bad: float) -> None:
    """Negative values, -0.0, infinities and NaN land in the edge buckets and still give
    ``np.partition``'s answer."""
    x = np.array([1.0, bad, 2.0, 3.0])
    np.testing.assert_array_equal(percentiles_of(x), percentiles_in_place(x.copy()))
