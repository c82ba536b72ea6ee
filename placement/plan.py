""":func:`plan`: choose a placement for a workload and check it on held-out requests.

Training and test workloads are separate. ``workload`` may be

* a :class:`~workloads.mixes.MixSpec` (or any object with ``sample(*, seed) -> Workload``):
  the training workload is one sample and, unless ``test_workload`` is given, the test
  workload is a fresh sample of the same process with an independent seed (both derived
  from ``seed``); or
* a :class:`~workloads.workload.Workload` (e.g. a trace): unless ``test_workload`` is given,
  the search sees the first ``train_fraction`` of its time span and the plan is tested on the
  rest (a later window, never the requests it was trained on).

Policies: ``"sr"`` (selective replication), ``"clockwork++"`` (SR per time window),
``"alpaserve"`` (our search) and ``"alpaserve-published"`` (the paper's policy).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from numbers import Integral
from typing import Any, Protocol, runtime_checkable

import numpy as np

from alpaserve.cluster_spec import ClusterSpec
from alpaserve.errors import PlacementError, ProfileError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.placement_spec import Placement
from alpaserve.profiles import ProfileDB
from placement.alpaserve_search import LogEntry, SearchOptions, alpaserve_search
from placement.clockwork import ClockworkOptions, clockwork_pp
from placement.evaluator import EvalOptions, prepare_workload
from placement.problem import Problem, build_profiles, check_feasible, log_slo_warnings
from placement.published import published_alpaserve
from placement.result import PlanResult
from placement.selective_replication import selective_replication
from simulator.options import SimulationOptions
from simulator.schedule import PlacementSchedule, simulate_schedule
from simulator.simulate import simulate
from workloads.mixes import MixSpec, generate_mix
from workloads.workload import Workload

logger = logging.getLogger(__name__)

POLICIES = ("sr", "clockwork++", "alpaserve", "alpaserve-published")


@runtime_checkable
class WorkloadSource(Protocol):
    """Anything that draws a workload from a random process.

    Examples
    --------
    >>> class Steady:
    ...     def sample(self, *, seed):
    ...         return Workload.from_arrays(arrival=[0.0, 1.0], model="a")
    >>> isinstance(Steady(), WorkloadSource)
    True
    """

    def sample(self, *, seed: np.random.SeedSequence) -> Workload:
        """Draw one workload.

        Parameters
        ----------
        seed : numpy.random.SeedSequence
            The only source of randomness: equal seeds give equal workloads.

        Returns
        -------
        Workload
            The sampled requests.

        Examples
        --------
        >>> class Uniform:
        ...     def sample(self, *, seed):
        ...         rng = np.random.default_rng(seed)
        ...         return Workload.from_arrays(arrival=np.sort(rng.uniform(0, 10, 5)),
        ...                                     model="a")
        >>> len(Uniform().sample(seed=np.random.SeedSequence(0)))
        5
        """


def _split(workload: Any, test_workload: Workload | None, seed: int, duration: float,
           train_fraction: float) -> tuple[Workload, Workload, str]:
    train_seed, test_seed = np.random.SeedSequence(seed).spawn(2)
    if isinstance(workload, MixSpec):
        if not (isinstance(duration, int | float) and math.isfinite(duration) and duration > 0):
            # a zero span would plan for no requests and report NaN attainment
            raise SpecError(f"duration must be a positive finite number of seconds, got "
                            f"{duration!r}")
        train = generate_mix(workload, duration=duration, seed=train_seed)
        if test_workload is not None:
            return train, test_workload, "the given test workload"
        return (train, generate_mix(workload, duration=duration, seed=test_seed),
                f"a fresh sample of the same mix, seed {seed} child 1")
    if isinstance(workload, WorkloadSource):
        train = workload.sample(seed=train_seed)
        if test_workload is not None:
            return train, test_workload, "the given test workload"
        return train, workload.sample(seed=test_seed), f"a fresh sample, seed {seed} child 1"
    if not isinstance(workload, Workload):
        raise SpecError(f"workload must be a Workload, a MixSpec or have sample(seed=...), "
                        f"got {type(workload).__name__}")
    if test_workload is not None:
        return workload, test_workload, "the given test workload"
    if not 0 < train_fraction < 1:
        raise SpecError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    if len(workload) < 2:
        raise SpecError(f"cannot split a workload of {len(workload)} request(s) into training "
                        "and test parts; give test_workload")
    begin, end = float(workload.arrival[0]), float(workload.arrival[-1])
    cut = begin + train_fraction * (end - begin)
    return (workload.window(begin, cut), workload.window(cut, math.nextafter(end, math.inf)),
            f"the later window [{cut:.1f}, {end:.1f}] s of the given workload")


def _eval_options(options: SimulationOptions) -> EvalOptions:
    dispatch = options.policy if options.policy in ("earliest-finish", "alpaserve") \
        else "earliest-finish"
    if dispatch != options.policy or options.max_batch != 1:
        logger.info("the search scores with earliest-finish dispatch and no batching; the "
                    "test simulation uses the given options")
    return EvalOptions(dispatch=dispatch, admission=options.admission,
                       overhead=options.request_overhead,
                       stage_inflation=options.stage_inflation,
                       float32_latencies=options.float32_latencies)


def plan(models: Sequence[ModelSpec] | Mapping[str, ModelSpec], cluster: ClusterSpec,
         workload: Workload | MixSpec | WorkloadSource, *,
         slo: float | Mapping[str, float] | None = None, slo_scale: float = 5.0,
         policy: str = "alpaserve", test_workload: Workload | None = None, seed: int = 0,
         duration: float = 60.0, train_fraction: float = 0.5,
         profiles: ProfileDB | None = None, options: SimulationOptions | None = None,
         search: SearchOptions | None = None,
         clockwork: ClockworkOptions | None = None, memory_budget: int | None = None,
         in_sample: bool = False) -> PlanResult:
    """Plan the serving of ``models`` on ``cluster`` for ``workload`` with ``policy``.

    See the module docstring for the workloads and the policies.

    Parameters
    ----------
    models : Sequence[ModelSpec] or Mapping[str, ModelSpec]
        The models to serve (at least one, distinct names).
    cluster : ClusterSpec
        The devices.
    workload : Workload, MixSpec or WorkloadSource
        The traffic: a trace split in time, or a random process sampled twice.
    slo : float or Mapping[str, float], optional
        SLO in seconds, for every model or per model name (covering all). Default: each
        model's ``slo_scale`` × its latency on its smallest group (one device when it fits).
    slo_scale : float, default 5.0
        The default SLO's multiple of that latency.
    policy : {'alpaserve', 'alpaserve-published', 'sr', 'clockwork++'}
        The placement policy.
    test_workload : Workload, optional
        Held-out requests to test on; default as the module docstring says.
    seed : int, default 0
        Seeds the training and test samples of a random process.
    duration : float, default 60.0
        Seconds of each sample of a :class:`MixSpec`.
    train_fraction : float, default 0.5
        Share of a trace's time span the search sees, in ``(0, 1)``.
    profiles : ProfileDB, optional
        Stage latencies and memory; default the analytic cost model (at every batch size up
        to ``options.max_batch``). Where a profile entry
        exists its weights are the memory charged (search, validation, feasibility, load
        delays).
    options : SimulationOptions, optional
        How the test run simulates (``max_batch`` included); the search scores with its
        dispatch rule (when earliest-finish or alpaserve), admission and overheads, but
        without batching (its compiled scorer has no batching rule), so with
        ``max_batch > 1`` it plans for the unbatched load and the test run shows what
        batching adds.
    search : SearchOptions, optional
        Knobs of the AlpaServe searches (its ``max_group_size`` also bounds the analytic
        profiles).
    clockwork : ClockworkOptions, optional
        Window and oracle mode of Clockwork++.
    memory_budget : float, optional
        Usable bytes per device; default the device's ``usable_memory_bytes``
        (AlpaServe's artifact uses ``13 * 2**30`` on a V100). The returned placement's
        cluster carries it.
    in_sample : bool, default False
        Plan on the evaluation workload itself, as AlpaServe's artifact does; by default
        the search never sees the requests the plan is tested on.

    Returns
    -------
    PlanResult
        The placement (or schedule), its held-out simulation and the search log.

    Raises
    ------
    SpecError
        For an unknown policy, no models, a missing SLO, or a workload that cannot be split.
    InfeasibleError
        If a model fits no group of the cluster.
    ProfileError
        If the profiles have no entries for a model.
    PlacementError
        For Clockwork++ on an empty training or test workload.

    Examples
    --------
    >>> from placement._examples import tiny_model, tiny_cluster, tiny_profiles
    >>> models = [tiny_model("a"), tiny_model("b")]
    >>> mix = MixSpec(model_names=("a", "b"), total_rate=8.0, cv=2.0)
    >>> result = plan(models, tiny_cluster(2), mix, slo=0.3, duration=20.0,
    ...               profiles=tiny_profiles(models), policy="sr")
    >>> result.policy, result.placement.hosted_models == {"a", "b"}
    ('sr', True)
    """
    t0 = time.perf_counter()
    if policy not in POLICIES:
        raise SpecError(f"unknown policy {policy!r}; known: {', '.join(POLICIES)}")
    specs = tuple(models.values()) if isinstance(models, Mapping) else tuple(models)
    if not specs:
        raise SpecError("plan needs at least one model")
    if memory_budget is not None:
        if isinstance(memory_budget, bool) or not isinstance(memory_budget, Integral):
            raise SpecError(f"memory_budget must be an int of bytes, got {memory_budget!r}")
        cluster = replace(cluster,
                          device=cluster.device.with_usable_memory(int(memory_budget)))
    check_feasible(specs, cluster, profiles)
    sopts = search or SearchOptions()
    sim_opts = options or SimulationOptions()
    if profiles is None:
        max_size = sopts.max_group_size or min(cluster.num_devices, 4 * cluster.devices_per_node)
        # batching needs the sizes it may form (the simulator batches with the profiled ones)
        profiles = build_profiles(specs, cluster, max_group_size=max_size,
                                  batch_sizes=range(1, sim_opts.max_batch + 1))
    missing = [m.name for m in specs if not profiles.configs(m.name)]
    if missing:
        raise ProfileError(f"the profile database has no entries for models {missing}")
    train, test, test_source = _split(workload, test_workload, seed, duration, train_fraction)
    if in_sample:  # the artifact's protocol: search and evaluation see the same requests
        train, test_source = test, f"{test_source}, also planned on (in-sample)"
    names = tuple(m.name for m in specs)
    eopts = _eval_options(sim_opts)
    probe = Problem(models=specs, cluster=cluster, profiles=profiles,
                    slo=dict.fromkeys(names, 1.0),
                    train=prepare_workload(Workload.empty(names), names, slo=1.0),
                    options=eopts)
    if slo is None:
        ref = probe.reference_latency()
        slos = {n: slo_scale * ref[n] for n in names}
    elif isinstance(slo, Mapping):
        slos = {n: float(slo[n]) for n in names if n in slo}
        if len(slos) != len(names):
            raise SpecError(f"no SLO given for models {[n for n in names if n not in slo]}")
    else:
        slos = dict.fromkeys(names, float(slo))
    problem = Problem(models=specs, cluster=cluster, profiles=profiles, slo=slos,
                      train=prepare_workload(train, names, slo=slos, options=eopts),
                      options=eopts)
    warnings = problem.slo_warnings()
    log_slo_warnings(warnings)
    schedule: PlacementSchedule | None = None
    log: tuple[LogEntry, ...]
    if policy == "sr":
        res, _, entry = selective_replication(problem)
        placement = res.assignment.to_placement()
        train_good, log = res.good, (entry,)
    elif policy == "clockwork++":
        schedule, train_good, log = _clockwork(problem, train, test, clockwork)
        placement = schedule.windows[0][1]
    else:
        run = alpaserve_search if policy == "alpaserve" else published_alpaserve
        outcome = run(problem, sopts)
        placement, train_good, log = outcome.placement, outcome.good, outcome.log
    if schedule is not None:
        test_result = simulate_schedule(schedule, profiles, test, sim_opts, slo=slos)
    else:
        test_result = simulate(placement, profiles, test, sim_opts, slo=slos)
    n_train = problem.train.num_requests
    return PlanResult(policy=policy, placement=placement, schedule=schedule,
                      test_result=test_result,
                      train_attainment=train_good / n_train if n_train else math.nan,
                      slo=slos, slo_warnings=warnings, search_log=log,
                      wall_time=time.perf_counter() - t0, seed=seed, test_source=test_source)


def _clockwork(problem: Problem, train: Workload, test: Workload,
               options: ClockworkOptions | None) -> tuple[PlacementSchedule, int,
                                                          tuple[LogEntry, ...]]:
    opts = options or ClockworkOptions()
    if len(train) == 0 or len(test) == 0:
        raise PlacementError("Clockwork++ needs non-empty training and test workloads")
    if opts.oracle:  # solve on the evaluated workload's own windows
        work = prepare_workload(test, problem.model_names, slo=dict(problem.slo),
                                options=problem.options)
        out = clockwork_pp(problem, work=work, window=opts.window)
        offset = 0.0
    else:
        out = clockwork_pp(problem, window=opts.window)
        offset = float(test.arrival[0]) - float(train.arrival[0])
    placements: list[Placement] = [a.to_placement() for a in out.assignments]
    schedule = PlacementSchedule(windows=tuple((s + offset, p) for s, p in
                                               zip(out.starts, placements, strict=True)))
    good = sum(e.good for e in out.log)
    return schedule, good, out.log
