"""``alpaserve llm plan``: read the workload, plan on its early part, score on the rest and
write the LLM plan file."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from alpaserve.cli._llm import args as llm_args
from alpaserve.cli._llm.workload import (
    build_workload,
    describe,
    synthetic_spec,
    trace_spec,
)


def _workload_spec(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    alpha = 1.0 if args.alpha is None else args.alpha
    seed = 0 if args.seed is None else args.seed
    if args.trace is not None:
        llm_args.check_kinds(args, trace=True)
        return trace_spec(path=str(args.trace), fmt=args.trace_format or "auto",
                          window=args.window or (0.0, None),
                          rate_scale=1.0 if args.rate_scale is None else args.rate_scale,
                          split=args.split, alpha=alpha, seed=seed,
                          train_fraction=args.train_fraction, model_names=names)
    llm_args.check_kinds(args, trace=False)
    if args.split == "column":
        from alpaserve.errors import SpecError

        raise SpecError("--split column needs --trace FILE (a CSV with a model column); a "
                        "synthetic stream is split by a power law")
    d = llm_args.SYNTHETIC_DEFAULTS
    return synthetic_spec(rate=d["rate"] if args.rate is None else args.rate,
                          cv=d["cv"] if args.cv is None else args.cv,
                          duration=d["duration"] if args.duration is None else args.duration,
                          alpha=alpha, seed=seed, train_fraction=args.train_fraction,
                          model_names=names)


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve llm plan``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags (:func:`alpaserve.cli._llm.args.register_plan`'s).

    Returns
    -------
    int
        The exit status: 0.
    """
    from alpaserve.cli._llm import bridge
    from alpaserve.cli._llm.report import metric_rows
    from alpaserve.cli._output import format_table, print_json
    from alpaserve.llm.plan_file import LLMPlanFile

    names = llm_args.models_from(args.models)
    specs = bridge.model_specs(names)
    device = bridge.device(args.device)
    scheduler = bridge.scheduler(max_num_seqs=args.max_num_seqs,
                                 max_batched_tokens=args.max_batched_tokens,
                                 block_size=args.block_size,
                                 chunked_prefill=args.chunked_prefill)
    spec = _workload_spec(args, names)
    parts = build_workload(spec, {n: s.max_context for n, s in specs.items()})
    report = parts.report
    if report["clipped"]:
        print(f"warning: {report['clipped']} of {report['requests']} requests were clipped to "
              f"their model's context: {bridge.nonzero(report['clipped_per_model'])}",
              file=sys.stderr)
    ttft = {n: args.ttft_slo for n in names}
    tpot = {n: args.tpot_slo for n in names}
    problem = bridge.problem(names=names, device=device, num_devices=args.devices,
                             gpus_per_node=args.gpus_per_node, scheduler=scheduler,
                             ttft_slo=ttft, tpot_slo=tpot)
    t0 = time.perf_counter()
    plan = bridge.plan(problem, parts.train, method=args.method, seed=report["seed"],
                       workers=args.workers)
    plan_s = time.perf_counter() - t0
    deployment = bridge.deployment_of(plan)
    result = bridge.simulate(deployment, parts.test, workers=args.workers)
    metrics = bridge.metrics(result, deployment, ttft_slo=ttft, tpot_slo=tpot)
    summary = {"method": args.method, "devices": args.devices, "device": args.device,
               "gpus_per_node": args.gpus_per_node, "plan_seconds": plan_s,
               "test": {"description": describe(report, "test"), **metrics["overall"]},
               "test_per_model": metrics["per_model"]}
    plan_file = LLMPlanFile(plan=bridge.plan_to_dict(plan), slo={"ttft": ttft, "tpot": tpot},
                            scheduler=scheduler.to_dict(), workload=report, summary=summary)
    if args.out:
        plan_file.save(args.out, force=getattr(args, "force", False))
    if args.json:
        print_json(plan_file.to_dict(), args)
        return 0
    print(describe(report, "test"))
    print(bridge.explain(plan))
    print(f"planned in {plan_s:.3g} s; on the held-out part:")
    print(format_table(metric_rows(metrics)))
    if args.out:
        print(f"wrote the LLM plan file {args.out} (simulate it: alpaserve llm simulate "
              f"{args.out})")
    return 0
