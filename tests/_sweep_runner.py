"""A cheap, deterministic sweep runner for tests (importable by worker processes)."""

from __future__ import annotations

import time

import numpy as np

from alpaserve.sweep.runner import SweepCase


def synthetic_runner(case: SweepCase) -> dict[str, float]:
    rng = np.random.default_rng([case.seed, case.devices, int(case.cv_scale * 1000)])
    delay = float(case.settings.get("sleep_s", 0.0))
    if delay:
        time.sleep(delay)
    return {"attainment": float(rng.uniform()), "p99": float(rng.exponential())}


def failing_runner(case: SweepCase) -> dict[str, float]:
    from alpaserve.errors import InfeasibleError

    if case.devices == 2:
        raise InfeasibleError("2 devices cannot hold the models")
    return synthetic_runner(case)


def value_error_runner(case: SweepCase) -> dict[str, float]:
    raise ValueError("no such policy")
