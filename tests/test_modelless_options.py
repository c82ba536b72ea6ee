"""Options of the model-less simulation: every bad value is named."""

from __future__ import annotations

import math
import re

import pytest

from alpaserve.errors import SimulationError
from simulator.modelless.options import Interference, ModellessSimConfig


def test_defaults_and_interference() -> None:
    noisy = Interference(worker=0, start=1.0, end=2.0, factor=3.0)
    config = ModellessSimConfig(interference=(noisy,))
    assert (config.monitor_interval, config.horizon, config.drain_limit) == (2.0, None, 600.0)
    assert config.interference[0].factor == 3.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"monitor_interval": 0.0}, "monitor_interval must be positive, got 0.0"),
    ({"monitor_interval": math.inf}, "monitor_interval must be positive, got inf"),
    ({"horizon": -1.0}, "horizon must be positive, got -1.0"),
    ({"drain_limit": -0.5}, "drain_limit must be >= 0, got -0.5"),
    ({"max_workers": 0}, "max_workers must be >= 1, got 0"),
])
def test_bad_config_is_named(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(SimulationError, match=re.escape(message)):
        ModellessSimConfig(**kwargs)  # type: ignore[arg-type]


def test_bad_interference_is_named() -> None:
    with pytest.raises(SimulationError, match=r"interference factor must be >= 1, got 0\.5"):
        Interference(worker=0, start=0.0, end=1.0, factor=0.5)
    with pytest.raises(SimulationError, match=r"interference end 1\.0 must exceed start 1\.0"):
        Interference(worker=0, start=1.0, end=1.0, factor=2.0)
