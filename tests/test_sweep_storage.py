"""Sweep tables: plain typed cells, the loader, and files that are not this sweep's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.safe_files import OutputFileError
from alpaserve.sweep import load_sweep
from alpaserve.sweep.runner import SweepGrid, read_results, run_sweep
from alpaserve.sweep.storage import SweepError, decode_cell, encode_cell, experiment_of

sys.path.insert(0, str(Path(__file__).parent))
from _sweep_runner import synthetic_runner

GRID = SweepGrid(policies=("sr", "alpaserve"), devices=(2, 4), windows=((0.0, 60.0), None),
                 seeds=(0, 1))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_tables_are_tidy_and_typed(tmp_path: Path, suffix: str) -> None:
    pd = pytest.importorskip("pandas")
    out = tmp_path / f"r{suffix}"
    run_sweep(GRID, out, runner=synthetic_runner)
    df = load_sweep(out)
    assert len(df) == 16
    assert len(df[df.policy == "sr"]) == 8
    assert df.devices.dtype.kind == "i"
    assert df.attainment.dtype.kind == "f"
    assert set(df.seed) == {0, 1}
    assert df.window_start.isna().sum() == 8
    assert set(df.window_end.dropna()) == {60.0}
    assert df.experiment.nunique() == 1
    if suffix == ".csv":  # plain pandas reads the same table
        plain = pd.read_csv(out)
        assert len(plain[plain.policy == "sr"]) == 8
        assert plain.devices.dtype.kind == "i"


def test_local_rows_equal_in_both_formats(tmp_path: Path) -> None:
    run_sweep(GRID, tmp_path / "a.csv", runner=synthetic_runner)
    run_sweep(GRID, tmp_path / "a.parquet", runner=synthetic_runner)
    key = lambda r: r["case_id"]  # noqa: E731
    assert sorted(read_results(tmp_path / "a.csv"), key=key) == \
        sorted(read_results(tmp_path / "a.parquet"), key=key)


@given(st.one_of(st.none(), st.booleans(), st.integers(-10**18, 10**18),
                 st.floats(allow_nan=False), st.text(alphabet="abcxyz_-# ,\"", min_size=1)))
def test_cells_round_trip(value: object) -> None:
    back = decode_cell(encode_cell(value))
    assert back == value
    assert type(back) is type(value)


def test_foreign_csv_without_final_newline_is_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "user.csv"
    content = b"name,score\nalice,1\nbob,2"
    out.write_bytes(content)
    with pytest.raises(SweepError, match=r"'.*user\.csv' exists and is not an alpaserve sweep "
                                         r"file; choose another --out or pass --force"):
        run_sweep(GRID, out, runner=synthetic_runner)
    assert out.read_bytes() == content
    with pytest.raises(SweepError, match="is not an alpaserve sweep file"):
        load_sweep(out)
    assert out.read_bytes() == content
    assert experiment_of(out) is None


@pytest.mark.parametrize("content", [b"", b"PAR1garbage", b"\x1f\x8b\x08binary"])
def test_foreign_parquet_is_refused(tmp_path: Path, content: bytes) -> None:
    out = tmp_path / "user.parquet"
    out.write_bytes(content)
    with pytest.raises(SweepError, match="is not an alpaserve sweep file"):
        run_sweep(GRID, out, runner=synthetic_runner)
    assert out.read_bytes() == content


def test_force_replaces_a_foreign_file_only_when_a_row_is_ready(tmp_path: Path) -> None:
    out = tmp_path / "user.csv"
    out.write_bytes(b"a,b\n1,2")
    report = run_sweep(GRID, out, runner=synthetic_runner, force=True)
    assert report.completed == 16
    assert len(read_results(out)) == 16


def test_planted_symlink_at_the_output(tmp_path: Path) -> None:
    victim = tmp_path / "victim.csv"
    victim.write_bytes(b"keep me")
    out = tmp_path / "r.parquet"
    out.symlink_to(victim)
    with pytest.raises(OutputFileError, match="is a symbolic link"):
        run_sweep(GRID, out, runner=synthetic_runner)
    assert victim.read_bytes() == b"keep me"
    csv_out = tmp_path / "r.csv"
    csv_out.symlink_to(victim)
    with pytest.raises(OutputFileError, match="is a symbolic link"):
        run_sweep(GRID, csv_out, runner=synthetic_runner)
    assert victim.read_bytes() == b"keep me"


def test_planted_symlink_at_the_old_temp_name(tmp_path: Path) -> None:
    victim = tmp_path / "victim.csv"
    victim.write_bytes(b"keep me")
    (tmp_path / "r.parquet.tmp").symlink_to(victim)
    run_sweep(GRID, tmp_path / "r.parquet", runner=synthetic_runner)
    assert victim.read_bytes() == b"keep me"
    assert len(read_results(tmp_path / "r.parquet")) == 16


def test_missing_file_for_the_loader(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match="does not exist"):
        load_sweep(tmp_path / "none.csv")


def test_hashes_that_look_like_numbers_stay_text(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("case_id,experiment,version,config,policy,attainment\n"
                   "1234567890123456,12e4567890123456,1.0,{},sr,0.5\n")
    row = read_results(out)[0]
    assert (row["case_id"], row["experiment"], row["version"]) == \
        ("1234567890123456", "12e4567890123456", "1.0")
    assert row["attainment"] == 0.5
    assert load_sweep(out).case_id.tolist() == ["1234567890123456"]
