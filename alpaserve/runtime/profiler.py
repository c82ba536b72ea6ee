"""Measure stage latencies and per-device memory of real pipelines into a :class:`ProfileDB`.

A stage's latency is timed the way the runtime runs it: move the previous stage's output (or
the host's token ids, for stage 0) onto the stage's devices, run its program, and block until
the result is ready. Each stage is timed alone, after ``warmup`` untimed runs (the first one
compiles), as the median of ``repeats`` runs; ``latency_std`` is the standard deviation of
the per-run total. Weight bytes are summed over the shards actually placed on each device;
the peak adds XLA's own accounting of the compiled program's activations (``temp`` plus
output bytes) when the backend reports it.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from alpaserve._validation import positive_int
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB, ProfileEntry
from alpaserve.runtime.model import ModelPipeline, StageProgram, build_pipeline
from alpaserve.runtime.weights import random_tokens

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class StageTimings:
    """Per-stage medians and the spread of one pipeline at one batch size.

    Parameters
    ----------
    medians : tuple of float
        Median seconds of each stage.
    total_std : float
        Standard deviation of the whole pipeline's time over the repeats.
    samples : tuple of tuple of float
        Every timed sample, per stage.
    """

    medians: tuple[float, ...]
    total_std: float
    samples: tuple[tuple[float, ...], ...]


def forward_flops(spec: ModelSpec, batch_size: int) -> float:
    """Matmul FLOPs of one forward pass (projections, FFN and attention scores).

    Parameters
    ----------
    spec : ModelSpec
        The model.
    batch_size : int
        Requests per batch.

    Returns
    -------
    float
        FLOPs (2 per multiply-add).

    Examples
    --------
    >>> spec = ModelSpec(name="t", family="bert", num_layers=1, hidden_size=2, num_heads=1,
    ...                  ffn_size=4, vocab_size=3, seq_len=1)
    >>> forward_flops(spec, 1)  # 2*(4*2*2 + 2*2*4) + 4*1*1*2
    72.0
    """
    h, f, s = spec.hidden_size, spec.ffn_size, spec.seq_len
    tokens = batch_size * s
    per_layer = 2.0 * tokens * (4 * h * h + 2 * h * f) + 4.0 * batch_size * s * s * h
    return per_layer * spec.num_layers


def time_stages(pipeline: ModelPipeline, tokens: Any, *, warmup: int = 2, repeats: int = 5,
                clock: Callable[[], float] = time.perf_counter) -> StageTimings:
    """Time every stage of ``pipeline`` on ``tokens`` (see the module docstring).

    Parameters
    ----------
    pipeline : ModelPipeline
        A built pipeline.
    tokens : array_like
        Token ids ``(batch, seq_len)``.
    warmup : int, default 2
        Untimed runs first (at least 1, so compilation is never timed).
    repeats : int, default 5
        Timed runs; medians are kept.
    clock : callable, default time.perf_counter
        The clock.

    Returns
    -------
    StageTimings
        Per-stage medians and samples.

    Raises
    ------
    SpecError
        When ``warmup`` or ``repeats`` is not a positive integer.
    """
    positive_int("time_stages", "repeats", repeats)
    positive_int("time_stages", "warmup", warmup)  # >= 1 so compilation is never timed
    inputs: list[Any] = [tokens]
    for stage in pipeline.stages:  # each stage's input is the previous stage's real output
        inputs.append(stage(stage.place(inputs[-1])).block_until_ready())
    samples = []
    for stage, x in zip(pipeline.stages, inputs, strict=False):
        for _ in range(warmup):
            stage(stage.place(x)).block_until_ready()
        runs = []
        for _ in range(repeats):
            t0 = clock()
            stage(stage.place(x)).block_until_ready()
            runs.append(clock() - t0)
        samples.append(tuple(runs))
    totals = [sum(run) for run in zip(*samples, strict=True)]
    return StageTimings(medians=tuple(statistics.median(s) for s in samples),
                        total_std=statistics.pstdev(totals) if len(totals) > 1 else 0.0,
                        samples=tuple(samples))


def stage_peak_memory(stage: StageProgram, x: Any) -> int:
    """Weights on the busiest device plus the compiled program's activation bytes.

    Parameters
    ----------
    stage : StageProgram
        A built stage.
    x : array_like
        An input of the batch size to size the program for.

    Returns
    -------
    int
        Bytes; the weights alone when the backend reports no memory analysis.
    """
    weights = stage.weight_bytes
    try:
        stats = stage.lower(stage.place(x)).compile().memory_analysis()
        extra = int(stats.temp_size_in_bytes) + int(stats.output_size_in_bytes)
    except (AttributeError, NotImplementedError, TypeError):  # backend without the analysis
        extra = int(x.size) * int(x.dtype.itemsize)
    return weights + max(extra, 0)


def profile_pipeline(pipeline: ModelPipeline, batch_sizes: Iterable[int], *, warmup: int = 2,
                     repeats: int = 5, seed: int = 0) -> list[ProfileEntry]:
    """One ``source="measured"`` entry per batch size for an already-built pipeline.

    Parameters
    ----------
    pipeline : ModelPipeline
        A built pipeline.
    batch_sizes : iterable of int
        Batch sizes to measure.
    warmup : int, default 2
        Untimed runs first (at least 1, so compilation is never timed).
    repeats : int, default 5
        Timed runs; medians are kept.
    seed : int, default 0
        Seed of the random token ids.

    Returns
    -------
    list of ProfileEntry
        Stage latencies, per-stage weight and peak memory, ``source="measured"``.
    """
    entries = []
    spec = pipeline.spec
    for bs in batch_sizes:
        positive_int("profile_pipeline", "batch_size", bs)
        tokens = random_tokens(spec, bs, seed)
        timings = time_stages(pipeline, tokens, warmup=warmup, repeats=repeats)
        peaks, x = [], tokens
        for stage in pipeline.stages:
            peaks.append(stage_peak_memory(stage, x))
            x = stage(stage.place(x))
        total = sum(timings.medians)
        entries.append(ProfileEntry(
            model=spec.name, config=pipeline.config, batch_size=bs,
            stage_latencies=timings.medians,
            stage_weight_bytes=pipeline.stage_weight_bytes,
            stage_peak_memory_bytes=tuple(peaks), source="measured",
            latency_std=timings.total_std,
            tflops=forward_flops(spec, bs) / total / 1e12))
        logger.info("profiled %s %s bs=%d: stages %s", spec.name, pipeline.config.key, bs,
                    [f"{t * 1e3:.2f}ms" for t in timings.medians])
    return entries


def profile_model(spec: ModelSpec, configs: Iterable[ParallelConfig], devices: Sequence[Any],
                  batch_sizes: Iterable[int] = (1,), *, warmup: int = 2, repeats: int = 5,
                  seed: int = 0, dtype: Any = None, db: ProfileDB | None = None,
                  progress: Callable[[str], None] | None = None) -> ProfileDB:
    """Build ``spec`` under each config on ``devices`` and measure it at each batch size.

    Each config uses the first ``config.num_devices`` of ``devices``. Entries are added to
    ``db`` (a new database by default), which is returned.

    Parameters
    ----------
    spec : ModelSpec
        A dense BERT or GPT model.
    configs : iterable of ParallelConfig
        Configurations to build and measure.
    devices : sequence of jax.Device
        Devices; each config takes the first ``config.num_devices``.
    batch_sizes : iterable of int, default (1,)
        Batch sizes to measure.
    warmup : int, default 2
        Untimed runs first (at least 1, so compilation is never timed).
    repeats : int, default 5
        Timed runs; medians are kept.
    seed : int, default 0
        Seed of the weights and tokens.
    dtype : optional
        JAX dtype; from the spec by default.
    db : ProfileDB, optional
        Database to add to; a new one by default.
    progress : callable, optional
        Called with a line of text before each config is built and after it is measured
        (the CLI prints them on stderr); building a large model takes minutes on a CPU.

    Returns
    -------
    ProfileDB
        ``db`` with the measured entries.
    """
    out = db if db is not None else ProfileDB()
    sizes = list(batch_sizes)
    configs = list(configs)
    say = progress if progress is not None else logger.info
    for i, config in enumerate(configs, 1):
        began = time.perf_counter()
        say(f"[{i}/{len(configs)}] {spec.name} {config.key}: placing weights and compiling")
        pipeline = build_pipeline(spec, config, devices, seed=seed, dtype=dtype)
        entries = profile_pipeline(pipeline, sizes, warmup=warmup, repeats=repeats, seed=seed)
        out.update(entries)
        total = ", ".join(f"bs={e.batch_size} {1e3 * sum(e.stage_latencies):.2f} ms"
                          for e in entries)
        say(f"[{i}/{len(configs)}] {spec.name} {config.key}: {total} "
            f"({time.perf_counter() - began:.1f} s)")
    return out
