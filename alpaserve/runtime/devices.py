"""Choosing the JAX devices the runtime runs on."""

from __future__ import annotations

import logging
from typing import Any

from alpaserve._validation import positive_int
from alpaserve.errors import ExecutionError

logger = logging.getLogger(__name__)


def use_cpu_devices(count: int) -> list[Any]:
    """Run on ``count`` virtual CPU devices and return them.

    Must be called before JAX initialises its backends (before the first ``jax.devices()``
    or computation in the process); afterwards it only succeeds if the count already matches.

    Parameters
    ----------
    count : int
        Number of virtual CPU devices (a positive integer).

    Returns
    -------
    list
        The ``count`` JAX CPU devices.

    Raises
    ------
    ExecutionError
        When JAX already initialised with another device count.
    """
    positive_int("use_cpu_devices", "count", count)
    import jax

    try:
        jax.config.update("jax_platforms", "cpu")
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError as exc:  # backends already initialised
        logger.debug("cannot reconfigure JAX devices: %s", exc)
    devices = jax.devices("cpu")
    if len(devices) != count:
        raise ExecutionError(f"asked for {count} CPU devices but JAX already runs with "
                             f"{len(devices)}; set it before any JAX computation (or set "
                             f"XLA_FLAGS=--xla_force_host_platform_device_count={count})")
    return list(devices)
