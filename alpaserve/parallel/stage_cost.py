"""Latency and memory of a pipeline stage: a layer range on a sub-mesh, stitched from plans.

A stage of layers ``[k, i)`` holds ``n_dense`` dense and ``n_moe`` MoE layers, so its cost is
``n_dense`` copies of the dense layer plan plus ``n_moe`` copies of the MoE one (plus the
resharding where the two kinds' boundary layouts differ), the embedding lookup on the first
stage, and the activation transfer to the next stage (not on the last). Like
:func:`alpaserve.cost.stage.stage_latency`, every layer pays the fixed ``LAYER_OVERHEAD_S``
and every stage ``STAGE_OVERHEAD_S`` (kernel and executable launches).

Memory per device: the layers' weight shards, the first stage's share of the embedding
(vocab-parallel over the stage's devices), and the largest activation working set of a plan.
The per-layer weight budget is each kind's smallest memory scaled by one common factor:
``memory_policy="min-memory"`` caps that factor at ``1 + memory_slack`` (keep weights
sharded, as AlpaServe's placement wants many models per group); ``"fastest"`` lets it use all
free memory.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from alpaserve.cluster_spec import ClusterSpec
from alpaserve.cost.layers import embedding_cost
from alpaserve.cost.model import LAYER_OVERHEAD_S, STAGE_OVERHEAD_S, op_time, p2p_time
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel.layer_plans import LayerPlan, LayerPlanner
from alpaserve.parallel.layouts import reshard_time
from alpaserve.parallel.logical_mesh import LogicalMesh, mesh_shapes
from alpaserve.parallel.op_graph import LayerKind, layer_kind

MemoryPolicy = Literal["min-memory", "fastest"]


@dataclass(frozen=True, kw_only=True)
class StageEstimate:
    """One stage at one batch size; bytes are per device.

    Parameters
    ----------
    latency_s : float
        Seconds for one batch through the stage, the transfer to the next stage included.
    weight_bytes : int
        Weight bytes per device (embeddings on the first stage included).
    peak_bytes : int
        Weights plus the largest activation working set, per device.
    plans : tuple of LayerPlan
        The layer plans used (dense and/or MoE).
    """

    latency_s: float
    weight_bytes: int
    peak_bytes: int
    plans: tuple[LayerPlan, ...]


@dataclass(kw_only=True)
class StageCoster:
    """Stage estimates for one model on one cluster, memoised per distinct stage body.

    Parameters
    ----------
    model : ModelSpec
        The model.
    cluster : ClusterSpec
        The cluster (device type, node size, links).
    planner : LayerPlanner
        Solves and caches layer plans.
    memory_policy : {"min-memory", "fastest"}, default "min-memory"
        See :class:`~alpaserve.parallel.search.ConfigSearchOptions`.
    memory_slack : float, default 0.05
        The slack of ``"min-memory"``.
    layer_overhead_s, stage_overhead_s : float
        Fixed seconds per layer and per stage.
    flat_meshes_only : bool, default False
        Only ``(1, size)`` meshes.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> spec, cluster = model_preset("bert-1.3b"), homogeneous_cluster(8)
    >>> coster = StageCoster(model=spec, cluster=cluster,
    ...                      planner=LayerPlanner(model=spec, device=cluster.device))
    >>> whole = coster.estimate(0, 24, 0, (1, 1), 1)
    >>> half = coster.estimate(0, 12, 0, (1, 1), 1)
    >>> 0.45 < half.latency_s / whole.latency_s < 0.55
    True
    """

    model: ModelSpec
    cluster: ClusterSpec
    planner: LayerPlanner
    memory_policy: MemoryPolicy = "min-memory"
    memory_slack: float = 0.05
    layer_overhead_s: float = LAYER_OVERHEAD_S
    stage_overhead_s: float = STAGE_OVERHEAD_S
    flat_meshes_only: bool = False
    _bodies: dict[tuple[object, ...], StageEstimate | None] = field(
        default_factory=dict, repr=False, init=False)
    _matrices: dict[tuple[int, int, int], np.ndarray] = field(
        default_factory=dict, repr=False, init=False)
    _meshes: dict[tuple[int, tuple[int, int]], LogicalMesh] = field(
        default_factory=dict, repr=False, init=False)

    def __post_init__(self) -> None:
        if self.memory_policy not in ("min-memory", "fastest"):
            raise SpecError(f"memory_policy must be 'min-memory' or 'fastest', got "
                            f"{self.memory_policy!r}")
        if not self.memory_slack >= 0:
            raise SpecError(f"memory_slack must be >= 0, got {self.memory_slack!r}")
        kinds = [layer_kind(self.model, i) for i in range(self.model.num_layers)]
        self._moe_prefix = np.concatenate([[0], np.cumsum([k == "moe" for k in kinds])])
        self._switch_prefix = np.concatenate(
            [[0, 0], np.cumsum([a != b for a, b in itertools.pairwise(kinds)])])

    # ------------------------------------------------------------------ geometry
    def aligned(self, offset: int, size: int) -> bool:
        """Sub-meshes stay inside one node, or are whole nodes.

        Parameters
        ----------
        offset : int
            First device of the sub-mesh.
        size : int
            Its number of devices.

        Returns
        -------
        bool
            Whether the sub-mesh lies within the cluster and respects node boundaries.
        """
        per_node = self.cluster.devices_per_node
        if offset < 0 or offset + size > self.cluster.num_devices:
            return False
        if size <= per_node:
            return offset // per_node == (offset + size - 1) // per_node
        return offset % per_node == 0 and size % per_node == 0

    def mesh(self, offset: int, shape: tuple[int, int]) -> LogicalMesh:
        """The logical mesh of ``shape`` from device ``offset`` (memoised).

        Parameters
        ----------
        offset : int
            First device.
        shape : tuple of (int, int)
            ``(rows, cols)``.

        Returns
        -------
        LogicalMesh
            The mesh with the cluster's link speeds.
        """
        key = (offset, shape)
        mesh = self._meshes.get(key)
        if mesh is None:
            ids = range(offset, offset + shape[0] * shape[1])
            mesh = LogicalMesh.from_cluster(self.cluster, ids, shape)
            self._meshes[key] = mesh
        return mesh

    def activation_bytes(self, batch_size: int) -> int:
        """Bytes of one layer's output activation for a batch.

        Parameters
        ----------
        batch_size : int
            Requests per batch.

        Returns
        -------
        int
            ``batch_size × seq_len × hidden_size × dtype_bytes``.
        """
        return batch_size * self.model.seq_len * self.model.hidden_size * self.model.dtype_bytes

    def transfer_s(self, end_device: int, batch_size: int) -> float:
        """Sending the activation from device ``end_device - 1`` to ``end_device``.

        Parameters
        ----------
        end_device : int
            The first device of the next stage.
        batch_size : int
            Requests per batch.

        Returns
        -------
        float
            Seconds of the point-to-point transfer; 0 past the cluster's last device.
        """
        if end_device >= self.cluster.num_devices:
            return 0.0
        bw, lat = self.cluster.link([end_device - 1, end_device])
        return p2p_time(self.activation_bytes(batch_size), bw, lat)

    # ------------------------------------------------------------------ stages
    def estimate(self, start: int, end: int, offset: int, shape: tuple[int, int],
                 batch_size: int) -> StageEstimate | None:
        """Layers ``[start, end)`` on the ``shape`` mesh from device ``offset``.

        Parameters
        ----------
        start, end : int
            The stage runs layers ``[start, end)``.
        offset : int
            Index of the stage's first device.
        shape : tuple of (int, int)
            The logical mesh shape.
        batch_size : int
            Requests per batch.

        Returns
        -------
        StageEstimate or None
            The estimate, or ``None`` when the stage does not fit in device memory.

        Raises
        ------
        SpecError
            When ``[start, end)`` is not a valid layer range.
        """
        if not 0 <= start < end <= self.model.num_layers:
            raise SpecError(f"stage [{start}, {end}) is invalid for {self.model.num_layers} "
                            "layers")
        n_moe = int(self._moe_prefix[end] - self._moe_prefix[start])
        switches = int(self._switch_prefix[end] - self._switch_prefix[start + 1])
        mesh = self.mesh(offset, shape)
        body = self._body(end - start - n_moe, n_moe, switches, start == 0, mesh, batch_size)
        if body is None or end == self.model.num_layers:
            return body
        size = shape[0] * shape[1]
        return StageEstimate(latency_s=body.latency_s + self.transfer_s(offset + size,
                                                                        batch_size),
                             weight_bytes=body.weight_bytes, peak_bytes=body.peak_bytes,
                             plans=body.plans)

    def _body(self, n_dense: int, n_moe: int, switches: int, first: bool, mesh: LogicalMesh,
              batch_size: int) -> StageEstimate | None:
        key = (n_dense, n_moe, switches, first, mesh, batch_size)
        if key not in self._bodies:
            self._bodies[key] = self._compute_body(n_dense, n_moe, switches, first, mesh,
                                                   batch_size)
        return self._bodies[key]

    def _compute_body(self, n_dense: int, n_moe: int, switches: int, first: bool,
                      mesh: LogicalMesh, bs: int) -> StageEstimate | None:
        spec, device, planner = self.model, self.cluster.device, self.planner
        both: tuple[tuple[LayerKind, int], ...] = (("dense", n_dense), ("moe", n_moe))
        counts = [(k, c) for k, c in both if c]
        usable = device.usable_memory_bytes
        emb = math.ceil(spec.embedding_params * spec.dtype_bytes / mesh.size) if first else 0
        mins = {k: planner.min_weight_bytes(k, bs, mesh) for k, _ in counts}
        min_total = sum(c * mins[k] for k, c in counts)
        act = max(planner.min_activation_bytes(k, bs, mesh) for k, _ in counts)
        avail = usable - emb - act
        cap = 1 + self.memory_slack if self.memory_policy == "min-memory" else math.inf
        for _ in range(3):
            if avail < min_total:
                return None
            factor = min(avail / min_total, cap)
            plans = {k: planner.plan(k, bs, mesh, mins[k] * factor) for k, _ in counts}
            if any(p is None for p in plans.values()):
                return None
            ok = {k: p for k, p in plans.items() if p is not None}
            weights = emb + sum(c * ok[k].weight_bytes for k, c in counts)
            peak = weights + max(p.activation_bytes for p in ok.values())
            if peak <= usable:
                break
            avail -= peak - usable  # the plan's activations are larger than the bound
        else:
            return None
        latency = self.stage_overhead_s
        latency += sum(c * (ok[k].latency_s + self.layer_overhead_s) for k, c in counts)
        if switches and len(ok) == 2:
            a, b = ok["dense"].boundary_layout, ok["moe"].boundary_layout
            full = self.activation_bytes(bs)
            latency += switches * (reshard_time(a, b, full, mesh)
                                   + reshard_time(b, a, full, mesh)) / 2
        if first:  # embedding lookup, replicated on every device of the stage
            latency += op_time(embedding_cost(spec, batch_size=bs), device,
                               matmul_efficiency=planner.efficiency)
        return StageEstimate(latency_s=latency, weight_bytes=int(weights), peak_bytes=int(peak),
                             plans=tuple(ok.values()))

    # ------------------------------------------------------------------ DP input
    def best_shape(self, start: int, end: int, offset: int, size: int, batch_size: int
                   ) -> tuple[tuple[int, int], StageEstimate] | None:
        """The fastest logical mesh shape of ``size`` devices for a stage.

        ``flat_meshes_only`` restricts the choice to ``(1, size)`` (a quick feasibility probe:
        2-D meshes split weights no further).

        Parameters
        ----------
        start, end : int
            The stage runs layers ``[start, end)``.
        offset : int
            Index of the stage's first device.
        size : int
            Devices of the stage's sub-mesh.
        batch_size : int
            Requests per batch.

        Returns
        -------
        tuple of ((int, int), StageEstimate) or None
            The fastest shape and its estimate, or ``None`` when no shape fits.
        """
        best = None
        shapes = mesh_shapes(size)
        for shape in shapes[:1] if self.flat_meshes_only else shapes:
            est = self.estimate(start, end, offset, shape, batch_size)
            if est is not None and (best is None or est.latency_s < best[1].latency_s):
                best = (shape, est)
        return best

    def cost_matrix(self, offset: int, size: int, batch_size: int) -> np.ndarray:
        """``[k, i]`` = latency of layers ``[k, i)`` on ``size`` devices from ``offset``.

        Parameters
        ----------
        offset : int
            First device of the sub-mesh.
        size : int
            Its number of devices.
        batch_size : int
            Requests per batch.

        Returns
        -------
        numpy.ndarray
            ``(L + 1) × (L + 1)`` seconds, ``inf`` where the stage does not fit or the sub-mesh
            is not aligned to nodes (memoised; do not modify).
        """
        key = (offset, size, batch_size)
        cached = self._matrices.get(key)
        if cached is not None:
            return cached
        n = self.model.num_layers
        out = np.full((n + 1, n + 1), np.inf)
        self._matrices[key] = out
        if not self.aligned(offset, size):
            return out
        for k in range(n):
            for i in range(k + 1, n + 1):
                best = self.best_shape(k, i, offset, size, batch_size)
                if best is not None:
                    out[k, i] = best[1].latency_s
        return out
