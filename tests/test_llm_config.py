"""The deployment dataclasses of the token-level simulator reject malformed groups by name."""

from __future__ import annotations

import numpy as np
import pytest

from alpaserve.errors import SpecError
from alpaserve.llm.iteration import IterationCost
from simulator.llm.config import EngineGroup, LLMDeployment, ServedModel

COST = IterationCost(linear_s=np.array([0.0, 0.01]), prefill_attention_s=0.0,
                     decode_attention_s=0.0)


def served(name: str) -> ServedModel:
    return ServedModel(model=name, cost=COST, kv_blocks=64)


def test_group_needs_distinct_served_models() -> None:
    group = EngineGroup(name="g0", num_devices=1, models=[served("a"), served("b")])  # type: ignore[arg-type]
    assert group.models == (served("a"), served("b"))  # a list is kept as a tuple
    with pytest.raises(SpecError, match=r"EngineGroup 'g0' needs a non-empty tuple of "
                                        r"ServedModel, got \(\)"):
        EngineGroup(name="g0", num_devices=1, models=())
    with pytest.raises(SpecError, match="needs a non-empty tuple of ServedModel, got 'a'"):
        EngineGroup(name="g0", num_devices=1, models="a")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"EngineGroup 'g0' hosts a model twice: \['a', 'a'\]"):
        EngineGroup(name="g0", num_devices=1, models=(served("a"), served("a")))


def test_deployment_needs_distinct_groups() -> None:
    group = EngineGroup(name="g0", num_devices=2, models=(served("a"),))
    assert LLMDeployment(groups=[group]).num_devices == 2  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"LLMDeployment needs a non-empty tuple of "
                                        r"EngineGroup, got \[\]"):
        LLMDeployment(groups=[])  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="needs a non-empty tuple of EngineGroup"):
        LLMDeployment(groups=(group, "g1"))  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"group names must be unique: \['g0', 'g0'\]"):
        LLMDeployment(groups=(group, group))
