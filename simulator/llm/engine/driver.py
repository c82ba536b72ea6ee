"""``run_compiled``: the compiled token-level engine over a whole deployment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from alpaserve.errors import SimulationError
from simulator.llm.config import EngineGroup, LLMDeployment
from simulator.llm.engine import timeline
from simulator.llm.engine.kernel import (
    C_DECODE,
    C_HANDOFF,
    C_HANDOFF_TOKEN,
    C_KV_BLOCKS,
    C_LIN_LEN,
    C_LIN_OFF,
    C_LOAD,
    C_OVERHEAD,
    C_PREFILL,
    C_STAGES,
    COST_COLS,
    F_BUSY,
    F_KV,
    I_ITERS,
    I_UNFINISHED,
    ICOST_COLS,
    S_BLOCK,
    S_CHUNKED,
    S_MAX_SEQS,
    S_MAX_TOKENS,
    S_SHARED,
    S_SWAP,
    SCHED_SIZE,
    group_kernel,
)
from simulator.llm.kv_timeline import KVTimeline, timeline_points
from simulator.llm.outcome import LLMOutcome
from simulator.llm.prepared import PreparedLLM
from simulator.llm.semantics import LLMRequestStatus


def group_tables(group: EngineGroup) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The flat cost and scheduler tables the kernel reads for ``group``.

    Parameters
    ----------
    group : EngineGroup
        The group.

    Returns
    -------
    tuple of ndarray
        ``fcost`` (models × COST_COLS float64), ``icost`` (models × ICOST_COLS int64), the
        concatenated ``linear_s`` tables, and the scheduler settings (int64).
    """
    n_models = len(group.models)
    fcost = np.zeros((n_models, COST_COLS), dtype=np.float64)
    icost = np.zeros((n_models, ICOST_COLS), dtype=np.int64)
    tables = []
    offset = 0
    for s, served in enumerate(group.models):
        cost = served.cost
        fcost[s, C_OVERHEAD] = cost.overhead_s
        fcost[s, C_PREFILL] = cost.prefill_attention_s
        fcost[s, C_DECODE] = cost.decode_attention_s
        fcost[s, C_HANDOFF] = cost.handoff_s
        fcost[s, C_HANDOFF_TOKEN] = cost.handoff_s_per_token
        fcost[s, C_LOAD] = served.load_s
        icost[s, C_STAGES] = cost.pipeline_stages
        icost[s, C_LIN_OFF] = offset
        icost[s, C_LIN_LEN] = cost.linear_s.size
        icost[s, C_KV_BLOCKS] = served.kv_blocks
        tables.append(cost.linear_s)
        offset += cost.linear_s.size
    sched = np.zeros(SCHED_SIZE, dtype=np.int64)
    sched[S_MAX_SEQS] = group.scheduler.max_num_seqs
    sched[S_MAX_TOKENS] = group.scheduler.max_batched_tokens
    sched[S_BLOCK] = group.scheduler.block_size
    sched[S_CHUNKED] = int(group.scheduler.chunked_prefill)
    sched[S_SHARED] = int(group.kv_sharing == "shared")
    sched[S_SWAP] = int(group.swap)
    return fcost, icost, np.concatenate(tables), sched


def _check(prepared: PreparedLLM, deployment: LLMDeployment) -> None:
    if not isinstance(prepared, PreparedLLM):
        raise SimulationError(f"prepared must be a PreparedLLM, got {type(prepared).__name__}")
    if not isinstance(deployment, LLMDeployment):
        raise SimulationError(
            f"deployment must be an LLMDeployment, got {type(deployment).__name__}")
    n = len(prepared)
    if n == 0:
        return
    n_groups = len(deployment.groups)
    live = ~prepared.rejected
    group = prepared.group[live]
    if group.size and (group.min() < 0 or group.max() >= n_groups):
        raise SimulationError(f"prepared requests name group {int(group.max())} but the "
                              f"deployment has {n_groups} groups: prepare it for this one")
    sizes = np.array([len(g.models) for g in deployment.groups], dtype=np.int64)
    slot = prepared.slot[live]
    if slot.size and (np.any(slot < 0) or np.any(slot >= sizes[group])):
        raise SimulationError("prepared requests name a model slot their group does not "
                              "have: prepare the workload for this deployment")


def run_compiled(prepared: PreparedLLM, deployment: LLMDeployment, *,
                 workers: int = 1, fast: bool = True,
                 kv_timeline: bool | int = False) -> LLMOutcome:
    """Simulate a routed LLM workload with the compiled engine.

    Parameters
    ----------
    prepared : PreparedLLM
        The workload, routed by :func:`simulator.llm.prepared.prepare_llm` for ``deployment``.
    deployment : LLMDeployment
        Groups, their models and schedulers.
    workers : int, default 1
        Threads simulating groups at once (groups are independent; the kernel releases the
        GIL).
    fast : bool, default True
        Play steady decode runs in a tight loop; ``False`` gives the same outcome, bit for
        bit, more slowly (for checking).
    kv_timeline : bool or int, default False
        Also record each group's KV blocks in use over time: ``True`` for up to
        :data:`~simulator.llm.kv_timeline.DEFAULT_KV_TIMELINE_POINTS` points per group, or
        the most points (:mod:`simulator.llm.kv_timeline` says how it downsamples).

    Returns
    -------
    LLMOutcome
        Per-request and per-group arrays (``kv_timeline`` set when asked for).

    Raises
    ------
    SimulationError
        If ``prepared`` does not match ``deployment``, or (an engine bug) a group ends with
        requests unfinished.
    """
    _check(prepared, deployment)
    max_points = timeline_points(kv_timeline)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SimulationError(f"workers must be a positive int, got {workers!r}")
    n = len(prepared)
    n_groups = len(deployment.groups)
    first = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    preemptions = np.zeros(n, dtype=np.int64)
    status = np.where(prepared.rejected, int(LLMRequestStatus.REJECTED),
                      int(LLMRequestStatus.FINISHED)).astype(np.int64)
    istats = np.zeros((n_groups, 2), dtype=np.int64)
    fstats = np.zeros((n_groups, 2), dtype=np.float64)
    live = ~prepared.rejected
    lines: list[tuple[np.ndarray, np.ndarray, int]] = [
        (np.zeros(0), np.zeros(0, dtype=np.int64), 0)] * n_groups

    def run_group(g: int) -> None:
        idx = np.flatnonzero(live & (prepared.group == g))
        fcost, icost, lin, sched = group_tables(deployment.groups[g])
        f = np.full(idx.size, np.nan)
        e = np.full(idx.size, np.nan)
        p = np.zeros(idx.size, dtype=np.int64)
        tl = timeline.new_state(max_points) if max_points and idx.size else None
        group_kernel(np.ascontiguousarray(prepared.arrival[idx]),
                     np.ascontiguousarray(prepared.prompt[idx]),
                     np.ascontiguousarray(prepared.output[idx]),
                     np.ascontiguousarray(prepared.slot[idx]), fcost, icost, lin, sched,
                     f, e, p, istats[g], fstats[g], tl, fast)
        if tl is not None:
            lines[g] = timeline.points(tl)
        first[idx] = f
        finish[idx] = e
        preemptions[idx] = p

    if workers == 1 or n_groups == 1:
        for g in range(n_groups):
            run_group(g)
    else:
        with ThreadPoolExecutor(max_workers=min(workers, n_groups)) as pool:
            list(pool.map(run_group, range(n_groups)))
    stuck = np.flatnonzero(istats[:, I_UNFINISHED])
    if stuck.size:  # the stuck-group rule makes this unreachable: a guard against bugs
        g = int(stuck[0])
        raise SimulationError(
            f"group {deployment.groups[g].name!r} deadlocked with "
            f"{int(istats[g, I_UNFINISHED])} requests unfinished: an engine bug (the "
            "stuck-group rule of simulator.llm.semantics should prevent it)")
    ends = [float(np.max(finish[~prepared.rejected]))] if np.any(live) else []
    if n:
        ends.append(float(prepared.arrival[-1]))
    kv = None if not max_points else KVTimeline(
        groups=tuple(g.name for g in deployment.groups),
        times=tuple(t for t, _, _ in lines), blocks=tuple(b for _, b, _ in lines),
        capacity=np.array([sum(m.kv_blocks for m in g.models) for g in deployment.groups],
                          dtype=np.int64),
        changes=np.array([c for _, _, c in lines], dtype=np.int64), max_points=max_points)
    return LLMOutcome(first_token=first, finish=finish, preemptions=preemptions,
                      status=status, iterations=istats[:, I_ITERS].copy(),
                      busy_s=fstats[:, F_BUSY].copy(),
                      kv_block_seconds=fstats[:, F_KV].copy(),
                      end_time=max(ends) if ends else 0.0, kv_timeline=kv)
