"""One real-time replay of a workload through a runtime's open groups (:meth:`Runtime.serve`).

A dispatcher thread (the caller's) sleeps until each request's release and asks the
:class:`~simulator.dispatch.Dispatcher` where it goes. Without batching an admitted request
is handed to its group's stage 0 at once. With batching it joins the group's queue, and the
group's batcher thread forms a batch (:meth:`~simulator.dispatch.Dispatcher.form_batch`)
whenever the group's stage 0 is free and requests wait, and hands it to stage 0 as one item.

One re-entrant lock orders everything the replay check reads: a decision reads the clock and
queues the request under it, a formation reads the clock and takes its batch under it, and
the stage threads read a stage's end and report it (to the trace and, with feedback, to the
dispatcher) under it. So a decision or formation timed at ``t`` has seen every stage end
before ``t`` and none after, and the queue it saw holds exactly the requests decided before
``t``, as :func:`simulator.replay.replay_measured` assumes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve.errors import ExecutionError
from alpaserve.runtime.result import RequestStatus, RunResult, ServeTrace
from simulator.dispatch import Dispatcher
from workloads import Workload

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ServeSetup:
    """What one serving run needs from its runtime.

    Parameters
    ----------
    executors : sequence of GroupExecutor
        The open groups, in placement order.
    group_names : sequence of str
        Their names.
    dispatcher : Dispatcher
        A fresh dispatcher over the runtime's profile (batching when ``max_batch > 1``).
    feedback : bool
        Report stage ends to the dispatcher.
    overhead : float
        Seconds the dispatcher adds to every predicted finish.
    clock : callable
        The clock every time is read from.
    sleep_until : callable
        Sleeps until a clock time.
    """

    executors: Sequence[Any]
    group_names: Sequence[str]
    dispatcher: Dispatcher
    feedback: bool
    overhead: float
    clock: Callable[[], float]
    sleep_until: Callable[[float], None]


def serve_workload(setup: ServeSetup, workload: Workload, *, slos: npt.NDArray[np.float64],
                   arrival: npt.NDArray[np.float64], depth: int, start_delay: float,
                   drain_timeout: float) -> RunResult:
    """Serve ``workload`` in real time (see the module docstring).

    Parameters
    ----------
    setup : ServeSetup
        The groups, the dispatcher and the clock.
    workload : Workload
        The requests.
    slos : numpy.ndarray
        SLO in seconds per request.
    arrival : numpy.ndarray
        Release time of each request on the run's clock (scaled arrivals).
    depth : int
        The most stages of any group.
    start_delay : float
        Seconds between the call and the first release.
    drain_timeout : float
        Seconds to wait for the queued and running requests after the last release.

    Returns
    -------
    RunResult
        Every request's outcome and the run's trace.

    Raises
    ------
    ExecutionError
        When requests fail or are still running ``drain_timeout`` after the last release.
    """
    return _Serving(setup, workload, slos, arrival, depth).run(start_delay, drain_timeout)


class _Serving:
    def __init__(self, setup: ServeSetup, workload: Workload, slos: npt.NDArray[np.float64],
                 arrival: npt.NDArray[np.float64], depth: int) -> None:
        n = len(workload)
        self.s, self.w, self.slos, self.arrival = setup, workload, slos, arrival
        self.batching = setup.dispatcher.batching
        self.start, self.finish = np.full(n, np.nan), np.full(n, np.nan)
        self.group = np.full(n, -1, dtype=np.int32)
        self.status = np.zeros(n, dtype=np.int8)
        self.decided, self.formed = np.full(n, np.nan), np.full(n, np.nan)
        self.queue_group = np.full(n, -1, dtype=np.int32)
        self.batch_size = np.zeros(n, dtype=np.int32)
        self.begin, self.end = np.full((n, depth), np.nan), np.full((n, depth), np.nan)
        self.sync = threading.Condition(threading.RLock())
        self.pending = 0  # admitted requests not yet finished (or dropped from a queue)
        self.dispatched = False
        self.closing = False
        self.stage0_free = [True] * len(setup.executors)
        self.errors: list[tuple[int, BaseException]] = []
        self.origin = 0.0

    # ------------------------------------------------------------------ callbacks
    def on_done(self, rid: int, t_start: float, t_end: float, err: BaseException | None) -> None:
        with self.sync:
            self.start[rid] = self.begin[rid, 0] if self.batching else t_start - self.origin
            self.finish[rid] = t_end - self.origin
            if err is not None:
                self.errors.append((rid, err))
            self.pending -= 1
            self.sync.notify_all()

    def stage_hook(self, g: int) -> Callable[[int, int, float, float], None]:
        def on_stage(rid: int, k: int, begin: float, end: float) -> None:
            with self.sync:
                # with batching stage 0 begins at the formation (which read the clock)
                self.begin[rid, k] = (self.formed[rid] if self.batching and k == 0
                                      else begin - self.origin)
                self.end[rid, k] = end - self.origin
                if self.s.feedback:
                    self.s.dispatcher.observe(g, k, end - self.origin)
                if self.batching and k == 0:
                    self.stage0_free[g] = True
                    self.sync.notify_all()
        return on_stage

    # ------------------------------------------------------------------ batching
    def batcher(self, g: int) -> None:
        d, ex = self.s.dispatcher, self.s.executors[g]
        with self.sync:
            while True:
                while not (self.closing or (self.stage0_free[g] and d.queued(g))):
                    self.sync.wait()
                if self.closing and not (self.dispatched and d.queued(g)):
                    return
                if not self.stage0_free[g]:
                    self.sync.wait()
                    continue
                t = self.s.clock() - self.origin
                f = d.form_batch(g, t)
                for j in f.dropped:
                    self.status[j], self.formed[j] = RequestStatus.DROPPED, t
                    self.pending -= 1
                for j in f.members:
                    self.formed[j], self.group[j], self.batch_size[j] = t, g, f.size
                if f.members and f.model is not None:
                    self.stage0_free[g] = False
                    ex.submit_batch(f.members, f.model)
                self.sync.notify_all()

    # ------------------------------------------------------------------ the run
    def run(self, start_delay: float, drain_timeout: float) -> RunResult:
        s, w, n = self.s, self.w, len(self.w)
        names = w.model_names
        clock = s.clock
        self.origin = clock() + start_delay - (float(self.arrival[0]) if n else 0.0)
        for g, ex in enumerate(s.executors):
            ex.start(self.on_done, self.stage_hook(g), sync=self.sync)
        batchers = [threading.Thread(target=self.batcher, args=(g,), daemon=True,
                                     name=f"batcher-{name}")
                    for g, name in enumerate(s.group_names)] if self.batching else []
        for t in batchers:
            t.start()
        lags = np.zeros(n)
        try:
            for i in range(n):
                s.sleep_until(self.origin + self.arrival[i])
                model = names[w.model_codes[i]]
                with self.sync:
                    now = clock() - self.origin
                    lags[i] = now - self.arrival[i]
                    self.decided[i] = max(now, float(self.arrival[i]))
                    dec = s.dispatcher.decide(model, arrival=float(self.arrival[i]),
                                              slo=float(self.slos[i]), now=now, request=i)
                    self.status[i] = dec.status
                    if dec.status != RequestStatus.SERVED:
                        continue
                    self.pending += 1
                    if dec.queued:
                        self.queue_group[i] = dec.group
                        self.sync.notify_all()
                    else:
                        self.group[i] = dec.group
                        s.executors[dec.group].submit(i, model)
            with self.sync:
                self.dispatched = self.closing = True
                self.sync.notify_all()
                if not self.sync.wait_for(lambda: self.pending == 0, drain_timeout):
                    raise ExecutionError(f"{self.pending} requests were still queued or "
                                         f"running {drain_timeout}s after the last arrival")
        finally:
            with self.sync:
                self.closing = True
                self.dispatched = False  # a batcher still waiting returns now
                self.sync.notify_all()
            for t in batchers:
                t.join()
            for ex in s.executors:
                ex.stop()
        if self.errors:
            rid, err = self.errors[0]
            raise ExecutionError(f"{len(self.errors)} requests failed; request {rid}: "
                                 f"{err!r}") from err
        if n:
            logger.info("served %d requests: dispatch lag mean %.3f ms, max %.3f ms", n,
                        1e3 * float(lags.mean()), 1e3 * float(lags.max()))
        batching = self.batching
        return RunResult.from_columns(
            arrival=self.arrival, start=self.start, finish=self.finish, group=self.group,
            status=self.status, model_codes=w.model_codes, model_names=names, slo=self.slos,
            group_names=s.group_names,
            trace=ServeTrace(decided=self.decided, stage_begin=self.begin, stage_end=self.end,
                             feedback=s.feedback, overhead=s.overhead,
                             max_batch=s.dispatcher.max_batch,
                             formed=self.formed if batching else None,
                             queue_group=self.queue_group if batching else None,
                             batch_size=self.batch_size if batching else None))
