"""Parallel configurations per model: the intra-op ILP/DP and the inter-op stage DP.

Replaces what AlpaServe obtained from Alpa's compiler with an analytic search: build each
layer's operator graph (:mod:`.op_graph`), enumerate sharding strategies on a logical mesh
(:mod:`.sharding`, over the tensor layouts of :mod:`.layouts`), pick them with an ILP
(:mod:`.intra_op_ilp`) or an exact DP (:mod:`.chain_dp`), reuse one solve per distinct layer
(:mod:`.layer_plans`), split layers into pipeline stages (:mod:`.inter_op_dp`) and emit
profile entries (:mod:`.search`), cached on disk (:mod:`.cache`).
"""

from alpaserve.parallel.cache import cached_search, default_cache_dir
from alpaserve.parallel.chain_dp import dp_frontier, solve_chain, solve_dp
from alpaserve.parallel.inter_op_dp import LayerPartition, StagePlacement, partition_layers
from alpaserve.parallel.intra_op_ilp import ilp_frontier, solve_ilp
from alpaserve.parallel.layer_plans import LayerPlan, LayerPlanner
from alpaserve.parallel.logical_mesh import LogicalMesh, mesh_shapes
from alpaserve.parallel.op_graph import OpNode, layer_graph, layer_kind
from alpaserve.parallel.problem import ShardingProblem, ShardingSolution
from alpaserve.parallel.search import (
    Candidate,
    ConfigSearchOptions,
    SearchResult,
    search_configs,
    smallest_fitting_group,
    tensor_degrees,
)
from alpaserve.parallel.sharding import Strategy, build_sharding_problem, op_strategies
from alpaserve.parallel.stage_cost import StageCoster, StageEstimate

__all__ = [
    "Candidate",
    "ConfigSearchOptions",
    "LayerPartition",
    "LayerPlan",
    "LayerPlanner",
    "LogicalMesh",
    "OpNode",
    "SearchResult",
    "ShardingProblem",
    "ShardingSolution",
    "StageCoster",
    "StageEstimate",
    "StagePlacement",
    "Strategy",
    "build_sharding_problem",
    "cached_search",
    "default_cache_dir",
    "dp_frontier",
    "ilp_frontier",
    "layer_graph",
    "layer_kind",
    "mesh_shapes",
    "op_strategies",
    "partition_layers",
    "search_configs",
    "smallest_fitting_group",
    "solve_chain",
    "solve_dp",
    "solve_ilp",
    "tensor_degrees",
]
