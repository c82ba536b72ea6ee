"""Safe output files: ownership, atomic replacement, symlinks, locks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from alpaserve.safe_files import (
    MANIFEST,
    OutputFileError,
    atomic_open,
    check_target,
    exclusive,
    is_ours,
    lock_path,
    save_figure,
    write_bytes,
    write_text,
)


def test_new_files_are_ours_and_may_be_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    write_text(out, "[1]")
    assert is_ours(out)
    write_text(out, "[2]")
    assert out.read_text() == "[2]"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_a_foreign_file_is_left_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "user.csv"
    out.write_bytes(b"a,b\n1,2")  # no final newline
    with pytest.raises(OutputFileError, match=r"'.*user\.csv' exists and was not written by "
                                              r"alpaserve; .* --force"):
        write_text(out, "x")
    assert out.read_bytes() == b"a,b\n1,2"
    write_text(out, "x", force=True)
    assert out.read_text() == "x"


def test_an_edited_output_is_no_longer_ours(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    write_text(out, "{}")
    out.write_text('{"edited": true}')
    with pytest.raises(OutputFileError, match="was not written by alpaserve"):
        write_text(out, "{}")


def test_a_planted_symlink_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "out.png"
    link.symlink_to(victim)
    with pytest.raises(OutputFileError, match="is a symbolic link"):
        write_bytes(link, b"png")
    assert victim.read_text() == "precious"
    write_bytes(link, b"png", force=True)  # replaces the link itself
    assert not link.is_symlink()
    assert link.read_bytes() == b"png"
    assert victim.read_text() == "precious"


def test_a_planted_temp_name_cannot_be_used(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for name in ("out.csv.tmp", ".out.csv.tmp", "out.csv.part"):
        (tmp_path / name).symlink_to(victim)
    write_text(tmp_path / "out.csv", "a\n")
    assert victim.read_text() == "precious"


def test_a_failed_write_leaves_the_target_and_no_temp_file(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    write_text(out, "old")
    def half_write() -> None:
        with atomic_open(out) as fh:
            fh.write("half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        half_write()
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([MANIFEST, "r.csv"])


def test_missing_directory_and_non_files(tmp_path: Path) -> None:
    with pytest.raises(OutputFileError, match=r"directory '.*nope' does not exist"):
        check_target(tmp_path / "nope" / "x.csv")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(OutputFileError, match="is not a regular file"):
        check_target(tmp_path / "d.csv")


def test_figures(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    out = save_figure(Figure(), tmp_path / "f.svg")
    assert out.read_text().lstrip().startswith("<?xml")
    with pytest.raises(OutputFileError, match=r"unknown image format '\.xyz'"):
        save_figure(Figure(), tmp_path / "f.xyz")


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    with exclusive(out), pytest.raises(OutputFileError, match="--wait"), exclusive(out):
        pass
    with exclusive(out):  # released by the first block
        pass
    assert lock_path(out).exists()


def test_lock_file_symlink_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    lock_path(tmp_path / "r.csv").symlink_to(victim)
    with pytest.raises(OutputFileError, match="cannot create the lock file"), \
            exclusive(tmp_path / "r.csv"):
        pass
    assert victim.read_text() == "precious"


def test_permissions_are_readable(tmp_path: Path) -> None:
    out = write_text(tmp_path / "a.txt", "x")
    assert os.stat(out).st_mode & 0o644 == 0o644


@pytest.fixture
def small_trace(tmp_path: Path) -> Path:
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,model\n" + "".join(f"{i * 0.5},fn{i % 2}\n" for i in range(100)))
    return trace


@pytest.mark.parametrize(("argv", "name"), [
    (["costs", "--models", "bert-1.3b", "--out"], "rows.csv"),
    (["costs", "--models", "bert-1.3b", "--out"], "rows.json"),
    (["trace", "{trace}", "--plot"], "rate.png"),
])
def test_commands_refuse_foreign_outputs(tmp_path: Path, small_trace: Path,
                                         capsys: pytest.CaptureFixture, argv: list[str],
                                         name: str) -> None:
    from alpaserve.cli import main

    argv = [a.format(trace=small_trace) for a in argv]
    out = tmp_path / name
    out.write_bytes(b"user data, no final newline")
    assert main([*argv, str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{str(out)!r} exists and was not written by alpaserve" in err
    assert out.read_bytes() == b"user data, no final newline"
    assert main([*argv, str(out), "--force"]) == 0
    assert out.read_bytes() != b"user data, no final newline"
    assert main([*argv, str(out)]) == 0  # now it is alpaserve's own: rewritten freely
    link = tmp_path / f"link-{name}"
    link.symlink_to(out)
    assert main([*argv, str(link)]) == 2
    assert "is a symbolic link" in capsys.readouterr().err


def test_output_checks_come_before_the_work(tmp_path: Path, small_trace: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    from alpaserve.cli import main

    assert main(["trace", str(small_trace), "--plot", str(tmp_path / "r.xyz")]) == 2
    assert "must end in .png" in capsys.readouterr().err  # checked while parsing the flags
    assert main(["trace", str(small_trace), "--plot", str(tmp_path / "no" / "r.png")]) == 2
    err = capsys.readouterr()
    assert "does not exist" in err.err
    assert err.out == ""  # refused before the trace was read and its table printed
