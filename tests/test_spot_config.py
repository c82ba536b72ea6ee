"""SpotServe's configuration optimizer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.cost.llm import LLMConfig, fits_memory, request_latency
from alpaserve.errors import SpecError
from alpaserve.model_presets import model_preset
from alpaserve.spot.config import (
    ConfigEstimate,
    ConfigSpace,
    ConfigTable,
    RequestShape,
    choose_config,
)
from alpaserve.spot.hardware import g4dn_hardware

M20 = model_preset("gpt-20b")
HW = g4dn_hardware()
SHAPE = RequestShape(prompt_tokens=512, output_tokens=32, max_context=1024)
SPACE = ConfigSpace(tensor=(1, 2, 4, 8), pipeline=(1, 2, 4), batch=(1, 4, 8),
                    micro_batches=(1, 2))


TABLE = ConfigTable.build(model=M20, hardware=HW, request=SHAPE, space=SPACE)


@pytest.fixture(scope="module")
def table() -> ConfigTable:
    return TABLE


def est(key: tuple[int, int], latency: float, thr: float) -> ConfigEstimate:
    return ConfigEstimate(config=LLMConfig(data=key[0], pipeline=1, tensor=4, batch=key[1]),
                          latency=latency, throughput=thr)


def test_choose_config_rule() -> None:
    fast, mid, big = est((1, 1), 1.0, 1.0), est((1, 4), 2.0, 3.0), est((2, 8), 4.0, 6.0)
    assert choose_config([big, mid, fast], arrival_rate=0.5) is fast
    assert choose_config([big, mid, fast], arrival_rate=2.0) is mid
    assert choose_config([big, mid, fast], arrival_rate=6.0) is big
    assert choose_config([fast, mid], arrival_rate=10.0) is mid  # none qualifies
    assert choose_config([], arrival_rate=1.0) is None


def test_table_respects_memory_floor(table: ConfigTable) -> None:
    assert table.floor == 3  # pipeline 3 × tensor 1 is the fewest T4s for 20B + 1k context
    assert all(fits_memory(M20, HW, e.config, context_tokens=1024) for e in table.entries)
    assert all(e.config.replica_devices >= table.floor for e in table.entries)
    assert table.choose(num_devices=table.floor - 1, arrival_rate=0.1) is None


@given(st.integers(1, 40), st.floats(0.01, 20.0))
def test_choice_follows_the_rule(num_devices: int, rate: float) -> None:
    choice = TABLE.choose(num_devices=num_devices, arrival_rate=rate)
    cands = TABLE.candidates(num_devices)
    if not cands:
        assert choice is None
        return
    assert choice is not None
    assert choice.config.num_devices <= num_devices
    ok = [c for c in cands if c.throughput >= rate]
    if ok:
        assert choice.throughput >= rate
        assert choice.latency == min(c.latency for c in ok)
    else:
        assert choice.throughput == max(c.throughput for c in cands)


def test_fixed_shape_and_entries(table: ConfigTable) -> None:
    fixed = LLMConfig(data=1, pipeline=1, tensor=4, batch=4)
    got = table.choose(num_devices=13, arrival_rate=100.0, fixed=fixed)
    assert got is not None
    assert got.config == fixed.with_data(3)
    entry = next(e for e in table.entries if e.config == fixed)
    assert entry.latency == pytest.approx(request_latency(M20, HW, fixed, prompt_tokens=512,
                                                          output_tokens=32))


def test_space_validation() -> None:
    with pytest.raises(SpecError, match="must not be empty"):
        ConfigSpace(tensor=())
    with pytest.raises(SpecError, match="batch"):
        ConfigSpace(batch=(0,))
    with pytest.raises(SpecError, match="max_context"):
        RequestShape(prompt_tokens=1, output_tokens=1, max_context=0)


def test_min_replica_devices_sets_the_floor() -> None:
    space = ConfigSpace(tensor=(1, 2, 4), pipeline=(1, 2, 3), batch=(1, 2), micro_batches=(1,),
                        min_replica_devices=6)
    assert all(c.replica_devices >= 6 for c in space.shapes())
    table = ConfigTable.build(model=model_preset("gpt-1.3b"), hardware=g4dn_hardware(),
                              request=RequestShape(prompt_tokens=64, output_tokens=8,
                                                   max_context=128), space=space)
    assert table.floor == 6
    assert table.choose(num_devices=5, arrival_rate=1.0) is None
    with pytest.raises(SpecError, match="min_replica_devices"):
        ConfigSpace(min_replica_devices=0)
