"""``alpaserve spot``: serve an LLM on a spot fleet replayed from an availability trace.

Example::

    alpaserve spot --trace g4dn.csv --model gpt-20b --rate 2 --policy all --duration 7200
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from alpaserve.cli import _checks as checks


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trace", default="synthetic", type=checks.trace_or_synthetic,
                        help="availability trace: CSV t_ms,add|remove,node or JSON lines; "
                             "'synthetic' (default) draws 16 g4dn spot nodes with a 2-hour "
                             "mean lifetime, refilled after 10 minutes on average, for 4 hours")
    parser.add_argument("--model", default="gpt-20b", help="decoder preset (default gpt-20b)")
    parser.add_argument("--rate", type=checks.rate, default=3.0,
                        help="arrival rate, requests/s (default 3)")
    parser.add_argument("--cv", type=checks.cv, default=1.0, help="Gamma inter-arrival CV")
    parser.add_argument("--policy", default="all",
                        choices=["spotserve", "reparallelize", "reroute", "ondemand", "all"])
    parser.add_argument("--grace", type=checks.seconds_or_zero, default=30.0,
                        help="preemption notice, s")
    parser.add_argument("--duration", type=checks.duration, default=None,
                        help="seconds of arrivals after the first node is added "
                             "(default: until the last trace event)")
    parser.add_argument("--warmup", type=checks.seconds_or_zero, default=300.0,
                        help="seconds after the first node before requests arrive")
    parser.add_argument("--prompt-tokens", type=checks.tokens, default=512,
                        help="prompt tokens per request; prompt + output must fit the "
                             "model's context and output at most half of it (default 512)")
    parser.add_argument("--output-tokens", type=checks.tokens, default=128,
                        help="output tokens per request (default 128)")
    parser.add_argument("--slo", type=checks.seconds, default=None, help="latency SLO, s")
    parser.add_argument("--storage-bandwidth", type=checks.real(0.0, 1e15, above=True),
                        default=1e9,
                        help="bytes/s a node reads weights from storage")
    parser.add_argument("--seed", type=checks.seed, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", metavar="FILE", type=checks.table_file,
                        help="also write the rows to FILE (.csv, .parquet or .json)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from alpaserve.errors import SimulationError
    from alpaserve.model_spec import model_preset
    from alpaserve.spot.hardware import g4dn_hardware
    from placement.spot.run import POLICY_NAMES, run_policies
    from simulator.spot.simulate import SpotOptions
    from workloads.availability import read_availability
    from workloads.llm_requests import gamma_arrivals, llm_workload

    try:
        if args.trace == "synthetic":
            import numpy as np

            from workloads.synthetic_availability import synthetic_availability

            trace = synthetic_availability(duration=4 * 3600.0, num_spot=16,
                                           mean_lifetime=2 * 3600.0, mean_replacement=600.0,
                                           rng=np.random.default_rng(args.seed))
        else:
            trace = read_availability(args.trace)
    except OSError as exc:
        raise SimulationError(f"cannot read trace {args.trace!r}: {exc.strerror}") from None
    if not len(trace):
        raise SimulationError(f"trace {args.trace!r} has no events")
    model = model_preset(args.model)
    checks.fits_context(args.prompt_tokens, args.output_tokens, model.name, model.seq_len)
    hw = g4dn_hardware(storage_bandwidth=args.storage_bandwidth)
    start = trace.events[0].time + args.warmup
    end = start + args.duration if args.duration is not None else trace.end_time
    if not end > start:
        raise SimulationError(f"no time for arrivals: start {start}s, end {end}s")
    drain = 600.0
    if end + drain < trace.end_time:  # bill only the replayed part of the trace
        trace = trace.clipped(0.0, end + drain)
    rng = np.random.default_rng(args.seed)
    arrivals = gamma_arrivals(rate=args.rate, cv=args.cv, start=start, end=end, rng=rng)
    workload = llm_workload(arrivals=arrivals, rng=rng, model=model.name,
                            token_pairs=[(args.prompt_tokens, args.output_tokens)],
                            max_context=model.seq_len)
    if not len(workload):
        raise SimulationError(f"rate {args.rate}/s gives no request in {end - start:.0f}s")
    names = POLICY_NAMES if args.policy == "all" else (args.policy,)
    opts = SpotOptions(grace_period=args.grace, slo=args.slo, drain=drain)
    results = run_policies(names=names, workload=workload, trace=trace, model=model,
                           hardware=hw, options=opts)
    rows: list[dict[str, Any]] = [r.to_dict() for r in results.values()]
    if args.out:
        from alpaserve.cli._output import write_rows

        write_rows(rows, args.out)
    if args.json:
        json.dump(rows, sys.stdout, indent=2, default=float)
        print()
        return 0
    print(f"{len(workload)} requests at {args.rate}/s on {args.trace} "
          f"({len(trace.nodes)} nodes, max {trace.max_alive} alive), model {model.name}")
    print(f"{'policy':14s} {'p50 s':>8s} {'p99 s':>8s} {'attain':>7s} {'done':>7s} "
          f"{'infl':>5s} {'restart':>7s} {'migr':>5s} {'cost $':>8s} {'$/1k tok':>8s}")
    for r in rows:
        print(f"{r['policy']:14s} {r['latency_p50']:8.2f} {r['latency_p99']:8.2f} "
              f"{r['slo_attainment']:7.3f} {r['finished']:7d} {r['in_flight']:5d} "
              f"{r['requests_restarted']:7d} {r['migrations']:5d} {r['cost']:8.2f} "
              f"{r['cost_per_1k_tokens']:8.4f}")
    return 0
