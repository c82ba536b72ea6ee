"""Exact percentiles: in place, and over pieces on threads with any value bounds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import percentiles
from simulator.percentiles import (
    order_statistics_of_parts,
    percentiles_in_place,
    percentiles_of_parts,
)

values = st.lists(st.one_of(st.floats(0.0, 10.0), st.sampled_from([0.0, -0.0, 0.1, 0.1, 2.5])),
                  min_size=1, max_size=300)


@settings(max_examples=200)
@given(values, st.integers(0, 2**31 - 1), st.sampled_from(["tight", "loose", "inside", "nan"]))
def test_parts_equal_in_place(xs: list[float], seed: int, bounds: str) -> None:
    """Any cut into pieces and any bounds, even ones the values fall outside, give the
    exact percentiles of the joined values."""
    rng = np.random.default_rng(seed)
    x = np.array(xs)
    cuts = np.sort(rng.integers(0, len(x) + 1, size=rng.integers(0, 4)))
    parts = np.split(x, cuts)
    lo, hi = {"tight": (x.min(), x.max()), "loose": (-1.0, np.inf),
              "inside": (float(np.median(x)), float(np.median(x))),
              "nan": (np.nan, np.nan)}[bounds]
    qs = (0.0, 37.5, 50.0, 90.0, 99.0, 100.0)
    assert percentiles_of_parts(parts, lo, hi, qs) == percentiles_in_place(x.copy(), qs)
    kth = sorted({int(k) for k in rng.integers(0, len(x), size=3)})
    np.testing.assert_array_equal(order_statistics_of_parts(parts, kth, lo, hi),
                                  np.sort(x)[kth])


def test_parts_on_threads_equal_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a pool the pieces are cut into chunks that count and gather at once."""
    monkeypatch.setattr(percentiles, "_MIN_CHUNK", 64)
    rng = np.random.default_rng(3)
    x = np.round(rng.gamma(2.0, 0.1, 5000), 3)  # many ties across chunks
    parts = [x[:1234], x[1234:1234], x[1234:]]
    expected = percentiles_in_place(x.copy())
    with ThreadPoolExecutor(max_workers=3) as pool:
        for threads in (1, 2, 3, 7):
            assert percentiles_of_parts(parts, float(x.min()), float(x.max()), pool=pool,
                                        threads=threads) == expected
    assert percentiles_of_parts(parts, 0.0, 0.0) == expected  # every value in one bucket


def test_no_values_give_nan() -> None:
    assert all(np.isnan(v) for v in percentiles_of_parts([np.empty(0)], 0.0, 1.0))
    assert all(np.isnan(v) for v in percentiles_in_place(np.empty(0)))


def test_crowded_buckets_are_counted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Values bunched far below the histogram's resolution (a few outliers stretch the
    range) are refined by a second count, still exactly."""
    monkeypatch.setattr(percentiles, "_SORT_AT_MOST", 16)
    rng = np.random.default_rng(4)
    x = np.concatenate([0.1 + rng.random(3000) * 1e-12, [0.1] * 500, [1e6, 3e-9]])
    rng.shuffle(x)
    qs = (0.0, 10.0, 50.0, 90.0, 99.0, 100.0)
    assert percentiles_of_parts([x[:700], x[700:]], float(x.min()), float(x.max()), qs) == \
        percentiles_in_place(x.copy(), qs)
