"""The planner's score counts good requests by the simulator's one definition: it agrees
with ``LLMSimResult.summary()`` request for request."""

from __future__ import annotations

import pytest

from placement.llm import plan_llm
from placement.llm.score import Scorer
from simulator.llm.simulate import simulate_llm
from tests._fixtures_llm_plan import toy_problem, toy_workload


@pytest.mark.parametrize("slos", [(0.05, 0.01), (0.1, 0.015), (0.02, 0.1), (5.0, 0.5)])
def test_score_equals_the_summary_of_the_simulation(slos: tuple[float, float]) -> None:
    problem = toy_problem(ttft_slo=slos[0], tpot_slo=slos[1])
    workload = toy_workload(duration=20.0)
    deployment = plan_llm(problem, workload, method="muxserve").deployment
    score = Scorer(problem, workload)(deployment)
    summary = simulate_llm(deployment, workload).summary(ttft_slo=slos[0], tpot_slo=slos[1])
    assert score.good == summary.overall.good
    assert score.requests == summary.overall.requests
    assert score.per_model == {m: (s.good, s.requests) for m, s in summary.models.items()}
    assert score.requests > 0
