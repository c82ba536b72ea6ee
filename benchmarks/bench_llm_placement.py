"""Many-LLM placement on the Azure LLM code trace: our plan vs dedicated vs MuxServe-style.

8 LLMs (2 × Llama-2-7B, 2 × 13B, 2 × CodeLlama-34B, 2 × Llama-2-70B) on 32 A100-80GB
(4 nodes of 8). The code trace is time-compressed by ``--rate-scale`` and dealt to the models
by a power law; every plan is made on the first ``--train`` fraction and evaluated by the
token-level engine on the held-out rest. Prints goodput, per-model attainment, TTFT and TPOT
p99 and the planning time of each method, and the ratios against the baselines.

Usage: ``python benchmarks/bench_llm_placement.py [--data DIR] [--rate-scale 6] [--alpha 1]``;
comma-separated ``--alpha 0.5,1,2 --rate-scale 3,6,12`` runs the grid and prints one line
per cell (held-out goodput of each method and the search's ratios).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from alpaserve.device_spec import device_preset  # noqa: E402
from placement.llm import LLMPlan, LLMPlanProblem, MeasuredCosts, plan_llm  # noqa: E402
from placement.llm.analytic_costs import resolve_spec  # noqa: E402
from simulator.llm.simulate import simulate_llm  # noqa: E402
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
    """Held-out goodput, per-model attainment and TTFT/TPOT p99 of ``plan`` (the summary's
    definitions: :mod:`simulator.llm.metrics`)."""
    s = simulate_llm(plan.deployment, test).summary(ttft_slo=problem.ttft_slo,
                                                     tpot_slo=problem.tpot_slo)
    nan = float("nan")

    def num(value: float | None) -> float:
        return nan if value is None else float(value)

    return {"goodput": num(s.overall.goodput), "good_per_s": num(s.overall.goodput_rps),
            "per_model": {m: num(s.models[m].goodput) if m in s.models else nan
                          for m in problem.model_names},
            "ttft_p99": num(s.overall.ttft_p99), "tpot_p99": num(s.overall.tpot_p99),
            "rejected": s.overall.rejected}


def _problem(args: argparse.Namespace) -> LLMPlanProblem:
    device = device_preset("a100-80gb")
    settings: dict[str, Any] = {"models": list(MODELS), "num_devices": 32, "device": device,
                "ttft_slo": args.ttft_slo, "tpot_slo": args.tpot_slo}
    if args.costs == "analytic":
        return LLMPlanProblem(**settings)
    specs = {m: resolve_spec(m, None) for m in MODELS}
    costs = MeasuredCosts.from_vidur(args.data / "vidur_profiles", specs, device)
    return LLMPlanProblem(**settings, costs=costs)


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.3f}" if base > 0 else "inf"


def run_cell(args: argparse.Namespace, problem: LLMPlanProblem, rate_scale: float,
             alpha: float, *, verbose: bool) -> dict[str, dict[str, object]]:
    """Plan with each method on the training part of one workload; evaluate on the rest."""
    work = load(args.data, rate_scale, alpha)
    cut = float(work.arrival[0] + args.train * (work.arrival[-1] - work.arrival[0]))
    train = work.window(float(work.arrival[0]), cut)
    test = work.window(cut, float(np.nextafter(work.arrival[-1], np.inf)))
    counts = work.counts_by_model()
    if verbose:
        print(f"code trace x{rate_scale:g}: {len(work)} requests "
              f"({len(work) / work.duration:.1f}/s), train {len(train)} "
              f"({len(train) / train.duration:.1f}/s), test {len(test)} "
              f"({len(test) / test.duration:.1f}/s); power law alpha={alpha:g}: "
              + ", ".join(f"{m} {counts.get(m, 0)}" for m in MODELS))
    loads = tuple(float(x) for x in args.loads.split(","))
    results = {}
    for method in ("dedicated", "muxserve", "search"):
        t0 = time.perf_counter()
        plan = plan_llm(problem, train, method=method, max_simulations=args.max_simulations,
                        max_requests=args.max_requests, fairness=args.fairness, loads=loads)
        plan_s = time.perf_counter() - t0
        results[method] = (plan, plan_s, evaluate(problem, plan, test))
    if verbose:
        for method, (plan, _, ev) in results.items():
            print(f"\n== {method}: {len(plan.groups)} groups; " + "; ".join(plan.notes))
            print(plan.explain().split("\ntraining")[0] if args.verbose else "  " + ", ".join(
                f"{g.tp}x{g.pp}:{'+'.join(g.models)}" for g in plan.groups))
            per_model: dict[str, float] = ev["per_model"]  # type: ignore[assignment]
            print("  held-out attainment: " + ", ".join(f"{m} {v:.3f}"
                                                         for m, v in per_model.items()))
    ded = float(results["dedicated"][2]["goodput"])  # type: ignore[arg-type]
    mux = float(results["muxserve"][2]["goodput"])  # type: ignore[arg-type]
    if verbose:
        print(f"\n{'method':10} {'plan s':>7} {'sims':>5} {'train':>7} {'held-out':>8} "
              f"{'/ded':>6} {'/mux':>6} {'good/s':>7} {'worst':>6} {'TTFT p99':>9} "
              f"{'TPOT p99':>9}")
    out: dict[str, dict[str, object]] = {}
    for method, (plan, plan_s, ev) in results.items():
        g = float(ev["goodput"])  # type: ignore[arg-type]
        worst = min(ev["per_model"].values())  # type: ignore[attr-defined]
        if verbose:
            print(f"{method:10} {plan_s:7.2f} {plan.simulations:5d} {plan.train_goodput:7.4f} "
                  f"{g:8.4f} {_ratio(g, ded):>6} {_ratio(g, mux):>6} "
                  f"{ev['good_per_s']:7.2f} {worst:6.3f} {ev['ttft_p99']:9.3f} "
                  f"{ev['tpot_p99']:9.4f}")
        out[method] = {"plan_s": plan_s, "simulations": plan.simulations,
                       "train_goodput": plan.train_goodput, "goodput": g,
                       "worst_attainment": worst}
    return out


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> dict[str, dict[str, object]]:
    """Run the comparison and print the table (one cell), or a grid of cells.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``).

    Returns
    -------
    dict
        Per method: planning seconds, simulations, training and held-out goodput; with
        several cells, keyed ``"alpha=A rate=R method"``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--rate-scale", type=str, default="6",
                        help="time compression of the trace; comma-separated for a grid")
    parser.add_argument("--alpha", type=str, default="1",
                        help="power-law exponent; comma-separated for a grid")
    parser.add_argument("--train", type=float, default=0.5)
    parser.add_argument("--ttft-slo", type=float, default=2.0)
    parser.add_argument("--tpot-slo", type=float, default=0.1)
    parser.add_argument("--max-simulations", type=int, default=600)
    parser.add_argument("--max-requests", type=int, default=20000)
    parser.add_argument("--fairness", type=float, default=0.9)
    parser.add_argument("--loads", type=str, default="1,0.75,0.5",
                        help="comma-separated rate factors the search scores at")
    parser.add_argument("--costs", choices=("analytic", "measured"), default="analytic",
                        help="measured: Vidur's profiles where they exist")
    parser.add_argument("--verbose", action="store_true", help="print every plan")
    args = parser.parse_args(argv)
    problem = _problem(args)
    alphas, rates = _floats(args.alpha), _floats(args.rate_scale)
    print(f"SLOs: TTFT {args.ttft_slo:g} s, TPOT {args.tpot_slo:g} s; 32 x a100-80gb; "
          f"{args.costs} costs; search: fairness {args.fairness:g}, loads {args.loads}, "
          f"at most {args.max_simulations} simulations")
    if len(alphas) == 1 and len(rates) == 1:
        return run_cell(args, problem, rates[0], alphas[0], verbose=True)
    print(f"\n{'alpha':>5} {'rate':>5} | held-out goodput: {'dedicated':>9} {'muxserve':>9} "
          f"{'search':>7} | {'s/ded':>6} {'s/mux':>6} | {'plan s':>6} {'sims':>5}")
    grid: dict[str, dict[str, object]] = {}
    for alpha in alphas:
        for rate in rates:
            cell = run_cell(args, problem, rate, alpha, verbose=False)
            g = {m: float(cell[m]["goodput"]) for m in cell}  # type: ignore[arg-type]
            print(f"{alpha:5g} {rate:5g} | {'':17} {g['dedicated']:9.4f} {g['muxserve']:9.4f} "
                  f"{g['search']:7.4f} | {_ratio(g['search'], g['dedicated']):>6} "
                  f"{_ratio(g['search'], g['muxserve']):>6} | "
                  f"{float(cell['search']['plan_s']):6.1f} "  # type: ignore[arg-type]
                  f"{cell['search']['simulations']:5}", flush=True)
            grid.update({f"alpha={alpha:g} rate={rate:g} {m}": v for m, v in cell.items()})
    return grid


if __name__ == "__main__":
    main()
