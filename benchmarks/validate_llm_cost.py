"""The analytic LLM cost model against Vidur's measured A100/H100 operators (issue #22).

Prints, per GPU kind:

1. the constants fitted in this run (``fit_efficiency`` on every measured model and tensor
   degree; ``fit_link`` on the intra-node all-reduces and the inter-node send/recv);
2. per (model, GPU, tp) the error of the analytic per-layer non-attention time against the
   measured one (median / p90 / max of |analytic/measured - 1| over the 259 token counts, the
   median bias, and per operator), with the shipped constants, beside the error of the
   uncalibrated defaults (the baseline, same run);
3. the analytic all-reduce against the measured one, per number of workers;
4. decode-step and prefill iteration times of llama-2-7b and llama-2-70b from the measured
   tables (``measured_iteration_cost``) and the analytic model, and their ratio.

Usage: ``python benchmarks/validate_llm_cost.py [--data /work/shared/data]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from alpaserve.device_spec import device_preset
from alpaserve.llm.analytic import analytic_iteration_cost
from alpaserve.llm.calibration import (
    CalibrationCase,
    allreduce_error,
    efficiency_fields,
    fit_efficiency,
    fit_link,
    operator_error_table,
)
from alpaserve.llm.collectives import read_collective_profile
from alpaserve.llm.efficiency import Efficiency, calibrated_efficiency
from alpaserve.llm.iteration import IterationCost
from alpaserve.llm.spec import llm_preset
from alpaserve.llm.vidur import measured_iteration_cost, read_operator_profile

# (gpu folder, device preset, [(org/model folder, preset)])
GPUS = (("a100", "a100-80gb", (("meta-llama/Llama-2-7b-hf", "llama-2-7b"),
                               ("codellama/CodeLlama-34b-Instruct-hf", "codellama-34b"),
                               ("meta-llama/Llama-2-70b-hf", "llama-2-70b"))),
        ("h100", "h100-80gb", (("meta-llama/Llama-2-7b-hf", "llama-2-7b"),
                               ("meta-llama/Llama-2-70b-hf", "llama-2-70b"))))
TARGET = 0.15


def iteration_s(cost: IterationCost, *, batch: int, context: int, prefill: bool) -> float:
    """Seconds of one iteration: ``batch`` prompts of ``context`` tokens, or ``batch`` decodes."""
    if prefill:
        return cost.work_s(n_tokens=batch * context,
                           prefill_units=batch * context * (context + 1) // 2,
                           decode_kv_tokens=0)
    return cost.work_s(n_tokens=batch, prefill_units=0, decode_kv_tokens=batch * context)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    args = parser.parse_args()
    root = args.data / "vidur_profiles"
    if not root.is_dir():
        print(f"no Vidur profiles under {root}", file=sys.stderr)
        return 2
    worst = 0.0
    for gpu, preset, models in GPUS:
        device = device_preset(preset)
        t0 = time.perf_counter()
        cases = [CalibrationCase(spec=llm_preset(name), device=device,
                                 profile=read_operator_profile(
                                     root / "compute" / gpu / folder / "mlp.csv"))
                 for folder, name in models]
        allreduce = read_collective_profile(root / "network" / f"{gpu}_dgx" / "all_reduce.csv")
        send_recv = read_collective_profile(root / "network" / f"{gpu}_dgx" / "send_recv.csv")
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        fitted = fit_efficiency(cases, start=calibrated_efficiency(device))
        fit_s = time.perf_counter() - t0
        print(f"\n=== {gpu} ({preset}); read {sum(c.profile.rows for c in cases)} operator "
              f"rows in {read_s:.2f} s ({sum(c.profile.duplicates for c in cases)} repeated "
              f"keys averaged); fit in {fit_s:.1f} s")
        print("fitted this run:", {k: f"{v:.4g}" for k, v in efficiency_fields(fitted).items()
                                   if k in ("matmul", "memory", "elementwise", "kernel_s",
                                            "sharpness", "tile_padding")})
        for w in (2, 4, 8):
            link = fit_link(allreduce, num_workers=w)
            print(f"  all-reduce fit w={w}: latency {link.latency_s * 1e6:.1f} us, bus "
                  f"{link.bandwidth / 1e9:.0f} GB/s (median err {link.median:.3f}, "
                  f"p90 {link.p90:.3f})")
        for key in sorted(send_recv.sizes):
            link = fit_link(send_recv, num_workers=key[0], devices_per_node=key[1])
            print(f"  send/recv fit {key}: latency {link.latency_s * 1e6:.1f} us, "
                  f"{link.bandwidth / 1e9:.0f} GB/s (median err {link.median:.3f})")
        shipped = calibrated_efficiency(device)
        base = {(r.model, r.tp): r for r in operator_error_table(cases, Efficiency())}
        print(f"{'model':15} tp  median    p90    max   bias | uncalibrated median  p90 "
              "| worst operators (median)")
        for row in operator_error_table(cases, shipped):
            b = base[(row.model, row.tp)]
            worst = max(worst, row.p90)
            ops = sorted(row.per_operator.items(), key=lambda kv: -kv[1])[:3]
            print(f"{row.model:15} {row.tp:2} {row.median:7.3f} {row.p90:6.3f} {row.max:6.3f} "
                  f"{row.bias:+6.3f} | {b.median:18.3f} {b.p90:5.3f} | "
                  + ", ".join(f"{k} {v:.2f}" for k, v in ops))
        for w in (2, 4, 8):
            med, p90 = allreduce_error(allreduce, shipped, num_workers=w)
            print(f"  analytic all-reduce vs measured, {w} GPUs: median err {med:.3f}, "
                  f"p90 {p90:.3f}")
        for case in cases:
            if case.spec.name not in ("llama-2-7b", "llama-2-70b"):
                continue
            for tp in ((1, 2) if case.spec.name == "llama-2-7b" else (4, 8)):
                measured = measured_iteration_cost(case.spec, device, operators=case.profile,
                                                   allreduce=allreduce, tp=tp, pp=1,
                                                   max_tokens=8192)
                analytic = analytic_iteration_cost(case.spec, device, tp=tp, pp=1,
                                                   max_tokens=8192)
                parts = []
                for label, batch, ctx, pre in (("decode b=1", 1, 1024, False),
                                               ("decode b=32", 32, 1024, False),
                                               ("decode b=128", 128, 1024, False),
                                               ("prefill 1x512", 1, 512, True),
                                               ("prefill 4x1024", 4, 1024, True)):
                    m = iteration_s(measured, batch=batch, context=ctx, prefill=pre)
                    a = iteration_s(analytic, batch=batch, context=ctx, prefill=pre)
                    parts.append(f"{label}: {m * 1e3:.2f}/{a * 1e3:.2f} ms ({a / m:.2f}x)")
                print(f"  {case.spec.name} tp={tp} measured/analytic: " + "; ".join(parts))
    verdict = "within" if worst <= TARGET else "above"
    print(f"\nworst p90 error of the shipped constants: {worst:.3f} ({verdict} the "
          f"{TARGET:.0%} target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
