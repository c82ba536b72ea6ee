"""Model variants fitted from a profile database (measured, or the analytic cost model's).

:func:`variants_from_profiles` turns each (model, parallel config) of a
:class:`~alpaserve.profiles.ProfileDB` into a :class:`~alpaserve.modelless.variants.Variant`
that a :class:`~alpaserve.modelless.registry.VariantRegistry` can hold.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from alpaserve.errors import ProfileError
from alpaserve.modelless.latency_fit import fit_latency
from alpaserve.modelless.variants import HardwareType, Variant
from alpaserve.profiles import ProfileDB

logger = logging.getLogger(__name__)


def variants_from_profiles(db: ProfileDB, *, task: str, hardware: HardwareType,
                           accuracy: Mapping[str, float], framework: str = "alpa",
                           load_bandwidth: float = 2e9, load_overhead: float = 0.5,
                           devices_per_worker: int = 1,
                           models: Sequence[str] | None = None) -> list[Variant]:
    """Variants fitted from a profile database (measured, or the analytic cost model's).

    For every (model, parallel config) in ``db`` the latency line is fitted from its
    entries' end-to-end latencies over the profiled batch sizes; the peak memory is the
    largest per-device stage peak; the load latency is ``load_overhead`` plus the weights
    over ``load_bandwidth`` (bytes/s); ``max_batch`` is the largest profiled batch size.
    ``accuracy`` gives each model's top-1 accuracy; models missing from it are an error.
    ``hardware`` is one worker with ``devices_per_worker`` devices: only configs that use
    exactly that many devices become variants (the others are counted and logged).

    Parameters
    ----------
    db : ProfileDB
        The profiles.
    task : str
        Task of the variants.
    hardware : HardwareType
        The worker type they run on.
    accuracy : mapping of str to float
        Top-1 accuracy (percent) of each model.
    framework : str
        Framework name of the variants.
    load_bandwidth : float
        Bytes per second at which weights load.
    load_overhead : float
        Seconds added to every load.
    devices_per_worker : int
        Devices of one worker; only configs using exactly that many become variants.
    models : sequence of str or None
        Models to take; None: all of ``db``'s.

    Returns
    -------
    list of Variant
        One per (model, parallel config) kept, named ``{model}-pp{p}-tp{t}-{hardware}``.

    Raises
    ------
    SpecError
        If a model has no accuracy or no profile.

    Examples
    --------
    >>> from alpaserve.parallel_config import ParallelConfig
    >>> from alpaserve.profiles import ProfileEntry
    >>> cfg = ParallelConfig.uniform(num_layers=2)
    >>> db = ProfileDB(ProfileEntry(model="m", config=cfg, batch_size=b,
    ...                             stage_latencies=(0.01 + 0.002 * b,),
    ...                             stage_weight_bytes=(10**9,),
    ...                             stage_peak_memory_bytes=(2 * 10**9,), source="analytic")
    ...                for b in (1, 2, 4))
    >>> hw = HardwareType(name="v100", kind="gpu", price_per_hour=3.06, startup_time=40,
    ...                   memory_bytes=16 << 30)
    >>> [v] = variants_from_profiles(db, task="t", hardware=hw, accuracy={"m": 80.0})
    >>> v.name, round(v.latency_slope, 4), v.max_batch, v.load_latency
    ('m-pp1-tp1-v100', 0.002, 4, 1.0)
    """
    out: list[Variant] = []
    skipped = 0
    names = sorted(db.models()) if models is None else list(models)
    for model in names:
        if model not in accuracy:
            raise ProfileError(f"no accuracy given for model {model!r}; "
                               f"given: {sorted(accuracy)}")
        configs = db.configs(model)
        if not configs:
            raise ProfileError(f"profile database has no entries for model {model!r}")
        for cfg in configs:
            if cfg.num_devices != devices_per_worker:
                skipped += 1
                continue
            sizes = db.batch_sizes(model, cfg)
            entries = [db.get(model, cfg, b) for b in sizes]
            fit = fit_latency(sizes, [e.total_latency for e in entries])
            weights = sum(w * d for w, d in zip(entries[0].stage_weight_bytes,
                                                cfg.tensor_degrees, strict=True))
            out.append(Variant(
                task=task, name=f"{model}-{cfg.key}-{hardware.name}", architecture=model,
                framework=framework, hardware=hardware.name, accuracy=float(accuracy[model]),
                latency_slope=fit.slope, latency_intercept=fit.intercept,
                load_latency=load_overhead + weights / load_bandwidth,
                peak_memory_bytes=max(max(e.stage_peak_memory_bytes) for e in entries) or 1,
                max_batch=max(sizes), price_per_hour=hardware.price_per_hour,
            ))
    if skipped:
        logger.info("variants_from_profiles: skipped %d configs that do not use %d device(s)",
                    skipped, devices_per_worker)
    return out
