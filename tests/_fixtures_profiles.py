"""Measured-style profiles in AlpaServe's TSV whose weights differ from the analytic specs."""

from __future__ import annotations

from collections.abc import Sequence

from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB, ProfileEntry


def measured_tsv(models: Sequence[ModelSpec], *, weight_scale: float, latency: float = 0.1,
                 pipelines: Sequence[int] = (1, 2, 4, 8)) -> str:
    """A TSV with pipelines of one-device stages; weights are ``weight_scale`` × the spec's,
    split evenly (the spec puts the embeddings on stage 0)."""
    db = ProfileDB()
    for m in models:
        for p in pipelines:
            cfg = ParallelConfig.uniform(num_layers=m.num_layers, pipeline_degree=p)
            per_stage = int(m.weight_bytes * weight_scale / p)
            db.add(ProfileEntry(model=m.name, config=cfg, batch_size=1,
                                stage_latencies=(latency * 1.02 / p,) * p,
                                stage_weight_bytes=(per_stage,) * p,
                                stage_peak_memory_bytes=(per_stage + 10**8,) * p,
                                source="measured"))
    return db.to_tsv()


def measured_profiles(models: Sequence[ModelSpec], *, weight_scale: float,
                      latency: float = 0.1) -> ProfileDB:
    """:func:`measured_tsv`, imported the way a user imports AlpaServe's file."""
    return ProfileDB.from_tsv(measured_tsv(models, weight_scale=weight_scale, latency=latency),
                              {m.name: m for m in models})


def scaled_weights(db: ProfileDB, scale: float) -> ProfileDB:
    """``db`` with every entry's weights (and peaks) times ``scale``, marked measured."""
    out = ProfileDB()
    for e in db:
        out.add(ProfileEntry(model=e.model, config=e.config, batch_size=e.batch_size,
                             stage_latencies=e.stage_latencies,
                             stage_weight_bytes=tuple(int(b * scale)
                                                      for b in e.stage_weight_bytes),
                             stage_peak_memory_bytes=tuple(int(b * scale)
                                                           for b in e.stage_peak_memory_bytes),
                             source="measured"))
    return out
