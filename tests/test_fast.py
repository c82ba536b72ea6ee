"""The fast engine: uncompiled fallback, no-numba import, queueing theory, prepared path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.errors import SimulationError
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB
from simulator import SimulationOptions, attainment, compile_placement, prepare, simulate
from simulator.engine import kernels
from simulator.engine.driver import run_fast, warm_up
from simulator.semantics import PlacementTables
from tests._fixtures_simulator import build_placement, build_profiles, entry, random_scenario
from workloads.workload import Workload

ROOT = Path(__file__).resolve().parents[1]


def tables_of(sc, options: SimulationOptions) -> PlacementTables:  # type: ignore[no-untyped-def]
    return compile_placement(sc.placement, sc.profiles, sc.workload.model_names,
                             max_batch=options.max_batch, stage_inflation=options.stage_inflation)


@pytest.mark.parametrize("max_batch", [1, 4])
@pytest.mark.parametrize("policy", ["earliest-finish", "least-outstanding", "alpaserve"])
def test_uncompiled_kernels_match_compiled(max_batch: int, policy: str) -> None:
    sc = random_scenario(3, n=120, cv=4.0)
    options = SimulationOptions(max_batch=max_batch, policy=policy, record_stages=True,
                                warmup=0.2)
    prepared = prepare(sc.workload, sc.slo)
    tables = tables_of(sc, options)
    compiled = run_fast(prepared, tables, options)
    plain = run_fast(prepared, tables, options,
                     kernels=tuple(getattr(k, "py_func", k) for k in
                                   (kernels.pipeline_kernel, kernels.batching_kernel,
                                    kernels.summary_kernel)))
    for name in ("status", "group", "start", "finish", "batch_size", "stage_start"):
        np.testing.assert_array_equal(getattr(compiled, name), getattr(plain, name))
    assert compiled.latency_p90 == plain.latency_p90
    assert dict(compiled.group_busy_fraction) == dict(plain.group_busy_fraction)


def test_runs_without_numba() -> None:
    """With numba unimportable the kernels are plain Python and give the same answer."""
    script = textwrap.dedent("""
        import sys
        sys.modules["numba"] = None  # makes `import numba` raise ImportError
        from simulator import simulate, SimulationOptions
        from simulator.engine import kernels as fast
        assert not fast.HAVE_NUMBA
        from tests._fixtures_simulator import random_scenario
        sc = random_scenario(5, n=40, cv=2.0)
        for mb in (1, 2):
            r = simulate(sc.placement, sc.profiles, sc.workload,
                         SimulationOptions(max_batch=mb), slo=sc.slo)
            print(mb, r.status.tolist(), r.finish.round(12).tolist())
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120, check=True).stdout.splitlines()
    sc = random_scenario(5, n=40, cv=2.0)
    for line, mb in zip(out, (1, 2), strict=True):
        r = simulate(sc.placement, sc.profiles, sc.workload, SimulationOptions(max_batch=mb),
                     slo=sc.slo)
        assert line == f"{mb} {r.status.tolist()} {r.finish.round(12).tolist()}"


def test_warm_up_reports_seconds() -> None:
    assert warm_up() >= 0.0


# ---------------------------------------------------------------------- queueing theory
def poisson_workload(rng: np.random.Generator, n: int, rate: float, models: list[str],
                     probs: list[float]) -> Workload:
    arrival = np.cumsum(rng.exponential(1.0 / rate, size=n))
    codes = rng.choice(len(models), size=n, p=probs).astype(np.int32)
    return Workload.from_arrays(arrival=arrival, model=codes, model_names=models)


def mean_wait(models: list[str], latency: list[float], probs: list[float], rate: float,
              seed: int) -> float:
    placement = build_placement(models, [1], [models])
    config = ParallelConfig.uniform(num_layers=8)
    db = ProfileDB([entry(m, config, 1, [s]) for m, s in zip(models, latency, strict=True)])
    w = poisson_workload(np.random.default_rng(seed), 1_000_000, rate, models, probs)
    r = simulate(placement, db, w, SimulationOptions(admission=False), slo=1e9)
    assert r.num_served == len(w)
    return float(np.mean(r.start - r.arrival))


def test_md1_mean_wait_matches_pollaczek_khinchine() -> None:
    service, rho = 1.0, 0.4  # at rho 0.4 the standard error at 1 M requests is ~0.3 %
    mu = 1.0 / service
    expected = rho / (2 * mu * (1 - rho))
    got = mean_wait(["a"], [service], [1.0], rate=rho * mu, seed=11)
    assert got == pytest.approx(expected, rel=0.01)


def test_mg1_mean_wait_matches_pollaczek_khinchine() -> None:
    latency, probs = [0.5, 1.0, 2.0], [0.5, 0.3, 0.2]
    es = float(np.dot(probs, latency))
    es2 = float(np.dot(probs, np.square(latency)))
    rate = 0.4 / es
    expected = rate * es2 / (2 * (1 - rate * es))
    got = mean_wait(["a", "b", "c"], latency, probs, rate=rate, seed=12)
    assert got == pytest.approx(expected, rel=0.01)


# ---------------------------------------------------------------------- prepared path
def test_repeated_evaluation_reuses_the_prepared_workload() -> None:
    rng = np.random.default_rng(4)
    models = ["a", "b", "c"]
    base = {"a": 0.05, "b": 0.1, "c": 0.2}
    w = Workload.from_arrays(arrival=np.cumsum(rng.exponential(0.02, 2000)),
                             model=rng.integers(0, 3, 2000).astype(np.int32),
                             model_names=models)
    slo = {m: 4 * v for m, v in base.items()}
    prepared = prepare(w, slo)
    options = SimulationOptions(policy="alpaserve")
    seen = set()
    for _ in range(6):
        stages = [int(s) for s in rng.integers(1, 4, size=3)]
        hosted = [[m for m in models if rng.random() < 0.7] for _ in stages]
        placement = build_placement(models, stages, hosted)
        db = build_profiles(placement, rng, base=base)
        tables = compile_placement(placement, db, models)
        quick = attainment(prepared, tables, options=options)
        full = simulate(placement, db, w, options, slo=slo)
        assert quick.num_good == full.num_good
        assert quick.unmet_per_model.tolist() == list(full.unmet_per_model.values())
        seen.add(quick.num_good)
    assert len(seen) > 1  # the placements really differ
    assert not prepared.arrival.flags.writeable


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([0.5, 1.0, 4.0]),
       st.sampled_from([0.5, 1.0, 3.0]), st.booleans(), st.booleans(),
       st.sampled_from([0.0, 0.002]), st.sampled_from([0.0, 0.3]))
def test_stage_specialised_attainment_equals_general_kernel(
        seed: int, cv: float, slo_scale: float, grid: bool, admission: bool, overhead: float,
        warmup: float) -> None:
    """The per-stage-count attainment kernels count exactly what pipeline_kernel counts."""
    from simulator.engine.attainment import attainment_fast
    from simulator.engine.driver import _run

    sc = random_scenario(seed, n=80, cv=cv, slo_scale=slo_scale, grid=grid, max_groups=5)
    span = float(sc.workload.arrival[-1] - sc.workload.arrival[0])
    options = SimulationOptions(admission=admission, request_overhead=overhead,
                                warmup=warmup * span)  # a fraction of the span: a window
    prepared = prepare(sc.workload, sc.slo)
    tables = tables_of(sc, options)
    general = _run(prepared, tables, options, record=False)
    special = attainment_fast(prepared, tables, options)
    np.testing.assert_array_equal(special.requests_per_model, general["count_pm"])
    np.testing.assert_array_equal(special.good_per_model, general["good_pm"])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 6), st.integers(1, 8), st.booleans(),
       st.booleans(), st.sampled_from([0.0, 0.3]))
def test_interleaved_batch_equals_each_placement_alone(
        seed: int, count: int, stages: int, grid: bool, admission: bool, warmup: float) -> None:
    """One interleaved pass over several placements (different group counts, host lists and
    widths, one stage count) counts exactly what the general kernel counts for each."""
    from simulator.engine.attainment import attainment_batch
    from simulator.engine.driver import _run

    base = random_scenario(seed, n=80, cv=3.0, grid=grid, max_groups=5)
    rng = np.random.default_rng(seed + 7)
    models = list(base.placement.models)
    profiles = ProfileDB(base.profiles)
    placements = []
    for _ in range(count):
        shape = [stages] + [int(rng.integers(1, stages + 1)) for _ in range(rng.integers(0, 5))]
        hosted = [[m for m in models if rng.random() < 0.7] for _ in shape]
        placement = build_placement(models, shape, hosted)
        profiles.update(build_profiles(placement, rng, grid=0.01 if grid else 0.0))
        placements.append(placement)
    span = float(base.workload.arrival[-1] - base.workload.arrival[0])
    options = SimulationOptions(admission=admission, warmup=warmup * span)
    prepared = prepare(base.workload, base.slo)
    tables = [compile_placement(p, profiles, prepared.model_names) for p in placements]
    batch = attainment_batch(prepared, tables, options)
    for summary, t in zip(batch, tables, strict=True):
        general = _run(prepared, t, options, record=False)
        np.testing.assert_array_equal(summary.good_per_model, general["good_pm"])
        np.testing.assert_array_equal(summary.requests_per_model, general["count_pm"])


def test_batch_plan_groups_by_stage_count() -> None:
    from simulator.engine.attainment import MAX_INTERLEAVED, attainment_batch, batch_plan

    models = ["a", "b"]
    two = build_placement(models, [2, 1], [["a"], ["a", "b"]])
    three = build_placement(models, [3], [["a", "b"]])
    rng = np.random.default_rng(0)
    profiles = ProfileDB(build_profiles(two, rng))
    profiles.update(build_profiles(three, rng))
    prepared = prepare(Workload.from_arrays(arrival=[0.0, 0.1], model=["a", "b"]), slo=1.0)
    tables = [compile_placement(p, profiles, prepared.model_names)
              for p in [two, three] * (MAX_INTERLEAVED + 1)]
    options = SimulationOptions()
    plan = batch_plan(tables, 2, options)
    assert sorted(i for batch in plan for i in batch) == list(range(len(tables)))
    assert all(len({tables[i].max_stages for i in batch}) == 1 for batch in plan)
    assert max(len(batch) for batch in plan) == MAX_INTERLEAVED
    # enough batches for every worker
    assert len(batch_plan(tables[:4], 2, options, workers=4)) == 4
    # batching and other policies take the general kernels: one placement per batch
    lo = SimulationOptions(policy="least-outstanding")
    assert all(len(batch) == 1 for batch in batch_plan(tables, 2, lo))
    with pytest.raises(SimulationError, match=r"stage counts \[2, 3\]"):
        attainment_batch(prepared, tables[:2], options)
