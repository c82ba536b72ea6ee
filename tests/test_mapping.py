"""Function-to-model mapping: policies, top-K, dropped functions reported."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workloads.errors import WorkloadError
from workloads.mapping import FunctionMapping, StreamMapping, map_functions, map_requests
from workloads.workload import Workload

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


# ---------------------------------------------------------------- map_requests (whole workloads)


def stream(n: int = 12, model: str | list[str] = "llm") -> Workload:
    return Workload.from_arrays(arrival=np.arange(n) * 0.5, model=model,
                                prompt_tokens=(np.arange(n) * 37) % 100,
                                output_tokens=np.arange(n))


def test_a_single_stream_is_spread_over_every_model_by_default() -> None:
    r = map_requests(stream(), StreamMapping(model_names=("a", "b", "c")))
    assert r.policy == "round-robin"
    assert r.requests_per_model == {"a": 4, "b": 4, "c": 4}
    assert r.workload.models_of().tolist()[:4] == ["a", "b", "c", "a"]
    assert r.workload.prompt_tokens is not None  # other columns are kept


def test_auto_keeps_matching_names_and_deals_functions() -> None:
    w = stream(model=["a", "b"] * 6)
    assert map_requests(w, StreamMapping(model_names=("b", "a"))).policy == "identity"
    r = map_requests(stream(model=["f", "g", "h", "f"] * 3), StreamMapping(model_names=("x", "y")))
    assert r.policy == "by-function"
    assert r.requests_per_model == {"x": 9, "y": 3}  # f (6) and h (3) on x, g (3) on y


def test_power_law_is_seeded_and_skewed() -> None:
    w = stream(4000)
    spec = StreamMapping(model_names=("a", "b", "c", "d"), policy="power-law", alpha=1.5, seed=3)
    r1, r2 = map_requests(w, spec), map_requests(w, spec)
    assert r1.workload.equals(r2.workload)
    counts = list(r1.requests_per_model.values())
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > 2 * counts[1]
    other = map_requests(w, StreamMapping(model_names=spec.model_names, policy="power-law",
                                          alpha=1.5, seed=4))
    assert not other.workload.equals(r1.workload)


def test_prompt_buckets_order_models_by_prompt_length() -> None:
    w = stream(400)
    r = map_requests(w, StreamMapping(model_names=("s", "m", "l"), policy="prompt-buckets"))
    prompts = {name: w.prompt_tokens[r.workload.models_of() == name] for name in "sml"}
    assert prompts["s"].max() <= prompts["m"].min()
    assert prompts["m"].max() <= prompts["l"].min()
    no_prompts = Workload.from_arrays(arrival=[0.0, 1.0], model="llm")
    with pytest.raises(WorkloadError, match="needs a trace with prompt lengths"):
        map_requests(no_prompts, StreamMapping(model_names=("a",), policy="prompt-buckets"))


def test_explicit_table_names_missing_functions() -> None:
    w = stream(model=["f", "g", "h"] * 4)
    r = map_requests(w, StreamMapping(model_names=("x", "y"), policy="explicit",
                                      explicit={"f": "y", "g": "y", "h": "x"}))
    assert r.requests_per_model == {"x": 4, "y": 8}
    with pytest.raises(WorkloadError, match=r"no model for trace functions \['h'\]"):
        map_requests(w, StreamMapping(model_names=("x",), policy="explicit",
                                      explicit={"f": "x", "g": "x"}))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model_names": ()}, "distinct names, at least one"),
    ({"model_names": ("a", "a")}, "distinct names"),
    ({"model_names": ("a",), "policy": "magic"}, "mapping policy must be one of"),
    ({"model_names": ("a",), "policy": "power-law", "alpha": -1.0}, "alpha must be"),
    ({"model_names": ("a",), "policy": "explicit"}, "explicit mapping table goes with"),
    ({"model_names": ("a",), "policy": "explicit", "explicit": {"f": "zz"}},
     r"names models \['zz'\]"),
])
def test_bad_stream_mappings(kwargs: dict, message: str) -> None:
    with pytest.raises(WorkloadError, match=message):
        StreamMapping(**kwargs)


@given(n=st.integers(0, 60), models=st.integers(1, 5),
       policy=st.sampled_from(["round-robin", "power-law", "prompt-buckets", "auto"]),
       seed=st.integers(0, 10))
def test_no_request_is_dropped_and_arrivals_are_kept(n: int, models: int, policy: str,
                                                     seed: int) -> None:
    w = stream(n)
    names = tuple(f"m{i}" for i in range(models))
    r = map_requests(w, StreamMapping(model_names=names, policy=policy,  # type: ignore[arg-type]
                                      seed=seed))
    assert len(r.workload) == n
    assert sum(r.requests_per_model.values()) == n
    assert np.array_equal(r.workload.arrival, w.arrival)
    assert r.workload.model_names == names
