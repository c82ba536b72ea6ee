"""``alpaserve llm simulate PLAN``: replay an LLM plan file's held-out workload (or a trace)
on the token-level engine and print the metrics.

With the plan file alone, the workload it was planned for is rebuilt from its spec (the
same trace, window, rate scale, split and seed, or the same synthetic draw) and its held-out
test part replayed under the plan's SLOs. ``--trace FILE`` replays another trace (all of it
by default, ``--part`` to choose), split over the plan's models as the flags say (the plan's
split, alpha and seed otherwise). ``--ttft-slo``/``--tpot-slo`` override the SLOs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from alpaserve.cli._llm import args as llm_args
from alpaserve.cli._llm.workload import (
    build_workload,
    check_trace_unchanged,
    describe,
    trace_spec,
)
from alpaserve.errors import SpecError

# points per group of the KV timeline drawn by --plot: plenty for a figure, and recording
# them costs the compiled engine little (benchmarks/bench_llm.py prints how little)
PLOT_TIMELINE_POINTS = 2000


def _spec(args: argparse.Namespace, planned: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The workload spec to replay and the default part."""
    names = tuple(planned["model_names"])
    if args.trace is None:
        given = [flag for dest, flag in (*llm_args.TRACE_ONLY, ("split", "--split"),
                                         ("alpha", "--alpha"), ("seed", "--seed"))
                 if getattr(args, dest, None) is not None]
        if given:
            raise SpecError(f"{', '.join(given)}: without --trace the plan's own workload is "
                            "replayed as planned; give --trace FILE to replay another")
        return dict(planned), "test"
    if planned.get("kind") == "synthetic" and args.split is None:
        split = None  # the plan's power law over a synthetic stream: a trace picks its own
    else:
        split = args.split if args.split is not None else planned.get("split")
    alpha = args.alpha if args.alpha is not None else float(planned["alpha"])
    seed = args.seed if args.seed is not None else int(planned["seed"])
    spec = trace_spec(path=str(args.trace), fmt=args.trace_format or "auto",
                      window=args.window or (0.0, None),
                      rate_scale=1.0 if args.rate_scale is None else args.rate_scale,
                      split=split, alpha=alpha, seed=seed,
                      train_fraction=float(planned["train_fraction"]), model_names=names)
    same = planned.get("kind") == "trace" and spec["sha256"] == planned.get("sha256") and all(
        spec[k] == planned.get(k) for k in ("window", "rate_scale", "split", "alpha", "seed"))
    return spec, "test" if same else "all"


def run(args: argparse.Namespace) -> int:
    """Run ``alpaserve llm simulate``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags (:func:`alpaserve.cli._llm.args.register_simulate`'s).

    Returns
    -------
    int
        The exit status: 0.
    """
    from alpaserve.cli._llm import bridge
    from alpaserve.cli._llm.report import metric_rows
    from alpaserve.cli._output import emit
    from alpaserve.llm.plan_file import load_llm_plan_file

    plan_file = load_llm_plan_file(args.plan)
    planned = dict(plan_file.workload)
    spec, default_part = _spec(args, planned)  # flags first: no work before they are right
    plan = bridge.plan_from_dict(plan_file.plan, where=str(args.plan))
    deployment = bridge.deployment_of(plan)
    if plan_file.scheduler != plan.settings.get("scheduler"):
        raise SpecError(f"{str(args.plan)!r}: the scheduler {plan_file.scheduler} differs from "
                        f"the plan's {plan.settings.get('scheduler')}; the file was edited or "
                        "is damaged")
    names = tuple(planned["model_names"])
    unserved = sorted(set(names) - set(deployment.model_names))
    if unserved:
        raise SpecError(f"{str(args.plan)!r}: the plan serves no replica of {unserved}, which "
                        "its workload requests; the file was edited or is damaged")
    if planned["kind"] == "trace" and args.trace is None:
        warning = check_trace_unchanged(planned)
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
    part = args.part or default_part
    contexts = bridge.contexts(plan, names)
    parts = build_workload(spec, contexts)
    workload = parts.part(part)
    if len(workload) == 0:
        raise SpecError(f"the {part} part of the workload holds no request")
    ttft = {n: args.ttft_slo or plan_file.slo["ttft"][n] for n in names}
    tpot = {n: args.tpot_slo or plan_file.slo["tpot"][n] for n in names}
    result = bridge.simulate(deployment, workload, engine=args.engine, workers=args.workers,
                             kv_timeline=PLOT_TIMELINE_POINTS if args.plot else False)
    metrics = bridge.metrics(result, deployment, ttft_slo=ttft, tpot_slo=tpot)
    description = describe(parts.report, part)
    source = {"description": description, "part": part, **{
        k: parts.report[k] for k in ("kind", "requests", "clipped", "clipped_per_model",
                                     "train_span", "test_span")}}
    if parts.report["clipped"]:
        print(f"warning: {parts.report['clipped']} requests were clipped to their model's "
              f"context: {bridge.nonzero(parts.report['clipped_per_model'])}", file=sys.stderr)
    rows = metric_rows(metrics)
    title = (f"workload: {description}\n{len(workload)} requests on "
             f"{len(deployment.groups)} groups ({deployment.num_devices} devices), engine "
             f"{args.engine}")
    emit(rows, args, title=title, extra={"overall": metrics["overall"],
                                          "groups": metrics["groups"], "workload": source,
                                          "slo": {"ttft": ttft, "tpot": tpot}})
    if args.plot:
        _plot(args, result, metrics, ttft=ttft, tpot=tpot, title=title.splitlines()[-1])
    return 0


def _plot(args: argparse.Namespace, result: Any, metrics: dict[str, Any], *,
          ttft: dict[str, float], tpot: dict[str, float], title: str) -> None:
    """Write ``--plot``: latency CDFs per model, KV use per group and over time."""
    from alpaserve.llm.plots import plot_llm_simulation
    from alpaserve.safe_files import save_figure

    def label(row: dict[str, Any]) -> str:
        return f"{row['group']}: {', '.join(row['models'])}"

    slo = {kind: next(iter(v)) if len(v) == 1 else None  # one SLO line when all agree
           for kind, v in (("ttft", set(ttft.values())), ("tpot", set(tpot.values())))}
    series = result.kv_timeline.utilisation()
    fig = plot_llm_simulation(ttft=result.latencies("ttft"), tpot=result.latencies("tpot"),
                              kv_utilization={label(g): g["kv_utilization"]
                                              for g in metrics["groups"]},
                              busy_fraction={label(g): g["busy"] for g in metrics["groups"]},
                              ttft_slo=slo["ttft"], tpot_slo=slo["tpot"], title=title,
                              kv_timeline={label(g): series[g["group"]]
                                           for g in metrics["groups"]},
                              end_time=result.end_time)
    save_figure(fig, args.plot, force=getattr(args, "force", False), dpi=120)
    print(f"wrote {args.plot}")  # to stderr under --json (machine_stdout)
