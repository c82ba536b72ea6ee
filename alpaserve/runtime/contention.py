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
both overcharged one and undercharged the other. The stages run through the executors' own programs, the way
their serving threads run them (:meth:`LocalGroupExecutor.stage_calls`), so the lone
latencies and the curve describe the service times a run records.

:func:`simulator.contention.predict_contended` turns the two into a prediction;
:mod:`alpaserve.runtime.fidelity` uses them on CPU hosts.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from alpaserve.errors import ExecutionError, SpecError
from alpaserve.placement_spec import Group, Placement
from alpaserve.profiles import ProfileDB
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


@dataclass(frozen=True, kw_only=True)
class ContentionCalibration:
    """The lone stage latencies and the slowdown curve of one host.

    Parameters
    ----------
    curve : ContentionCurve
        Slowdown by the number of stages busy at once.
    lone : ProfileDB
        Every hosted (model, config, batch size), each stage timed with nothing else busy.
    samples : dict of int to tuple of float
        Per busy count, each thread's median slowdown in each pass.
    seconds : float
        Wall time the calibration took.
    spread : tuple of float
        Percentiles 0, 1, ..., 100 of every timed call over its thread's median while
        stages ran together: how far one stage run strays from the curve (empty: unknown).
    shift : float, optional
        For a calibration made of two around a run (:func:`bracket`): how far the second
        moved from the first (:func:`calibration_shift`); ``None`` for a single one.
    parts : tuple of ContentionCalibration
        The two calibrations a bracketed one averages (empty for a single one).
    group_samples : tuple of dict of int to tuple of float
        ``samples`` split by the group of the thread's stage, in placement order (empty:
        not split).
    group_curves : tuple of ContentionCurve
        One curve per group fitted to its own samples (see :func:`group_curve`); empty:
        not split.
    """

    curve: ContentionCurve
    lone: ProfileDB
    samples: dict[int, tuple[float, ...]]
    seconds: float
    spread: tuple[float, ...] = ()
    shift: float | None = None
    parts: tuple[ContentionCalibration, ...] = ()
    group_samples: tuple[dict[int, tuple[float, ...]], ...] = ()
    group_curves: tuple[ContentionCurve, ...] = ()

    @property
    def curves(self) -> ContentionCurve | tuple[ContentionCurve, ...]:
        """What a prediction stretches stages with: the groups' own curves where measured,
        else the one curve.

        Returns
        -------
        ContentionCurve or tuple of ContentionCurve
            ``group_curves``, or ``curve`` when there are none.
        """
        return self.group_curves or self.curve

    @property
    def skew(self) -> float:
        """``s(1) - 1`` of largest magnitude over this calibration and its parts: a stage
        timed alone in the curve's one-busy pass against its lone timing a moment before.

        Returns
        -------
        float
            The signed skew.
        """
        return max((c.curve.slowdown[0] - 1.0 for c in (self, *self.parts)), key=abs)

    def to_dict(self) -> dict[str, Any]:
        """The calibration as JSON-ready values.

        Returns
        -------
        dict
            ``curve``, ``lone_ms`` (per ``model/config/bs``, per stage), ``samples``,
            ``seconds`` and ``spread`` (percentiles 0, 10, ..., 100 of it), and the
            groups' own curves (``group_curves``); a bracketed calibration adds ``shift``
            and its two parts' own (``bracket``).
        """
        out: dict[str, Any] = {
            "curve": self.curve.to_dict(),
            "group_curves": [c.to_dict() for c in self.group_curves],
            "lone_ms": {f"{e.model}/{e.config.key}/bs{e.batch_size}":
                        [round(1e3 * x, 4) for x in e.stage_latencies] for e in self.lone},
            "samples": {str(k): list(v) for k, v in self.samples.items()},
            "seconds": self.seconds,
            "spread": [round(x, 4) for x in self.spread[::10]]}
        if self.parts:
            out["shift"] = self.shift
            out["bracket"] = [c.to_dict() for c in self.parts]
        return out


def calibration_shift(before: ContentionCalibration, after: ContentionCalibration) -> float:
    """How far a stage's service time moved between two calibrations, at any busy count.

    A stage busy with ``n`` others takes its lone latency times ``s(n)``; the shift is the
    largest ``|L · s_after(n) / s_before(n) - 1|`` over the counts both measured, where ``L``
    is the geometric mean over lone entries of their total latency after / before. A host
    whose speed drifted during the run between them shows as a large shift.

    Parameters
    ----------
    before, after : ContentionCalibration
        Two calibrations of the same placement.

    Returns
    -------
    float
        The shift (0: the two agree).

    Raises
    ------
    SpecError
        When the two share no lone entry or no busy count.

    Examples
    --------
    >>> from alpaserve.runtime._examples import toy_calibration as cal
    >>> round(calibration_shift(cal(0.010, 1.5), cal(0.011, 1.5)), 3)  # 10% slower alone
    0.1
    >>> round(calibration_shift(cal(0.010, 1.5), cal(0.010, 1.2)), 3)  # busy pair 20% faster
    0.2
    """
    ratios = [after.lone.get(e.model, e.config, e.batch_size).total_latency / e.total_latency
              for e in before.lone if e.key in after.lone]
    counts = sorted(set(before.curve.busy) & set(after.curve.busy))
    if not ratios or not counts:
        raise SpecError("the two calibrations share no lone entry or busy count: are they of "
                        "the same placement?")
    lone = float(np.exp(np.mean(np.log(ratios))))
    s_before, s_after = before.curve.at(counts), after.curve.at(counts)
    return float(np.max(np.abs(lone * s_after / s_before - 1.0)))


def bracket(before: ContentionCalibration, after: ContentionCalibration
            ) -> ContentionCalibration:
    """One calibration from two made just before and just after a run.

    A host's speed drifts over seconds (on a shared VM by 30-50% between probes), so one
    calibration taken before a run describes its start, not the run. Bracketing averages
    the two: each lone stage latency is the mean of both timings, the curve is fitted to
    both calibrations' samples pooled, and the spread is the mean of both at each
    percentile. :func:`calibration_shift` between them says how far the host moved
    (:class:`~alpaserve.runtime.stationarity.Stationarity` judges it).

    Parameters
    ----------
    before, after : ContentionCalibration
        Two calibrations of the same placement, around one run.

    Returns
    -------
    ContentionCalibration
        The averaged calibration, with ``shift`` and both ``parts``.

    Raises
    ------
    SpecError
        When the two do not cover the same lone entries and stage counts.

    Examples
    --------
    >>> from alpaserve.runtime._examples import toy_calibration as cal
    >>> both = bracket(cal(0.010, 1.4), cal(0.012, 1.6))
    >>> [round(e.total_latency, 4) for e in both.lone]
    [0.011]
    >>> both.curve.slowdown, round(both.shift, 3), both.seconds
    ((1.0, 1.5), 0.371, 2.0)
    """
    keys = {e.key for e in before.lone}
    if keys != {e.key for e in after.lone} or set(before.samples) != set(after.samples):
        raise SpecError("cannot bracket calibrations of different placements: their lone "
                        "entries or busy counts differ")
    lone = ProfileDB()
    for e in before.lone:
        other = after.lone.get(e.model, e.config, e.batch_size).stage_latencies
        lone.add(replace(e, stage_latencies=tuple(
            (a + b) / 2.0 for a, b in zip(e.stage_latencies, other, strict=True))))
    samples = {k: before.samples[k] + after.samples[k] for k in before.samples}
    curve = ContentionCurve.fit({k: list(v) for k, v in samples.items()}) if samples \
        else before.curve
    split: tuple[dict[int, tuple[float, ...]], ...] = ()
    if len(before.group_samples) == len(after.group_samples):
        split = tuple({k: a.get(k, ()) + b.get(k, ()) for k in sorted({*a, *b})}
                      for a, b in zip(before.group_samples, after.group_samples, strict=True))
    spread = (tuple((a + b) / 2.0 for a, b in zip(before.spread, after.spread, strict=True))
              if before.spread and after.spread else before.spread or after.spread)
    return ContentionCalibration(curve=curve, lone=lone, samples=samples,
                                 seconds=before.seconds + after.seconds, spread=spread,
                                 shift=calibration_shift(before, after),
                                 parts=(before, after), group_samples=split,
                                 group_curves=tuple(group_curve(x) for x in split))


def group_curve(samples: Mapping[int, Sequence[float]]) -> ContentionCurve:
    """The curve of one group's stages, from the slowdowns its threads saw at each count.

    A group whose stages were never the only one busy gets ``s(1) = 1``: alone, a stage
    takes its lone latency by definition.

    Parameters
    ----------
    samples : dict of int to sequence of float
        Per busy count, the group's threads' median slowdowns.

    Returns
    -------
    ContentionCurve
        :meth:`ContentionCurve.fit` of them.

    Examples
    --------
    >>> group_curve({2: [1.8, 2.2], 3: [2.5]}).slowdown
    (1.0, 2.0, 2.5)
    """
    return ContentionCurve.fit({1: [1.0], **{k: list(v) for k, v in samples.items()}})


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
                                 spread=spread, group_samples=tuple(split),
                                 group_curves=tuple(group_curve(x) for x in split))


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
