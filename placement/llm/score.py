"""Scoring a deployment with the token-level engine: goodput under TTFT and TPOT SLOs.

A request is *good* when it finished, its time to first token is within its model's TTFT
SLO and its time per output token, ``(finish - first_token) / (output - 1)`` (0 for one
token), within the TPOT SLO: the definitions of :mod:`simulator.llm.metrics`, whose functions
compute them here too. The score is the number of good requests; the planner compares
deployments on one (possibly subsampled) training workload, so counts compare directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from alpaserve.errors import PlacementError
from placement.llm.problem import LLMPlanProblem
from simulator.llm.config import LLMDeployment
from simulator.llm.metrics import good_requests, request_latencies
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
    ttft, tpot, _ = request_latencies(prepared.arrival, prepared.output, outcome.first_token,
                                      outcome.finish)
    finished = outcome.status == LLMRequestStatus.FINISHED
    return good_requests(finished, ttft, tpot, ttft_slo, tpot_slo), model


def at_load(workload: Workload, load: float) -> Workload:
    """``workload`` with its arrival rate times ``load`` (gaps divided by it, same requests).

    Parameters
    ----------
    workload : Workload
        Requests.
    load : float
        Rate factor, > 0.

    Returns
    -------
    Workload
        The same requests, arrivals ``t0 + (t - t0) / load``.

    Raises
    ------
    PlacementError
        If ``load`` is not positive and finite.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[1.0, 2.0, 4.0], model="m")
    >>> at_load(w, 0.5).arrival.tolist()
    [1.0, 3.0, 7.0]
    """
    if isinstance(load, bool) or not isinstance(load, int | float) or not (
            0 < load < float("inf")):
        raise PlacementError(f"a load factor must be positive and finite, got {load!r}")
    if load == 1 or len(workload) == 0:
        return workload
    t0 = float(workload.arrival[0])
    return replace(workload, arrival=t0 + (workload.arrival - t0) / float(load))


class Scorer:
    """Scores deployments on one workload (at one or more loads) and counts the simulations.

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
        Refuse (raise) past this many simulations (each load counts as one).
    loads : tuple of float, default (1.0,)
        Rate factors the workload is replayed at (:func:`at_load`); the score adds them up,
        so a layout is judged on the load seen and on the others (a hedge against a future
        rate unlike the training one).
    """

    def __init__(self, problem: LLMPlanProblem, workload: Workload, *,
                 engine: Engine | None = None, max_simulations: int | None = None,
                 loads: tuple[float, ...] = (1.0,)) -> None:
        self.problem = problem
        self.workload = workload
        self.engine = engine or default_engine
        self.max_simulations = max_simulations
        self.simulations = 0
        if not loads:
            raise PlacementError("Scorer needs at least one load factor")
        self.loads = tuple(float(x) for x in loads)
        self._workloads = [at_load(workload, x) for x in self.loads]

    @property
    def exhausted(self) -> bool:
        """Whether the budget has no room for one more score (a run per load)."""
        return self.max_simulations is not None and (
            self.simulations + len(self._workloads) > self.max_simulations)

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
        names = self.problem.model_names
        goods = np.zeros(len(names))
        totals = np.zeros(len(names), dtype=np.int64)
        for work in self._workloads:
            self.simulations += 1
            prepared, outcome = self.engine(deployment, work)
            good, model = good_mask(self.problem, deployment, prepared, outcome)
            totals += np.bincount(model, minlength=len(names))
            goods += np.bincount(model, weights=good.astype(np.float64), minlength=len(names))
        per_model = {m: (int(goods[i]), int(totals[i])) for i, m in enumerate(names)}
        return Score(good=int(goods.sum()), requests=int(totals.sum()), per_model=per_model)


class Objective:
    """How the search ranks scores: goodput, under a floor on every model's attainment.

    Maximising goodput alone starves the large models (a 70B request costs the cluster what
    ten 7B ones do), so a layout is *fair* when no model's attainment falls below
    ``fairness`` times the worst model's attainment in the reference layout (the dedicated
    one: each model's share of the cluster by load × size). Fair layouts rank first, then
    by fewer requests short of the floor, then by good requests, then by the worst model's
    attainment. A fair layout replaces another only when it gains more than ``min_gain``
    of the requests scored: smaller gains are within the noise of one replay (a different
    routing order alone moves a model's attainment by a few percent) and do not carry over
    to held-out requests.

    Parameters
    ----------
    fairness : float
        In ``[0, 1]``; 0 ranks by goodput alone.
    reference : Score, optional
        The reference layout's score (no floor without one).
    min_gain : float, default 0
        Fraction of the scored requests a fair layout must gain to count as better.
    """

    def __init__(self, fairness: float, reference: Score | None, *,
                 min_gain: float = 0.0) -> None:
        self.min_gain = float(min_gain)
        shares = [good / total for good, total in
                  (reference.per_model.values() if reference else ()) if total]
        self.floor = fairness * min(shares, default=0.0)

    def shortfall(self, score: Score) -> float:
        """Requests below the models' floors.

        Parameters
        ----------
        score : Score
            A layout's score.

        Returns
        -------
        float
            ``sum(max(0, floor * total - good))`` over models.
        """
        return sum(max(0.0, self.floor * total - good)
                   for good, total in score.per_model.values())

    def key(self, score: Score) -> tuple[bool, float, int, float]:
        """Sort key, larger is better.

        Parameters
        ----------
        score : Score
            A layout's score.

        Returns
        -------
        tuple
            ``(fair, -shortfall, good, worst attainment)``.
        """
        short = self.shortfall(score)
        shares = [good / total for good, total in score.per_model.values() if total]
        return short <= 1e-9, -short, score.good, min(shares, default=1.0)

    def better(self, score: Score, than: Score) -> bool:
        """Whether ``score`` beats ``than`` by more than the noise margin.

        Parameters
        ----------
        score, than : Score
            Two layouts' scores on the same workload.

        Returns
        -------
        bool
            Fairer, or as fair and more than ``min_gain * requests`` more good requests.
        """
        a, b = self.key(score), self.key(than)
        if a[0] != b[0] or not a[0]:
            return a[:2] > b[:2]
        return a[2] > b[2] + self.min_gain * score.requests
