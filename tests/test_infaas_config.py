"""InfaasConfig validation."""

from __future__ import annotations

import pytest

from alpaserve.errors import SpecError
from placement.modelless.config import InfaasConfig


def test_defaults() -> None:
    cfg = InfaasConfig()
    assert cfg.utilization_threshold == 0.8
    assert cfg.lookahead == 0.0


@pytest.mark.parametrize(("field", "value"), [
    ("utilization_threshold", 0.0), ("colocate_below", 2.0), ("interference_factor", 1.0),
    ("switch_margin", 1.0), ("max_backoff", 0.5), ("rate_window", 0.0),
    ("max_wait_factor", -1.0), ("scale_down_period", -1.0), ("lookahead", float("inf")),
])
def test_errors_name_the_field(field: str, value: float) -> None:
    with pytest.raises(SpecError, match=field):
        InfaasConfig(**{field: value})
