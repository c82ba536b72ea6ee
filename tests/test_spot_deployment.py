"""Deployments on named devices."""

from __future__ import annotations

import pytest

from alpaserve.cost.llm import LLMConfig
from alpaserve.errors import InfeasibleError, SpecError
from alpaserve.spot.deployment import Deployment, devices_of_nodes, pack_devices


def test_pack_keeps_tensor_groups_in_nodes() -> None:
    devs = devices_of_nodes([("small", 2), ("big", 4), ("mid", 4)])
    dep = pack_devices(LLMConfig(data=2, pipeline=1, tensor=4, batch=1), devs)
    assert [{n for n, _ in rep} for rep in dep.replicas] == [{"big"}, {"mid"}]
    assert dep.replicas_using([("mid", 3)]) == (1,)
    assert dep.nodes == frozenset({"big", "mid"})
    assert dep.to_dict()["config"]["tensor"] == 4


def test_validation() -> None:
    cfg = LLMConfig(data=1, pipeline=1, tensor=2, batch=1)
    with pytest.raises(SpecError, match="needs 1 replicas"):
        Deployment(config=cfg, replicas=())
    with pytest.raises(SpecError, match="needs 2 devices"):
        Deployment(config=cfg, replicas=((("a", 0),),))
    with pytest.raises(SpecError, match="used twice"):
        Deployment(config=cfg, replicas=((("a", 0), ("a", 0)),))
    with pytest.raises(InfeasibleError, match="only 1 are available"):
        pack_devices(cfg, [("a", 0)])
    dep = pack_devices(cfg, [("a", 0), ("a", 1)])
    with pytest.raises(SpecError, match="not in deployment"):
        dep.position(("b", 0))
