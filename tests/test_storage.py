"""Parquet and npz storage: lossless round trips, fallback without pyarrow, bad files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from _fixtures_workloads import workloads
from hypothesis import HealthCheck, given, settings

from workloads.errors import WorkloadError
from workloads.storage import load_workload, pyarrow_available, save_workload
from workloads.workload import Workload

FULL = Workload.from_arrays(arrival=[0.1, 1e-300, 5.5, 5.5, -2.0], model=["b", "a", "b", "c", "a"],
                            model_names=["c", "b", "a", "unused"], slo=[0.1, 0.2, 0.3, 0.4, 0.5],
                            prompt_tokens=[1, 2**62, 3, 4, 5], output_tokens=[0, 7, 8, 9, 10])


def _identical(a: Workload, b: Workload) -> None:
    assert a.equals(b)
    assert a.arrival.tobytes() == b.arrival.tobytes()
    assert a.model_codes.dtype == b.model_codes.dtype == np.int32
    for col in ("prompt_tokens", "output_tokens"):
        if getattr(a, col) is not None:
            assert getattr(b, col).dtype == np.int64


@pytest.mark.parametrize("fmt", ["parquet", "npz"])
def test_round_trip_every_column(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "w.bin"
    assert save_workload(FULL, path, format=fmt) == fmt  # type: ignore[arg-type]
    _identical(FULL, load_workload(path))
    assert FULL.save(tmp_path / "m", format=fmt) == fmt  # type: ignore[arg-type]
    _identical(FULL, Workload.load(tmp_path / "m"))


@pytest.mark.parametrize("fmt", ["parquet", "npz"])
def test_round_trip_empty(tmp_path: Path, fmt: str) -> None:
    w = Workload.empty(["x", "y"])
    save_workload(w, tmp_path / "e", format=fmt)  # type: ignore[arg-type]
    _identical(w, load_workload(tmp_path / "e"))


def test_auto_uses_parquet_when_pyarrow_is_installed(tmp_path: Path) -> None:
    assert pyarrow_available()
    assert save_workload(FULL, tmp_path / "w") == "parquet"
    assert (tmp_path / "w").read_bytes()[:4] == b"PAR1"


def test_auto_falls_back_to_npz_without_pyarrow(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    assert not pyarrow_available()
    assert save_workload(FULL, tmp_path / "w") == "npz"
    _identical(FULL, load_workload(tmp_path / "w"))
    with pytest.raises(WorkloadError, match="needs pyarrow"):
        save_workload(FULL, tmp_path / "p", format="parquet")


def test_reading_parquet_without_pyarrow_is_a_clear_error(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    save_workload(FULL, tmp_path / "w", format="parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(WorkloadError, match="needs pyarrow"):
        load_workload(tmp_path / "w")


def test_bad_files(tmp_path: Path) -> None:
    (tmp_path / "text").write_text("arrival,model\n")
    with pytest.raises(WorkloadError, match="neither parquet nor npz"):
        load_workload(tmp_path / "text")
    with pytest.raises(WorkloadError, match="cannot read"):
        load_workload(tmp_path / "missing")
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(WorkloadError, match="not a readable workload"):
        load_workload(tmp_path / "other.npz")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1]}), tmp_path / "plain.parquet")
    with pytest.raises(WorkloadError, match="no workload metadata"):
        load_workload(tmp_path / "plain.parquet")
    with pytest.raises(WorkloadError, match="format must be"):
        save_workload(FULL, tmp_path / "x", format="csv")  # type: ignore[arg-type]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(workloads())
def test_round_trip_is_lossless(tmp_path: Path, w: Workload) -> None:
    for fmt in ("parquet", "npz"):
        save_workload(w, tmp_path / fmt, format=fmt)  # type: ignore[arg-type]
        _identical(w, load_workload(tmp_path / fmt))
