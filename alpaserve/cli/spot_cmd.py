"""``alpaserve spot``: serve an LLM on a spot fleet replayed from an availability trace.

Examples::

    alpaserve spot --trace g4dn.csv --model gpt-20b --rate 2 --policy all --duration 7200
    alpaserve spot --trace trace_seg/trace_0304_real.txt --model gpt-20b \\
        --profile profile/T4-4x/megatron_h6144_profile.json --rate 0.35 --json

The window starts at the trace's first event (``--warmup`` delays the first arrival) and ends
at the trace's ``DONE``, else ``--duration`` after the start, else at the last event; every
policy, ``on-demand`` included, is billed over it, so every preemption is kept.
"""

from __future__ import annotations

import argparse
from typing import Any

from alpaserve.cli import _checks as checks


def register(parser: argparse.ArgumentParser) -> None:
    """Add the command's flags.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    parser.add_argument("--trace", default="synthetic", type=checks.trace_or_synthetic,
                        help="availability trace: CSV t_ms,add|remove,node or JSON lines "
                             "(SpotServe's segments: add, remove, DONE, other, required_tpt), "
                             "told apart by content; 'synthetic' (default) draws 16 g4dn spot "
                             "nodes with a 2-hour mean lifetime, refilled after 10 minutes on "
                             "average, for 4 hours")
    parser.add_argument("--format", choices=["csv", "jsonl"], default=None,
                        help="force the trace's form instead of sniffing it")
    parser.add_argument("--model", default="gpt-20b", help="decoder preset (default gpt-20b)")
    parser.add_argument("--profile", metavar="FILE", default=None, type=checks.input_file,
                        help="measured per-layer latency profile (SpotServe's JSON) for the "
                             "optimizer and the simulator; default: the analytic model")
    parser.add_argument("--rate", type=checks.rate, default=3.0,
                        help="arrival rate, requests/s (default 3)")
    parser.add_argument("--cv", type=checks.cv, default=1.0, help="Gamma inter-arrival CV")
    parser.add_argument("--requests", metavar="FILE", default=None, type=checks.input_file,
                        help="replay requests from FILE instead: a SpotServe query stream "
                             "(index, arrival s, prompt tokens) or an Azure LLM trace "
                             "(TIMESTAMP, ContextTokens, GeneratedTokens)")
    parser.add_argument("--requests-format", choices=["spotserve", "azure-llm"], default=None,
                        help="force the request file's form instead of sniffing it")
    parser.add_argument("--rate-schedule", metavar="FILE", default=None, type=checks.input_file,
                        help="per-minute arrival rates (req/s, comma-separated) for Gamma "
                             "arrivals of CV --cv, instead of --rate")
    parser.add_argument("--required-tpt", type=checks.rate, default=None,
                        help="throughput target (req/s) for the optimizer; default: the "
                             "trace's required_tpt, else the measured rate with --headroom")
    parser.add_argument("--headroom", type=checks.real(0.0, 100.0), default=0.1,
                        help="optimizer target = measured rate x (1 + headroom) (default 0.1)")
    parser.add_argument("--warm-start", action="store_true",
                        help="the first deployment serves at once (the trace is a segment of "
                             "a running service) instead of loading from storage first")
    parser.add_argument("--policy", default="all",
                        choices=["spotserve", "reparallelize", "reroute", "on-demand", "all"])
    parser.add_argument("--grace", type=checks.seconds_or_zero, default=30.0,
                        help="preemption notice, s")
    parser.add_argument("--duration", type=checks.duration, default=None,
                        help="seconds of arrivals after the first trace event "
                             "(default: until DONE or the last trace event)")
    parser.add_argument("--warmup", type=checks.seconds_or_zero, default=0.0,
                        help="seconds after the first node before requests arrive (default 0, "
                             "so no preemption falls outside the window)")
    parser.add_argument("--prompt-tokens", type=checks.tokens, default=512,
                        help="prompt tokens per request; prompt + output must fit the "
                             "model's context and output at most half of it (default 512)")
    parser.add_argument("--output-tokens", type=checks.tokens, default=128,
                        help="tokens per request (also for SpotServe streams, which omit it)")
    parser.add_argument("--slo", type=checks.seconds, default=None, help="latency SLO, s")
    parser.add_argument("--storage-bandwidth", type=checks.real(0.0, 1e15, above=True),
                        default=1e9,
                        help="bytes/s a node reads weights from storage")
    parser.add_argument("--seed", type=checks.seed, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", metavar="FILE", type=checks.table_file,
                        help="also write the rows to FILE (.csv, .parquet or .json)")


def _fmt(value: Any, spec: str) -> str:
    return format(value, spec) if value is not None else format("-", spec.split(".")[0] + "s")


def run(args: argparse.Namespace) -> int:
    """Run the command.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed flags (see :func:`register`).

    Returns
    -------
    int
        The exit status (0).

    Raises
    ------
    AlpaServeError
        Bad inputs; the CLI prints them on one line and exits with 2.

    """
    from alpaserve.cost.llm_profile import LLMProfile
    from alpaserve.errors import SimulationError
    from alpaserve.model_presets import model_preset
    from alpaserve.spot.hardware import g4dn_hardware
    from placement.spot.run import POLICY_NAMES, run_policies
    from simulator.spot.simulate import SpotOptions
    from workloads.availability_io import read_availability
    from workloads.llm_requests import clip_to_context, gamma_arrivals, llm_workload
    from workloads.traces.spotserve import RateSchedule, read_llm_requests, read_rate_schedule

    try:
        if args.trace == "synthetic":
            from workloads.synthetic_availability import synthetic_availability

            trace = synthetic_availability(duration=4 * 3600.0, num_spot=16,
                                           mean_lifetime=2 * 3600.0, mean_replacement=600.0,
                                           seed=args.seed)
        else:
            trace = read_availability(args.trace, format=args.format)
    except OSError as exc:
        raise SimulationError(f"cannot read trace {args.trace!r}: {exc.strerror}") from None
    if not len(trace):
        raise SimulationError(f"trace {args.trace!r} has no events")
    model = model_preset(args.model)
    profile = LLMProfile.read(args.profile) if args.profile else None
    checks.fits_context(args.prompt_tokens, args.output_tokens, model.name, model.seq_len)
    hw = g4dn_hardware(storage_bandwidth=args.storage_bandwidth)
    start = trace.events[0].time + args.warmup
    end = start + args.duration if args.duration is not None else trace.end_time
    if not end > start:
        raise SimulationError(f"no time for arrivals: start {start}s, end {end}s")
    drain = 600.0
    if trace.stop_time is None and end + drain < trace.end_time:
        trace = trace.clipped(0.0, end + drain)  # replay only the part the window covers
    source = ""
    try:
        if args.requests:
            workload = read_llm_requests(args.requests, format=args.requests_format,
                                         model=model.name, output_tokens=args.output_tokens)
            if args.requests_format == "azure-llm" or workload.arrival[0] < start:
                workload = workload.shifted(start - float(workload.arrival[0]))
            source = f"requests of {args.requests}"
        elif args.rate_schedule:
            sched = read_rate_schedule(args.rate_schedule)
            sched = RateSchedule(rates=sched.rates, interval=sched.interval, start=start)
            workload = llm_workload(arrivals=sched.arrivals(cv=args.cv, seed=args.seed),
                                    seed=args.seed + 1, model=model.name,
                                    token_pairs=[(args.prompt_tokens, args.output_tokens)])
            source = f"rate schedule {args.rate_schedule} ({len(sched.rates)} intervals)"
        else:
            workload = llm_workload(
                arrivals=gamma_arrivals(rate=args.rate, cv=args.cv, start=start, end=end,
                                        seed=args.seed),
                seed=args.seed + 1, model=model.name,
                token_pairs=[(args.prompt_tokens, args.output_tokens)])
            source = f"Gamma arrivals at {args.rate}/s, CV {args.cv}"
    except OSError as exc:
        raise SimulationError(f"cannot read {exc.filename!r}: {exc.strerror}") from None
    workload, clipped = clip_to_context(workload, model.seq_len)
    total = len(workload)
    if not len(workload) or not float(workload.arrival[0]) < end:
        raise SimulationError(f"no request arrives in the window [{start:.0f}s, {end:.0f}s)")
    workload = workload.window(float(workload.arrival[0]), end)
    outside = total - len(workload)
    names = POLICY_NAMES if args.policy == "all" else (args.policy,)
    opts = SpotOptions(grace_period=args.grace, slo=args.slo, drain=drain,
                       required_tpt=args.required_tpt, headroom=args.headroom,
                       warm_start=args.warm_start)
    results = run_policies(names=names, workload=workload, trace=trace, model=model,
                           hardware=hw, options=opts, profile=profile)
    rows: list[dict[str, Any]] = [r.to_dict() for r in results.values()]
    if args.out:
        from alpaserve.cli._output import write_rows

        write_rows(rows, args.out, force=getattr(args, "force", False))
    if args.json:
        from alpaserve.cli._output import print_json

        print_json(rows, args)
        return 0
    print(f"{len(workload)} requests ({source}) on {args.trace} ({len(trace.nodes)} nodes, "
          f"max {trace.max_alive} alive), model {model.name}, latency from "
          f"{'profile ' + args.profile if profile else 'the analytic model'}")
    if outside or clipped:
        print(f"left out {outside} requests arriving after the window's end; clipped "
              f"{clipped} to the {model.seq_len}-token context")
    print(f"{'policy':14s} {'p50 s':>8s} {'p99 s':>8s} {'p99 fin':>8s} {'attain':>7s} "
          f"{'done':>7s} {'unfin':>6s} {'restart':>7s} {'migr':>5s} {'cost $':>8s} "
          f"{'$/1k tok':>8s}")
    for r in rows:
        print(f"{r['policy']:14s} {_fmt(r['latency_p50'], '8.2f')} "
              f"{_fmt(r['latency_p99'], '8.2f')} {_fmt(r['finished_latency_p99'], '8.2f')} "
              f"{_fmt(r['attainment'], '7.3f')} {r['finished']:7d} {r['unfinished']:6d} "
              f"{r['requests_restarted']:7d} {r['migrations']:5d} {r['cost']:8.2f} "
              f"{_fmt(r['cost_per_1k_tokens'], '8.4f')}")
    return 0


__all__ = ["register", "run"]
