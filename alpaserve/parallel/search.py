"""Candidate parallel configurations of a model on groups of devices, as profile entries.

For each group size ``D`` (by default the powers of two up to ``max_devices``) and each
factorisation ``D = p × t`` the model admits (``t`` divides the head count and the FFN width,
``p <= num_layers``), the inter-op DP splits the layers into ``p`` stages on ``t``-device
sub-meshes, choosing each stage's logical mesh shape. With ``allow_unequal`` it also tries
stages of unequal sizes that use all ``D`` devices, and keeps such a split where it beats
every equal one of that group size. The split is chosen at the first batch size; every batch
size is then profiled on that split (a batch that no longer fits is skipped and counted).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

from alpaserve._validation import positive_int
from alpaserve.cluster_spec import ClusterSpec
from alpaserve.cost.model import DEFAULT_MATMUL_EFFICIENCY, LAYER_OVERHEAD_S, STAGE_OVERHEAD_S
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel.inter_op_dp import LayerPartition, partition_layers
from alpaserve.parallel.intra_op_ilp import Backend
from alpaserve.parallel.layer_plans import IntraSolver, LayerPlanner
from alpaserve.parallel.op_graph import layer_graph, layer_kind
from alpaserve.parallel.stage_cost import MemoryPolicy, StageCoster
from alpaserve.parallel_config import ParallelConfig, StageConfig
from alpaserve.profiles import ProfileDB, ProfileEntry

logger = logging.getLogger(__name__)

SOURCE = "analytic-dp-ilp"
MAX_PROBE_DEVICES = 4096


@dataclass(frozen=True, kw_only=True)
class ConfigSearchOptions:
    """Knobs of :func:`search_configs`; every field takes part in the cache key.

    The overheads default to the analytic model's (:data:`LAYER_OVERHEAD_S`,
    :data:`STAGE_OVERHEAD_S`). ``flat_meshes_only`` keeps every stage on a 1-D ``(1, t)``
    mesh, the Megatron-style layout :func:`alpaserve.cost.model.profile_entry` assumes;
    2-D meshes can shard some matmuls both ways and reduce fewer bytes.

    Parameters
    ----------
    batch_sizes : tuple of int, default (1, 2, 4)
        Batch sizes profiled for every candidate.
    group_sizes : tuple of int, optional
        Group sizes searched; every power of two up to ``max_devices`` by default.
    memory_policy : {"min-memory", "fastest"}, default "min-memory"
        ``"min-memory"`` keeps each stage within ``1 + memory_slack`` of its least weight
        memory (room for more models per device); ``"fastest"`` uses all usable memory.
    memory_slack : float, default 0.05
        The relative slack of ``"min-memory"``.
    allow_unequal : bool, default True
        Let the inter-op DP give stages sub-meshes of different sizes.
    intra_solver : {"auto", "dp", "ilp"}, default "auto"
        The intra-operator solver (see :class:`~alpaserve.parallel.layer_plans.LayerPlanner`).
    ilp_backend : {"auto", "highs", "cbc"}, default "auto"
        The MILP backend.
    ilp_time_limit : float, optional
        Seconds per ILP solve.
    matmul_efficiency : float
        Achieved fraction of peak matmul throughput.
    layer_overhead_s, stage_overhead_s : float
        Fixed seconds added per layer and per stage.
    flat_meshes_only : bool, default False
        Only 1-D ``(1, t)`` meshes.
    reuse_layers : bool, default True
        Remember layer plans across stages (the no-reuse baseline turns it off).

    Raises
    ------
    SpecError
        When a batch or group size is not a positive integer, or a choice is unknown.
    """

    batch_sizes: tuple[int, ...] = (1, 2, 4)
    group_sizes: tuple[int, ...] | None = None
    memory_policy: MemoryPolicy = "min-memory"
    memory_slack: float = 0.05
    allow_unequal: bool = True
    intra_solver: IntraSolver = "auto"
    ilp_backend: Backend = "auto"
    ilp_time_limit: float | None = None
    matmul_efficiency: float = DEFAULT_MATMUL_EFFICIENCY
    layer_overhead_s: float = LAYER_OVERHEAD_S
    stage_overhead_s: float = STAGE_OVERHEAD_S
    flat_meshes_only: bool = False
    reuse_layers: bool = True

    def __post_init__(self) -> None:
        if not self.batch_sizes:
            raise SpecError("ConfigSearchOptions.batch_sizes must not be empty")
        for b in self.batch_sizes:
            positive_int("ConfigSearchOptions", "batch_sizes", b)
        for g in self.group_sizes or ():
            positive_int("ConfigSearchOptions", "group_sizes", g)
        object.__setattr__(self, "batch_sizes", tuple(self.batch_sizes))
        if self.group_sizes is not None:
            object.__setattr__(self, "group_sizes", tuple(sorted(set(self.group_sizes))))

    def to_dict(self) -> dict[str, object]:
        """Every field by name (for cache keys and logs).

        Returns
        -------
        dict of str to object
            Field name to value.
        """
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One parallel config on ``group_size`` devices and its profile per batch size.

    Parameters
    ----------
    config : ParallelConfig
        Pipeline stages with their layer ranges and tensor degrees.
    group_size : int
        Devices the config occupies.
    entries : tuple of ProfileEntry
        Its profile (stage latencies, memory), one entry per batch size.
    """

    config: ParallelConfig
    group_size: int
    entries: tuple[ProfileEntry, ...]

    @property
    def equal_stages(self) -> bool:
        return len(set(self.config.tensor_degrees)) == 1


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    """Every candidate found, what was skipped (with why), and solver statistics.

    Parameters
    ----------
    model : str
        The model's name.
    candidates : tuple of Candidate
        Every config found, over all group sizes.
    skipped : tuple of str, default ()
        A reason for each group size or config that was skipped.
    intra_op_solves, non_optimal_solves : int, default 0
        Intra-operator solver calls, and those not proven optimal.
    extra : dict, optional
        Run metadata, not compared (e.g. ``"cache"``: ``"hit"``/``"miss"`` and its path).
    """

    model: str
    candidates: tuple[Candidate, ...]
    skipped: tuple[str, ...] = ()
    intra_op_solves: int = 0
    non_optimal_solves: int = 0
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    def profile_db(self) -> ProfileDB:
        """The candidates' entries as a profile database.

        Returns
        -------
        ProfileDB
            One entry per (config, batch size).
        """
        return ProfileDB(e for c in self.candidates for e in c.entries)


def tensor_degrees(model: ModelSpec, max_degree: int) -> list[int]:
    """Degrees ``t <= max_degree`` dividing both ``num_heads`` and ``ffn_size``.

    Parameters
    ----------
    model : ModelSpec
        The model (its head count and FFN width must split evenly).
    max_degree : int
        The largest degree considered.

    Returns
    -------
    list of int
        The valid degrees, ascending (1 always included).

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> tensor_degrees(model_preset("bert-103.5b"), 32)
    [1, 2, 4, 5, 8, 10, 16, 20]
    """
    return [t for t in range(1, max_degree + 1)
            if model.num_heads % t == 0 and model.ffn_size % t == 0]


def _model_flops(model: ModelSpec, batch_size: int) -> float:
    per_kind = {}
    total = 0.0
    for i in range(model.num_layers):
        kind = layer_kind(model, i)
        if kind not in per_kind:
            g = layer_graph(model, batch_size=batch_size, kind=kind)
            per_kind[kind] = sum(d["op"].flops for _, d in g.nodes(data=True))
        total += per_kind[kind]
    return total


def _make_coster(model: ModelSpec, cluster: ClusterSpec, options: ConfigSearchOptions,
                 planner: LayerPlanner | None = None) -> StageCoster:
    planner = planner or LayerPlanner(
        model=model, device=cluster.device, efficiency=options.matmul_efficiency,
        solver=options.intra_solver, backend=options.ilp_backend,
        time_limit=options.ilp_time_limit, reuse=options.reuse_layers)
    return StageCoster(model=model, cluster=cluster, planner=planner,
                       memory_policy=options.memory_policy, memory_slack=options.memory_slack,
                       layer_overhead_s=options.layer_overhead_s,
                       stage_overhead_s=options.stage_overhead_s,
                       flat_meshes_only=options.flat_meshes_only)


def _partition(coster: StageCoster, stages: int, devices: int, sizes: list[int],
               batch_size: int) -> LayerPartition | None:
    return partition_layers(
        num_layers=coster.model.num_layers, num_stages=stages, num_devices=devices,
        sizes=sizes, stage_cost=lambda off, m: coster.cost_matrix(off, m, batch_size))


def _candidate(coster: StageCoster, part: LayerPartition, group: int, options: ConfigSearchOptions,
               skipped: list[str]) -> Candidate:
    ref = options.batch_sizes[0]
    stages = []
    for st in part.stages:
        best = coster.best_shape(st.layer_start, st.layer_end, st.device_offset,
                                 st.num_devices, ref)
        if best is None:  # the DP only returns stages it could cost
            raise SpecError(f"stage [{st.layer_start}, {st.layer_end}) lost its estimate")
        stages.append(StageConfig(layer_start=st.layer_start, layer_end=st.layer_end,
                                  mesh_shape=best[0]))
    config = ParallelConfig(stages=tuple(stages))
    model = coster.model
    entries = []
    for bs in options.batch_sizes:
        ests = [coster.estimate(s.layer_start, s.layer_end, p.device_offset, s.mesh_shape, bs)
                for s, p in zip(stages, part.stages, strict=True)]
        if any(e is None for e in ests):
            skipped.append(f"{config.key} on {group} devices: batch size {bs} does not fit "
                           "in memory")
            continue
        ok = [e for e in ests if e is not None]
        total = sum(e.latency_s for e in ok)
        entries.append(ProfileEntry(
            model=model.name, config=config, batch_size=bs,
            stage_latencies=tuple(e.latency_s for e in ok),
            stage_weight_bytes=tuple(e.weight_bytes for e in ok),
            stage_peak_memory_bytes=tuple(e.peak_bytes for e in ok),
            source=SOURCE, tflops=_model_flops(model, bs) / total / 1e12))
    return Candidate(config=config, group_size=group, entries=tuple(entries))


def _group_sizes(max_devices: int, options: ConfigSearchOptions) -> list[int]:
    if options.group_sizes is not None:
        bad = [g for g in options.group_sizes if g > max_devices]
        if bad:
            raise SpecError(f"group sizes {bad} exceed max_devices={max_devices}")
        return list(options.group_sizes)
    sizes, g = [], 1
    while g <= max_devices:
        sizes.append(g)
        g *= 2
    return sizes


def _search_group(coster: StageCoster, group: int, options: ConfigSearchOptions,
                  skipped: list[str]) -> list[Candidate]:
    model, ref = coster.model, options.batch_sizes[0]
    degrees = tensor_degrees(model, group)
    found: list[tuple[LayerPartition, Candidate]] = []
    for t in degrees:
        p = group // t
        if group % t or p > model.num_layers:
            continue
        part = _partition(coster, p, group, [t], ref)
        if part is None:
            skipped.append(f"pp{p}-tp{t} on {group} devices: does not fit in memory")
            continue
        found.append((part, _candidate(coster, part, group, options, skipped)))
    if options.allow_unequal and group > 1 and len(degrees) > 1:
        best_equal = min((part.max_stage_latency for part, _ in found), default=None)
        have = {c.config for _, c in found}
        for p in range(2, min(group, model.num_layers) + 1):
            part = _partition(coster, p, group, degrees, ref)
            if part is None or len({st.num_devices for st in part.stages}) == 1:
                continue
            if best_equal is not None and part.max_stage_latency >= best_equal * (1 - 1e-6):
                continue
            cand = _candidate(coster, part, group, options, skipped)
            if cand.config not in have:
                have.add(cand.config)
                found.append((part, cand))
    return [c for _, c in found]


def search_configs(model: ModelSpec, cluster: ClusterSpec, *, max_devices: int | None = None,
                   options: ConfigSearchOptions | None = None) -> SearchResult:
    """Candidate configs of ``model`` on groups of the first devices of ``cluster``.

    Raises :class:`InfeasibleError`, naming the smallest group size that would fit, when no
    group size up to ``max_devices`` can hold the model.

    Parameters
    ----------
    model : ModelSpec
        The model.
    cluster : ClusterSpec
        The cluster; groups are its first ``g`` devices.
    max_devices : int, optional
        The largest group searched; all devices by default.
    options : ConfigSearchOptions, optional
        The search options; defaults when omitted.

    Returns
    -------
    SearchResult
        Every feasible config with its analytic profile, plus skips and solver counts.

    Raises
    ------
    InfeasibleError
        When no group size up to ``max_devices`` can hold the model.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> res = search_configs(model_preset("bert-1.3b"), homogeneous_cluster(2),
    ...                      options=ConfigSearchOptions(batch_sizes=(1,)))
    >>> sorted(c.config.key for c in res.candidates)
    ['pp1-tp1', 'pp1-tp2', 'pp2-tp1']
    >>> res.profile_db().get("bert-1.3b", res.candidates[0].config, 1).source
    'analytic-dp-ilp'
    """
    options = options or ConfigSearchOptions()
    max_devices = cluster.num_devices if max_devices is None else max_devices
    positive_int("search_configs", "max_devices", max_devices)
    if max_devices > cluster.num_devices:
        raise SpecError(f"max_devices={max_devices} exceeds the cluster's "
                        f"{cluster.num_devices} devices")
    coster = _make_coster(model, cluster, options)
    candidates: list[Candidate] = []
    skipped: list[str] = []
    for group in _group_sizes(max_devices, options):
        candidates.extend(_search_group(coster, group, options, skipped))
    planner = coster.planner
    if not candidates:
        fit = smallest_fitting_group(model, cluster, options, start=2 * max_devices)
        where = f"{fit} devices" if fit else f"no group of up to {MAX_PROBE_DEVICES} devices"
        raise InfeasibleError(
            f"model {model.name!r} fits no group of up to {max_devices} × "
            f"{cluster.device.name} at batch size {options.batch_sizes[0]}; the smallest "
            f"group that fits is {where}")
    if skipped:
        logger.info("%s: %d config/batch combinations skipped", model.name, len(skipped))
    return SearchResult(model=model.name, candidates=tuple(candidates),
                        skipped=tuple(skipped), intra_op_solves=planner.solves,
                        non_optimal_solves=planner.non_optimal_solves)


def smallest_fitting_group(model: ModelSpec, cluster: ClusterSpec, options: ConfigSearchOptions,
                           *, start: int = 1) -> int | None:
    """The smallest power-of-two group (>= ``start``) of this device type that fits.

    Parameters
    ----------
    model : ModelSpec
        The model.
    cluster : ClusterSpec
        The cluster whose device type (memory) and node size apply.
    options : ConfigSearchOptions
        The search options (memory policy, overheads).
    start : int, default 1
        Begin the probe at the first power of two ``>= start``.

    Returns
    -------
    int or None
        The group size, or ``None`` when even the largest probed group cannot hold it.
    """
    usable = cluster.device.usable_memory_bytes
    planner: LayerPlanner | None = None
    group = 1
    while group < start:
        group *= 2
    while group <= MAX_PROBE_DEVICES:
        if model.weight_bytes / group <= usable:  # a cheap lower bound first
            per_node = min(cluster.devices_per_node, group)
            probe = dataclasses.replace(cluster, num_nodes=-(-group // per_node),
                                        devices_per_node=per_node)
            coster = _make_coster(model, probe, options, planner)
            coster.flat_meshes_only = True  # feasibility only: 2-D meshes shard no further
            planner = coster.planner
            ref = options.batch_sizes[0]
            for t in tensor_degrees(model, group):
                p = group // t
                if group % t == 0 and p <= model.num_layers and \
                        _partition(coster, p, group, [t], ref) is not None:
                    return group
        group *= 2
    return None
