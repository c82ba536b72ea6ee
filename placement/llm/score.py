"""Scoring a deployment with the token-level engine: goodput under TTFT and TPOT SLOs.

A request is *good* when it finished, its time to first token is within its model's TTFT
SLO and its time per output token, ``(finish - first_token) / (output - 1)`` (0 for one
token), within the TPOT SLO. The score is the number of good requests; the planner compares
deployments on one (possibly subsampled) training workload, so counts compare directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from alpaserve.errors import PlacementError
from placement.llm.problem import LLMPlanProblem
from simulator.llm.config import LLMDeployment
from simulator.llm.outcome import LLMOutcome
from simulator.llm.prepared import PreparedLLM, prepare_llm
from simulator.llm.semantics import LLMRequestStatus
from workloads.workload import Workload

logger = logging.getLogger(__name__)

Engine = Callable[[LLMDeployment, Workload], tuple[PreparedLLM, LLMOutcome]]


def default_engine(deployment: LLMDeployment, workload: Workload) -> tuple[PreparedLLM,
                                                                          LLMOutcome]:
    """Route ``workload`` and run the compiled token-level engine on it.

    Parameters
    ----------
    deployment : LLMDeployment
        Groups and models.
    workload : Workload
        Requests with token counts.

    Returns
    -------
    tuple of (PreparedLLM, LLMOutcome)
        The routed requests and their outcome.
    """
    from simulator.llm.engine import run_compiled
    prepared = prepare_llm(workload, deployment)
    return prepared, run_compiled(prepared, deployment)


@dataclass(frozen=True, kw_only=True)
class Score:
    """Goodput of one deployment on one workload.

    Parameters
    ----------
    good : int
        Requests meeting both SLOs.
    requests : int
        Requests simulated.
    per_model : dict of str to (int, int)
        Good and total requests per model.
    """

    good: int
    requests: int
    per_model: dict[str, tuple[int, int]]

    @property
    def goodput(self) -> float:
        """Fraction of requests meeting both SLOs (NaN without requests)."""
        return self.good / self.requests if self.requests else float("nan")

    def missed(self, model: str) -> int:
        """Requests of ``model`` that missed an SLO or were rejected.

        Parameters
        ----------
        model : str
            A served model.

        Returns
        -------
        int
            Total minus good.
        """
        good, total = self.per_model.get(model, (0, 0))
        return total - good


def good_mask(problem: LLMPlanProblem, deployment: LLMDeployment, prepared: PreparedLLM,
              outcome: LLMOutcome) -> tuple[np.ndarray, np.ndarray]:
    """Which requests met both SLOs, and each request's model index in ``problem``.

    Parameters
    ----------
    problem : LLMPlanProblem
        The SLOs.
    deployment : LLMDeployment
        The simulated deployment (to name each request's model).
    prepared : PreparedLLM
        The routed requests.
    outcome : LLMOutcome
        Their outcome.

    Returns
    -------
    tuple of ndarray
        Boolean mask and int model index (into ``problem.model_names``) per request.
    """
    names = problem.model_names
    index = {m: i for i, m in enumerate(names)}
    lookup = [[index[s.model] for s in g.models] for g in deployment.groups]
    width = max(len(r) for r in lookup)
    table = np.array([r + [0] * (width - len(r)) for r in lookup], dtype=np.int64)
    model = table[prepared.group, prepared.slot]
    ttft_slo = np.array([problem.slo(m)[0] for m in names])[model]
    tpot_slo = np.array([problem.slo(m)[1] for m in names])[model]
    with np.errstate(invalid="ignore", divide="ignore"):
        ttft = outcome.first_token - prepared.arrival
        steps = np.maximum(prepared.output - 1, 1)
        tpot = np.where(prepared.output > 1, (outcome.finish - outcome.first_token) / steps,
                        0.0)
        good = ((outcome.status == LLMRequestStatus.FINISHED) & (ttft <= ttft_slo)
                & (tpot <= tpot_slo))
    return good, model


class Scorer:
    """Scores deployments on one workload and counts the simulations.

    Parameters
    ----------
    problem : LLMPlanProblem
        SLOs and model names.
    workload : Workload
        The (training) requests.
    engine : callable, optional
        ``engine(deployment, workload) -> (PreparedLLM, LLMOutcome)``; by default the
        compiled engine.
    max_simulations : int, optional
        Refuse (raise) past this many simulations.
    """

    def __init__(self, problem: LLMPlanProblem, workload: Workload, *,
                 engine: Engine | None = None, max_simulations: int | None = None) -> None:
        self.problem = problem
        self.workload = workload
        self.engine = engine or default_engine
        self.max_simulations = max_simulations
        self.simulations = 0

    @property
    def exhausted(self) -> bool:
        """Whether the simulation budget is spent."""
        return self.max_simulations is not None and self.simulations >= self.max_simulations

    def __call__(self, deployment: LLMDeployment) -> Score:
        """Simulate ``deployment`` and count its good requests.

        Parameters
        ----------
        deployment : LLMDeployment
            Must host every model of the workload.

        Returns
        -------
        Score
            Goodput overall and per model.

        Raises
        ------
        PlacementError
            If the simulation budget is spent.
        """
        if self.exhausted:
            raise PlacementError(f"simulation budget of {self.max_simulations} spent")
        self.simulations += 1
        prepared, outcome = self.engine(deployment, self.workload)
        good, model = good_mask(self.problem, deployment, prepared, outcome)
        names = self.problem.model_names
        totals = np.bincount(model, minlength=len(names))
        goods = np.bincount(model, weights=good.astype(np.float64), minlength=len(names))
        per_model = {m: (int(goods[i]), int(totals[i])) for i, m in enumerate(names)}
        return Score(good=int(good.sum()), requests=int(good.size), per_model=per_model)
