"""Placement algorithms (SR, Clockwork++, AlpaServe search and the published policy), plan()."""

from placement.alpaserve_search import SearchOptions
from placement.clockwork import ClockworkOptions
from placement.plan import POLICIES, WorkloadSource, plan
from placement.result import PlanResult

__all__ = ["POLICIES", "ClockworkOptions", "PlanResult", "SearchOptions", "WorkloadSource",
           "plan"]
