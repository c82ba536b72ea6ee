"""Gamma arrivals and LLM request workloads."""

from __future__ import annotations

import numpy as np
import pytest

from workloads.errors import WorkloadError
from workloads.llm_requests import gamma_arrivals, llm_workload


@pytest.mark.parametrize("cv", [0.5, 1.0, 3.0])
def test_gamma_rate_and_cv(cv: float) -> None:
    a = gamma_arrivals(rate=5.0, cv=cv, start=10.0, end=20_010.0, seed=np.random.default_rng(1))
    gaps = np.diff(a)
    assert a.min() >= 10.0
    assert a.max() < 20_010.0
    assert len(a) / 20_000.0 == pytest.approx(5.0, rel=0.1)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.15)


def test_workload_draws_pairs_and_clips() -> None:
    w = llm_workload(arrivals=np.arange(100.0), seed=np.random.default_rng(0), model="m",
                     token_pairs=[(3000, 10), (100, 5000)], max_context=2048, slo=5.0)
    assert w.prompt_tokens is not None
    assert w.output_tokens is not None
    assert set(w.prompt_tokens.tolist()) <= {2038, 100, 1024}
    assert np.all(w.prompt_tokens + w.output_tokens <= 2048)
    assert np.all(w.slo == 5.0)


def test_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(WorkloadError, match="rate"):
        gamma_arrivals(rate=0.0, cv=1.0, start=0.0, end=1.0, seed=rng)
    with pytest.raises(WorkloadError, match="must exceed"):
        gamma_arrivals(rate=1.0, cv=1.0, start=1.0, end=1.0, seed=rng)
    with pytest.raises(WorkloadError, match="empty"):
        llm_workload(arrivals=[0.0], seed=rng, model="m", token_pairs=np.empty((0, 2)))
    with pytest.raises(WorkloadError, match="prompt >= 1"):
        llm_workload(arrivals=[0.0], seed=rng, model="m", token_pairs=[(0, 1)])


def test_gamma_arrivals_start_stationary_unless_told_otherwise() -> None:
    def mean_count(start_mode: str) -> float:
        return float(np.mean([len(gamma_arrivals(rate=2.0, cv=8.0, start=5.0, end=25.0,
                                                 seed=s,
                                                 start_mode=start_mode))  # type: ignore[arg-type]
                              for s in range(2000)]))

    assert mean_count("stationary") == pytest.approx(40.0, rel=0.05)
    assert mean_count("ordinary") > 1.4 * 40.0  # about (cv² - 1) / 2 = 31.5 extra
    with pytest.raises(WorkloadError, match="start_mode"):
        gamma_arrivals(rate=1.0, cv=2.0, start=0.0, end=1.0, seed=0,
                       start_mode="late")  # type: ignore[arg-type]
    with pytest.raises(WorkloadError, match="above the limit"):
        gamma_arrivals(rate=1e6, cv=1.0, start=0.0, end=1e6, seed=0)
