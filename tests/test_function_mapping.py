"""Function-to-model mapping: policies, top-K, dropped functions reported."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workloads.errors import WorkloadError
from workloads.function_mapping import FunctionMapping, map_functions

COUNTS = {"f1": 10, "f2": 0, "f3": 50, "f4": 20, "f5": 5, "f6": 20, "f7": 0}


def test_round_robin_by_rank() -> None:
    r = map_functions(COUNTS, FunctionMapping(num_models=2))
    assert r.ranked == ("f3", "f4", "f6", "f1", "f5")  # ties keep first-appearance order
    assert r.assignment == {"f3": 0, "f4": 1, "f6": 0, "f1": 1, "f5": 0}
    assert (r.functions_total, r.empty_dropped, r.beyond_top_k) == (7, 2, 0)
    assert r.model_names == ("model0", "model1")


def test_popularity_blocks_and_top_k() -> None:
    r = map_functions(COUNTS, FunctionMapping(num_models=2, policy="popularity", top_k=4,
                                              model_names=("hot", "cold")))
    assert r.assignment == {"f3": 0, "f4": 0, "f6": 1, "f1": 1}
    assert r.beyond_top_k == 1
    assert r.empty_dropped == 2
    assert r.model_names == ("hot", "cold")


def test_drops_are_logged_and_idle_models_warned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="workloads.mapping"):
        r = map_functions({"a": 1, "b": 0}, FunctionMapping(num_models=3))
    assert "dropped 1 empty" in caplog.text
    assert r.models_without_functions == 2
    assert "received no function" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"num_models": 0}, "num_models"), ({"num_models": 2, "policy": "random"}, "policy"),
     ({"num_models": 2, "top_k": 0}, "top_k"),
     ({"num_models": 2, "model_names": ("a",)}, "model_names")],
)
def test_invalid_mapping(kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(WorkloadError, match=match):
        FunctionMapping(**kwargs)


def test_negative_counts_rejected() -> None:
    with pytest.raises(WorkloadError, match="negative"):
        map_functions({"a": -1}, FunctionMapping(num_models=1))


@given(st.dictionaries(st.text(max_size=4), st.integers(0, 100), max_size=30),
       st.integers(1, 6), st.sampled_from(["round_robin", "popularity"]),
       st.one_of(st.none(), st.integers(1, 10)))
def test_every_function_is_kept_or_counted(counts: dict[str, int], n: int, policy: str,
                                           top_k: int | None) -> None:
    r = map_functions(counts, FunctionMapping(num_models=n, policy=policy,  # type: ignore[arg-type]
                                              top_k=top_k))
    assert len(r.assignment) + r.empty_dropped + r.beyond_top_k == len(counts)
    assert all(0 <= code < n for code in r.assignment.values())
    ranked_counts = [counts[f] for f in r.ranked]
    assert ranked_counts == sorted(ranked_counts, reverse=True)
    if policy == "popularity":
        codes = [r.assignment[f] for f in r.ranked]
        assert codes == sorted(codes)
