"""Where a CPU pipeline's predicted - measured attainment comes from: one run, decomposed.

Serves one layout of ``bench_runtime_gpu.py`` (bert-tiny and gpt-tiny, 120 Gamma CV 3
requests at 40 req/s, SLO 5x) on virtual CPU devices, then replays the run
(:func:`simulator.replay.replay_measured`) substituting the run's measurements one at a time
into the prediction (the baseline, measured in the same run):

A. the prediction's inputs: profiled service times, decisions at arrival, no hand-offs;
B. + the decisions' measured lag;  C. + the stages' measured hand-offs;
D. + the measured service times (the full replay: the run itself);  E. service times only.

The step whose attainment moves is the gap's cause. It then prints each stage's measured /
profiled service time, and that ratio by how many stages (of all groups) were busy at once,
with ``host_steady`` (:mod:`alpaserve.runtime.stationarity`). Example::

    python benchmarks/bench_runtime_gap.py --layout pp2xtp2+pp4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alpaserve.cluster_spec import homogeneous_cluster  # noqa: E402
from alpaserve.model_spec import model_preset  # noqa: E402
from alpaserve.placement_spec import Group, Placement  # noqa: E402
from workloads import Workload  # noqa: E402

LAYOUTS = {"pp1": [(0, 1, 1)], "pp2": [(0, 2, 2)], "pp4": [(0, 4, 4)],
           "pp2xtp2": [(0, 4, 2)], "pp2xtp2+pp4": [(0, 4, 2), (4, 4, 4)]}  # (first, n, pp)


def attainment(r: object) -> float:
    ok = (r.status == 0) & (r.finish - r.arrival <= r.slo + 1e-9)  # type: ignore[attr-defined]
    return float(ok.mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="pp4")
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--max-batch", type=int, default=1)
    parser.add_argument("--rate", type=float, default=40.0, help="req/s (Gamma, CV 3)")
    parser.add_argument("--seed", type=int, default=0,
                        help="workload seed (the workload of `alpaserve fidelity "
                             "--workload-seed N` with the same rate, CV 3 and requests)")
    args = parser.parse_args()
    from alpaserve.runtime.devices import use_cpu_devices

    devs = use_cpu_devices(8)
    from alpaserve.runtime.contention import calibrate_contention
    from alpaserve.runtime.fidelity import simulate_with_profile, slo_from_latency
    from alpaserve.runtime.host_load import cpu_sample, host_load
    from alpaserve.runtime.replay_check import measured_handoffs
    from alpaserve.runtime.runtime import Runtime
    from alpaserve.runtime.stationarity import (
        Stationarity,
        Tolerance,
        profile_drift,
        service_tail,
    )
    from simulator.contention import predict_contended
    from simulator.replay import replay_measured
    from simulator.slowdown import stretched_durations

    a, b = model_preset("bert-tiny"), model_preset("gpt-tiny")
    groups = tuple(Group.uniform(name=f"g{i}", device_ids=list(range(first, first + n)),
                                 pipeline_degree=pp, models=[a, b])
                   for i, (first, n, pp) in enumerate(LAYOUTS[args.layout]))
    placement = Placement(cluster=homogeneous_cluster(8, "cpu"),
                          models={a.name: a, b.name: b}, groups=groups)
    rng = np.random.default_rng(args.seed)
    names = [a.name, b.name]
    arrival = np.cumsum(rng.gamma(1 / 9, 9 / args.rate, args.requests))
    workload = Workload.from_arrays(arrival=arrival, model=rng.choice(names, args.requests),
                                    model_names=names)
    with Runtime(placement, devices=devs, repeats=10, max_batch=args.max_batch) as rt:
        slo = slo_from_latency(rt.stage_latencies(), 5.0)
        cal = calibrate_contention(rt.executors, placement.groups, rt.profile,
                                   batch_sizes=rt.batch_sizes)  # before serving
        start, before = cpu_sample(), rt.profile
        run = rt.serve(workload, slo=slo)
        after = rt.measure_serving_path()
        profile = rt.profile
        load = host_load(start, cpu_sample())
    trace = run.trace
    assert trace is not None
    service = trace.service
    host = Stationarity(drift=profile_drift(before, after), load=load,
                        tail=service_tail(service[np.isfinite(service)]))
    steady = not host.violations(Tolerance())
    w = Workload.from_arrays(arrival=run.arrival, model=run.model_codes,
                             model_names=run.model_names, slo=run.slo)
    predicted = attainment(simulate_with_profile(placement, w, profile, None))
    pred = predict_contended(placement, profile, w, lone=cal.lone, curve=cal.curves,
                             max_batch=trace.max_batch, feedback=trace.feedback,
                             overhead=trace.overhead)
    measured = attainment(run)
    print(f"{args.layout}, {args.requests} requests, max batch {args.max_batch}: "
          f"host_steady={steady} ({host.describe()})")
    print(f"predicted {predicted:.3f}  measured {measured:.3f}  "
          f"({100 * (measured - predicted):+.1f} pp)")
    print(f"contention-aware predicted {attainment(pred.result):.3f} "
          f"({100 * (measured - attainment(pred.result)):+.1f} pp; {pred.rounds} rounds, "
          f"converged {pred.converged}); curve s(n) {cal.curve.slowdown} "
          f"measured in {cal.seconds:.2f} s")
    hand = np.clip(measured_handoffs(run), 0.0, None)
    unknown = np.full_like(service, np.nan)
    steps = {"A prediction's inputs (baseline)": {"service": unknown},
             "B + measured decision lag": {"service": unknown, "decided": trace.decided},
             "C + measured hand-offs": {"service": unknown, "decided": trace.decided,
                                        "handoff": hand},
             "D + measured service (the replay)": {"service": service,
                                                   "decided": trace.decided, "handoff": hand},
             "E measured service only": {"service": service}}
    base = float("nan")
    for label, kw in steps.items():
        got = attainment(replay_measured(placement, profile, w, feedback=trace.feedback,
                                         overhead=trace.overhead, max_batch=trace.max_batch,
                                         **kw).result)
        base = got if np.isnan(base) else base
        print(f"  {label:36s} {got:.3f}  ({100 * (got - base):+.1f} pp vs A)")
    ratios, busy, lone_ratios, group_of = [], [], [], []
    sizes = np.ones(len(run), dtype=int) if trace.batch_size is None else trace.batch_size
    spans = [(trace.stage_begin[i, k], trace.stage_end[i, k], int(run.group[i]), k,
              int(run.model_codes[i]), int(sizes[i]))
             for i in np.flatnonzero(run.status == 0)
             for k in range(placement.groups[run.group[i]].num_stages)]
    edges = np.array(sorted({(s[0], s[1], s[2], s[3]) for s in spans}))[:, :2]  # a batch once
    for begin, end, g, k, m, size in spans:  # a batch's members each count (same times)
        config = placement.groups[g].models[run.model_names[m]]
        lat = profile.get(run.model_names[m], config, size).stage_latencies[k]
        ratios.append((end - begin) / lat)
        lone_ratios.append((end - begin)
                           / cal.lone.get(run.model_names[m], config, size).stage_latencies[k])
        mid = 0.5 * (begin + end)
        busy.append(int(((edges[:, 0] <= mid) & (edges[:, 1] >= mid)).sum()))
        group_of.append(g)
    # the model on the run's own schedule: each measured stage run stretched from its lone
    # work by s(n) over the measured spans, then replayed (F); near D: the curve holds
    keys = sorted({(s[0], s[1], s[2], s[3]) for s in spans})
    lone_of = {}
    for begin, end, g, k, m, size in spans:
        config = placement.groups[g].models[run.model_names[m]]
        lone_of[(begin, end, g, k)] = cal.lone.get(run.model_names[m], config,
                                                   size).stage_latencies[k]
    kb = np.array([x[0] for x in keys])
    ke = np.array([x[1] for x in keys])
    dur = dict(zip(keys, stretched_durations(kb, ke, [lone_of[x] for x in keys], cal.curves,
                                         curve_of=[x[2] for x in keys]), strict=True))
    modelled = service.copy()
    for i in np.flatnonzero(run.status == 0):
        g = int(run.group[i])
        for k in range(placement.groups[g].num_stages):
            modelled[i, k] = dur[(trace.stage_begin[i, k], trace.stage_end[i, k], g, k)]
    f = attainment(replay_measured(placement, profile, w, service=modelled,
                                   feedback=trace.feedback, overhead=trace.overhead,
                                   max_batch=trace.max_batch).result)
    print(f"  F the curve on the run's own spans    {f:.3f}  ({100 * (f - base):+.1f} pp vs A); "
          f"stage time modelled / measured: median "
          f"{np.nanmedian(modelled / service):.2f}")
    r, c, lr = np.array(ratios), np.array(busy), np.array(lone_ratios)
    print("measured / profiled stage service time, by stages busy at once (all groups),")
    print("and measured / lone against the calibrated curve s(n):")
    for n in sorted(set(c.tolist())):
        sel = c == n
        print(f"  {n} busy: {sel.sum():4d} stage runs, median {np.median(r[sel]):.2f}, "
              f"p90 {np.percentile(r[sel], 90):.2f} | / lone: median {np.median(lr[sel]):.2f}"
              f", s({n}) = {cal.curve.at([n])[0]:.2f}")
    gs = np.array(group_of)
    print("measured / lone by group (stages of different groups slow differently) against "
          "each group's own curve:")
    for g, curve in enumerate(cal.group_curves):
        cells = [f"{n}: {np.median(lr[(c == n) & (gs == g)]):.2f} vs {curve.at([n])[0]:.2f}"
                 for n in sorted(set(c.tolist())) if ((c == n) & (gs == g)).any()]
        print(f"  {placement.groups[g].name}: " + ", ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
