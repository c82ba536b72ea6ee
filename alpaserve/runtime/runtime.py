"""Serve a :class:`Placement` on real devices and replay a :class:`Workload` in real time.

:class:`Runtime` builds one executor per group (local threads, or a Ray actor per group),
measures each hosted model's stage latencies unless a profile is given, and replays a
workload: a dispatcher thread sleeps until each request's arrival, applies the simulator's
policy (:class:`~alpaserve.runtime.dispatch.Dispatcher`) with the profile's stage latencies,
and hands admitted requests to their group's stage threads. Each request's start (its first
stage begins) and finish (its last stage's output is ready) are recorded.

Clock: request ``i`` is released at wall time ``origin + arrival[i] * time_scale``, and every
recorded time is ``wall - origin``, so results live on the (scaled) workload clock and compare
directly with a simulation of the same workload with arrivals multiplied by ``time_scale``.
SLOs and execution times are not scaled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from alpaserve.errors import ExecutionError, SpecError
from alpaserve.placement_spec import Placement
from alpaserve.profiles import ProfileDB
from alpaserve.runtime.calibration import (
    MAX_BURST,
    CalibrationOptions,
    calibrate_serving_path,
)
from alpaserve.runtime.dispatch import Dispatcher
from alpaserve.runtime.executor import GroupExecutor, LocalGroupExecutor, serving_batch_sizes
from alpaserve.runtime.result import RunResult
from alpaserve.runtime.serving import ServeSetup, serve_workload
from workloads import Workload

logger = logging.getLogger(__name__)

Backend = Literal["local", "ray"]
SPIN_WINDOW = 0.002  # seconds before a release when the dispatcher stops sleeping


class Runtime:
    """Run a placement's groups on devices and serve workloads through them.

    Parameters
    ----------
    placement
        Groups, their stage meshes and the models they host. Device ``d`` of the placement is
        ``devices[d]`` (local backend) or local device ``i`` of its group's actor (Ray).
    devices
        JAX devices for the local backend; ``jax.devices()`` by default.
    profile
        Stage latencies (batch size 1) the dispatcher predicts with. ``None``: measure each
        hosted (model, config) on its group's devices when the runtime opens; the result is
        :attr:`profile` (``source="measured"``). Each stage is first timed alone
        (:attr:`kernel_profile`); with ``calibrate`` (the default) its latency is then
        re-measured through the serving path itself, one request per group at a time with
        ``calibration_gap`` seconds between them, so the profile includes what a real request
        pays (release jitter, thread hand-offs, cold caches after idle). Stage 0's latency
        is counted from the request's release.
    calibrate_concurrently
        Calibrate all groups at once (each round releases one request to every group
        together), so where groups share resources (CPU virtual devices share the host's
        cores and the GIL) the profile holds the contended latency they serve bursts with.
        ``False``: each group alone. Admission then uses the contended latency, so it is
        more conservative when only one group is busy (see ``alpaserve/runtime/fidelity.py``).
    backend
        ``"local"`` (threads in this process) or ``"ray"`` (one actor per group).
    seed
        Seed of the random weights and tokens.
    dtype
        JAX dtype to run in; each model's own (from ``dtype_bytes``) by default.
    warmup, repeats
        Untimed and timed runs per stage when profiling and calibrating.
    overhead
        Seconds the dispatcher adds to every predicted finish.
    calibrate
        Re-measure the profile through the serving path (see ``profile``).
    calibration_gap
        Seconds between calibration rounds.
    calibrate_pipelines
        Give a pipeline as many calibration requests per round as it has stages, so its
        stages run at once, as in a burst, and the profile holds their contended service
        times (``False``: one request per round, each stage alone).
    clock
        The clock every time is read from.
    feedback
        Let observed stage completions push the dispatcher's predicted free times forward.
    ray_actor_options
        Options of every group's Ray actor (``ray.remote(...).options``).
    ray_gpus
        Give each group's Ray actor its own GPUs: ``num_gpus`` equal to the group's device
        count (Ray then sets ``CUDA_VISIBLE_DEVICES`` per actor, so groups never share a GPU).
    ray_group_options
        Per group name, options merged over the shared ones (e.g. ``{"g1": {"num_gpus": 4,
        "resources": {"node:10.0.0.2": 0.01}}}`` to pin a group to a node).
    max_batch
        Largest batch; above 1 the dispatcher batches with the simulator's rules
        (:mod:`simulator.semantics`) and each group's stage 0 runs a batch as one array.
    batch_sizes
        The batch sizes to compile, profile and serve (1 is always added; sizes above
        ``max_batch`` are dropped); by default the powers of two below ``max_batch`` and
        ``max_batch`` itself. With a given profile, its sizes up to ``max_batch``.

    Examples
    --------
    See ``tests/test_runtime_serve.py``; building compiles JAX programs, so no doctest.
    """

    def __init__(self, placement: Placement, *, devices: Sequence[Any] | None = None,
                 profile: ProfileDB | None = None, backend: Backend = "local", seed: int = 0,
                 dtype: Any = None, warmup: int = 2, repeats: int = 5, overhead: float = 0.0,
                 feedback: bool = True, calibrate: bool = True,
                 calibrate_concurrently: bool = True, calibration_gap: float = 0.01,
                 calibrate_pipelines: bool = True,
                 ray_actor_options: Mapping[str, Any] | None = None,
                 ray_gpus: bool = False,
                 ray_group_options: Mapping[str, Mapping[str, Any]] | None = None,
                 max_batch: int = 1, batch_sizes: Sequence[int] | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if backend not in ("local", "ray"):
            raise SpecError(f"Runtime backend must be 'local' or 'ray', got {backend!r}")
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise SpecError(f"Runtime max_batch must be an integer >= 1, got {max_batch!r}")
        self.max_batch = max_batch
        self.batch_sizes = serving_batch_sizes(max_batch, batch_sizes, profile, placement)
        self.placement = placement
        self.devices = None if devices is None else list(devices)
        self.backend = backend
        self.seed = seed
        self.dtype = dtype
        self.warmup = warmup
        self.repeats = repeats
        self.overhead = overhead
        self.feedback = feedback
        self.calibrate = calibrate
        self.calibrate_concurrently = calibrate_concurrently
        self.calibration_gap = calibration_gap
        self.calibrate_pipelines = calibrate_pipelines
        if max((g.num_stages for g in placement.groups), default=1) > MAX_BURST:
            raise SpecError(f"the runtime serves pipelines of at most {MAX_BURST} stages")
        self.ray_actor_options = dict(ray_actor_options or {})
        self.ray_gpus = ray_gpus
        self.ray_group_options = {k: dict(v) for k, v in (ray_group_options or {}).items()}
        unknown = sorted(set(self.ray_group_options) - {g.name for g in placement.groups})
        if unknown:
            raise SpecError(f"ray_group_options names groups {unknown} that the placement does "
                            f"not have ({[g.name for g in placement.groups]})")
        self.clock = clock
        self._given_profile = profile
        self._executors: list[GroupExecutor] = []
        self._profile: ProfileDB | None = None
        self._kernel_profile: ProfileDB | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Runtime:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return bool(self._executors)

    def open(self) -> Runtime:
        """Build every group (placing weights, compiling stages) and settle the profile.

        Returns
        -------
        Runtime
            ``self``, so that ``with Runtime(...).open() as rt:`` reads naturally.
        """
        if self.is_open:
            return self
        if self._given_profile is not None:  # fail before compiling on a missing entry
            for group in self.placement.groups:
                for model, config in group.models.items():
                    for b in self.batch_sizes:
                        self._given_profile.get(model, config, b)
        executors = [self._make_executor(g) for g in self.placement.groups]
        try:
            for ex in executors:
                ex.build()
            self._profile = self._settle_profile(executors)
        except BaseException:
            for ex in executors:
                ex.close()
            raise
        self._executors = executors
        return self

    def close(self) -> None:
        """Stop every group and release its devices (or actors)."""
        for ex in self._executors:
            ex.close()
        self._executors = []

    def actor_options(self, group: Any) -> dict[str, Any]:
        """The Ray actor options of ``group``: the shared ones, its GPUs, its own.

        Parameters
        ----------
        group : Group
            One of the placement's groups.

        Returns
        -------
        dict
            Options for ``ray.remote(...).options``.

        Examples
        --------
        >>> from alpaserve import Group, Placement, homogeneous_cluster, model_preset
        >>> m = model_preset("bert-tiny")
        >>> p = Placement(cluster=homogeneous_cluster(4), models={m.name: m}, groups=(
        ...     Group.uniform(name="g0", device_ids=[0, 1], pipeline_degree=2, models=[m]),))
        >>> rt = Runtime(p, backend="ray", ray_gpus=True, ray_actor_options={"num_cpus": 1})
        >>> rt.actor_options(p.groups[0])
        {'num_cpus': 1, 'num_gpus': 2}
        """
        gpus = {"num_gpus": group.num_devices} if self.ray_gpus else {}
        return {**self.ray_actor_options, **gpus, **self.ray_group_options.get(group.name, {})}

    def _make_executor(self, group: Any) -> GroupExecutor:
        specs = {m: self.placement.models[m] for m in group.models}
        if self.backend == "ray":
            from alpaserve.runtime.ray_executor import RayGroupExecutor

            return RayGroupExecutor(group=group, specs=specs, seed=self.seed, dtype=self.dtype,
                                    actor_options=self.actor_options(group), clock=self.clock,
                                    batch_sizes=self.batch_sizes)
        devices = self.devices
        if devices is None:
            import jax

            devices = jax.devices()
        return LocalGroupExecutor(group=group, specs=specs,
                                  device_map=dict(enumerate(devices)), seed=self.seed,
                                  dtype=self.dtype, clock=self.clock,
                                  batch_sizes=self.batch_sizes)

    def _settle_profile(self, executors: Sequence[GroupExecutor]) -> ProfileDB:
        if self._given_profile is not None:
            return self._given_profile
        kernel = ProfileDB()
        for ex in executors:
            for entry in ex.measure(warmup=self.warmup, repeats=self.repeats):
                if entry.key not in kernel:  # the first group measured speaks for its config
                    kernel.add(entry)
        self._kernel_profile = kernel
        if not self.calibrate:
            return kernel
        return self._calibrate(executors, kernel)

    def _calibrate(self, executors: Sequence[GroupExecutor], kernel: ProfileDB) -> ProfileDB:
        """Re-measure every stage through the serving path (:mod:`.calibration`)."""
        return calibrate_serving_path(
            executors, self.placement.groups, kernel,
            CalibrationOptions(warmup=self.warmup, repeats=self.repeats,
                               gap=self.calibration_gap,
                               concurrently=self.calibrate_concurrently,
                               pipelines=self.calibrate_pipelines,
                               batch_sizes=self.batch_sizes),
            clock=self.clock)

    def measure_serving_path(self) -> ProfileDB:
        """Calibrate every hosted model again through the open groups, as :meth:`open` does,
        and return the result without predicting with it: a probe of the host's speed, taken
        after a run to check that the stages kept the latency the run was predicted with
        (:mod:`alpaserve.runtime.stationarity`).

        Returns
        -------
        ProfileDB
            A fresh serving-path profile (the runtime keeps predicting with its current one).
        """
        if not self.is_open:
            raise ExecutionError("the runtime is not open; call open() or use 'with'")
        template = self._kernel_profile if self._kernel_profile is not None else self.profile
        return self._calibrate(self._executors, template)

    def recalibrate(self) -> ProfileDB:
        """Measure the serving-path profile again and predict with it from now on.

        Returns
        -------
        ProfileDB
            The new profile, now :attr:`profile`.
        """
        self._profile = self.measure_serving_path()
        return self._profile

    @property
    def executors(self) -> tuple[GroupExecutor, ...]:
        """The open groups' executors, in placement order (empty when closed)."""
        return tuple(self._executors)

    @property
    def kernel_profile(self) -> ProfileDB | None:
        """Stages timed alone, back to back (``None`` when a profile was given)."""
        return self._kernel_profile

    @property
    def profile(self) -> ProfileDB:
        """The profile the dispatcher predicts with (measured at :meth:`open` if not given)."""
        if self._profile is None:
            raise ExecutionError("the runtime is not open; call open() first")
        return self._profile

    def stage_latencies(self) -> dict[tuple[int, str], tuple[float, ...]]:
        """``(group index, model) -> per-stage latency`` as the dispatcher sees it.

        Returns
        -------
        dict of (int, str) to tuple of float
            Per-stage seconds at batch size 1 from the current profile.
        """
        profile = self.profile
        return {(g, model): profile.get(model, config, 1).stage_latencies
                for g, group in enumerate(self.placement.groups)
                for model, config in group.models.items()}

    def batch_latencies(self) -> dict[tuple[int, str], dict[int, tuple[float, ...]]]:
        """``(group index, model) -> {batch size: per-stage latency}`` for sizes above 1.

        Returns
        -------
        dict of (int, str) to dict of int to tuple of float
            Per-stage seconds from the current profile, for every size the runtime serves
            (empty without batching).
        """
        profile = self.profile
        return {(g, model): {b: profile.get(model, config, b).stage_latencies
                             for b in self.batch_sizes if b > 1}
                for g, group in enumerate(self.placement.groups)
                for model, config in group.models.items()}

    # ------------------------------------------------------------------ serving
    def _sleep_until(self, target: float) -> None:
        """Sleep to ``SPIN_WINDOW`` before ``target``, then yield-spin: ``time.sleep`` alone
        overshoots by 0.1-1 ms on a loaded host, which would delay every release."""
        wait = target - self.clock()
        if wait > SPIN_WINDOW:
            time.sleep(wait - SPIN_WINDOW)
        while self.clock() < target:
            time.sleep(0)

    def serve(self, workload: Workload, *, slo: float | dict[str, float] | None = None,
              time_scale: float = 1.0, start_delay: float = 0.05,
              drain_timeout: float = 60.0, feedback: bool | None = None) -> RunResult:
        """Replay ``workload`` in real time and return what happened to every request.

        Parameters
        ----------
        workload : Workload
            The requests; every model must be hosted.
        slo : float or dict of str to float, optional
            SLO in seconds, one or per model; the workload's own by default.
        time_scale : float, default 1.0
            Multiplies every arrival time (2.0 replays at half the rate).
        start_delay : float, default 0.05
            Seconds between the call and the first arrival.
        drain_timeout : float, default 60.0
            Seconds to wait for in-flight requests after the last arrival.
        feedback : bool, optional
            Overrides the runtime's ``feedback`` for this run.

        Returns
        -------
        RunResult
            Arrival, start, finish, group and status of every request, in workload order.

        Raises
        ------
        ExecutionError
            When the runtime is not open (or, from the executors, when serving fails).
        SpecError
            When ``time_scale`` is not positive.
        """
        if not self.is_open:
            raise ExecutionError("the runtime is not open; call open() or use 'with'")
        if not time_scale > 0:
            raise SpecError(f"time_scale must be positive, got {time_scale!r}")
        slos = workload.slo_array(slo)
        setup = ServeSetup(
            executors=self._executors, group_names=[g.name for g in self.placement.groups],
            dispatcher=Dispatcher(num_groups=len(self.placement.groups),
                                  stage_latencies=self.stage_latencies(),
                                  batch_latencies=self.batch_latencies(),
                                  max_batch=self.max_batch, overhead=self.overhead),
            feedback=self.feedback if feedback is None else bool(feedback),
            overhead=self.overhead, clock=self.clock,
            sleep_until=self._sleep_until)
        return serve_workload(setup, workload, slos=slos,
                              arrival=np.asarray(workload.arrival, dtype=np.float64)
                              * time_scale,
                              depth=max(g.num_stages for g in self.placement.groups),
                              start_delay=start_delay, drain_timeout=drain_timeout)

