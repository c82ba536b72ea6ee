"""The SimPy reference of the token-level engine: closed forms, invariants, bad inputs."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.errors import SimulationError
from alpaserve.llm.iteration import IterationCost
from simulator.llm.config import SchedulerConfig, ServedModel
from simulator.llm.prepared import PreparedLLM, prepare_llm
from simulator.llm.reference import ReferenceOutcome, run_reference
from simulator.llm.semantics import LLMRequestStatus
from tests._fixtures_llm_cases import Case, cases, flat_cost, one_group
from workloads.workload import Workload

COST = IterationCost(linear_s=[0.0, 0.004, 0.0045, 0.005, 0.006], prefill_attention_s=1e-6,
                     decode_attention_s=2e-6, overhead_s=0.001)


def simulate(deployment, arrival, prompt, output, model="m", **kw) -> ReferenceOutcome:
    w = Workload.from_arrays(arrival=arrival, model=model, prompt_tokens=prompt,
                             output_tokens=output, **kw)
    return run_reference(prepare_llm(w, deployment), deployment, debug=True)


# ---------------------------------------------------------------- closed forms
def test_one_request_alone() -> None:
    dep = one_group(ServedModel(model="m", cost=COST, kv_blocks=64))
    prompt, output, arrival = 37, 6, 1.25
    out = simulate(dep, [arrival], [prompt], [output])
    first = arrival + COST.stage_s(n_tokens=prompt, prefill_units=prompt * (prompt + 1) // 2,
                                   decode_kv_tokens=0)
    t = first
    busy = first - arrival
    for g in range(1, output):
        s = COST.stage_s(n_tokens=1, prefill_units=0, decode_kv_tokens=prompt + g)
        t += s
        busy += s
    assert out.first_token[0] == first
    assert out.finish[0] == t
    assert out.iterations.tolist() == [output]
    assert out.busy_s[0] == pytest.approx(busy, rel=1e-12)
    assert out.end_time == t
    assert out.preemptions.tolist() == [0]
    assert out.status.tolist() == [LLMRequestStatus.FINISHED]
    # KV: ceil(stored / 16) blocks over each iteration
    area = sum(-(-(prompt + g) // 16) * (r.end - r.start)
               for g, r in enumerate(out.iteration_log))
    assert out.kv_block_seconds[0] == pytest.approx(area, rel=1e-12)


def test_equal_requests_arriving_together_share_iterations() -> None:
    k, prompt, output = 5, 12, 4
    dep = one_group(ServedModel(model="m", cost=COST, kv_blocks=64))
    out = simulate(dep, [0.5] * k, [prompt] * k, [output] * k)
    t = 0.5 + COST.stage_s(n_tokens=k * prompt, prefill_units=k * prompt * (prompt + 1) // 2,
                           decode_kv_tokens=0)
    assert out.first_token.tolist() == [t] * k
    for g in range(1, output):
        t += COST.stage_s(n_tokens=k, prefill_units=0, decode_kv_tokens=k * (prompt + g))
    assert out.finish.tolist() == [t] * k
    assert out.iterations.tolist() == [output]
    assert [len(r.chunks) + len(r.decodes) for r in out.iteration_log] == [k] * output


def test_two_pipeline_stages_interleave_two_batches() -> None:
    # one prompt per iteration: A's prefill at 0, B's at S, then each decodes while the
    # other is in flight; S = 0.25 keeps every time exact
    output = 5
    dep = one_group(ServedModel(model="m", cost=flat_cost(0.25, stages=2), kv_blocks=64),
                    scheduler=SchedulerConfig(max_num_seqs=2, max_batched_tokens=8))
    out = simulate(dep, [0.0, 0.0], [8, 8], [output, output])
    assert out.first_token.tolist() == [0.5, 0.75]
    assert out.finish.tolist() == [2 * output * 0.25, (2 * output + 1) * 0.25]
    assert out.iterations.tolist() == [2 * output]
    assert out.busy_s.tolist() == [2 * output * 0.25]
    assert max(r.in_flight for r in out.iteration_log) == 2
    assert [r.start for r in out.iteration_log] == [0.25 * i for i in range(2 * output)]


def test_recompute_preemption_when_blocks_run_out() -> None:
    # 10 blocks of 1 token: both prompts (8), one decode each (10); A's next block preempts B,
    # which recomputes 4 + 2 tokens once A has finished
    dep = one_group(ServedModel(model="m", cost=flat_cost(1.0), kv_blocks=10),
                    scheduler=SchedulerConfig(block_size=1, max_num_seqs=4))
    out = simulate(dep, [0.0, 0.0], [4, 4], [4, 4])
    assert out.preemptions.tolist() == [0, 1]
    assert out.finish.tolist() == [4.0, 6.0]
    assert out.first_token.tolist() == [1.0, 1.0]
    assert [(t, pre.request, pre.free_blocks, pre.generated)
            for t, _, _, pre in out.preemption_log] == [(2.0, 1, 0, 2)]
    assert out.iteration_log[4].chunks == ((1, 6, 0, True),)


def test_chunked_prefill_splits_a_long_prompt() -> None:
    dep = one_group(ServedModel(model="m", cost=flat_cost(1.0), kv_blocks=64),
                    scheduler=SchedulerConfig(max_num_seqs=2, max_batched_tokens=8,
                                              block_size=4, chunked_prefill=True))
    out = simulate(dep, [0.0, 0.0], [20, 3], [2, 2])
    log = out.iteration_log
    assert log[0].chunks == ((0, 8, 0, False),)
    assert log[1].chunks == ((0, 8, 8, False),)
    assert log[2].chunks == ((0, 4, 16, True), (1, 3, 0, True))  # B fills the budget
    assert out.first_token.tolist() == [3.0, 3.0]
    assert log[3].decodes == (0, 1)


def test_round_robin_over_models_and_swap_load() -> None:
    served = (ServedModel(model="a", cost=flat_cost(1.0), kv_blocks=8, load_s=0.5),
              ServedModel(model="b", cost=flat_cost(1.0), kv_blocks=8, load_s=2.0))
    rr = simulate(one_group(*served), [0.0, 0.0], [4, 4], [2, 2], model=["a", "b"],
                  model_names=("a", "b"))
    assert [r.slot for r in rr.iteration_log] == [0, 1, 0, 1]
    assert rr.finish.tolist() == [3.0, 4.0]
    sw = simulate(one_group(*served, swap=True), [0.0, 0.0], [4, 4], [2, 2],
                  model=["a", "b"], model_names=("a", "b"))
    # a is resident: it runs to the end, then b loads for 2 s
    assert [r.slot for r in sw.iteration_log] == [0, 0, 1, 1]
    assert sw.load_log == ((2.0, 0, 1, 2.0),)
    assert sw.finish.tolist() == [2.0, 6.0]
    assert sw.busy_s.tolist() == [6.0]


# ---------------------------------------------------------------- invariants
def check_invariants(case: Case, out: ReferenceOutcome) -> None:
    dep, prepared = case.deployment, prepare_llm(case.workload, case.deployment)
    n = len(prepared)
    assert ((out.status == LLMRequestStatus.REJECTED) == prepared.rejected).all()
    done = ~prepared.rejected
    assert np.isnan(out.first_token[~done]).all()
    assert np.isnan(out.finish[~done]).all()
    assert (out.first_token[done] > prepared.arrival[done]).all()
    assert (out.finish[done] >= out.first_token[done]).all()
    tokens: Counter[int] = Counter()
    first_admission: dict[tuple[int, int], list[int]] = defaultdict(list)
    seen: set[int] = set()
    busy = [0.0] * len(dep.groups)
    last_free = [0.0] * len(dep.groups)
    spans: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for r in out.iteration_log:
        grp = dep.groups[r.group]
        assert 0 <= r.pool_used <= r.pool_capacity
        assert r.group_used <= sum(m.kv_blocks for m in grp.models)
        assert r.start >= last_free[r.group]  # the first stage runs one thing at a time
        last_free[r.group] = r.start + r.stage_s
        busy[r.group] += r.stage_s
        budget = grp.scheduler.max_batched_tokens
        tokens_in = sum(c for _, c, _, _ in r.chunks) + len(r.decodes)
        assert tokens_in <= budget or (len(r.chunks) == 1 and not r.decodes)  # long recompute
        for i, _, before, completes in r.chunks:
            tokens[i] += completes
            spans[i].append((r.start, r.end))
            if i not in seen and before == 0:
                seen.add(i)
                first_admission[(r.group, r.slot)].append(i)
        for i in r.decodes:
            tokens[i] += 1
            spans[i].append((r.start, r.end))
    for _t, g, _, load_s in out.load_log:
        busy[g] += load_s
    assert out.busy_s == pytest.approx(busy, rel=1e-9)
    per_group = Counter(r.group for r in out.iteration_log)
    assert out.iterations.tolist() == [per_group[g] for g in range(len(dep.groups))]
    for i in np.flatnonzero(done):  # every token once; a sequence is in one iteration at a time
        assert tokens[i] == prepared.output[i]
        ordered = sorted(spans[i])
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(ordered))
    for order in first_admission.values():  # FCFS: first admissions in arrival order
        assert order == sorted(order)
    assert {i for i in range(n) if done[i]} == seen
    pre = Counter(p.request for _, _, _, p in out.preemption_log)
    assert out.preemptions.tolist() == [pre[i] for i in range(n)]
    assert all(p.free_blocks == 0 for _, _, _, p in out.preemption_log)
    capacity = [sum(m.kv_blocks for m in g.models) for g in dep.groups]
    assert (out.kv_block_seconds <= np.array(capacity) * out.end_time * (1 + 1e-12)).all()
    if n:
        assert out.end_time == max(float(prepared.arrival[-1]),
                                   float(np.nanmax(out.finish)) if done.any() else 0.0)


@settings(max_examples=60)
@given(cases(max_requests=25))
def test_invariants_on_random_deployments(case: Case) -> None:
    # no deadlock: every request that is not rejected finishes (the stuck-group rule)
    out = run_reference(prepare_llm(case.workload, case.deployment), case.deployment,
                        debug=True)
    check_invariants(case, out)


def test_debug_changes_nothing_but_the_logs() -> None:
    dep = one_group(ServedModel(model="m", cost=COST, kv_blocks=6),
                    scheduler=SchedulerConfig(block_size=4, max_num_seqs=3))
    w = Workload.from_arrays(arrival=np.arange(12) * 0.003, model="m",
                             prompt_tokens=np.arange(12) % 7 + 3, output_tokens=[5] * 12)
    p = prepare_llm(w, dep)
    fast, slow = run_reference(p, dep), run_reference(p, dep, debug=True)
    assert fast.iteration_log == ()
    assert len(slow.iteration_log) == int(slow.iterations[0])
    for name in ("first_token", "finish", "preemptions", "iterations", "busy_s",
                 "kv_block_seconds"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name))
    assert slow.preemptions.sum() > 0


# ---------------------------------------------------------------- bad inputs
def test_bad_inputs() -> None:
    dep = one_group(ServedModel(model="m", cost=COST, kv_blocks=8))
    w = Workload.from_arrays(arrival=[0.0, 1.0], model="m", prompt_tokens=[3, 3],
                             output_tokens=[2, 2])
    p = prepare_llm(w, dep)
    with pytest.raises(SimulationError, match="must be a PreparedLLM, got Workload"):
        run_reference(w, dep)  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match="must be an LLMDeployment, got str"):
        run_reference(p, "g0")  # type: ignore[arg-type]
    moved = PreparedLLM(arrival=p.arrival, prompt=p.prompt, output=p.output,
                        group=np.array([0, 1]), slot=p.slot, rejected=p.rejected)
    with pytest.raises(SimulationError, match="request 1 is routed to group 1, slot 0"):
        run_reference(moved, dep)
    backwards = PreparedLLM(arrival=np.array([1.0, 0.0]), prompt=p.prompt, output=p.output,
                            group=p.group, slot=p.slot, rejected=p.rejected)
    with pytest.raises(SimulationError, match="must be sorted"):
        run_reference(backwards, dep)
    short = PreparedLLM(arrival=p.arrival, prompt=p.prompt[:1], output=p.output,
                        group=p.group, slot=p.slot, rejected=p.rejected)
    with pytest.raises(SimulationError, match=r"prepared.prompt has shape \(1,\)"):
        run_reference(short, dep)


@pytest.mark.parametrize("chunked", [False, True])
def test_an_empty_prompt_is_prefilled_with_nothing(chunked: bool) -> None:
    dep = one_group(ServedModel(model="m", cost=COST, kv_blocks=8),
                    scheduler=SchedulerConfig(chunked_prefill=chunked))
    out = simulate(dep, [0.0], [0], [3])
    assert out.first_token[0] == COST.stage_s(n_tokens=0, prefill_units=0, decode_kv_tokens=0)
    assert out.iteration_log[0].chunks == ((0, 0, 0, True),)
    assert out.iteration_log[0].pool_used == 0


def test_a_recompute_longer_than_the_budget_runs_alone() -> None:
    # 2 blocks of 4: at the 5th token A preempts B, whose recompute (1 + 4 tokens) exceeds
    # the budget of 4 and is admitted alone once A is done
    dep = one_group(ServedModel(model="m", cost=flat_cost(1.0), kv_blocks=2),
                    scheduler=SchedulerConfig(max_num_seqs=2, max_batched_tokens=4,
                                              block_size=4))
    out = simulate(dep, [0.0, 0.0], [1, 1], [5, 5])
    assert out.preemptions.tolist() == [0, 1]
    assert out.iteration_log[-1].chunks == ((1, 5, 0, True),)
    assert out.finish.tolist() == [5.0, 6.0]


def test_a_stuck_chunk_preempts_a_later_partial_prefill() -> None:
    # 2 blocks of 4, budget 4 (with P = 2): A's first chunk is in flight when B takes the
    # other block; A's next chunk finds no room and preempts B
    dep = one_group(ServedModel(model="m", cost=flat_cost(0.25, stages=2), kv_blocks=2),
                    scheduler=SchedulerConfig(max_num_seqs=2, max_batched_tokens=4,
                                              block_size=4, chunked_prefill=True))
    out = simulate(dep, [0.0, 0.0], [8, 8], [1, 1])
    assert out.preemptions.tolist() == [0, 1]
    assert [(pre.request, pre.generated) for _, _, _, pre in out.preemption_log] == [(1, 0)]
    assert (out.finish > 0).all()


def stuck_preemptions(out: ReferenceOutcome) -> list[tuple[float, int, int]]:
    return [(t, slot, pre.request) for t, _, slot, pre in out.preemption_log
            if pre.stuck_group]


def test_a_stuck_group_preempts_its_latest_admission() -> None:
    # a shared pool of 3 blocks of 4: a's 9-token prompt holds 2 (8 tokens), b's 5-token
    # prompt 1 (4 tokens), neither can preempt the other; at t=3 the group preempts b (the
    # latest admission) and a, the oldest, takes the freed block first
    served = (ServedModel(model="a", cost=flat_cost(1.0), kv_blocks=1),
              ServedModel(model="b", cost=flat_cost(1.0), kv_blocks=2))
    dep = one_group(*served, kv_sharing="shared",
                    scheduler=SchedulerConfig(max_num_seqs=1, max_batched_tokens=4,
                                              block_size=4, chunked_prefill=True))
    w = Workload.from_arrays(arrival=[0.0, 0.0], model=["a", "b"], prompt_tokens=[9, 5],
                             output_tokens=[1, 1], model_names=("a", "b"))
    out = run_reference(prepare_llm(w, dep), dep, debug=True)
    assert stuck_preemptions(out) == [(3.0, 1, 1)]
    assert [r.chunks for r in out.iteration_log[3:]] == [
        ((0, 1, 8, True),), ((1, 4, 0, False),), ((1, 1, 4, True),)]
    assert out.finish.tolist() == [4.0, 6.0]
    assert out.preemptions.tolist() == [0, 1]
    assert_same_outcome(Case(deployment=dep, workload=w))


def test_the_minimal_deadlock_hypothesis_found_finishes() -> None:
    # hypothesis's smallest deadlock before the stuck-group rule: a pool of 3 one-token
    # blocks, budget 4; a and b prefill, a's decode takes the last block, b's decode preempts
    # itself and b recomputes 1 of its 2 tokens, a's next decode preempts itself and a
    # recomputes 2 of 3: both partial, pool full. Now the group preempts a (admitted last)
    # and b, the oldest, finishes first
    served = tuple(ServedModel(model=name, cost=flat_cost(1.0), kv_blocks=1)
                   for name in ("a", "b", "c"))
    dep = one_group(*served, kv_sharing="shared",
                    scheduler=SchedulerConfig(max_num_seqs=1, max_batched_tokens=4,
                                              block_size=1, chunked_prefill=True))
    w = Workload.from_arrays(arrival=[0.0, 0.0], model=["a", "b"], prompt_tokens=[1, 1],
                             output_tokens=[3, 2], model_names=("a", "b", "c"))
    out = run_reference(prepare_llm(w, dep), dep, debug=True)
    assert stuck_preemptions(out) == [(5.0, 0, 0)]
    assert [(r.slot, r.chunks) for r in out.iteration_log[5:]] == [
        (1, ((1, 1, 1, True),)), (0, ((0, 3, 0, True),))]
    assert out.finish.tolist() == [7.0, 6.0]
    assert out.preemptions.tolist() == [2, 1]
    assert_same_outcome(Case(deployment=dep, workload=w))


def test_rejected_and_empty_workloads() -> None:
    dep = one_group(ServedModel(model="m", cost=COST, kv_blocks=2),
                    scheduler=SchedulerConfig(block_size=4))
    out = simulate(dep, [0.0, 2.0], [4, 20], [5, 1])  # 8 tokens fit, 20 do not
    assert out.status.tolist() == [LLMRequestStatus.FINISHED, LLMRequestStatus.REJECTED]
    assert np.isnan(out.finish[1])
    assert out.end_time == 2.0
    empty = simulate(dep, np.empty(0), np.empty(0, dtype=int), np.empty(0, dtype=int))
    assert empty.end_time == 0.0
    assert empty.iterations.tolist() == [0]


# ---------------------------------------------------------------- the compiled engine agrees
def assert_same_outcome(case: Case) -> None:
    """Both engines finish every request that is not rejected, with the same outcome."""
    from simulator.llm.engine import run_compiled

    prepared = prepare_llm(case.workload, case.deployment)
    ref = run_reference(prepared, case.deployment)  # no deadlock (the stuck-group rule)
    out = run_compiled(prepared, case.deployment)
    live = ~prepared.rejected
    assert np.isfinite(ref.finish[live]).all()
    np.testing.assert_array_equal(out.status, ref.status)
    np.testing.assert_array_equal(out.preemptions, ref.preemptions)
    np.testing.assert_array_equal(out.iterations, ref.iterations)
    np.testing.assert_array_equal(out.first_token, ref.first_token)  # bit for bit
    np.testing.assert_array_equal(out.finish, ref.finish)
    np.testing.assert_allclose(out.busy_s, ref.busy_s, rtol=1e-9, atol=0)
    np.testing.assert_allclose(out.kv_block_seconds, ref.kv_block_seconds, rtol=1e-9, atol=0)
    assert out.end_time == ref.end_time


@settings(max_examples=150)
@given(cases(max_requests=30))
def test_engines_agree_on_random_deployments(case: Case) -> None:
    # prefill-first and chunked, partitioned and shared KV, swap, P in {1, 2, 3}, routes
    assert_same_outcome(case)


@settings(max_examples=60)
@given(cases(max_requests=30, max_groups=1, chunked=True, min_prompt=0, free_steps=True))
def test_engines_agree_on_chunked_prefill_with_empty_prompts_and_free_steps(case: Case) -> None:
    assert_same_outcome(case)


@settings(max_examples=90)
@given(cases(max_requests=30, max_groups=2, stages=(2, 3), max_output=30))
def test_engines_agree_on_pipelines(case: Case) -> None:
    assert_same_outcome(case)


@settings(max_examples=60)
@given(cases(max_requests=30), st.sampled_from([True, 5, 12]))
def test_engines_record_the_same_kv_timeline(case: Case, cap: bool | int) -> None:
    from simulator.llm.engine import run_compiled

    prepared = prepare_llm(case.workload, case.deployment)
    ref = run_reference(prepared, case.deployment, kv_timeline=cap).kv_timeline
    out = run_compiled(prepared, case.deployment, kv_timeline=cap).kv_timeline
    assert ref is not None
    assert out is not None
    np.testing.assert_array_equal(out.changes, ref.changes)
    np.testing.assert_array_equal(out.capacity, ref.capacity)
    for t_out, t_ref, b_out, b_ref in zip(out.times, ref.times, out.blocks, ref.blocks,
                                          strict=True):
        np.testing.assert_array_equal(t_out, t_ref)  # bit for bit, downsampled or not
        np.testing.assert_array_equal(b_out, b_ref)
