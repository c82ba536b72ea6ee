"""Many-LLM placement on the Azure LLM code trace: our plan vs dedicated vs MuxServe-style.

8 LLMs (2 × Llama-2-7B, 2 × 13B, 2 × CodeLlama-34B, 2 × Llama-2-70B) on 32 A100-80GB
(4 nodes of 8). The code trace is time-compressed by ``--rate-scale`` and dealt to the models
by a power law; every plan is made on the first ``--train`` fraction and evaluated by the
token-level engine on the held-out rest. Prints goodput, per-model attainment, TTFT and TPOT
p99 and the planning time of each method, and the ratios against the baselines.

Usage: ``python benchmarks/bench_llm_placement.py [--data DIR] [--rate-scale 6]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from alpaserve.device_spec import device_preset  # noqa: E402
from placement.llm import LLMPlan, LLMPlanProblem, plan_llm  # noqa: E402
from placement.llm.score import default_engine, good_mask  # noqa: E402
from workloads.mapping import StreamMapping, map_requests  # noqa: E402
from workloads.traces.azure.llm import read_azure_llm  # noqa: E402
from workloads.workload import Workload  # noqa: E402

MODELS = ("llama-2-7b#1", "llama-2-13b#1", "codellama-34b#1", "llama-2-70b#1",
          "llama-2-7b#2", "llama-2-13b#2", "codellama-34b#2", "llama-2-70b#2")


def load(data: Path, rate_scale: float, alpha: float) -> Workload:
    """The code trace, time-compressed and dealt to :data:`MODELS` by a power law."""
    trace = read_azure_llm(data / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv").workload
    trace = Workload.from_arrays(arrival=np.asarray(trace.arrival) / rate_scale,
                                 model=trace.models_of(), prompt_tokens=trace.prompt_tokens,
                                 output_tokens=trace.output_tokens)
    spec = StreamMapping(model_names=MODELS, policy="power-law", alpha=alpha, seed=0)
    return map_requests(trace, spec).workload


def evaluate(problem: LLMPlanProblem, plan: LLMPlan, test: Workload) -> dict[str, object]:
    """Held-out goodput, per-model attainment and TTFT/TPOT p99 of ``plan``."""
    prepared, outcome = default_engine(plan.deployment, test)
    good, model = good_mask(problem, plan.deployment, prepared, outcome)
    ttft = outcome.first_token - prepared.arrival
    steps = np.maximum(prepared.output - 1, 1)
    tpot = np.where(prepared.output > 1, (outcome.finish - outcome.first_token) / steps, 0.0)
    done = np.isfinite(outcome.finish)
    per_model = {m: float(good[model == i].mean()) if np.any(model == i) else float("nan")
                 for i, m in enumerate(problem.model_names)}
    return {"goodput": float(good.mean()), "good_per_s": float(good.sum()) / test.duration,
            "per_model": per_model,
            "ttft_p99": float(np.percentile(ttft[done], 99)) if done.any() else float("nan"),
            "tpot_p99": float(np.percentile(tpot[done], 99)) if done.any() else float("nan"),
            "rejected": int(np.count_nonzero(prepared.rejected))}


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--rate-scale", type=float, default=6.0)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--train", type=float, default=0.5)
    parser.add_argument("--ttft-slo", type=float, default=2.0)
    parser.add_argument("--tpot-slo", type=float, default=0.1)
    parser.add_argument("--max-simulations", type=int, default=600)
    parser.add_argument("--max-requests", type=int, default=20000)
    parser.add_argument("--fairness", type=float, default=0.9)
    args = parser.parse_args()
    work = load(args.data, args.rate_scale, args.alpha)
    cut = float(work.arrival[0] + args.train * (work.arrival[-1] - work.arrival[0]))
    train = work.window(float(work.arrival[0]), cut)
    test = work.window(cut, float(np.nextafter(work.arrival[-1], np.inf)))
    problem = LLMPlanProblem(models=list(MODELS), num_devices=32,
                             device=device_preset("a100-80gb"), ttft_slo=args.ttft_slo,
                             tpot_slo=args.tpot_slo)
    counts = work.counts_by_model()
    print(f"code trace x{args.rate_scale:g}: {len(work)} requests "
          f"({len(work) / work.duration:.1f}/s), train {len(train)}, test {len(test)}; "
          f"power law alpha={args.alpha:g}: " + ", ".join(f"{m} {counts.get(m, 0)}"
                                                      for m in MODELS))
    print(f"SLOs: TTFT {args.ttft_slo:g} s, TPOT {args.tpot_slo:g} s; 32 x a100-80gb")
    results = {}
    for method in ("dedicated", "muxserve", "search"):
        t0 = time.perf_counter()
        plan = plan_llm(problem, train, method=method, max_simulations=args.max_simulations,
                        max_requests=args.max_requests, fairness=args.fairness)
        plan_s = time.perf_counter() - t0
        results[method] = (plan, plan_s, evaluate(problem, plan, test))
    for method, (plan, plan_s, ev) in results.items():
        print(f"\n== {method}: plan {plan_s:.2f} s, {plan.simulations} simulations, "
              f"train goodput {plan.train_goodput:.4f}")
        print(plan.explain().split("\ntraining")[0])
        print(f"held-out goodput {ev['goodput']:.4f} ({ev['good_per_s']:.2f} good req/s), "
              f"TTFT p99 {ev['ttft_p99']:.3f} s, TPOT p99 {ev['tpot_p99']:.4f} s, "
              f"rejected {ev['rejected']}")
        print("  attainment: " + ", ".join(f"{m} {v:.3f}" for m, v in ev["per_model"].items()))
    ours = results["search"][2]["goodput"]
    for base in ("dedicated", "muxserve"):
        theirs = results[base][2]["goodput"]
        ratio = ours / theirs if theirs else float("inf")
        print(f"goodput ratio search / {base}: {ratio:.3f}")


if __name__ == "__main__":
    main()
