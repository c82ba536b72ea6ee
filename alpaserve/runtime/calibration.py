"""Re-measure every stage's latency through the serving path (:meth:`Runtime.open`).

A stage timed alone (:mod:`alpaserve.runtime.profiler`) misses what a served request pays:
release jitter, thread hand-offs, cold caches after idle, and, where groups share hardware
(CPU virtual devices share the host's cores), the other groups running at the same time.
:func:`calibrate_serving_path` therefore serves calibration requests through the open
executors, round after round, and keeps each stage's median service time.

Each round releases one request (a pipeline: one per stage, so its stages run at once, as in
a burst) to every group at the same instant (group ``g`` cycles through its models), waits
until all finish, then pauses ``gap`` seconds. Without ``concurrently`` each group gets its
rounds alone, the others idle. A (model, config) hosted by several groups pools their
samples. With several batch sizes every size gets its own rounds, each request of a round
being one batch of that size. Stage 0 of a round's first request is counted from the release.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise, product
from typing import Any

import numpy as np

from alpaserve.errors import ExecutionError
from alpaserve.placement_spec import Group
from alpaserve.profiles import ProfileDB

logger = logging.getLogger(__name__)

MAX_BURST = 64  # requests of one calibration round per group


@dataclass(frozen=True, kw_only=True)
class CalibrationOptions:
    """How the serving path is calibrated (see the module docstring).

    Parameters
    ----------
    warmup, repeats : int
        Untimed and timed rounds per (group, model, batch size).
    gap : float
        Seconds between rounds.
    concurrently : bool
        All groups in every round (``False``: each group alone).
    pipelines : bool
        A pipeline gets one request per stage per round (``False``: one per round).
    batch_sizes : tuple of int, default (1,)
        The batch sizes to calibrate (each one the kernel profile has).
    """

    warmup: int
    repeats: int
    gap: float
    concurrently: bool
    pipelines: bool
    batch_sizes: tuple[int, ...] = (1,)


def calibrate_serving_path(executors: Sequence[Any], groups: Sequence[Group],
                           kernel: ProfileDB, options: CalibrationOptions, *,
                           clock: Callable[[], float] = time.perf_counter) -> ProfileDB:
    """The serving-path profile of every hosted (model, config, batch size).

    Parameters
    ----------
    executors : sequence of GroupExecutor
        The groups' built executors, in placement order (started and stopped here).
    groups : sequence of Group
        The placement's groups.
    kernel : ProfileDB
        The stages timed alone: the template of every entry (weights, memory).
    options : CalibrationOptions
        Rounds, gap, concurrency and batch sizes.
    clock : callable, default time.perf_counter
        The clock the executors report on.

    Returns
    -------
    ProfileDB
        One entry per (model, config, batch size): the median serving-path stage latencies.

    Raises
    ------
    ExecutionError
        When a round fails or takes over 60 s.
    """
    sizes = options.batch_sizes
    stride = max(sizes)  # request id of member m of batch j of round i: (i*64 + j)*stride + m
    models = [list(group.models) for group in groups]
    ends: list[dict[int, list[float]]] = [{} for _ in executors]
    begins: list[dict[int, list[float]]] = [{} for _ in executors]
    burst = [group.num_stages if options.pipelines else 1 for group in groups]
    lock = threading.Lock()
    done = threading.Event()
    failure: list[BaseException] = []
    left = [0]

    def hooks(g: int) -> tuple[Any, Any]:
        depth = groups[g].num_stages

        def on_stage(rid: int, k: int, begin: float, end: float) -> None:
            ends[g].setdefault(rid, [float("nan")] * depth)[k] = end
            begins[g].setdefault(rid, [float("nan")] * depth)[k] = begin

        def on_done(rid: int, t_start: float, t_end: float, err: BaseException | None) -> None:
            with lock:
                if err is not None:
                    failure.append(err)
                left[0] -= 1
                if left[0] == 0:
                    done.set()
        return on_done, on_stage

    samples: dict[Any, list[list[float]]] = {}
    sent: dict[tuple[int, str, int], int] = {}
    rounds = (options.warmup + options.repeats) * max(len(m) for m in models)
    hosting = [g for g in range(len(groups)) if models[g]]  # a group may host nothing
    together = [hosting] if options.concurrently else [[g] for g in hosting]
    started: list[Any] = []
    try:
        for g, ex in enumerate(executors):
            ex.start(*hooks(g))
            started.append(ex)
        for i, (size, r, members) in enumerate(product(sizes, range(rounds), together)):
            time.sleep(options.gap)
            picks = {g: models[g][r % len(models[g])] for g in members}
            with lock:
                left[0] = sum(burst[g] for g in members) * size
                done.clear()
            released = clock()
            for g, model in picks.items():
                for j in range(burst[g]):
                    head = (i * MAX_BURST + j) * stride
                    ids = list(range(head, head + size))
                    if size == 1:
                        executors[g].submit(head, model)
                    else:
                        executors[g].submit_batch(ids, model)
            if not done.wait(60.0) or failure:
                raise ExecutionError(f"calibration round {i} ({picks}, batch {size}) failed: "
                                     f"{failure or 'timed out'}")
            for g, model in picks.items():
                count = sent[g, model, size] = sent.get((g, model, size), 0) + 1
                if count <= options.warmup:
                    continue
                key = kernel.get(model, groups[g].models[model], size).key
                first = i * MAX_BURST * stride
                # the first request's stage 0 counts from the release (as serving pays it);
                # every other sample is a stage's own service time
                samples.setdefault(key, []).append(
                    [b - a for a, b in pairwise([released, *ends[g][first]])])
                for j in range(1, burst[g]):
                    rid = (i * MAX_BURST + j) * stride
                    samples[key].append([e - b for b, e in zip(begins[g][rid], ends[g][rid],
                                                                strict=True)])
    finally:
        for ex in started:
            ex.stop()
    db = ProfileDB()
    for g, group in enumerate(groups):
        for model, config in group.models.items():
            for size in sizes:
                entry = kernel.get(model, config, size)
                if entry.key in db:
                    continue
                lats = tuple(max(float(np.median(col)), 1e-9)
                             for col in zip(*samples[entry.key], strict=True))
                logger.info("group %d %s bs=%d: serving-path stages %s ms (alone %s ms)", g,
                            model, size, [round(x * 1e3, 3) for x in lats],
                            [round(x * 1e3, 3) for x in entry.stage_latencies])
                db.add(replace(entry, stage_latencies=lats))
    return db
