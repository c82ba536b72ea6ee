"""Placement of many LLMs on one cluster, scored by the token-level engine.

:func:`plan_llm` cuts the cluster into node-aligned power-of-two groups, picks each group's
tensor × pipeline shape, and places model replicas on the groups (co-locating models that
share a group's KV memory, partitioned or as one pool), scoring candidates by the goodput the
token-level engine (:mod:`simulator.llm`) measures on the training workload. The baselines
(:mod:`.baselines`) are one model per dedicated group (vLLM-style) and MuxServe's
popularity-based placement. Every method returns an :class:`LLMPlan`.
"""

from placement.llm.analytic_costs import AnalyticCosts
from placement.llm.baselines import dedicated_plan, muxserve_plan
from placement.llm.costs import LLMCostModel, TableCosts, TableEntry, costs_from_dict
from placement.llm.measured_costs import MeasuredCosts
from placement.llm.problem import LLMPlanProblem
from placement.llm.result import GroupPlan, LLMPlan
from placement.llm.search import plan_llm

__all__ = ["AnalyticCosts", "GroupPlan", "LLMCostModel", "LLMPlan", "LLMPlanProblem",
           "MeasuredCosts", "TableCosts", "TableEntry", "costs_from_dict", "dedicated_plan",
           "muxserve_plan", "plan_llm"]
