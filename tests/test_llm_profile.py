"""Measured per-layer LLM profiles: reading, SpotServe's formula, use by the simulator."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from alpaserve.cost.llm import LLMConfig
from alpaserve.cost.llm_profile import LLMProfile
from alpaserve.errors import ProfileError
from alpaserve.model_presets import model_preset
from alpaserve.spot.calibration import calibration_error
from alpaserve.spot.config import ConfigSpace, ConfigTable, RequestShape
from alpaserve.spot.hardware import g4dn_hardware
from simulator.spot.batch import build_batch

MODEL = model_preset("gpt-1.3b")  # 24 layers


def profile_json(layers: int = 24) -> dict[str, object]:
    """A file in the artifact's format (milliseconds), like megatron_*_profile.json."""
    rows = {f"tp-{t}": {f"bsz-{b}": {"init": 10.0 * b / t, "incr": 0.5 + 0.1 * b / t}
                        for b in (1, 2, 4, 8)} for t in (1, 2, 4)}
    return {"name": "megatron_tiny_profile", "layer_num": layers, "padded_layer_num": layers,
            "final_fix_factor": 1.1, "pp_init_comm": 7.0, "pp_incr_comm": 0.1,
            "hidden_size": 2048, "max_tp": 4, "embed": [0.3, 0.4, 0.6, 1.0], **rows}


@pytest.fixture
def prof(tmp_path: Path) -> LLMProfile:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(profile_json()))
    return LLMProfile.read(path)


def test_read_converts_milliseconds(prof: LLMProfile) -> None:
    assert prof.name == "megatron_tiny_profile"
    assert prof.num_layers == 24
    assert prof.tensor_degrees == (1, 2, 4)
    assert prof.max_batch == 8
    assert prof.prefill[2][4] == pytest.approx(0.020)
    assert prof.decode[1][8] == pytest.approx(0.0013)
    assert prof.embed[8] == pytest.approx(0.001)
    assert prof.pp_init_comm == pytest.approx(0.007)


@pytest.mark.parametrize(("tp", "pp", "b", "m"), [(1, 1, 1, 1), (2, 3, 4, 2), (4, 2, 8, 4)])
def test_formula_of_the_data_readme(prof: LLMProfile, tp: int, pp: int, b: int, m: int) -> None:
    cfg = LLMConfig(data=1, pipeline=pp, tensor=tp, batch=b, micro_batches=m)
    f = math.ceil(24 / pp)
    t1 = prof.prefill[tp][b // m] * f * (pp + m - 1) / m + prof.pp_init_comm / m * (pp - 1)
    t2 = prof.decode[tp][b // m] * f * (pp + m - 1) + prof.pp_incr_comm / m * (pp - 1)
    want = 1.1 * (t1 + t2 * 128 + 2 * prof.embed[b])
    got = prof.request_latency(cfg, prompt_tokens=512, output_tokens=128)
    assert got == pytest.approx(want, rel=1e-12)


def test_simulated_batch_takes_exactly_the_formula(prof: LLMProfile) -> None:
    cfg = LLMConfig(data=1, pipeline=2, tensor=2, batch=4, micro_batches=2)
    b = build_batch(model=MODEL, hardware=g4dn_hardware(), config=cfg, start=5.0,
                    ids=np.arange(4), context=np.full(4, 512), committed=np.zeros(4, int),
                    remaining=np.full(4, 64), needs_prefill=np.ones(4, bool), profile=prof)
    assert b.end - 5.0 == pytest.approx(prof.request_latency(cfg, prompt_tokens=512,
                                                             output_tokens=64))


def test_interpolation_and_prompt_scaling(prof: LLMProfile) -> None:
    assert prof.layer_prefill(1, 3) == pytest.approx(0.030)          # between 2 and 4
    assert prof.layer_prefill(1, 16) == pytest.approx(0.160)         # extrapolated
    assert prof.layer_decode(1, 0.5) == pytest.approx(prof.decode[1][1])  # clamped below
    cfg = LLMConfig(data=1, pipeline=1, tensor=1, batch=2)
    full = prof.prefill_time(cfg, [512, 512])
    half = prof.prefill_time(cfg, [256, 256])
    embed = 1.1 * 2 * prof.embed[2]
    assert half - embed == pytest.approx((full - embed) / 2)
    assert prof.prefill_time(cfg, []) == 0.0
    steps = prof.decode_step_time(cfg, active=np.array([1.0, 2.0]))
    assert isinstance(steps, np.ndarray)
    assert steps[1] > steps[0]


def test_profile_db_and_config_table(prof: LLMProfile) -> None:
    db = prof.to_profile_db(MODEL, pipeline_degrees=(1, 2))
    assert len(db) == 3 * 4 * 2
    assert {e.source for e in db} == {"measured"}
    hw = g4dn_hardware()
    table = ConfigTable.build(model=MODEL, hardware=hw, profile=prof,
                              request=RequestShape(prompt_tokens=512, output_tokens=128,
                                                   max_context=640),
                              space=ConfigSpace(tensor=(1, 2, 8), pipeline=(1, 2),
                                                batch=(1, 8, 16), micro_batches=(1, 2)))
    keys = {e.config.key for e in table.entries}
    assert keys
    assert all(e.config.tensor in (1, 2) for e in table.entries)  # no tp-8 table
    assert "d1-p1-t1-b16-m1" not in keys
    assert "d1-p1-t1-b16-m2" in keys  # b/M <= 8
    e = next(x for x in table.entries if x.config.key == "d1-p2-t2-b8-m2")
    assert e.latency == pytest.approx(prof.request_latency(e.config, prompt_tokens=512,
                                                           output_tokens=128))


def test_calibration_error_rows(prof: LLMProfile) -> None:
    rows = calibration_error(MODEL, g4dn_hardware(), prof, tensor_degrees=(1,), batches=(1, 8))
    assert [(r["tensor"], r["batch"]) for r in rows] == [(1, 1), (1, 8)]
    assert all(set(r) == {"tensor", "batch", "prefill", "decode", "request",
                          "measured_request_s"} for r in rows)


def test_errors(tmp_path: Path, prof: LLMProfile) -> None:
    with pytest.raises(ProfileError, match="does not match model"):
        prof.check_model(model_preset("gpt-20b"))
    with pytest.raises(ProfileError, match="no tensor degree 8"):
        prof.layer_decode(8, 1)
    bad = profile_json()
    del bad["embed"]
    with pytest.raises(ProfileError, match="malformed"):
        LLMProfile.from_dict(bad)
    bad = profile_json()
    bad["tp-1"]["bsz-1"]["init"] = -1.0  # type: ignore[index]
    with pytest.raises(ProfileError, match="must be positive"):
        LLMProfile.from_dict(bad)
    bad = profile_json()
    bad["tp-x"] = {}
    with pytest.raises(ProfileError, match="bad key 'tp-x'"):
        LLMProfile.from_dict(bad)
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ProfileError, match="cannot read LLM profile"):
        LLMProfile.read(path)
