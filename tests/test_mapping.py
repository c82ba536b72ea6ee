"""Request-to-model mapping of whole workloads: every policy, nothing dropped."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workloads.errors import WorkloadError
from workloads.mapping import StreamMapping, map_requests
from workloads.workload import Workload


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
