from __future__ import annotations

import pytest

from alpaserve.parallel.layouts import REPLICATED, reshard_time
from alpaserve.parallel.logical_mesh import LogicalMesh


def test_reshard_costs() -> None:
    mesh = LogicalMesh.uniform((1, 4), bandwidth=1e9, latency=0.0)
    row_split = ((1,), ())
    col_split = ((), (1,))
    assert reshard_time(REPLICATED, row_split, 4e9, mesh) == 0.0
    assert reshard_time(row_split, REPLICATED, 4e9, mesh) == pytest.approx(3.0)  # gather 3 GB
    assert reshard_time(row_split, col_split, 4e9, mesh) == pytest.approx(0.75)  # all-to-all
