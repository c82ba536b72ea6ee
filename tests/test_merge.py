"""The mix engine's fast path gives the workloads of the general one, bit for bit."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads._merge import merge_streams, model_generators
from workloads.arrivals import ArrivalProcess, DeterministicProcess, GammaProcess
from workloads.errors import WorkloadError
from workloads.mixes import MixSpec, generate_mix
from workloads.pareto import ParetoProcess
from workloads.workload import Workload


def _reference(processes: dict[str, ArrivalProcess], names: tuple[str, ...], seed: int,
               duration: float, start: float) -> Workload:
    """The engine as it was: each process's public generate, then from_arrays."""
    rngs = np.random.default_rng(seed).spawn(len(names))
    arrivals, codes = [], []
    for code, (name, rng) in enumerate(zip(names, rngs, strict=True)):
        if name in processes:
            t = processes[name].generate(duration=duration, start=start, seed=rng)
            arrivals.append(t)
            codes.append(np.full(t.size, code, dtype=np.int32))
    arrival = np.concatenate(arrivals) if arrivals else np.empty(0)
    code_arr = np.concatenate(codes) if codes else np.empty(0, np.int32)
    return Workload.from_arrays(arrival=arrival, model=code_arr, model_names=names)


def _process(kind: str, rate: float, cv: float, mode: str) -> ArrivalProcess:
    if kind == "gamma":
        return GammaProcess(rate=rate, cv=cv, start_mode=mode)  # type: ignore[arg-type]
    if kind == "det":
        return DeterministicProcess(rate=rate, start_mode=mode)  # type: ignore[arg-type]
    return ParetoProcess.from_cv(rate=rate, cv=max(cv, 0.5), start_mode=mode)  # type: ignore[arg-type]


_proc = st.tuples(st.sampled_from(["gamma", "det", "pareto"]), st.floats(0.05, 50.0),
                  st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0, 8.0]),
                  st.sampled_from(["stationary", "ordinary"]))


@settings(max_examples=40, deadline=None)
@given(procs=st.lists(st.one_of(st.none(), _proc), min_size=1, max_size=6),
       seed=st.integers(0, 1000), duration=st.floats(0.0, 30.0), start=st.floats(-5.0, 5.0))
def test_fast_engine_equals_the_general_one(procs: list, seed: int, duration: float,
                                            start: float) -> None:
    names = tuple(f"m{i}" for i in range(len(procs)))
    processes = {n: _process(*p) for n, p in zip(names, procs, strict=True) if p is not None}
    got = merge_streams(processes, names, model_generators(seed, len(names)),
                        duration=duration, start=start)
    want = _reference(processes, names, seed, duration, start)
    assert got.arrival.tobytes() == want.arrival.tobytes()
    assert got.model_codes.tobytes() == want.model_codes.tobytes()
    assert got.model_names == want.model_names
    assert not got.arrival.flags.writeable
    assert not got.model_codes.flags.writeable
    assert got.model_codes.dtype == np.int32
    assert got.arrival.dtype == np.float64


class _Steps:
    """Not a renewal process: goes through generate and from_arrays."""

    def generate(self, *, seed: np.random.Generator, duration: float,
                 start: float = 0.0, n: int | None = None) -> np.ndarray:
        return np.array([start + duration / 2, start + duration / 4], dtype=np.float32)


def test_other_processes_take_the_general_path() -> None:
    procs = {"a": _Steps(), "b": GammaProcess(rate=2.0, cv=2.0)}
    got = merge_streams(procs, ("a", "b"), model_generators(1, 2), duration=8.0,  # type: ignore[arg-type]
                        start=0.0)
    want = _reference(procs, ("a", "b"), 1, 8.0, 0.0)  # type: ignore[arg-type]
    assert got.arrival.tolist() == want.arrival.tolist()
    assert got.model_codes.tolist() == want.model_codes.tolist()


def test_bad_spans_and_generators_raise_as_before() -> None:
    procs = {"a": GammaProcess(rate=1.0)}
    for duration in (-1.0, float("inf")):
        with pytest.raises(WorkloadError, match="duration must be a non-negative finite"):
            merge_streams(procs, ("a",), model_generators(0, 1), duration=duration, start=0.0)
    with pytest.raises(WorkloadError, match="start must be finite"):
        merge_streams(procs, ("a",), model_generators(0, 1), duration=1.0, start=float("nan"))
    with pytest.raises(WorkloadError, match="one numpy Generator per model"):
        model_generators([np.random.default_rng(0)], 2)
    with pytest.raises(WorkloadError, match="one numpy Generator per model"):
        model_generators([0, 1], 2)


def test_given_generators_are_used_as_given() -> None:
    spec = MixSpec(model_names=("a", "b"), total_rate=20.0, cv=3.0)
    seq = np.random.SeedSequence(9)
    by_seed = generate_mix(spec, duration=10.0, seed=np.random.SeedSequence(9))
    by_rngs = generate_mix(spec, duration=10.0,
                           seed=[np.random.default_rng(c) for c in seq.spawn(2)])
    assert by_seed.arrival.tobytes() == by_rngs.arrival.tobytes()


@pytest.mark.parametrize(("cv", "alpha", "n", "mode", "count", "digest"), [
    (4.0, 0.5, 32, "stationary", 1511, "c2479e542b52cf5b"),
    (0.0, 0.0, 3, "stationary", 1500, "f5e383f95fbaac1f"),
    (8.0, 0.5, 7, "ordinary", 2364, "36c6b87a35a3b126"),
])
def test_mixes_are_those_of_the_unoptimised_code(cv: float, alpha: float, n: int, mode: str,
                                                  count: int, digest: str) -> None:
    # digests recorded with the code before the fast paths (commit 8d1f68f)
    spec = MixSpec(model_names=tuple(f"m{i}" for i in range(n)), total_rate=30.0,
                   zipf_alpha=alpha, cv=cv, start_mode=mode)  # type: ignore[arg-type]
    w = generate_mix(spec, duration=50.0, seed=3, start=2.5)
    got = hashlib.sha256(w.arrival.tobytes() + w.model_codes.tobytes()).hexdigest()[:16]
    assert (len(w), got) == (count, digest)
