"""Measure how stages slow each other down where devices share cores (CPU virtual devices).

:func:`calibrate_contention` times, before any serving, (1) every stage of every hosted model
at every batch size alone, back to back (the *lone* latencies), and (2) for ``k = 1, 2, ...``
up to the placement's stage count, ``k`` stages run at once on their own threads, each in a
loop for ``window`` seconds: the stages are taken one per group in turn, first stages first,
as a burst would fill them, each pass starting from the next group. Each thread's median
service time over its stage's lone latency is one sample of the slowdown ``s(k)``;
:class:`~simulator.contention.ContentionCurve.fit` takes the median per ``k``, over all
threads (``curve``) and over each group's own (``group_curves``, what predictions use).
Groups differ: on 2 cores a tensor-parallel stage (which had both cores alone) slowed by 4x
with four stages busy where a one-device stage beside it slowed by 2.3x, so one curve for
both overcharged one and undercharged the other. The stages run through the executors' own
programs, the way their serving threads run them (:meth:`LocalGroupExecutor.stage_calls`),
so the lone latencies and the curves describe the service times a run records.

:func:`simulator.contention.predict_contended` turns them into a prediction;
:mod:`alpaserve.runtime.fidelity` uses them on CPU hosts, bracketing each run
(:mod:`alpaserve.runtime.bracket`); :func:`lone_runs` pairs a real run's stage runs with
their calibrated lone latencies, for :func:`~alpaserve.runtime.stationarity.alone_speed`.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from alpaserve.errors import ExecutionError, SpecError
from alpaserve.placement_spec import Group, Placement
from alpaserve.profiles import ProfileDB
from alpaserve.runtime.bracket import ContentionCalibration
from simulator.slowdown import ContentionCurve

logger = logging.getLogger(__name__)

Contention = Literal["auto", "on", "off"]


def contention_applies(mode: str, placement: Placement, runtime_options: dict[str, Any], *,
                       custom_simulator: bool = False) -> bool:
    """Whether a fidelity run predicts with the contention model (module doc).

    ``"auto"`` turns it on for pipelines (a group of two or more stages) on CPU devices
    served in this process: the stages of a pipeline share the host's cores with a
    concurrency that varies from one moment to the next, which no single profiled latency
    holds. Single-stage groups keep the plain prediction (their concurrent calibration holds
    the contention of a burst), and so do accelerators (each stage owns its device), Ray
    groups and a caller's own simulator.

    Parameters
    ----------
    mode : {"auto", "on", "off"}
        The choice.
    placement : Placement
        The groups.
    runtime_options : dict
        The :class:`~alpaserve.runtime.runtime.Runtime` options (``devices``, ``backend``).
    custom_simulator : bool, default False
        Whether the caller gave its own ``simulate``.

    Returns
    -------
    bool
        ``True`` to calibrate the curve and predict with it.

    Raises
    ------
    SpecError
        When ``mode`` is unknown, or ``"on"`` meets a Ray backend or a caller's simulator.

    Examples
    --------
    >>> from alpaserve import Group, Placement, homogeneous_cluster, model_preset
    >>> m = model_preset("bert-tiny")
    >>> p = Placement(cluster=homogeneous_cluster(2), models={m.name: m}, groups=(
    ...     Group.uniform(name="g0", device_ids=[0, 1], pipeline_degree=2, models=[m]),))
    >>> contention_applies("on", p, {}), contention_applies("off", p, {})
    (True, False)
    """
    if mode not in ("auto", "on", "off"):
        raise SpecError(f"contention must be 'auto', 'on' or 'off', got {mode!r}")
    local = runtime_options.get("backend", "local") == "local"
    if mode == "on" and (custom_simulator or not local):
        raise SpecError("contention='on' predicts with the contention model, in this process: "
                        "it needs the local backend and no simulate of its own")
    if mode != "auto":
        return mode == "on"
    if custom_simulator or not local or all(g.num_stages == 1 for g in placement.groups):
        return False
    devices = runtime_options.get("devices")
    if devices is None:
        import jax

        devices = jax.devices()
    return all(getattr(d, "platform", "") == "cpu" for d in devices)


def calibrate_contention(executors: Sequence[Any], groups: Sequence[Group],
                         template: ProfileDB, *, batch_sizes: Sequence[int] = (1,),
                         warmup: int = 2, repeats: int = 20, window: float = 0.12,
                         passes: int = 2, clock: Callable[[], float] = time.perf_counter
                         ) -> ContentionCalibration:
    """Lone latencies and the slowdown curve (see the module doc).

    Parameters
    ----------
    executors : sequence of LocalGroupExecutor
        The groups' built executors, in placement order (not serving: their threads stopped).
    groups : sequence of Group
        The placement's groups.
    template : ProfileDB
        An entry for every hosted (model, config, batch size) (weights, memory); the lone
        profile copies them with its own latencies.
    batch_sizes : sequence of int, default (1,)
        The batch sizes to time alone (the curve is measured at batch size 1).
    warmup, repeats : int
        Untimed and timed runs of each stage alone.
    window : float, default 0.12
        Seconds each busy count runs, per pass.
    passes : int, default 2
        Sweeps over the busy counts (1, 2, ..., then again), pooled: a burst of other
        processes' load during one sweep moves a count's median less.
    clock : callable, default time.perf_counter
        The clock.

    Returns
    -------
    ContentionCalibration
        The curve, the lone profile and the samples.

    Raises
    ------
    SpecError
        When an executor cannot run stages directly (a Ray group), or ``repeats``,
        ``warmup`` or ``window`` is out of range.
    ExecutionError
        When a stage fails while timed.
    """
    if repeats < 1 or warmup < 0 or not window > 0 or passes < 1:
        raise SpecError(f"need repeats >= 1, warmup >= 0, window > 0 and passes >= 1, got "
                        f"{repeats}, {warmup}, {window}, {passes}")
    if not all(hasattr(ex, "stage_calls") for ex in executors):
        raise SpecError("contention calibration runs stages in this process: it needs the "
                        "local backend")
    began = clock()
    lone = _lone_profile(executors, groups, template, batch_sizes, warmup, repeats, clock)
    depth = max((g.num_stages for g in groups), default=0)
    hosting = [g for g, group in enumerate(groups) if group.models]
    samples: dict[int, tuple[float, ...]] = {}
    split: list[dict[int, tuple[float, ...]]] = [{} for _ in groups]
    scatter: list[float] = []
    for p in range(passes):
        # each pass starts the burst from the next group, so every group's stages are
        # measured at the low counts too
        order = hosting[p % len(hosting):] + hosting[:p % len(hosting)] if hosting else []
        slots = [(g, k) for k in range(depth) for g in order if k < groups[g].num_stages]
        for busy in range(1, len(slots) + 1):
            jobs = []
            for j, (g, k) in enumerate(slots[:busy]):
                models = list(groups[g].models)
                model = models[j % len(models)]
                base = lone.get(model, groups[g].models[model], 1).stage_latencies[k]
                jobs.append((executors[g].stage_calls(model, 1)[k], base))
            medians, ratios = _together(jobs, window, clock)
            samples[busy] = samples.get(busy, ()) + medians
            for (g, _), x in zip(slots[:busy], medians, strict=True):
                split[g][busy] = (*split[g].get(busy, ()), x)
            scatter += ratios
    curve = ContentionCurve.fit({k: list(v) for k, v in samples.items()})
    spread = (tuple(float(x) for x in np.percentile(scatter, np.arange(101)))
              if scatter else ())
    seconds = clock() - began
    logger.info("contention curve %s (effective cores %.2f) in %.2f s", curve.slowdown,
                curve.effective_cores, seconds)
    return ContentionCalibration(curve=curve, lone=lone, samples=samples, seconds=seconds,
                                 spread=spread, group_samples=tuple(split))


def _lone_profile(executors: Sequence[Any], groups: Sequence[Group], template: ProfileDB,
                  sizes: Sequence[int], warmup: int, repeats: int,
                  clock: Callable[[], float]) -> ProfileDB:
    """Each stage alone, back to back; a (model, config, size) on several groups pools."""
    runs: dict[Any, list[list[float]]] = {}
    for ex, group in zip(executors, groups, strict=True):
        for model, config in group.models.items():
            for size in sizes:
                key = template.get(model, config, size).key
                per_stage = runs.setdefault(key, [[] for _ in range(config.pipeline_degree)])
                for k, call in enumerate(ex.stage_calls(model, size)):
                    for _ in range(warmup):
                        _checked(call)
                    for _ in range(repeats):
                        t0 = clock()
                        _checked(call)
                        per_stage[k].append(clock() - t0)
    db = ProfileDB()
    for entry in template:
        if entry.key in runs:
            db.add(replace(entry, stage_latencies=tuple(
                max(statistics.median(x), 1e-9) for x in runs[entry.key])))
    return db


def _together(jobs: Sequence[tuple[Callable[[], Any], float]], window: float,
              clock: Callable[[], float]) -> tuple[tuple[float, ...], list[float]]:
    """Run every call in a loop on its own thread for ``window`` seconds; per thread, the
    median time of the calls that began after all threads had started, over its base; and
    every such call's time over its thread's median."""
    barrier = threading.Barrier(len(jobs) + 1)
    stop = threading.Event()
    times: list[list[tuple[float, float]]] = [[] for _ in jobs]
    failure: list[BaseException] = []

    def loop(j: int) -> None:
        call = jobs[j][0]
        barrier.wait()
        try:
            while not stop.is_set():
                t0 = clock()
                call()
                times[j].append((t0, clock()))
        except Exception as exc:  # reported by the caller
            failure.append(exc)

    threads = [threading.Thread(target=loop, args=(j,), daemon=True) for j in range(len(jobs))]
    for t in threads:
        t.start()
    barrier.wait()
    start = clock()
    time.sleep(window)
    stop.set()
    end = clock()
    for t in threads:
        t.join()
    if failure:
        raise ExecutionError(f"a stage failed while timing contention: {failure[0]!r}")
    # calls that began once every thread was in its loop and ended before the stop
    settled = max((ts[0][1] for ts in times if ts), default=start)
    out, ratios = [], []
    for (_, base), ts in zip(jobs, times, strict=True):
        kept = [b - a for a, b in ts if a >= settled and b <= end] or [b - a for a, b in ts]
        if kept:
            median = float(np.median(kept))
            out.append(median / base)
            ratios += [t / median for t in kept if median > 0]
    return tuple(out), ratios


def _checked(call: Callable[[], Any]) -> None:
    try:
        call()
    except Exception as exc:
        raise ExecutionError(f"a stage failed while timed alone: {exc!r}") from exc


def lone_runs(real: Any, placement: Placement, lone: ProfileDB
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every stage run of a real run (a batch once), with its calibrated lone latency.

    Parameters
    ----------
    real : RunResult
        A run that recorded its trace (:meth:`~alpaserve.runtime.runtime.Runtime.serve`).
    placement : Placement
        The groups it ran on.
    lone : ProfileDB
        The lone latencies (:attr:`ContentionCalibration.lone`).

    Returns
    -------
    tuple of numpy.ndarray
        ``begin``, ``end`` and ``lone`` seconds per stage run (empty without a trace).

    Raises
    ------
    ProfileError
        When ``lone`` lacks a (model, config, batch size) the run served.
    """
    trace = getattr(real, "trace", None)
    if trace is None:
        return np.empty(0), np.empty(0), np.empty(0)
    sizes = (np.ones(len(real.status), dtype=np.int64) if trace.batch_size is None
             else np.maximum(np.asarray(trace.batch_size), 1))
    seen: dict[tuple[int, int, float], tuple[float, float]] = {}
    for i in np.flatnonzero(np.asarray(real.status) == 0).tolist():
        g = int(real.group[i])
        model = real.model_names[int(real.model_codes[i])]
        config = placement.groups[g].models[model]
        stages = lone.get(model, config, int(sizes[i])).stage_latencies
        for k, base in enumerate(stages):
            begin = float(trace.stage_begin[i, k])
            seen.setdefault((g, k, begin), (float(trace.stage_end[i, k]), base))
    keys = list(seen)
    return (np.array([key[2] for key in keys]), np.array([seen[key][0] for key in keys]),
            np.array([seen[key][1] for key in keys]))
