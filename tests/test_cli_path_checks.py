"""The command line's path types (``alpaserve.cli._path_checks``), called directly."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from alpaserve.cli import _path_checks as path_checks


def test_output_file_rejects_before_the_run(tmp_path: Path) -> None:
    assert path_checks.table_file(str(tmp_path / "r.PARQUET")).suffix == ".PARQUET"
    with pytest.raises(argparse.ArgumentTypeError, match=r"must end in \.csv"):
        path_checks.table_file(str(tmp_path / "r.txt"))
    with pytest.raises(argparse.ArgumentTypeError, match="is not a file name"):
        path_checks.table_file(str(tmp_path) + "/")


def test_cache_dir_may_be_created_in_a_writable_parent(tmp_path: Path) -> None:
    assert path_checks.cache_dir(str(tmp_path / "a" / "b")) == tmp_path / "a" / "b"
    (tmp_path / "f").write_text("x")
    with pytest.raises(argparse.ArgumentTypeError, match="exists and is not a directory"):
        path_checks.cache_dir(str(tmp_path / "f"))
