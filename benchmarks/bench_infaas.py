"""INFaaS's story on its three loads: the automatic policy against every fixed variant.

Loads (one task, image classification; SLO 300 ms; half the queries ask for >= 70% top-1,
half for >= 74%): flat low (4 QPS), steady high (650 -> 700 QPS) and fluctuating (a
sinusoid between 4 and 80 QPS, period 30 min). Every policy starts from an empty cluster;
metrics leave out the first 120 s (start-up) and bill workers over the rest of the run.

Policies: ``infaas`` (INFaaS's rules with the defaults of ``InfaasConfig``),
``infaas+lookahead`` (the same, planning for the arrival rate extrapolated over the longest
worker start-up plus load time) and one fixed-variant baseline per registry variant (that
variant only, replicated as load grows). ``ratio`` is the fixed variant's cost over the
automatic policy's (``infaas+lookahead``); ``verdict`` says whether the automatic policy is
cheaper at no more SLO violations.

Usage: python benchmarks/bench_infaas.py [--loads flat steady fluctuating] [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alpaserve.modelless.registry import example_registry
from placement.modelless.config import InfaasConfig
from placement.modelless.experiment import ModellessExperiment, run_policy

QUICK_VARIANTS = ("inceptionv3-tf-cpu", "resnet50-tf-cpu", "mobilenet-tf-cpu",
                  "resnet50-neuron-inf1", "resnet50-trt-t4", "resnet50-trt-v100")


def verdict(auto_cost: float, auto_viol: int, cost: float, viol: int) -> str:
    cheaper = auto_cost < cost * (1 - 1e-6)
    same = math.isclose(auto_cost, cost, rel_tol=1e-6)
    if auto_viol <= viol and cheaper:
        return "auto cheaper, <= violations"
    if auto_viol <= viol and same:
        return "same cost, <= violations"
    if auto_viol < viol:
        return "auto dearer, fewer violations"
    return "AUTO LOSES"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", nargs="+", default=["flat", "steady", "fluctuating"])
    parser.add_argument("--quick", action="store_true",
                        help=f"fixed baselines only for {', '.join(QUICK_VARIANTS)}")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    reg = example_registry()
    task = "image-classification"
    lookahead = max(h.startup_time for h in reg.hardware.values()) + max(
        v.load_latency for v in reg.variants(task))
    policies: list[tuple[str, str | None, InfaasConfig]] = [
        ("infaas", None, InfaasConfig()),
        ("infaas+lookahead", None, InfaasConfig(lookahead=lookahead)),
    ]
    names = QUICK_VARIANTS if args.quick else [v.name for v in reg.variants(task)]
    policies += [(name, name, InfaasConfig()) for name in names]
    summary_lines = []
    for load in args.loads:
        exp = ModellessExperiment.preset(load, seed=args.seed)
        queries = exp.queries()
        print(f"\n== {load}: {len(queries)} queries over {exp.duration:.0f} s, measured "
              f"from {exp.warmup:.0f} s; lookahead {lookahead:.1f} s")
        rows = []
        for label, variant, cfg in policies:
            t0 = time.perf_counter()
            res = run_policy(exp, reg, variant=variant, config=cfg, queries=queries)
            s = res.summary(exp.warmup, exp.duration)
            rows.append((label, s, res.cost(0.0, exp.duration), time.perf_counter() - t0))
        auto = rows[1][1]
        header = (f"{'policy':<24}{'cost $':>9}{'ratio':>7}{'whole $':>9}{'viol':>8}"
                  f"{'viol %':>8}{'thru/s':>8}{'acc':>6}{'min':>6}{'loads':>6}{'sw':>4}"
                  f"{'sim s':>7}  verdict")
        print(header)
        print("-" * len(header))
        wins = losses = 0
        for label, s, whole, took in rows:
            ratio = s.cost / auto.cost if auto.cost else float("nan")
            v = "" if label.startswith("infaas") else verdict(auto.cost, auto.violations,
                                                              s.cost, s.violations)
            wins += v.startswith("auto cheaper")
            losses += v == "AUTO LOSES"
            print(f"{label:<24}{s.cost:>9.4f}{ratio:>7.2f}{sum(whole.values()):>9.4f}"
                  f"{s.violations:>8d}{100 * s.violation_rate:>8.2f}{s.throughput:>8.1f}"
                  f"{s.mean_accuracy:>6.1f}{s.min_accuracy:>6.1f}{s.load_events:>6d}"
                  f"{s.variant_switches:>4d}{took:>7.1f}  {v}")
        mix = ", ".join(f"{k}: {c}" for k, c in sorted(auto.served_by_variant.items(),
                                                       key=lambda kv: -kv[1]))
        print(f"automatic policy served: {mix}")
        print("automatic policy cost by hardware: "
              + ", ".join(f"{h} ${c:.4f}" for h, c in auto.cost_by_hardware.items() if c))
        summary_lines.append(f"{load}: automatic policy strictly cheaper at <= violations "
                             f"than {wins} of {len(rows) - 2} fixed variants; loses to "
                             f"{losses}")
    print()
    print("\n".join(summary_lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
