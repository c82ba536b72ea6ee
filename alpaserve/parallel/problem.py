"""The strategy-selection problem both intra-op solvers (ILP and DP) take, and their answer.

Pick one strategy per node of a DAG. A strategy has a cost (compute + communication) and a
per-device memory; an edge ``(u, v)`` costs ``edge_costs[e][s_u][s_v]`` (resharding). Minimise
the total cost with the summed memory within ``memory_budget``. ``ties`` lists node pairs that
must pick the same strategy index (the layer's input and output layouts).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from alpaserve.errors import SpecError


@dataclass(frozen=True, kw_only=True)
class ShardingProblem:
    """Nodes in topological order; ``edges`` index into them with ``u < v``.

    Parameters
    ----------
    node_names : tuple of str
        Operator names, topologically ordered.
    strategy_names : tuple of tuple of str
        Each node's strategy names.
    node_costs, node_memory : tuple of tuple of float
        Per node and strategy: latency in seconds and memory in bytes per device.
    edges : tuple of (int, int)
        ``(u, v)`` with ``u < v``: ``v`` consumes ``u``'s output.
    edge_costs : tuple of tuple of tuple of float
        Per edge, the resharding seconds for each ``(strategy of u, strategy of v)``.
    ties : tuple of (int, int), default ()
        Node pairs that must take the same strategy index (shared weights).
    memory_budget : float, default inf
        The largest total memory an assignment may use.

    Examples
    --------
    >>> p = ShardingProblem(node_names=("a", "b"), strategy_names=(("x", "y"), ("x", "y")),
    ...                     node_costs=((1.0, 2.0), (1.0, 0.5)), node_memory=((2, 1), (2, 1)),
    ...                     edges=((0, 1),), edge_costs=(((0.0, 3.0), (3.0, 0.0)),))
    >>> p.evaluate((1, 1))
    (2.5, 2.0)
    >>> p.is_chain
    True
    """

    node_names: tuple[str, ...]
    strategy_names: tuple[tuple[str, ...], ...]
    node_costs: tuple[tuple[float, ...], ...]
    node_memory: tuple[tuple[float, ...], ...]
    edges: tuple[tuple[int, int], ...]
    edge_costs: tuple[tuple[tuple[float, ...], ...], ...]
    ties: tuple[tuple[int, int], ...] = ()
    memory_budget: float = math.inf

    def __post_init__(self) -> None:
        n = len(self.node_names)
        if n == 0:
            raise SpecError("ShardingProblem needs at least one node")
        for name in ("strategy_names", "node_costs", "node_memory"):
            if len(getattr(self, name)) != n:
                raise SpecError(f"ShardingProblem.{name} has {len(getattr(self, name))} rows "
                                f"for {n} nodes")
        for v in range(n):
            k = len(self.strategy_names[v])
            if k == 0:
                raise SpecError(f"node {self.node_names[v]!r} has no strategy")
            if len(self.node_costs[v]) != k or len(self.node_memory[v]) != k:
                raise SpecError(f"node {self.node_names[v]!r} has {k} strategies but "
                                f"{len(self.node_costs[v])} costs and "
                                f"{len(self.node_memory[v])} memories")
        if len(self.edge_costs) != len(self.edges):
            raise SpecError(f"{len(self.edges)} edges but {len(self.edge_costs)} cost tables")
        for (u, v), table in zip(self.edges, self.edge_costs, strict=True):
            if not 0 <= u < v < n:
                raise SpecError(f"edge ({u}, {v}) is not forward in a {n}-node problem")
            if len(table) != self.num_strategies(u) or any(
                    len(row) != self.num_strategies(v) for row in table):
                raise SpecError(f"edge cost table of ({u}, {v}) has the wrong shape")
        for u, v in self.ties:
            if not (0 <= u < n and 0 <= v < n) or self.num_strategies(u) != \
                    self.num_strategies(v):
                raise SpecError(f"tie ({u}, {v}) joins nodes with different strategy sets")
        if not self.memory_budget >= 0:
            raise SpecError(f"memory_budget must be >= 0, got {self.memory_budget!r}")

    @property
    def num_nodes(self) -> int:
        return len(self.node_names)

    def num_strategies(self, v: int) -> int:
        """The number of strategies of node ``v``.

        Parameters
        ----------
        v : int
            Node index.

        Returns
        -------
        int
            ``len(strategy_names[v])``.
        """
        return len(self.strategy_names[v])

    @property
    def num_choices(self) -> int:
        """The number of joint assignments (the brute-force search space)."""
        return math.prod(self.num_strategies(v) for v in range(self.num_nodes))

    @property
    def is_chain(self) -> bool:
        """Whether the edges are exactly ``(0, 1), (1, 2), ...`` and there are no ties."""
        return not self.ties and self.edges == tuple((i, i + 1)
                                                     for i in range(self.num_nodes - 1))

    def with_budget(self, memory_budget: float) -> ShardingProblem:
        """The same problem under another memory budget.

        Parameters
        ----------
        memory_budget : float
            The new budget in bytes (``math.inf`` for none).

        Returns
        -------
        ShardingProblem
            A copy differing only in ``memory_budget``.
        """
        return ShardingProblem(node_names=self.node_names, strategy_names=self.strategy_names,
                               node_costs=self.node_costs, node_memory=self.node_memory,
                               edges=self.edges, edge_costs=self.edge_costs, ties=self.ties,
                               memory_budget=memory_budget)

    def evaluate(self, choice: tuple[int, ...]) -> tuple[float, float]:
        """(cost, memory) of a full assignment; cost is ``inf`` when a tie is broken.

        Parameters
        ----------
        choice : tuple of int
            One strategy index per node.

        Returns
        -------
        tuple of (float, float)
            ``(cost, memory)``: the latency sum with resharding, and the memory sum.

        Raises
        ------
        SpecError
            When ``choice`` has the wrong length or an index out of range.
        """
        if len(choice) != self.num_nodes:
            raise SpecError(f"assignment has {len(choice)} entries for {self.num_nodes} nodes")
        if any(choice[u] != choice[v] for u, v in self.ties):
            return math.inf, math.inf
        cost = sum(self.node_costs[v][s] for v, s in enumerate(choice))
        cost += sum(t[choice[u]][choice[v]]
                    for (u, v), t in zip(self.edges, self.edge_costs, strict=True))
        memory = sum(self.node_memory[v][s] for v, s in enumerate(choice))
        return float(cost), float(memory)

    def brute_force(self, max_choices: int = 200_000) -> ShardingSolution | None:
        """Enumerate every assignment (a reference for tests); ``None`` when infeasible.

        Parameters
        ----------
        max_choices : int, default 200000
            Refuse problems with more joint assignments than this.

        Returns
        -------
        ShardingSolution or None
            The optimal assignment within the budget, or ``None`` when nothing fits.
        """
        if self.num_choices > max_choices:
            raise SpecError(f"brute force over {self.num_choices} assignments exceeds "
                            f"max_choices={max_choices}")
        best: tuple[float, float, tuple[int, ...]] | None = None
        ranges = [range(self.num_strategies(v)) for v in range(self.num_nodes)]
        for choice in itertools.product(*ranges):
            cost, memory = self.evaluate(choice)
            if memory <= self.memory_budget and math.isfinite(cost) and (
                    best is None or (cost, memory) < best[:2]):
                best = (cost, memory, choice)
        if best is None:
            return None
        return ShardingSolution(choice=best[2], cost=best[0], memory=best[1], optimal=True,
                                status="optimal", solver="brute-force")


@dataclass(frozen=True, kw_only=True)
class ShardingSolution:
    """One strategy index per node, its cost and memory, and how it was found.

    ``optimal`` is False when the solver stopped (e.g. at a time limit) with a feasible but
    unproven assignment; ``status`` says why.

    Parameters
    ----------
    choice : tuple of int
        One strategy index per node.
    cost : float
        Latency in seconds, resharding included.
    memory : float
        Memory in bytes per device.
    optimal : bool
        Whether optimality was proven.
    status : str
        The solver's status text.
    solver : str
        Which solver found it (e.g. ``"dp"``, ``"brute-force"``, or the MILP backend).
    """

    choice: tuple[int, ...]
    cost: float
    memory: float
    optimal: bool
    status: str
    solver: str

    def names(self, problem: ShardingProblem) -> dict[str, str]:
        """Node name -> chosen strategy name.

        Parameters
        ----------
        problem : ShardingProblem
            The problem this solution answers.

        Returns
        -------
        dict of str to str
            Node name to chosen strategy name.
        """
        return {problem.node_names[v]: problem.strategy_names[v][s]
                for v, s in enumerate(self.choice)}
