"""Config selection: the per-plan row cache equals selecting each model's config afresh."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alpaserve.parallel_config import ParallelConfig, StageConfig
from alpaserve.profiles import ProfileDB, ProfileEntry
from placement._examples import tiny_model, tiny_profiles
from placement.config_select import ShapeRowCache, select_entry, shape_rows
from placement.eval_inputs import EvalOptions
from placement.partitions import GroupShape

SHAPES = [GroupShape(pipeline=p, tensor=t) for p, t in
          [(1, 1), (2, 1), (1, 2), (4, 1), (2, 2), (1, 4), (8, 1)]]


def _split_entries(name: str) -> list[ProfileEntry]:
    """Two pp2 configs: the even split has the faster slowest stage (0.03 s, 0.06 s in
    all), the uneven one the lower total (0.055 s): an SLO between picks the uneven one."""
    out = []
    for cfg, lat in ((ParallelConfig.uniform(num_layers=4, pipeline_degree=2), (0.03, 0.03)),
                     (ParallelConfig(stages=(StageConfig(layer_start=0, layer_end=1),
                                             StageConfig(layer_start=1, layer_end=4))),
                      (0.01, 0.045))):
        out.append(ProfileEntry(model=name, config=cfg, batch_size=1, stage_latencies=lat,
                                stage_weight_bytes=(10, 20), stage_peak_memory_bytes=(11, 21),
                                source="measured"))
    return out


def _profiles(slow: dict[str, float]) -> tuple[list, ProfileDB]:
    """Copies ``a``/``b``, ``c`` with slower entries, ``d`` with fewer; copies ``e``/``f``
    whose choice on pp2-tp1 depends on the SLO."""
    models = [tiny_model(n) for n in "abcdef"]
    db = tiny_profiles(models[:2])
    db.update(tiny_profiles([models[2]], latency=slow.get("c", 0.1)))
    db.update(tiny_profiles([models[3]], latency=slow.get("d", 0.1), max_group=2))
    db.update(_split_entries("e") + _split_entries("f"))
    return models, db


def _fresh(models, db, shape, opts, slo, capacity):
    """Rows computed model by model with select_entry: the definition."""
    out = []
    for m in models:
        e = select_entry(db, m, shape, None if slo is None else slo.get(m.name))
        if e is None:
            out.append((None, None, None, False))
            continue
        mem = db.stage_weights(m, e.config)[0]
        out.append((e.config, opts.inflate(e.stage_latencies), mem, max(mem) <= capacity))
    return out


@settings(max_examples=25, deadline=None)
@given(slow_c=st.sampled_from([0.1, 0.2]), slo_a=st.sampled_from([None, 0.05, 0.3]),
       slo_e=st.sampled_from([0.058, 0.3]), inflation=st.sampled_from([0.0, 0.01]),
       capacity=st.sampled_from([15, 10**9]))
def test_cache_rows_equal_fresh_selection(slow_c, slo_a, slo_e, inflation, capacity):
    models, db = _profiles({"c": slow_c})
    slo = None if slo_a is None else {"a": slo_a, "b": 0.3, "c": 0.3, "d": 0.3, "e": slo_e,
                                      "f": 0.3}
    opts = EvalOptions(stage_inflation=inflation)
    cache = ShapeRowCache(models=models, profiles=db, options=opts, slo=slo,
                          capacity=capacity)
    for shape in SHAPES:
        rows = cache.rows(shape)
        assert rows is cache.rows(shape)  # memoised
        for m, (cfg, lat, mem, ok) in enumerate(_fresh(models, db, shape, opts, slo,
                                                       capacity)):
            assert rows.configs[m] == cfg
            assert bool(rows.feasible[m]) == ok
            if cfg is None:
                assert not rows.latency[m].any()
                assert not rows.memory[m].any()
            else:
                assert rows.latency[m].tolist() == list(lat)
                assert rows.memory[m].tolist() == list(mem)
        plain = shape_rows(models=models, shape=shape, profiles=db, options=opts, slo=slo,
                           capacity=capacity)
        assert plain.configs == rows.configs
        assert np.array_equal(plain.latency, rows.latency)
        assert np.array_equal(plain.memory, rows.memory)


def test_copies_share_one_class_and_differences_split_them():
    models, db = _profiles({"c": 0.2})
    cache = ShapeRowCache(models=models, profiles=db, options=EvalOptions(), slo=None,
                          capacity=10**9)
    # a and b are copies; c is slower; d has fewer configs; e and f are copies
    assert cache.num_classes == 4
    slo = {"a": 0.05, "b": 0.3, "c": 0.3, "d": 0.3, "e": 0.058, "f": 0.3}
    split = ShapeRowCache(models=models, profiles=db, options=EvalOptions(), slo=slo,
                          capacity=10**9)
    assert split.num_classes == 6  # a's SLO differs from b's, e's from f's
    rows = split.rows(GroupShape(pipeline=2, tensor=1))
    assert rows.latency[4].tolist() == [0.01, 0.045]  # e: the config within its SLO
    assert rows.latency[5].tolist() == [0.03, 0.03]  # f: the faster slowest stage


def test_measured_weights_are_the_rows_memory():
    m = tiny_model("a")
    base = tiny_profiles([m])
    db = ProfileDB()
    for e in base:  # the profile says each stage holds 7 bytes, whatever the model says
        db.add(ProfileEntry(model=e.model, config=e.config, batch_size=1,
                            stage_latencies=e.stage_latencies,
                            stage_weight_bytes=(7,) * e.config.pipeline_degree,
                            stage_peak_memory_bytes=(8,) * e.config.pipeline_degree,
                            source="measured"))
    rows = ShapeRowCache(models=[m], profiles=db, options=EvalOptions(), slo=None,
                         capacity=10).rows(GroupShape(pipeline=2, tensor=1))
    assert rows.memory.tolist() == [[7, 7]]
    assert rows.feasible.tolist() == [True]
