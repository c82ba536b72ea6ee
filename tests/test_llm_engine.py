"""The compiled token-level engine: closed forms, invariants and the scheduler's features."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.errors import SimulationError
from simulator.llm.config import LLMDeployment, SchedulerConfig
from simulator.llm.engine import run_compiled
from simulator.llm.engine.driver import group_tables
from simulator.llm.engine.kernel import group_kernel
from simulator.llm.prepared import prepare_llm
from simulator.llm.semantics import LLMRequestStatus
from tests._fixtures_llm_engine import llm_cost, one_group, random_llm_workload
from workloads.workload import Workload


def run(dep: LLMDeployment, w: Workload, **kw: object):  # type: ignore[no-untyped-def]
    return run_compiled(prepare_llm(w, dep), dep, **kw)  # type: ignore[arg-type]


def test_one_request_alone_closed_form() -> None:
    cost = llm_cost()
    dep = one_group(cost=cost)
    w = Workload.from_arrays(arrival=[1.0], model="m", prompt_tokens=[40], output_tokens=[4])
    out = run(dep, w)
    prefill = cost.stage_s(n_tokens=40, prefill_units=40 * 41 // 2, decode_kv_tokens=0)
    t = 1.0 + prefill
    assert out.first_token[0] == t
    for g in range(1, 4):
        t = t + cost.stage_s(n_tokens=1, prefill_units=0, decode_kv_tokens=40 + g)
    assert out.finish[0] == t
    assert out.iterations.tolist() == [4]
    assert out.busy_s[0] == pytest.approx(t - 1.0)
    # 3 blocks (40 tokens) during the prefill and up to 43 tokens, of 16 per block
    assert out.kv_block_seconds[0] == pytest.approx(3 * (t - 1.0))


def test_batch_of_equal_requests_shares_iterations() -> None:
    cost = llm_cost()
    dep = one_group(cost=cost)
    k = 4
    w = Workload.from_arrays(arrival=[0.0] * k, model="m", prompt_tokens=[20] * k,
                             output_tokens=[3] * k)
    out = run(dep, w)
    t = cost.stage_s(n_tokens=20 * k, prefill_units=k * (20 * 21 // 2), decode_kv_tokens=0)
    assert np.all(out.first_token == t)
    for g in (1, 2):
        t = t + cost.stage_s(n_tokens=k, prefill_units=0, decode_kv_tokens=k * (20 + g))
    assert np.all(out.finish == t)
    assert out.iterations.tolist() == [3]


def test_max_num_seqs_splits_a_burst() -> None:
    dep = one_group(scheduler=SchedulerConfig(max_num_seqs=2, max_batched_tokens=256))
    w = Workload.from_arrays(arrival=[0.0] * 3, model="m", prompt_tokens=[10] * 3,
                             output_tokens=[2] * 3)
    out = run(dep, w)
    assert out.first_token[0] == out.first_token[1] < out.first_token[2]


def test_pipeline_keeps_two_iterations_in_flight() -> None:
    cost1, cost2 = llm_cost(), llm_cost(stages=2)
    burst = Workload.from_arrays(arrival=[0.0] * 2, model="m", prompt_tokens=[30] * 2,
                                 output_tokens=[50] * 2)
    one = run(one_group(cost=cost1, scheduler=SchedulerConfig(max_num_seqs=1,
                                                               max_batched_tokens=64)), burst)
    two = run(one_group(cost=cost2, scheduler=SchedulerConfig(max_num_seqs=1,
                                                              max_batched_tokens=64)), burst)
    # the first token comes out after both stages: 2 * S
    assert np.all(np.isfinite(two.finish))
    s = cost2.stage_s(n_tokens=30, prefill_units=30 * 31 // 2, decode_kv_tokens=0)
    assert two.first_token[0] == 0.0 + 2.0 * s
    assert one.first_token[0] == cost1.stage_s(n_tokens=30, prefill_units=30 * 31 // 2,
                                               decode_kv_tokens=0)


def test_pipeline_throughput_doubles_on_independent_decodes() -> None:
    # two sequences never batched together (max_num_seqs=1 would forbid the second), so use
    # two models sharing a 2-stage group: their iterations interleave in the pipeline
    cost = llm_cost(stages=2)
    dep = one_group(cost=cost, models=("a", "b"))
    w = Workload.from_arrays(arrival=[0.0, 0.0], model=["a", "b"], prompt_tokens=[10, 10],
                             output_tokens=[30, 30], model_names=("a", "b"))
    out = run(dep, w)
    s_pre = cost.stage_s(n_tokens=10, prefill_units=55, decode_kv_tokens=0)
    assert out.first_token.tolist() == [2 * s_pre, s_pre + 2 * s_pre]
    span = out.finish.max()
    one = run(one_group(cost=llm_cost(), models=("a", "b")), w)
    # one stage does the same work serially; two stages overlap the two models' iterations
    assert span < 0.75 * one.finish.max()


def test_fast_path_is_bit_identical(rng: np.random.Generator) -> None:
    w = random_llm_workload(rng, 300, rate=30.0)
    for chunked in (False, True):
        dep = one_group(kv_blocks=64, scheduler=SchedulerConfig(
            max_num_seqs=8, max_batched_tokens=256, chunked_prefill=chunked))
        a, b = run(dep, w, kv_timeline=True), run(dep, w, fast=False, kv_timeline=True)
        assert np.array_equal(a.finish, b.finish)
        # the fast path records the blocks each of its steps allocates
        assert np.array_equal(a.kv_timeline.times[0], b.kv_timeline.times[0])
        assert np.array_equal(a.kv_timeline.blocks[0], b.kv_timeline.blocks[0])
        assert np.array_equal(a.first_token,
                                                                      b.first_token)
        assert a.kv_block_seconds[0] == b.kv_block_seconds[0]
        assert a.busy_s[0] == b.busy_s[0]
        assert a.iterations[0] == b.iterations[0]


def _kv_and_tokens(dep: LLMDeployment, w: Workload) -> tuple[np.ndarray, np.ndarray]:
    out = run(dep, w)
    return out.first_token, out.finish


@settings(max_examples=25)
@given(seed=st.integers(0, 2**31), chunked=st.booleans(), shared=st.booleans(),
       kv=st.integers(8, 40), stages=st.sampled_from([1, 2]), swap=st.booleans())
def test_invariants(seed: int, chunked: bool, shared: bool, kv: int, stages: int,
                    swap: bool) -> None:
    rng = np.random.default_rng(seed)
    w = random_llm_workload(rng, 40, models=("a", "b"), rate=40.0)
    dep = one_group(kv_blocks=kv, models=("a", "b"), cost=llm_cost(stages=stages),
                    kv_sharing="shared" if shared else "partitioned", swap=swap,
                    load_s=0.05, scheduler=SchedulerConfig(
                        max_num_seqs=6, max_batched_tokens=128, chunked_prefill=chunked))
    p = prepare_llm(w, dep)
    out = run_compiled(p, dep)  # never deadlocks, even with chunks of two models in one pool
    live = ~p.rejected
    assert np.all(np.isfinite(out.finish[live]))
    assert np.all(out.status[live] == LLMRequestStatus.FINISHED)
    assert np.all(out.status[~live] == LLMRequestStatus.REJECTED)
    assert np.all(np.isnan(out.finish[~live]))
    assert np.all(p.arrival[live] < out.first_token[live])
    assert np.all(out.first_token[live] <= out.finish[live])
    assert np.all((out.first_token[live] < out.finish[live]) | (p.output[live] == 1))
    # KV never above capacity: time-average below capacity and busy time within the span
    cap = 2 * kv
    span = out.end_time - p.arrival[0]
    assert out.kv_block_seconds[0] <= cap * span * (1 + 1e-9)
    assert out.busy_s[0] <= span * (1 + 1e-9)
    # each output token takes at least one iteration, each iteration at least the overhead
    assert out.iterations[0] >= p.output[live].max()


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31))
def test_fcfs_without_preemption(seed: int) -> None:
    rng = np.random.default_rng(seed)
    w = random_llm_workload(rng, 40, rate=40.0)
    dep = one_group(kv_blocks=4096)
    out = run(dep, w)
    assert out.preemptions.sum() == 0
    # prefill-first admits from the head of the queue: first tokens never overtake
    assert np.all(np.diff(out.first_token) >= 0)


def test_preemption_under_tiny_kv_budget(rng: np.random.Generator) -> None:
    w = random_llm_workload(rng, 60, rate=50.0, max_prompt=60, max_output=60)
    dep = one_group(kv_blocks=10)
    p = prepare_llm(w, dep)
    out = run_compiled(p, dep)
    assert out.preemptions.sum() > 0
    assert np.all(np.isfinite(out.finish[~p.rejected]))
    roomy = run(one_group(kv_blocks=4096), w)
    assert roomy.preemptions.sum() == 0


def test_chunked_prefill_changes_the_schedule() -> None:
    w = Workload.from_arrays(arrival=[0.0, 0.01], model="m", prompt_tokens=[20, 200],
                             output_tokens=[20, 2])
    base = SchedulerConfig(max_num_seqs=8, max_batched_tokens=256)
    plain = run(one_group(scheduler=base), w)
    chunk = run(one_group(scheduler=SchedulerConfig(max_num_seqs=8, max_batched_tokens=64,
                                                    chunked_prefill=True)), w)
    # the long prompt takes 4 chunks of 64 tokens or fewer, decoding request 0 meanwhile
    assert chunk.iterations[0] != plain.iterations[0]
    assert chunk.first_token[1] > plain.first_token[1]
    rejected = prepare_llm(w, one_group(scheduler=SchedulerConfig(
        max_num_seqs=8, max_batched_tokens=64)))
    assert rejected.rejected.tolist() == [False, True]


def test_swap_costs_load_time() -> None:
    w = Workload.from_arrays(arrival=[0.0, 0.0], model=["a", "b"], prompt_tokens=[10, 10],
                             output_tokens=[2, 2], model_names=("a", "b"))
    free = run(one_group(models=("a", "b"), swap=True, load_s=0.0), w)
    slow = run(one_group(models=("a", "b"), swap=True, load_s=2.0), w)
    assert slow.first_token[0] == free.first_token[0]
    assert slow.first_token[1] == pytest.approx(free.first_token[1] + 2.0)
    assert slow.busy_s[0] == pytest.approx(free.busy_s[0] + 2.0)
    # without swapping the two models interleave and b does not wait for a to finish
    both = run(one_group(models=("a", "b")), w)
    assert both.first_token[1] < free.first_token[1]
    assert both.finish[0] > free.finish[0]


def test_shared_kv_pool_lends_blocks_across_models() -> None:
    w = Workload.from_arrays(arrival=[0.0, 0.0], model=["a", "a"], prompt_tokens=[100, 100],
                             output_tokens=[2, 2], model_names=("a", "b"))
    kw = {"models": ("a", "b"), "kv_blocks": 8}
    part = prepare_llm(w, one_group(**kw))
    shared_dep = one_group(kv_sharing="shared", **kw)
    shared = prepare_llm(w, shared_dep)
    assert part.rejected.tolist() == [False, False]
    out_p = run_compiled(part, one_group(**kw))
    out_s = run_compiled(shared, shared_dep)
    # 7 blocks each: with 8 of its own, model a runs one at a time; with the pool of 16, both
    assert out_p.first_token[0] < out_p.first_token[1]
    assert out_s.first_token[0] == out_s.first_token[1]


def test_kernel_runs_as_python(rng: np.random.Generator) -> None:
    w = random_llm_workload(rng, 15, rate=30.0)
    dep = one_group(kv_blocks=12)
    p = prepare_llm(w, dep)
    out = run_compiled(p, dep)
    live = ~p.rejected
    fc, ic, lin, sc = group_tables(dep.groups[0])
    m = int(live.sum())
    first, finish = np.full(m, np.nan), np.full(m, np.nan)
    pre, ist, fst = np.zeros(m, np.int64), np.zeros(2, np.int64), np.zeros(2)
    kernel = getattr(group_kernel, "py_func", group_kernel)
    kernel(p.arrival[live], p.prompt[live], p.output[live], p.slot[live], fc, ic, lin, sc,
           first, finish, pre, ist, fst, None, True)
    assert np.array_equal(finish, out.finish[live])
    assert ist[0] == out.iterations[0]


def test_a_stuck_shared_pool_never_deadlocks() -> None:
    # three models' chunks in a pool of 12 blocks of 16: partial prefills fill it often and
    # the stuck-group rule (semantics) must free it; the compiled kernel, its plain-Python
    # run and the SimPy reference agree on every request
    from simulator.llm.reference import run_reference

    w = random_llm_workload(np.random.default_rng(0), 60, models=("a", "b", "c"), rate=50.0,
                            max_prompt=120, max_output=20)
    dep = one_group(kv_blocks=4, models=("a", "b", "c"), kv_sharing="shared",
                    scheduler=SchedulerConfig(max_num_seqs=4, max_batched_tokens=32,
                                              chunked_prefill=True))
    p = prepare_llm(w, dep)
    out = run_compiled(p, dep)
    ref = run_reference(p, dep, debug=True)
    assert sum(pre.stuck_group for *_, pre in ref.preemption_log) > 0
    assert np.all(np.isfinite(out.finish))
    assert np.array_equal(out.finish, ref.finish)
    assert np.array_equal(out.preemptions, ref.preemptions)
    fc, ic, lin, sc = group_tables(dep.groups[0])
    n = len(p)
    first, finish = np.full(n, np.nan), np.full(n, np.nan)
    pre, ist, fst = np.zeros(n, np.int64), np.zeros(2, np.int64), np.zeros(2)
    kernel = getattr(group_kernel, "py_func", group_kernel)
    kernel(p.arrival, p.prompt, p.output, p.slot, fc, ic, lin, sc, first, finish, pre, ist,
           fst, None, True)
    assert np.array_equal(finish, out.finish)
    assert ist.tolist() == [out.iterations[0], 0]


def test_bad_inputs() -> None:
    dep = one_group()
    w = Workload.from_arrays(arrival=[0.0], model="m", prompt_tokens=[5], output_tokens=[2])
    p = prepare_llm(w, dep)
    with pytest.raises(SimulationError, match="PreparedLLM"):
        run_compiled(w, dep)  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match="LLMDeployment"):
        run_compiled(p, dep.groups[0])  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match="workers"):
        run_compiled(p, dep, workers=0)
    two = one_group(models=("x", "m"))
    wx = Workload.from_arrays(arrival=[0.0], model="m", prompt_tokens=[5], output_tokens=[2],
                              model_names=("m",))
    with pytest.raises(SimulationError, match="model slot"):
        run_compiled(prepare_llm(wx, two), dep)


def test_empty_workload_and_threads(rng: np.random.Generator) -> None:
    dep = one_group()
    w = Workload.from_arrays(arrival=[], model="m", prompt_tokens=[], output_tokens=[],
                             model_names=("m",))
    out = run(dep, w)
    assert out.end_time == 0.0
    assert out.iterations.tolist() == [0]
    from simulator.llm.config import EngineGroup

    groups = tuple(EngineGroup(name=f"g{k}", num_devices=1, models=dep.groups[0].models,
                               scheduler=dep.groups[0].scheduler) for k in range(3))
    many = LLMDeployment(groups=groups)
    wl = random_llm_workload(rng, 90, rate=60.0)
    a, b = run(many, wl), run(many, wl, workers=3)
    assert np.array_equal(a.finish, b.finish)
    assert sorted(set(prepare_llm(wl, many).group.tolist())) == [0, 1, 2]
