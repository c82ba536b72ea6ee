"""Entry points: :func:`simulate` for one run, and the prepared path for many placements."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from alpaserve.errors import SimulationError
from alpaserve.placement_spec import Placement
from alpaserve.profiles import ProfileDB
from simulator.options import SimulationOptions
from simulator.prepared import PreparedWorkload, SloSpec, prepare
from simulator.result import AttainmentSummary, SimResult
from simulator.semantics import PlacementTables, compile_placement
from workloads.workload import Workload

PlacementLike = Placement | PlacementTables


def simulate(placement: Placement, profiles: ProfileDB, workload: Workload,
             options: SimulationOptions | None = None, *, slo: SloSpec = None) -> SimResult:
    """Serve ``workload`` on ``placement`` and report what happened to every request.

    The rules are in :mod:`simulator.semantics`.

    Parameters
    ----------
    placement : Placement
        The groups and the models each hosts.
    profiles : ProfileDB
        Stage latencies of every hosted (model, parallel configuration, batch size).
    workload : Workload
        The requests; models no group hosts are unserved.
    options : SimulationOptions, optional
        Dispatch rule, admission, batching, overheads, trimming and engine; default
        ``SimulationOptions()``.
    slo : float or Mapping[str, float], optional
        SLO in seconds, or per model name, used when the workload has no ``slo`` column.

    Returns
    -------
    SimResult
        Every request's outcome and the statistics over the measured ones.

    Raises
    ------
    SimulationError
        If no positive SLO is known for a request.
    ProfileError
        If a hosted model or configuration has no profile.

    Examples
    --------
    >>> from alpaserve import (Group, Placement, ProfileDB, ProfileEntry, model_preset,
    ...                        homogeneous_cluster)
    >>> from workloads.workload import Workload
    >>> bert = model_preset("bert-1.3b")
    >>> group = Group.uniform(name="g0", device_ids=[0, 1], pipeline_degree=2, models=[bert])
    >>> placement = Placement(cluster=homogeneous_cluster(2), models={bert.name: bert},
    ...                       groups=(group,))
    >>> profiles = ProfileDB([ProfileEntry(model=bert.name, config=group.models[bert.name],
    ...     batch_size=1, stage_latencies=(0.05, 0.05), stage_weight_bytes=(0, 0),
    ...     stage_peak_memory_bytes=(0, 0), source="analytic")])
    >>> workload = Workload.from_arrays(arrival=[0.0, 0.01, 0.02, 0.03], model=bert.name)
    >>> result = simulate(placement, profiles, workload, slo=0.2)
    >>> result.status.tolist(), result.finish.round(2).tolist()[:3]
    ([0, 0, 0, 1], [0.1, 0.15, 0.2])
    >>> result.attainment
    0.75
    """
    options = options or SimulationOptions()
    return simulate_prepared(prepare(workload, slo), placement, profiles, options)


def tables_for(prepared: PreparedWorkload, placement: PlacementLike,
               profiles: ProfileDB | None, options: SimulationOptions) -> PlacementTables:
    """Compile ``placement`` for ``prepared`` unless it already is compatible tables.

    Parameters
    ----------
    prepared : PreparedWorkload
        The encoded workload whose model list the tables follow.
    placement : Placement or PlacementTables
        The placement, or tables from :func:`~simulator.semantics.compile_placement`
        compiled for this workload and these options (skips the profile lookups).
    profiles : ProfileDB, optional
        Stage latencies; required when ``placement`` is a :class:`Placement`.
    options : SimulationOptions
        Its ``max_batch`` and ``stage_inflation`` are compiled in.

    Returns
    -------
    PlacementTables
        ``placement`` itself when it is compatible tables, else newly compiled ones.

    Raises
    ------
    SimulationError
        If tables were compiled for other models, batch limit or inflation, or a
        :class:`Placement` comes without ``profiles``.
    ProfileError
        If a hosted model or configuration has no profile.

    Examples
    --------
    >>> from alpaserve import (Group, Placement, ProfileDB, ProfileEntry, model_preset,
    ...                        homogeneous_cluster)
    >>> from workloads.workload import Workload
    >>> bert = model_preset("bert-1.3b")
    >>> g = Group.uniform(name="g0", device_ids=[0], pipeline_degree=1, models=[bert])
    >>> p = Placement(cluster=homogeneous_cluster(1), models={bert.name: bert}, groups=(g,))
    >>> db = ProfileDB([ProfileEntry(model=bert.name, config=g.models[bert.name],
    ...     batch_size=1, stage_latencies=(0.1,), stage_weight_bytes=(0,),
    ...     stage_peak_memory_bytes=(0,), source="measured")])
    >>> prepared = prepare(Workload.from_arrays(arrival=[0.0], model=bert.name), slo=0.5)
    >>> t = tables_for(prepared, p, db, SimulationOptions())
    >>> tables_for(prepared, t, None, SimulationOptions()) is t
    True
    """
    if isinstance(placement, PlacementTables):
        if placement.model_names != prepared.model_names:
            raise SimulationError(f"tables were compiled for models {placement.model_names}, "
                                  f"the workload has {prepared.model_names}")
        if (placement.max_batch, placement.stage_inflation, placement.float32_latencies) != \
                (options.max_batch, options.stage_inflation, options.float32_latencies):
            raise SimulationError(
                f"tables were compiled with max_batch={placement.max_batch}, stage_inflation="
                f"{placement.stage_inflation}, float32_latencies="
                f"{placement.float32_latencies}; options ask for {options.max_batch}, "
                f"{options.stage_inflation} and {options.float32_latencies}")
        return placement
    if profiles is None:
        raise SimulationError("a Placement needs profiles= to look up its latencies")
    return compile_placement(placement, profiles, prepared.model_names,
                             max_batch=options.max_batch,
                             stage_inflation=options.stage_inflation,
                             float32_latencies=options.float32_latencies)


def simulate_prepared(prepared: PreparedWorkload, placement: PlacementLike,
                      profiles: ProfileDB | None = None,
                      options: SimulationOptions | None = None) -> SimResult:
    """:func:`simulate` on a workload encoded once with :func:`~simulator.prepared.prepare`.

    Parameters
    ----------
    prepared : PreparedWorkload
        The requests, encoded once.
    placement : Placement or PlacementTables
        The placement, or tables from :func:`~simulator.semantics.compile_placement`
        compiled for this workload and these options (skips the profile lookups).
    profiles : ProfileDB, optional
        Stage latencies; required when ``placement`` is a :class:`Placement`.
    options : SimulationOptions, optional
        How the run goes; default ``SimulationOptions()``.

    Returns
    -------
    SimResult
        Every request's outcome and the statistics, as :func:`simulate` gives them.

    Raises
    ------
    SimulationError
        If tables were compiled for other models, batch limit or inflation, or a
        :class:`Placement` comes without ``profiles``.
    ProfileError
        If a hosted model or configuration has no profile.

    Examples
    --------
    >>> from alpaserve import (Group, Placement, ProfileDB, ProfileEntry, model_preset,
    ...                        homogeneous_cluster)
    >>> from workloads.workload import Workload
    >>> bert = model_preset("bert-1.3b")
    >>> g = Group.uniform(name="g0", device_ids=[0], pipeline_degree=1, models=[bert])
    >>> p = Placement(cluster=homogeneous_cluster(1), models={bert.name: bert}, groups=(g,))
    >>> db = ProfileDB([ProfileEntry(model=bert.name, config=g.models[bert.name],
    ...     batch_size=1, stage_latencies=(0.1,), stage_weight_bytes=(0,),
    ...     stage_peak_memory_bytes=(0,), source="measured")])
    >>> prepared = prepare(Workload.from_arrays(arrival=[0.0, 0.05], model=bert.name),
    ...                    slo=0.5)
    >>> simulate_prepared(prepared, p, db).latency.round(2).tolist()
    [0.1, 0.15]
    """
    options = options or SimulationOptions()
    tables = tables_for(prepared, placement, profiles, options)
    if options.engine == "reference":
        from simulator.reference import run_reference

        return run_reference(prepared, tables, options)
    from simulator.engine.driver import run_fast

    return run_fast(prepared, tables, options)


def attainment_many(prepared: PreparedWorkload, placements: Sequence[PlacementLike],
                    profiles: ProfileDB | None = None,
                    options: SimulationOptions | None = None, *,
                    workers: int | None = None) -> list[AttainmentSummary]:
    """:func:`attainment` for several placements on one workload, on ``workers`` threads.

    This is the repeated-evaluation path of a placement search. Placements of one stage
    count are evaluated in batches, several per pass over the requests (one placement alone
    is bound by the latency of its request-to-request chain; several overlap), and the
    compiled kernels release the GIL, so batches run on ``workers`` threads at once
    The results are those of calling :func:`attainment` on each placement, in order.

    Parameters
    ----------
    prepared : PreparedWorkload
        The requests, encoded once.
    placements : Sequence of Placement or PlacementTables
        The placements to evaluate (tables must match ``prepared`` and ``options``).
    profiles : ProfileDB, optional
        Stage latencies; required when any placement is a :class:`Placement`.
    options : SimulationOptions, optional
        How the runs go; default ``SimulationOptions()``. The fast engine is always used.
    workers : int, optional
        Threads running batches at once; default the CPU count, at most one per placement.

    Returns
    -------
    list of AttainmentSummary
        Per placement, in order: per-model good and measured request counts.

    Raises
    ------
    SimulationError
        If tables were compiled for other models, batch limit or inflation, or a
        :class:`Placement` comes without ``profiles``.
    ProfileError
        If a hosted model or configuration has no profile.

    Examples
    --------
    >>> from alpaserve import (Group, Placement, ProfileDB, ProfileEntry, model_preset,
    ...                        homogeneous_cluster)
    >>> from workloads.workload import Workload
    >>> bert = model_preset("bert-1.3b")
    >>> g = Group.uniform(name="g0", device_ids=[0], pipeline_degree=1, models=[bert])
    >>> p = Placement(cluster=homogeneous_cluster(1), models={bert.name: bert}, groups=(g,))
    >>> db = ProfileDB([ProfileEntry(model=bert.name, config=g.models[bert.name],
    ...     batch_size=1, stage_latencies=(0.1,), stage_weight_bytes=(0,),
    ...     stage_peak_memory_bytes=(0,), source="measured")])
    >>> prepared = prepare(Workload.from_arrays(arrival=[0.0, 0.0, 0.0], model=bert.name),
    ...                    slo=0.25)
    >>> [s.good_per_model.tolist() for s in attainment_many(prepared, [p, p], db, workers=2)]
    [[2], [2]]
    """
    from simulator.engine.attainment import attainment_batch, batch_plan

    opts = options or SimulationOptions()
    tables = [tables_for(prepared, p, profiles, opts) for p in placements]
    threads = max(1, min(workers or os.cpu_count() or 1, len(tables)))
    plan = batch_plan(tables, len(prepared.model_names), opts, workers=threads)

    def run(indices: list[int]) -> list[AttainmentSummary]:
        return attainment_batch(prepared, [tables[i] for i in indices], opts)

    if threads <= 1 or len(plan) <= 1:
        batches = [run(indices) for indices in plan]
    else:
        with ThreadPoolExecutor(max_workers=min(threads, len(plan))) as pool:
            batches = list(pool.map(run, plan))
    by_index = {i: summary for indices, batch in zip(plan, batches, strict=True)
                for i, summary in zip(indices, batch, strict=True)}
    return [by_index[i] for i in range(len(tables))]  # the plan covers every placement


def attainment(prepared: PreparedWorkload, placement: PlacementLike,
               profiles: ProfileDB | None = None,
               options: SimulationOptions | None = None) -> AttainmentSummary:
    """The cheap path of a placement search: per-model good and measured counts only.

    Always uses the fast engine; the counts equal those of :func:`simulate_prepared`.

    Parameters
    ----------
    prepared : PreparedWorkload
        The requests, encoded once.
    placement : Placement or PlacementTables
        The placement, or tables from :func:`~simulator.semantics.compile_placement`
        compiled for this workload and these options (skips the profile lookups).
    profiles : ProfileDB, optional
        Stage latencies; required when ``placement`` is a :class:`Placement`.
    options : SimulationOptions, optional
        How the run goes; default ``SimulationOptions()``.

    Returns
    -------
    AttainmentSummary
        Per-model good and measured request counts over the measured requests.

    Raises
    ------
    SimulationError
        If tables were compiled for other models, batch limit or inflation, or a
        :class:`Placement` comes without ``profiles``.
    ProfileError
        If a hosted model or configuration has no profile.

    Examples
    --------
    >>> from alpaserve import (Group, Placement, ProfileDB, ProfileEntry, model_preset,
    ...                        homogeneous_cluster)
    >>> from workloads.workload import Workload
    >>> bert = model_preset("bert-1.3b")
    >>> g = Group.uniform(name="g0", device_ids=[0], pipeline_degree=1, models=[bert])
    >>> p = Placement(cluster=homogeneous_cluster(1), models={bert.name: bert}, groups=(g,))
    >>> db = ProfileDB([ProfileEntry(model=bert.name, config=g.models[bert.name],
    ...     batch_size=1, stage_latencies=(0.1,), stage_weight_bytes=(0,),
    ...     stage_peak_memory_bytes=(0,), source="measured")])
    >>> prepared = prepare(Workload.from_arrays(arrival=[0.0, 0.0, 0.0], model=bert.name),
    ...                    slo=0.25)
    >>> attainment(prepared, p, db).good_per_model.tolist()
    [2]
    """
    from simulator.engine.attainment import attainment_fast

    options = options or SimulationOptions()
    return attainment_fast(prepared, tables_for(prepared, placement, profiles, options), options)
