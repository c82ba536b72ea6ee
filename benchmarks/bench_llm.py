"""Token-level engine speed: the compiled engine on the Azure LLM code trace tiled in time to
10 M requests, beside the SimPy reference on a subset, measured in the same run; then the
many-LLM placement study (``bench_llm_placement.py``: 8 LLMs of 7B-70B on 32 A100s, our plan
against the dedicated and MuxServe-style baselines).

One llama-2-7B replica (tp=1, pp=1) on one A100-80GB: iteration cost from the analytic model
(``alpaserve.llm.analytic``), KV blocks from vLLM's sizing (``alpaserve.llm.memory``),
vLLM's default scheduler (256 sequences, 8192 tokens, 16-token blocks, prefill-first).
Rates are requests per CPU-second of the simulating thread (``time.thread_time``), so a busy
machine slows them less than wall time; both are printed.

Usage::

    python benchmarks/bench_llm.py [--data /work/shared/data] [--requests 10000000]
                                   [--reference-requests 3000] [--skip-placement]
                                   [--placement-args "--alpha 1 --rate-scale 6"]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from alpaserve.device_spec import device_preset
from alpaserve.llm.analytic import analytic_iteration_cost
from alpaserve.llm.memory import kv_capacity_blocks
from alpaserve.llm.spec import llm_preset
from simulator.llm.config import EngineGroup, LLMDeployment, SchedulerConfig, ServedModel
from simulator.llm.engine import run_compiled
from simulator.llm.prepared import PreparedLLM, prepare_llm
from workloads.traces.azure.llm import read_azure_llm
from workloads.workload import Workload

TRACE = Path("azure_llm_2023") / "AzureLLMInferenceTrace_code.csv"


def tiled(base: Workload, n: int, model: str) -> Workload:
    """``base`` repeated back to back in time until it has ``n`` requests."""
    arrival = np.asarray(base.arrival)
    period = arrival[-1] - arrival[0] + (arrival[-1] - arrival[0]) / max(arrival.size - 1, 1)
    reps = -(-n // arrival.size)
    times = ((arrival - arrival[0])[None, :] + period * np.arange(reps)[:, None]).ravel()[:n]
    return Workload.from_arrays(arrival=times, model=model,
                                prompt_tokens=np.tile(base.prompt_tokens, reps)[:n],
                                output_tokens=np.tile(base.output_tokens, reps)[:n])


def deployment(model: str) -> LLMDeployment:
    """One llama-2-7B replica on one A100-80GB with vLLM's default scheduler."""
    spec, device = llm_preset("llama-2-7b"), device_preset("A100-80GB")
    sched = SchedulerConfig()
    cost = analytic_iteration_cost(spec, device, tp=1, pp=1,
                                   max_tokens=sched.max_batched_tokens, overhead_s=0.002)
    blocks = kv_capacity_blocks(spec, device, tp=1, pp=1, block_size=sched.block_size)
    served = ServedModel(model=model, cost=cost, kv_blocks=blocks)
    return LLMDeployment(groups=(EngineGroup(name="a100-0", num_devices=1, models=(served,),
                                             scheduler=sched),))


def timed(run: object, *args: object) -> tuple[object, float, float]:
    """Call ``run(*args)``; its result, thread CPU seconds and wall seconds."""
    c0, w0 = time.thread_time(), time.perf_counter()
    out = run(*args)  # type: ignore[operator]
    return out, time.thread_time() - c0, time.perf_counter() - w0


def subset(p: PreparedLLM, n: int) -> PreparedLLM:
    """The first ``n`` requests of ``p``."""
    return PreparedLLM(arrival=p.arrival[:n], prompt=p.prompt[:n], output=p.output[:n],
                       group=p.group[:n], slot=p.slot[:n], rejected=p.rejected[:n])


def main() -> None:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--reference-requests", type=int, default=3000)
    parser.add_argument("--skip-placement", action="store_true",
                        help="only the engine's rate, not the placement study")
    parser.add_argument("--placement-args", default="",
                        help="flags passed on to bench_llm_placement.py")
    args = parser.parse_args()
    engine_rate(args)
    if not args.skip_placement:
        import shlex

        import bench_llm_placement

        print("\n== many-LLM placement (bench_llm_placement.py) ==")
        bench_llm_placement.main(["--data", str(args.data), *shlex.split(args.placement_args)])


def engine_rate(args: argparse.Namespace) -> None:
    """Print the compiled engine's rate beside the SimPy reference's."""
    base = read_azure_llm(args.data / TRACE).workload
    model = "llama-2-7b"
    dep = deployment(model)
    work = tiled(base, args.requests, model)
    prepared = prepare_llm(work, dep)
    print(f"trace: {len(base)} requests over {base.arrival[-1]:.0f} s, tiled to "
          f"{len(work):,} requests ({prepared.rejected.sum()} rejected); "
          f"kv_blocks={dep.groups[0].models[0].kv_blocks}")
    run_compiled(subset(prepared, 2000), dep)  # compile (or load the cache) first
    out, cpu, wall = timed(run_compiled, prepared, dep)
    rate = len(work) / cpu
    print(f"compiled engine: {len(work):,} requests in {cpu:.2f} s CPU ({wall:.2f} s wall): "
          f"{rate:,.0f} requests/s per core ({len(work) / wall:,.0f} by wall time); "
          f"{int(out.iterations.sum()):,} iterations, "  # type: ignore[attr-defined]
          f"{int(out.preemptions.sum()):,} preemptions")  # type: ignore[attr-defined]
    # the opt-in KV timeline (simulate_llm(..., kv_timeline=True)), beside the run without
    tl, tcpu, _ = timed(lambda: run_compiled(prepared, dep, kv_timeline=True))
    line = tl.kv_timeline  # type: ignore[attr-defined]
    print(f"  with the KV timeline: {len(work) / tcpu:,.0f} requests/s per core "
          f"({cpu / tcpu:.2f}x the rate without); {int(line.changes[0]):,} changes kept in "
          f"{line.times[0].size:,} points (cap {line.max_points:,})")
    try:
        from simulator.llm.reference import run_reference
    except ImportError:
        print("SimPy reference: not available on this branch (no ratio)")
        return
    small = subset(prepared, args.reference_requests)
    ref, rcpu, rwall = timed(run_reference, small, dep)
    mine, _, _ = timed(run_compiled, small, dep)
    same = np.array_equal(ref.finish, mine.finish)  # type: ignore[attr-defined]
    ref_rate = small.arrival.size / rcpu
    print(f"SimPy reference: {small.arrival.size:,} requests in {rcpu:.2f} s CPU "
          f"({rwall:.2f} s wall): {ref_rate:,.0f} requests/s per core; "
          f"identical finish times on that subset: {same}")
    print(f"ratio compiled / reference: {rate / ref_rate:,.0f}x")


if __name__ == "__main__":
    main()
