"""The profile database: entries, queries, JSON and AlpaServe TSV round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.errors import ProfileError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig, StageConfig
from alpaserve.profiles import TSV_COLUMNS, ProfileDB, ProfileEntry
from tests._fixtures_foundation import profile_entries

SPEC = ModelSpec(name="m", family="bert", num_layers=8, hidden_size=64, num_heads=8,
                 ffn_size=256, vocab_size=100, seq_len=16)
CFG = ParallelConfig.uniform(num_layers=8, pipeline_degree=2)


def entry(**kw: object) -> ProfileEntry:
    base: dict[str, object] = dict(model="m", config=CFG, batch_size=1,
                                   stage_latencies=(0.1, 0.2), stage_weight_bytes=(10, 20),
                                   stage_peak_memory_bytes=(30, 40), source="analytic")
    return ProfileEntry(**{**base, **kw})  # type: ignore[arg-type]


def test_entry_properties_and_coercion() -> None:
    import numpy as np

    e = entry(stage_latencies=np.array([0.1, 0.2]), stage_weight_bytes=[np.int64(10), 20])
    assert e.stage_latencies == (0.1, 0.2)
    assert type(e.stage_latencies[0]) is float
    assert e.stage_weight_bytes == (10, 20)
    assert type(e.stage_weight_bytes[0]) is int
    assert e.total_latency == pytest.approx(0.3)
    assert e.max_stage_latency == 0.2


@pytest.mark.parametrize(("kw", "match"), [
    ({"batch_size": 0}, "batch_size.*0"),
    ({"source": "guess"}, "source.*'guess'"),
    ({"stage_latencies": (0.1,)}, "stage_latencies has 1 values for 2 stages"),
    ({"stage_latencies": (0.1, -0.2)}, r"positive and finite, got \(0.1, -0.2\)"),
    ({"stage_latencies": (0.1, float("nan"))}, "positive and finite"),
    ({"stage_weight_bytes": (1, -1)}, r"stage_weight_bytes must be non-negative ints.*-1"),
    ({"stage_peak_memory_bytes": (1, 2.5)}, "stage_peak_memory_bytes must be non-negative"),
    ({"latency_std": -1.0}, "latency_std.*-1.0"),
    ({"model": ""}, "model"),
    ({"config": "pp2"}, "must be a ParallelConfig, got 'pp2'"),
])
def test_invalid_entries(kw: dict[str, object], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        entry(**kw)


def test_db_queries() -> None:
    one = ParallelConfig.uniform(num_layers=8)
    db = ProfileDB([entry(), entry(batch_size=4),
                    entry(config=one, stage_latencies=(0.3,), stage_weight_bytes=(30,),
                          stage_peak_memory_bytes=(70,))])
    assert len(db) == 3
    assert db.models() == {"m"}
    assert db.configs("m") == [CFG, one]
    assert db.batch_sizes("m", CFG) == [1, 4]
    assert db.stage_latencies("m", CFG, 4) == (0.1, 0.2)
    assert ("m", CFG, 1) in db
    with pytest.raises(ProfileError, match="batch size 2; profiled sizes: \\[1, 4\\]"):
        db.get("m", CFG, 2)
    with pytest.raises(ProfileError, match=r"model 'x' config pp2-tp1; profiled configs: none"):
        db.get("x", CFG)
    with pytest.raises(ProfileError, match=r"already exists"):
        db.add(entry(), replace=False)
    db.add(entry(stage_latencies=(0.5, 0.5)))
    assert db.get("m", CFG).total_latency == 1.0
    assert len(db) == 3
    with pytest.raises(SpecError, match=r"holds ProfileEntry"):
        db.add("entry")  # type: ignore[arg-type]


@given(st.lists(profile_entries(), max_size=6))
def test_json_round_trip(entries: list[ProfileEntry]) -> None:
    db = ProfileDB(entries)
    assert ProfileDB.from_json(db.to_json()) == db


@given(st.lists(profile_entries(uniform=True), max_size=6))
def test_tsv_round_trip(entries: list[ProfileEntry]) -> None:
    db = ProfileDB(entries)
    again = ProfileDB.from_tsv(db.to_tsv(), {"m": SPEC}, source="measured")
    assert len(again) == len(db)
    for e in db:
        got = again.get(e.model, e.config, e.batch_size)
        assert got.stage_latencies == e.stage_latencies
        assert got.stage_weight_bytes == e.stage_weight_bytes
        assert got.stage_peak_memory_bytes == e.stage_peak_memory_bytes
        assert (got.latency_std, got.tflops) == (e.latency_std, e.tflops)
        assert got.source == "measured"


def test_tsv_refuses_what_it_cannot_express(caplog: pytest.LogCaptureFixture) -> None:
    odd = ParallelConfig(stages=(StageConfig(layer_start=0, layer_end=1),
                                 StageConfig(layer_start=1, layer_end=8)))
    db = ProfileDB([entry(), entry(config=odd)])
    with pytest.raises(ProfileError, match=r"not a uniform pipeline"):
        db.to_tsv()
    text = db.to_tsv(skip_inexpressible=True)
    assert len(text.splitlines()) == 2
    assert "left 1 of 2 profile entries out" in caplog.text


def test_tsv_header_matches_alpaserve() -> None:
    header = ProfileDB([entry()]).to_tsv().splitlines()[0].split("\t")
    assert header == ["ModelName", "BS", "#Microbatch", "DP", "OP", "PP", "#GPU", "MeanTime(s)",
                      "StdTime(s)", "TFLOPs", "StageWeights(B)", "StagePeakMem(B)",
                      "StageLatencies(s)"]


def _row(**kw: str) -> str:
    rec = dict(zip(TSV_COLUMNS, ["m", "1", "1", "1", "1", "2", "2", "0.3", "0", "1",
                                 "[10, 20]", "[30, 40]", "[0.1, 0.2]"], strict=True))
    rec.update(kw)
    return "\t".join(TSV_COLUMNS) + "\n" + "\t".join(rec.values()) + "\n"


@pytest.mark.parametrize(("kw", "match"), [
    ({"ModelName": "zz"}, "line 2: model 'zz' has no spec"),
    ({"BS": "x"}, "column 'BS' is not a number: 'x'"),
    ({"BS": "1.5"}, "column 'BS' is not an integer: '1.5'"),
    ({"DP": "2", "#GPU": "4"}, "DP=2 is not supported"),
    ({"#GPU": "3"}, "#GPU=3 is not DP×OP×PP=2"),
    ({"StageLatencies(s)": "[0.1"}, "'StageLatencies\\(s\\)' is not a list"),
    ({"StageLatencies(s)": "[0.1]"}, "stage_latencies has 1 values for 2 stages"),
    ({"OP": "3", "#GPU": "6"}, None),
    ({"StdTime(s)": "nan"}, "column 'StdTime\\(s\\)' is not finite"),
    ({"StageLatencies(s)": "['a', 'b']"}, "line 2: could not convert"),
    ({"StageWeights(B)": "[1e400, 1]"}, "line 2: cannot convert float infinity"),
    ({"StageWeights(B)": "[" * 3000 + "]" * 3000}, "'StageWeights\\(B\\)' is not a list"),
])
def test_tsv_errors_name_line_and_column(kw: dict[str, str], match: str | None) -> None:
    text = _row(**kw)
    if match is None:  # OP=3 is a valid TSV row; the config is checked against models later
        assert len(ProfileDB.from_tsv(text, {"m": SPEC})) == 1
        return
    with pytest.raises(ProfileError, match=match):
        ProfileDB.from_tsv(text, {"m": SPEC}, path="prof.tsv")


def test_tsv_bad_header_and_json_errors() -> None:
    with pytest.raises(ProfileError, match=r"header must be"):
        ProfileDB.from_tsv("a\tb\n", {"m": SPEC})
    with pytest.raises(ProfileError, match=r"expected 13 columns, got 2"):
        ProfileDB.from_tsv("\t".join(TSV_COLUMNS) + "\na\tb\n", {"m": SPEC})
    with pytest.raises(SpecError, match=r"format_version 7"):
        ProfileDB.from_dict({"format_version": 7, "entries": []})
    with pytest.raises(SpecError, match=r"must be a JSON object, got list"):
        ProfileDB.from_json("[]")
    with pytest.raises(SpecError, match=r"malformed"):
        ProfileDB.from_json("{")


def test_tsv_accepts_a_bom_and_blank_lines() -> None:
    text = "\ufeff" + _row() + "\n   \n"
    assert len(ProfileDB.from_tsv(text, {"m": SPEC})) == 1


def _three_configs() -> ProfileDB:
    db = ProfileDB()
    for p in (1, 2, 4):
        cfg = ParallelConfig.uniform(num_layers=8, pipeline_degree=p)
        for b in (4, 1, 2):
            db.add(ProfileEntry(model="m", config=cfg, batch_size=b,
                                stage_latencies=(0.1 * b / p,) * p,
                                stage_weight_bytes=(100 // p + b,) * p,
                                stage_peak_memory_bytes=(200,) * p, source="measured"))
    return db


def test_index_answers_by_model_config_and_batch() -> None:
    db = _three_configs()
    cfgs = db.configs("m")
    assert [c.pipeline_degree for c in cfgs] == [1, 2, 4]
    assert db.batch_sizes("m", cfgs[1]) == [1, 2, 4]
    assert [e.batch_size for e in db.entries("m", 2)] == [2, 2, 2]
    assert len(db.entries("m")) == 9
    assert db.configs("other") == []
    assert db.entries("other") == []
    # weights are those of the smallest profiled batch; replacing an entry keeps the index
    assert db.memory_entry("m", cfgs[0]).batch_size == 1
    db.add(ProfileEntry(model="m", config=cfgs[0], batch_size=1, stage_latencies=(0.5,),
                        stage_weight_bytes=(7,), stage_peak_memory_bytes=(9,),
                        source="measured"))
    assert db.get("m", cfgs[0], 1).stage_latencies == (0.5,)
    assert len(db) == 9
    assert db.memory_entry("m", cfgs[0]).stage_weight_bytes == (7,)


def test_stage_weights_prefer_the_profile() -> None:
    spec = ModelSpec(name="m", family="bert", num_layers=8, hidden_size=64, num_heads=4,
                     ffn_size=256, vocab_size=1000, seq_len=32)
    db = _three_configs()
    cfg = db.configs("m")[1]
    assert db.stage_weights(spec, cfg) == ((51, 51), "profile (measured)")
    other = ParallelConfig.uniform(num_layers=8, pipeline_degree=8)
    assert db.stage_weights(spec, other) == (other.stage_weight_bytes(spec), "analytic")


def test_derived_values_are_kept_until_the_next_add() -> None:
    db = ProfileDB()
    calls = []

    def count() -> int:
        calls.append(1)
        return len(db)

    assert (db.derived("n", count), db.derived("n", count), len(calls)) == (0, 0, 1)
    db.add(ProfileEntry(model="m", config=ParallelConfig.uniform(num_layers=2), batch_size=1,
                        stage_latencies=(0.1,), stage_weight_bytes=(1,),
                        stage_peak_memory_bytes=(1,), source="measured"))
    assert (db.derived("n", count), len(calls)) == (1, 2)
