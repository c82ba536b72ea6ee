"""Sweep result files: plain CSV or parquet tables that say which experiment they hold.

A row is one case: the key columns (``case_id``, ``experiment``, ``version``, ``config``),
the case's axes (``policy``, ``devices``, ``rate_scale``, ``cv_scale``, ``slo_scale``,
``window_start``, ``window_end``, ``seed``) and the runner's metrics. Cells are plain:
numbers as numbers, strings as strings, an empty cell for a missing value, so
:func:`load_sweep` (or ``pandas.read_csv(path, dtype={"case_id": str, "experiment": str})``:
a hex hash may look like a number) gives typed columns and ``df[df.policy == "sr"]`` works.
A metric that is a list or mapping is stored as its JSON text.

Ownership: a CSV is a sweep file when its first line is the sweep header (it starts with the
key columns); a parquet file when its schema metadata has the ``alpaserve-sweep`` key. The
``experiment`` column (in parquet also the metadata) is a hash of every case of the
experiment, so a rerun can tell its own file from another experiment's before it trusts a row.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alpaserve.errors import AlpaServeError
from alpaserve.safe_files import atomic_open, check_target

KEY_COLUMNS = ("case_id", "experiment", "version", "config")
AXIS_COLUMNS = ("policy", "devices", "rate_scale", "cv_scale", "slo_scale", "window_start",
                "window_end", "seed")
PARQUET_KEY = b"alpaserve-sweep"
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|nan)",
                    re.IGNORECASE)


class SweepError(AlpaServeError):
    """A sweep that cannot run (bad or foreign output file, another experiment's file)."""


def format_of(path: Path) -> str:
    """``"csv"`` or ``"parquet"`` from the file suffix.

    Parameters
    ----------
    path
        A sweep output file.

    Returns
    -------
    str
        The storage format.

    Examples
    --------
    >>> format_of(Path("r.parquet"))
    'parquet'
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise SweepError(f"sweep output {str(path)!r} must end in .csv or .parquet")


# ---------------------------------------------------------------------- cells
def encode_cell(value: Any) -> str:
    """A plain CSV cell: numbers round-trip exactly, ``None`` is empty, lists are JSON.

    Parameters
    ----------
    value
        A row value.

    Returns
    -------
    str
        Its cell text.

    Examples
    --------
    >>> [encode_cell(v) for v in (0.1, 3, "sr", None, True, [1, 2])]
    ['0.1', '3', 'sr', '', 'True', '[1, 2]']
    """
    if value is None:
        return ""
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return encode_cell(value.item())
    if isinstance(value, list | tuple | Mapping):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def decode_cell(text: str) -> Any:
    """The value of a plain CSV cell, typed as pandas would read it.

    Parameters
    ----------
    text
        The cell text.

    Returns
    -------
    Any
        ``None``, a bool, an int, a float or the string itself.

    Examples
    --------
    >>> [decode_cell(t) for t in ("", "True", "8", "0.5", "sr")]
    [None, True, 8, 0.5, 'sr']
    """
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


# ---------------------------------------------------------------------- reading
def _is_sweep_header(line: str) -> bool:
    names = next(csv.reader([line]), [])
    return tuple(names[: len(KEY_COLUMNS)]) == KEY_COLUMNS


def _first_line(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        head = fh.readline(1 << 16)
    return head.decode("utf-8", errors="replace").rstrip("\r\n")


def experiment_of(path: Path) -> str | None:
    """The experiment hash a sweep file holds, or ``None`` for a file that is not a sweep's.

    Reads only the header (CSV: the first two lines; parquet: the schema), never the rows.

    Parameters
    ----------
    path
        An existing file.

    Returns
    -------
    str | None
        The hash; ``""`` for a sweep file with no complete row yet; ``None`` if foreign.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "user.csv"
    >>> _ = p.write_text("a,b\\n1,2")
    >>> experiment_of(p) is None
    True
    """
    if os.path.islink(path) or not path.is_file():
        return None
    if format_of(path) == "parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.read_schema(path).metadata or {}
        except Exception:  # any unreadable file is simply not ours
            return None
        value = meta.get(PARQUET_KEY)
        return None if value is None else json.loads(value)["experiment"]
    if not _is_sweep_header(_first_line(path)):
        return None
    with path.open(newline="", encoding="utf-8") as fh:
        fh.readline()
        second = fh.readline()
    if not second.endswith("\n"):
        return ""  # no complete row yet
    cells = next(csv.reader([second]), [])
    return cells[1] if len(cells) > 1 else ""


def repair_torn_row(path: Path) -> int:
    """Drop a last CSV line cut short by a kill (no final newline). Only call this on a
    file known to be a sweep file.

    Parameters
    ----------
    path
        A sweep CSV.

    Returns
    -------
    int
        1 if a torn row was dropped, else 0.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "r.csv"
    >>> _ = p.write_text("case_id,experiment,version,config\\nab,cd,1,{}\\nef,g")
    >>> repair_torn_row(p), p.read_text().count("\\n")
    (1, 2)
    """
    with path.open("rb") as fh:
        data = fh.read()
    if not data or data.endswith(b"\n"):
        return 0
    os.truncate(path, data.rfind(b"\n") + 1)
    return 1


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Every complete row of a sweep file (typed cells); ``[]`` if it does not exist.

    Parameters
    ----------
    path
        A sweep CSV or parquet file.

    Returns
    -------
    list[dict]
        The rows; a torn final CSV line is ignored (not removed).

    Examples
    --------
    >>> read_rows(Path("no-such-sweep.csv"))
    []
    """
    if not path.exists():
        return []
    if format_of(path) == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_table(path).to_pylist())
    text = path.read_text(encoding="utf-8")
    text = text[: text.rfind("\n") + 1]
    # The key columns are text even when a hash happens to look like a number.
    return [{k: v if k in KEY_COLUMNS else decode_cell(v) for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(text))]


def load_sweep(path: str | Path) -> Any:
    """A sweep's results as a tidy :class:`pandas.DataFrame`: one row per case, one column per
    axis or metric, typed (``df[df.policy == "sr"]`` works). The file is only read.

    Parameters
    ----------
    path
        A sweep CSV or parquet file written by ``alpaserve sweep`` / :func:`run_sweep`.

    Returns
    -------
    pandas.DataFrame
        The rows, sorted by the axes.

    Examples
    --------
    >>> import tempfile
    >>> from alpaserve.sweep.runner import SweepGrid, run_sweep
    >>> out = Path(tempfile.mkdtemp()) / "r.csv"
    >>> _ = run_sweep(SweepGrid(policies=["sr", "alpaserve"]), out,
    ...               runner=lambda case: {"attainment": 0.5})
    >>> df = load_sweep(out)
    >>> df[df.policy == "sr"].attainment.tolist()
    [0.5]
    """
    import pandas as pd

    target = Path(path)
    if not target.exists():
        raise SweepError(f"sweep file {str(target)!r} does not exist")
    if experiment_of(target) is None:
        raise SweepError(f"{str(target)!r} is not an alpaserve sweep file")
    rows = read_rows(target)
    frame = pd.DataFrame(rows)
    axes = [c for c in AXIS_COLUMNS if c in frame.columns]
    if axes and len(frame):
        frame = frame.sort_values(axes, kind="stable", na_position="first")
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------------- writing
def append_csv(path: Path, row: Mapping[str, Any], columns: Sequence[str], *,
               create: bool = False) -> None:
    """Append one row to a sweep CSV, or with ``create`` start it (atomically, header first).

    Parameters
    ----------
    path
        The sweep CSV, already claimed by :func:`claim`.
    row
        The row; its keys must be ``columns``.
    columns
        The header.
    create
        Write a new file with the header and this row, replacing whatever :func:`claim`
        allowed to be replaced.

    Returns
    -------
    None

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "r.csv"
    >>> cols = [*KEY_COLUMNS, "x"]
    >>> append_csv(p, dict(zip(cols, ["a", "e", "1", "{}", 0.5])), cols, create=True)
    >>> p.read_text().splitlines()[1]
    'a,e,1,{},0.5'
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if create:
        writer.writerow(columns)
        writer.writerow([encode_cell(row.get(c)) for c in columns])
        with atomic_open(path, "w", newline="", force=True) as fh:
            fh.write(buffer.getvalue())
        return
    writer.writerow([encode_cell(row.get(c)) for c in columns])
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(buffer.getvalue())
        fh.flush()
        os.fsync(fh.fileno())


def rewrite_parquet(path: Path, rows: list[dict[str, Any]], experiment: str) -> None:
    """Rewrite a sweep parquet file with ``rows`` (atomically, tagged with the experiment).

    Parameters
    ----------
    path
        The sweep parquet file (already checked to be ours, or new).
    rows
        Every row.
    experiment
        The experiment hash stored in the schema metadata.

    Returns
    -------
    None

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "r.parquet"
    >>> rewrite_parquet(p, [{"case_id": "a", "attainment": 0.5}], "e1")
    >>> experiment_of(p)
    'e1'
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows)
    meta = dict(table.schema.metadata or {})
    meta[PARQUET_KEY] = json.dumps({"experiment": experiment}).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_open(path, "wb", force=True) as fh:  # claimed by claim() under the lock
        pq.write_table(table, fh)


def claim(path: Path, experiment: str, *, force: bool) -> tuple[bool, int]:
    """Decide whether a run may use ``path``: absent, or a sweep file of this experiment.

    Foreign files and other experiments' files are refused (left byte-identical) unless
    ``force``, in which case the run's first row replaces them. The torn-row repair runs only
    once the file is known to be this experiment's. Call it with the output's lock held.

    Parameters
    ----------
    path
        The sweep output.
    experiment
        This run's experiment hash.
    force
        Replace a foreign file or another experiment's file.

    Returns
    -------
    tuple[bool, int]
        (resume from the existing rows, torn rows dropped).

    Examples
    --------
    >>> claim(Path("no-such-sweep.csv"), "e1", force=False)
    (False, 0)
    """
    if not os.path.lexists(path):
        return False, 0
    found = experiment_of(path)
    if found is None:
        if not force:
            check_target(path, owned=True)  # a symlink or a non-regular file: own message
            raise SweepError(f"{str(path)!r} exists and is not an alpaserve sweep file; "
                             "choose another --out or pass --force to replace it")
        return False, 0
    if found and found != experiment:
        if not force:
            raise SweepError(f"{str(path)!r} holds another experiment ({found}, this one is "
                             f"{experiment}); choose another --out or pass --force to "
                             "replace it")
        return False, 0
    torn = repair_torn_row(path) if format_of(path) == "csv" else 0
    others = {str(r.get("experiment")) for r in read_rows(path)} - {experiment}
    if others:
        raise SweepError(f"{str(path)!r} mixes rows of other experiments {sorted(others)}")
    return True, torn
