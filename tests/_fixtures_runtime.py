"""Shared helpers for the runtime tests: 8 virtual CPU devices and tiny models."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from alpaserve.model_spec import ModelSpec
from alpaserve.runtime.host_load import HostLoad
from alpaserve.runtime.stationarity import Stationarity
from workloads import Workload

NUM_DEVICES = 8


def cpu_devices() -> list[Any]:
    """The 8 virtual CPU devices (JAX must not have started with another count)."""
    pytest.importorskip("jax", reason="the runtime tests need the 'runtime' extra (jax)")
    from alpaserve.runtime.devices import use_cpu_devices

    return use_cpu_devices(NUM_DEVICES)


def tiny_spec(name: str = "tiny", family: str = "bert", **kw: Any) -> ModelSpec:
    fields: dict[str, Any] = {"num_layers": 4, "hidden_size": 64, "num_heads": 4,
                              "ffn_size": 256, "vocab_size": 512, "seq_len": 16,
                              "dtype_bytes": 4}
    fields.update(kw)
    return ModelSpec(name=name, family=family, **fields)  # type: ignore[arg-type]


def gamma_workload(*, rate: float, cv: float, n: int, models: list[str], seed: int,
                   weights: list[float] | None = None) -> Workload:
    """``n`` Gamma arrivals (shape 1/cv^2, scale cv^2/rate) with models drawn at random."""
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.gamma(1.0 / cv**2, cv**2 / rate, n))
    return Workload.from_arrays(arrival=arrival, model=rng.choice(models, n, p=weights),
                                model_names=models)


# Host readings for the stationarity and retry tests (no real time).
QUIET = HostLoad(wall=3.0, other_cores=0.01, steal_cores=0.0, own_cores=0.2)
BUSY = HostLoad(wall=3.0, other_cores=0.95, steal_cores=0.02, own_cores=0.2)


def seen(drift: float, load: HostLoad = QUIET) -> Stationarity:
    return Stationarity(drift={"a/pp1-tp1/bs1": drift}, load=load)
