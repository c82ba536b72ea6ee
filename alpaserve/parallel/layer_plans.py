"""Per-layer sharding plans: one solve per distinct layer, reused by every stage (the stitch).

All dense layers of a model are identical, and so are all MoE layers, so a stage of ``n``
layers on a mesh is ``n`` copies of one layer plan. A :class:`LayerPlanner` solves each
(layer kind, batch size, mesh) once, for a per-layer weight budget, and remembers the answer:

* with the DP it keeps the whole cost–memory frontier and answers any budget from it;
* with the ILP it keeps each solve and reuses it for every smaller budget its memory still
  fits (still optimal there), solving again only below that.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Literal

from alpaserve.cost.model import DEFAULT_MATMUL_EFFICIENCY
from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel.chain_dp import dp_frontier, max_live_states
from alpaserve.parallel.intra_op_ilp import Backend, solve_ilp
from alpaserve.parallel.layouts import Layout
from alpaserve.parallel.logical_mesh import LogicalMesh
from alpaserve.parallel.op_graph import LayerKind, layer_graph
from alpaserve.parallel.problem import ShardingSolution
from alpaserve.parallel.sharding import LayerShardingSpace, build_sharding_problem

logger = logging.getLogger(__name__)

IntraSolver = Literal["auto", "dp", "ilp"]


@dataclass(frozen=True, kw_only=True)
class LayerPlan:
    """One layer's chosen strategies on a mesh; bytes are per device.

    Parameters
    ----------
    latency_s : float
        The layer's latency in seconds, resharding between operators included.
    weight_bytes : int
        Weight bytes per device.
    activation_bytes : int
        Activation working set per device in bytes.
    boundary_layout : tuple
        The sharding layout of the layer's output (what the next layer receives).
    strategies : tuple of (str, str)
        ``(operator, strategy)`` pairs, one per operator.
    optimal : bool
        Whether the solver proved the plan optimal.
    """

    latency_s: float
    weight_bytes: int
    activation_bytes: int
    boundary_layout: Layout
    strategies: tuple[tuple[str, str], ...]
    optimal: bool


@dataclass(kw_only=True)
class LayerPlanner:
    """Solves and remembers layer plans for one model on one device type.

    ``dp_max_states`` is where ``solver="auto"`` switches from the DP to the ILP.
    ``reuse=False`` re-solves every request (the no-reuse baseline of the benchmark).

    Parameters
    ----------
    model : ModelSpec
        The model whose layers are planned.
    device : DeviceSpec
        The device type (peak FLOP/s, memory bandwidth).
    efficiency : float, optional
        Achieved fraction of peak matmul throughput.
    solver : {"auto", "dp", "ilp"}, default "auto"
        The intra-operator solver; ``"auto"`` uses the chain DP while the state count stays
        within ``dp_max_states``, else the ILP.
    backend : {"auto", "highs", "cbc"}, default "auto"
        The MILP backend of the ILP.
    time_limit : float, optional
        Wall-clock limit in seconds per ILP solve.
    dp_max_states : int, default 500
        The DP state count above which ``"auto"`` switches to the ILP.
    reuse : bool, default True
        Remember sharding spaces and frontiers across calls.
    solves, non_optimal_solves : int
        Counters updated by :meth:`plan` (solver calls, and those not proven optimal).

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> from alpaserve.device_spec import device_preset
    >>> planner = LayerPlanner(model=model_preset("bert-1.3b"),
    ...                        device=device_preset("v100-16gb"))
    >>> mesh = LogicalMesh.uniform((1, 2), bandwidth=130e9, latency=5e-6)
    >>> plan = planner.plan("dense", 1, mesh, math.inf)
    >>> one = planner.plan("dense", 1, LogicalMesh.uniform((1, 1), 130e9, 5e-6), math.inf)
    >>> plan.latency_s < one.latency_s
    True
    >>> planner.solves
    2
    """

    model: ModelSpec
    device: DeviceSpec
    efficiency: float = DEFAULT_MATMUL_EFFICIENCY
    solver: IntraSolver = "auto"
    backend: Backend = "auto"
    time_limit: float | None = None
    dp_max_states: int = 500
    reuse: bool = True
    solves: int = 0
    non_optimal_solves: int = 0
    _spaces: dict[tuple[LayerKind, int, LogicalMesh], LayerShardingSpace] = \
        field(default_factory=dict, repr=False, init=False)
    _frontiers: dict[tuple[LayerKind, int, LogicalMesh], list[ShardingSolution]] = \
        field(default_factory=dict, repr=False, init=False)
    _ilp: dict[tuple[LayerKind, int, LogicalMesh], list[tuple[float, ShardingSolution | None]]] \
        = field(default_factory=dict, repr=False, init=False)

    def __post_init__(self) -> None:
        if self.solver not in ("auto", "dp", "ilp"):
            raise SpecError(f"intra-op solver must be 'auto', 'dp' or 'ilp', got "
                            f"{self.solver!r}")

    def space(self, kind: LayerKind, batch_size: int, mesh: LogicalMesh) -> LayerShardingSpace:
        """The sharding space of one layer (operators, strategies, costs), cached when ``reuse``.

        Parameters
        ----------
        kind : {"dense", "moe"}
            The layer kind (a mixture-of-experts layer holds experts).
        batch_size : int
            Requests per batch.
        mesh : LogicalMesh
            The logical device mesh the layer is sharded over.

        Returns
        -------
        LayerShardingSpace
            The per-operator strategies and the :class:`ShardingProblem` built from them.
        """
        key = (kind, batch_size, mesh)
        space = self._spaces.get(key) if self.reuse else None
        if space is None:
            graph = layer_graph(self.model, batch_size=batch_size, kind=kind)
            space = build_sharding_problem(graph, mesh, self.device, self.efficiency)
            self._spaces[key] = space
        return space

    def min_weight_bytes(self, kind: LayerKind, batch_size: int, mesh: LogicalMesh) -> float:
        """The smallest per-device weight memory of a layer (memory is separable per node).

        Parameters
        ----------
        kind : {"dense", "moe"}
            The layer kind (a mixture-of-experts layer holds experts).
        batch_size : int
            Requests per batch.
        mesh : LogicalMesh
            The logical device mesh the layer is sharded over.

        Returns
        -------
        float
            The least weight bytes per device any plan of the layer needs.
        """
        problem = self.space(kind, batch_size, mesh).problem
        return float(sum(min(row) for row in problem.node_memory))

    def min_activation_bytes(self, kind: LayerKind, batch_size: int,
                             mesh: LogicalMesh) -> int:
        """A lower bound on a plan's activation working set (largest per-node minimum).

        Parameters
        ----------
        kind : {"dense", "moe"}
            The layer kind (a mixture-of-experts layer holds experts).
        batch_size : int
            Requests per batch.
        mesh : LogicalMesh
            The logical device mesh the layer is sharded over.

        Returns
        -------
        int
            A lower bound, in bytes per device, on any plan's activation working set.
        """
        space = self.space(kind, batch_size, mesh)
        return max(min(s.activation_bytes for s in ss) for ss in space.strategies)

    def _use_dp(self, kind: LayerKind, batch_size: int, mesh: LogicalMesh) -> bool:
        if self.solver != "auto":
            return self.solver == "dp"
        problem = self.space(kind, batch_size, mesh).problem
        return max_live_states(problem) <= self.dp_max_states

    def _solve(self, kind: LayerKind, batch_size: int, mesh: LogicalMesh,
               budget: float) -> ShardingSolution | None:
        key = (kind, batch_size, mesh)
        space = self.space(kind, batch_size, mesh)
        if self._use_dp(kind, batch_size, mesh):
            frontier = self._frontiers.get(key) if self.reuse else None
            if frontier is None:
                frontier = dp_frontier(space.problem)
                self.solves += 1
                self._frontiers[key] = frontier
            fits = [s for s in frontier if s.memory <= budget]
            return fits[0] if fits else None
        solved = self._ilp.setdefault(key, []) if self.reuse else []
        for solved_budget, known in solved:
            # Infeasible with more memory => infeasible here; optimal for a larger budget
            # and still within this one => optimal here too.
            if budget <= solved_budget and (known is None or known.memory <= budget):
                return known
        sol = solve_ilp(space.problem.with_budget(budget), backend=self.backend,
                        time_limit=self.time_limit)
        self.solves += 1
        if sol is not None and not sol.optimal:
            self.non_optimal_solves += 1
        solved.append((budget, sol))
        return sol

    def plan(self, kind: LayerKind, batch_size: int, mesh: LogicalMesh,
             weight_budget: float) -> LayerPlan | None:
        """The fastest plan whose per-device weights fit ``weight_budget``, or ``None``.

        Parameters
        ----------
        kind : {"dense", "moe"}
            The layer kind (a mixture-of-experts layer holds experts).
        batch_size : int
            Requests per batch.
        mesh : LogicalMesh
            The logical device mesh the layer is sharded over.
        weight_budget : float
            Per-device weight bytes the layer may use (``math.inf`` for no limit).

        Returns
        -------
        LayerPlan or None
            The fastest plan within the budget, or ``None`` when no sharding fits.
        """
        sol = self._solve(kind, batch_size, mesh, weight_budget)
        if sol is None:
            return None
        space = self.space(kind, batch_size, mesh)
        chosen = [space.strategies[v][s] for v, s in enumerate(sol.choice)]
        names = sol.names(space.problem)
        return LayerPlan(latency_s=sol.cost, weight_bytes=math.ceil(sol.memory),
                         activation_bytes=max(s.activation_bytes for s in chosen),
                         boundary_layout=chosen[0].out_layout,
                         strategies=tuple(names.items()), optimal=sol.optimal)
