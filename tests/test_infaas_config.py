"""InfaasConfig validation."""

from __future__ import annotations

import pytest

from alpaserve.errors import SpecError
from placement.modelless.config import Expectation, InfaasConfig


def test_defaults() -> None:
    cfg = InfaasConfig()
    assert cfg.utilization_threshold == 0.8
    assert cfg.lookahead is None  # automatic: the longest provisioning time
    assert InfaasConfig(lookahead=0.0).lookahead == 0.0


@pytest.mark.parametrize(("field", "value"), [
    ("utilization_threshold", 0.0), ("colocate_below", 2.0), ("interference_factor", 1.0),
    ("switch_margin", 1.0), ("max_backoff", 0.5), ("rate_window", 0.0),
    ("max_wait_factor", -1.0), ("scale_down_period", -1.0), ("lookahead", float("inf")),
])
def test_errors_name_the_field(field: str, value: float) -> None:
    with pytest.raises(SpecError, match=field):
        InfaasConfig(**{field: value})


@pytest.mark.parametrize(("field", "value"), [
    ("task", ""), ("rate", -1.0), ("rate", float("nan")), ("slo", 0.0), ("min_accuracy", 101.0),
])
def test_expectation_errors_name_the_field(field: str, value: object) -> None:
    args: dict[str, object] = {"task": "t", "rate": 1.0, "slo": 0.2, "min_accuracy": 70.0}
    args[field] = value
    with pytest.raises(SpecError, match=field):
        Expectation(**args)  # type: ignore[arg-type]
