"""Vidur's profile readers, the measured iteration cost and the calibration, on generated CSVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alpaserve.device_spec import device_preset
from alpaserve.errors import ProfileError
from alpaserve.llm.analytic import (
    LAYER_OPERATORS,
    Efficiency,
    layer_operator_times,
    lm_head_seconds,
)
from alpaserve.llm.calibration import (
    CalibrationCase,
    fit_efficiency,
    fit_link,
    operator_error_table,
)
from alpaserve.llm.collectives import read_collective_profile
from alpaserve.llm.spec import llm_preset
from alpaserve.llm.vidur import measured_iteration_cost, read_operator_profile

SPEC = llm_preset("llm-small")
A100 = device_preset("a100-80gb")
TOKENS = (1, 2, 4, 8, 16, 64, 256, 1024)
TRUTH = Efficiency(matmul=0.6, memory=0.7, elementwise=0.5, kernel_s=3e-6, sharpness=2.0)


def write_mlp(path: Path, *, tps: tuple[int, ...] = (1, 2), eff: Efficiency = TRUTH,
              extra_rows: str = "") -> Path:
    stats = ("min", "max", "mean", "median", "std")
    ops = ("emb", *LAYER_OPERATORS)
    header = [f"time_stats.{op}.{s}" for op in ops for s in stats]
    header += ["n_head", "n_kv_head", "n_embd", "n_expanded_embd", "vocab_size",
               "use_gated_mlp", "num_tokens", "num_tensor_parallel_workers"]
    lines = [",".join(header)]
    for tp in tps:
        times = layer_operator_times(SPEC, A100, tp=tp, tokens=TOKENS, efficiency=eff)
        for i, n in enumerate(TOKENS):
            ms = [0.001 * n] + [times[op][i] * 1e3 for op in LAYER_OPERATORS]
            cells = [f"{v:.9g}" for v in ms for _ in stats]
            cells += [str(SPEC.num_heads), str(SPEC.num_kv_heads), str(SPEC.hidden_size),
                      str(SPEC.ffn_size), "1024", "True", str(n), str(tp)]
            lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n" + extra_rows)
    return path


def write_allreduce(path: Path, *, latency: float = 20e-6, bandwidth: float = 100e9) -> Path:
    lines = [",time_stats.all_reduce.min,time_stats.all_reduce.max,time_stats.all_reduce.mean,"
             "time_stats.all_reduce.median,time_stats.all_reduce.std,rank,num_workers,size,"
             "collective,devices_per_node,max_devices_per_node"]
    i = 0
    for w in (2, 4):
        for size in (2048, 65536, 1 << 20, 1 << 24):
            t = (latency + 2 * (w - 1) / w * size / bandwidth) * 1e3
            lines.append(f"{i},{t},{t},{t},{t},0,0,{w},{size},all_reduce,{w},8")
            i += 1
    path.write_text("\n".join(lines) + "\n")
    return path


def test_operator_profile_round_trips(tmp_path: Path) -> None:
    prof = read_operator_profile(write_mlp(tmp_path / "mlp.csv"))
    assert prof.tensor_degrees == (1, 2)
    assert prof.rows == 2 * len(TOKENS)
    assert prof.duplicates == 0
    assert prof.shape["use_gated_mlp"] == 1
    expected = np.sum(list(layer_operator_times(SPEC, A100, tp=2, tokens=[64],
                                                efficiency=TRUTH).values()), axis=0)[0]
    assert prof.layer_seconds(tp=2, tokens=[64])[0] == pytest.approx(expected, rel=1e-6)
    prof.check_matches(SPEC)
    with pytest.raises(ProfileError, match=r"profiles n_head=8, but 'llama-2-7b' has 32"):
        prof.check_matches(llm_preset("llama-2-7b"))
    with pytest.raises(ProfileError, match=r"no rows at tensor degree 4; measured: \[1, 2\]"):
        prof.layer_seconds(tp=4, tokens=[1])


def test_repeated_rows_are_averaged_and_counted(tmp_path: Path) -> None:
    path = write_mlp(tmp_path / "mlp.csv", tps=(1,))
    first_data = path.read_text().splitlines()[1]
    path.write_text(path.read_text() + first_data + "\n")
    assert read_operator_profile(path).duplicates == 1


def test_measured_cost_matches_the_analytic_model_it_was_generated_from(tmp_path: Path) -> None:
    mlp = write_mlp(tmp_path / "mlp.csv")
    net = write_allreduce(tmp_path / "all_reduce.csv")
    eff = Efficiency(**{**TRUTH.__dict__, "allreduce_bandwidth": 100e9,
                        "allreduce_latency_s": 20e-6})
    measured = measured_iteration_cost(SPEC, A100, operators=mlp, allreduce=net, tp=2, pp=1,
                                       max_tokens=1024, efficiency=eff)
    assert measured.source == f"measured:{mlp}"
    assert np.all(np.diff(measured.linear_s) >= 0)
    ops = layer_operator_times(SPEC, A100, tp=2, tokens=[256], efficiency=eff)
    layer = np.sum(list(ops.values()), axis=0)[0]
    allreduce = 20e-6 + 256 * SPEC.hidden_size * 2 / 100e9  # 2 (w - 1) / w = 1 at w = 2
    head = lm_head_seconds(SPEC, A100, tp=2, tokens=[256], efficiency=eff)[0]
    expected = SPEC.num_layers * (layer + 2 * allreduce) + 256e-6 + head  # fixture's emb
    assert measured.linear(256) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ProfileError, match=r"tensor degree 2 needs an all-reduce profile"):
        measured_iteration_cost(SPEC, A100, operators=mlp, tp=2, pp=1, max_tokens=8)


def test_calibration_recovers_the_generating_constants(tmp_path: Path) -> None:
    case = CalibrationCase(spec=SPEC, device=A100,
                           profile=read_operator_profile(write_mlp(tmp_path / "mlp.csv")))
    fitted = fit_efficiency([case])
    rows = operator_error_table([case], fitted)
    assert [r.tp for r in rows] == [1, 2]
    assert max(r.p90 for r in rows) < 0.02
    worse = operator_error_table([case], Efficiency(matmul=0.3))
    assert max(r.median for r in worse) > max(r.median for r in rows)


def test_link_fit_recovers_alpha_beta(tmp_path: Path) -> None:
    prof = read_collective_profile(write_allreduce(tmp_path / "ar.csv"))
    assert prof.collective == "all_reduce"
    fit = fit_link(prof, num_workers=4)
    assert fit.latency_s == pytest.approx(20e-6, rel=1e-3)
    assert fit.bandwidth == pytest.approx(100e9, rel=1e-3)
    assert prof.time_s([1 << 20], num_workers=2)[0] == pytest.approx(20e-6 + (1 << 20) / 100e9)
    with pytest.raises(ProfileError, match=r"no all_reduce measured for .*\(8, 8\)"):
        prof.time_s([1], num_workers=8)


@pytest.mark.parametrize(("mutate", "match"), [
    (lambda t: t.replace("time_stats.add.median", "time_stats.add.p50"),
     r"line 1, column 'time_stats.add.median': header lacks required column"),
    (lambda t: t + "oops\n", r"line 18, column .*missing column"),
    (lambda t: t.replace(",True,1,1\n", ",True,x,1\n", 1),
     r"line 2, column 'num_tokens': not a whole number"),
    (lambda t: t.replace("\n0.001,0.001,0.001,0.001,", "\n0.001,0.001,0.001,-0.001,", 1),
     r"line 2, column 'time_stats.emb.median': negative value"),
    (lambda t: "", r"line 1: empty file: no header"),
])
def test_bad_operator_files_name_file_line_and_column(tmp_path: Path, mutate: object,
                                                      match: str) -> None:
    path = write_mlp(tmp_path / "mlp.csv")
    path.write_text(mutate(path.read_text()))  # type: ignore[operator]
    with pytest.raises(ProfileError, match=r"file .*mlp\.csv, " + match):
        read_operator_profile(path)


def test_shape_change_and_statistic(tmp_path: Path) -> None:
    path = write_mlp(tmp_path / "mlp.csv", tps=(1,))
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace(",True,", ",False,")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ProfileError, match=r"line 4, column 'use_gated_mlp': model shape "
                                           r"changes: 0 after 1"):
        read_operator_profile(path)
    with pytest.raises(ValueError, match=r"statistic must be one of"):
        read_operator_profile(path, statistic="p99")
