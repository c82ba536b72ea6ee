"""Statistics over outcomes: the NumPy summary and the compiled one agree exactly; the
measurement window; attainment counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.errors import SimulationError
from simulator.engine import kernels
from simulator.engine.percentiles import percentiles_in_place
from simulator.summary import DROPPED, SERVED, UNSERVED, AttainmentSummary, stats_window, summarize


def outcomes(rng: np.random.Generator, n: int, m: int) -> dict[str, np.ndarray]:
    arrival = np.sort(rng.uniform(0, 10, n))
    status = rng.choice([SERVED, DROPPED, UNSERVED], size=n, p=[0.7, 0.2, 0.1]).astype(np.int8)
    start = np.where(status == SERVED, arrival + rng.exponential(0.1, n), np.nan)
    finish = np.where(status == SERVED, start + rng.uniform(0.01, 0.5, n), np.nan)
    return {"arrival": arrival, "model_codes": rng.integers(0, m, n).astype(np.int32),
            "slo": rng.uniform(0.1, 0.6, n), "start": start, "finish": finish,
            "group": np.where(status == UNSERVED, -1, 0).astype(np.int32), "status": status}


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 300), st.integers(1, 4),
       st.sampled_from([(0, None), (2, 3)]))
def test_compiled_summary_equals_numpy(seed: int, n: int, m: int, trim: tuple) -> None:
    o = outcomes(np.random.default_rng(seed), n, m)
    if n < 5:
        trim = (0, None)
    i0, i1 = trim[0], (trim[1] and n - trim[1]) or n
    deadline = o["arrival"] + o["slo"]
    ref = summarize(o["arrival"], o["model_codes"], deadline, o["finish"], o["status"], i0, i1, m)
    req, good, buf = np.zeros(m, np.int64), np.zeros(m, np.int64), np.empty(max(i1 - i0, 0))
    served, dropped, unserved, total, nlat, max_finish = kernels.summary_kernel(
        o["arrival"], o["model_codes"], deadline, o["finish"], o["status"], i0, i1, req, good,
        buf, np.zeros(0, dtype=np.int32), np.zeros((0, 0), dtype=np.int64))
    np.testing.assert_array_equal(req, ref.requests_per_model)
    np.testing.assert_array_equal(good, ref.good_per_model)
    assert (served, dropped, unserved) == (ref.num_served, ref.num_dropped, ref.num_unserved)
    if nlat:
        assert total / nlat == ref.latency_mean  # same left-to-right sum
        assert percentiles_in_place(buf[:nlat]) == ref.latency_percentiles
        assert max_finish == ref.max_finish


def test_window_with_and_without_trimming() -> None:
    arrival = np.array([0.0, 1.0, 2.0, 3.0])
    finish = np.array([0.5, 1.5, np.nan, 3.9])
    assert stats_window(arrival, finish) == ((0.0, 3.9), (0, 4))
    assert stats_window(arrival, finish, warmup=0.5, cooldown=1.0) == ((0.5, 2.0), (1, 3))
    assert stats_window(arrival, None, max_finish=5.0) == ((0.0, 5.0), (0, 4))


def test_attainment_summary_counts() -> None:
    s = AttainmentSummary(model_names=("a", "b"), requests_per_model=np.array([4, 0]),
                          good_per_model=np.array([3, 0]))
    assert (s.num_requests, s.num_good, s.attainment) == (4, 3, 0.75)
    assert s.unmet_per_model.tolist() == [1, 0]
    assert np.isnan(s.attainment_per_model[1])


@settings(max_examples=60, deadline=None)
@given(gaps=st.lists(st.sampled_from([0.0, 0.0, 0.25, 1.0, 3.0]), min_size=2, max_size=60),
       warmup=st.floats(0.0, 5.0), cooldown=st.floats(0.0, 5.0))
def test_request_trimming_skips_a_count_at_each_end(gaps, warmup, cooldown):
    arrival = np.cumsum(np.array([0.0, *gaps]))
    n, span = arrival.size, float(arrival[-1] - arrival[0])
    if span == 0:
        return
    skip_lo, skip_hi = int(warmup / span * n), int(cooldown / span * n)
    if (warmup, cooldown) == (0.0, 0.0):
        assert stats_window(arrival, None, trim="requests")[1] == (0, n)
    elif skip_lo + skip_hi >= n:
        with pytest.raises(SimulationError, match="skip all"):
            stats_window(arrival, None, warmup=warmup, cooldown=cooldown, trim="requests")
    else:
        (lo, hi), (i0, i1) = stats_window(arrival, None, warmup=warmup, cooldown=cooldown,
                                          trim="requests")
        assert (i0, i1) == (skip_lo, n - skip_hi)
        assert (lo, hi) == (arrival[i0], arrival[i1 - 1])


def test_unknown_trim_rule():
    with pytest.raises(SimulationError, match="trim must be one of"):
        stats_window(np.array([0.0, 1.0]), None, warmup=0.5, trim="seconds")
