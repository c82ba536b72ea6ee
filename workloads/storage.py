"""Save and load a :class:`Workload`: parquet when pyarrow is installed, npz otherwise.

Both formats keep every column bit for bit, the model names (including unused ones) and
their order, so ``load_workload(save_workload(w, p))`` equals ``w``. :func:`load_workload`
recognises the format from the file's first bytes, whatever its name.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from workloads.errors import WorkloadError
from workloads.workload import OPTIONAL_COLUMNS, Workload

logger = logging.getLogger(__name__)

__all__ = ["StorageFormat", "load_workload", "pyarrow_available", "save_workload"]

StorageFormat = Literal["auto", "parquet", "npz"]
_META_KEY = b"alpaserve.workload"
_VERSION = 1
_INT_DTYPES = {"slo": np.float64, "prompt_tokens": np.int64, "output_tokens": np.int64}


def pyarrow_available() -> bool:
    """Whether ``pyarrow`` can be imported (parquet support).

    Returns
    -------
    bool
        True when parquet files can be written and read.

    Examples
    --------
    >>> isinstance(pyarrow_available(), bool)
    True
    """
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def save_workload(workload: Workload, path: str | os.PathLike[str], *,
                  format: StorageFormat = "auto") -> Literal["parquet", "npz"]:
    """Write ``workload`` to ``path`` and return the format used.

    ``format="auto"`` writes parquet when pyarrow is installed and npz otherwise;
    ``"npz"`` forces npz; ``"parquet"`` fails if pyarrow is missing.

    Parameters
    ----------
    workload : Workload
        The workload to write, with all its columns and model names.
    path : str or os.PathLike
        The file to create or overwrite.
    format : {"auto", "parquet", "npz"}, default "auto"
        The file format.

    Returns
    -------
    {"parquet", "npz"}
        The format written.

    Raises
    ------
    WorkloadError
        If ``format`` is unknown, or is ``"parquet"`` without pyarrow.

    Examples
    --------
    >>> import tempfile, os
    >>> w = Workload.from_arrays(arrival=[0.5, 1.5], model=["a", "b"], slo=0.1)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     fmt = save_workload(w, os.path.join(d, "w.npz"), format="npz")
    ...     back = load_workload(os.path.join(d, "w.npz"))
    >>> fmt, back.equals(w)
    ('npz', True)
    """
    if format not in ("auto", "parquet", "npz"):
        raise WorkloadError(f"format must be 'auto', 'parquet' or 'npz', got {format!r}")
    chosen: Literal["parquet", "npz"] = (
        ("parquet" if pyarrow_available() else "npz") if format == "auto" else format)
    if chosen == "parquet":
        if not pyarrow_available():
            raise WorkloadError("format='parquet' needs pyarrow; install it or use format='npz'")
        _save_parquet(workload, Path(path))
    else:
        _save_npz(workload, Path(path))
    logger.debug("saved %d requests to %s as %s", len(workload), path, chosen)
    return chosen


def load_workload(path: str | os.PathLike[str]) -> Workload:
    """Read a workload written by :func:`save_workload` (parquet or npz, detected).

    Parameters
    ----------
    path : str or os.PathLike
        The file; its format is told by its first bytes, not its name.

    Returns
    -------
    Workload
        The workload as written.

    Raises
    ------
    WorkloadError
        If the file cannot be read, is neither parquet nor npz, or is parquet without
        pyarrow installed.

    Examples
    --------
    >>> import os, tempfile
    >>> w = Workload.from_arrays(arrival=[0.5], model="m", prompt_tokens=[7])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_workload(w, os.path.join(d, "w.bin"), format="npz")
    ...     load_workload(os.path.join(d, "w.bin")).prompt_tokens.tolist()
    [7]
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise WorkloadError(f"cannot read workload file {str(p)!r}: {exc}") from exc
    if magic == b"PAR1":
        if not pyarrow_available():
            raise WorkloadError(f"{str(p)!r} is parquet, which needs pyarrow to read")
        return _load_parquet(p)
    if magic[:2] == b"PK":
        return _load_npz(p)
    raise WorkloadError(f"{str(p)!r} is neither parquet nor npz (starts with {magic!r})")


def _header(workload: Workload) -> dict[str, Any]:
    columns = [c for c in OPTIONAL_COLUMNS if getattr(workload, c) is not None]
    return {"version": _VERSION, "model_names": list(workload.model_names), "columns": columns}


def _check_header(header: Any, path: Path) -> tuple[tuple[str, ...], list[str]]:
    if (not isinstance(header, dict) or header.get("version") != _VERSION
            or not isinstance(header.get("model_names"), list)
            or not all(isinstance(n, str) for n in header["model_names"])
            or not set(header.get("columns", [])) <= set(OPTIONAL_COLUMNS)):
        raise WorkloadError(f"{str(path)!r} is not a workload file of version {_VERSION}: "
                            f"header {header!r}")
    return tuple(header["model_names"]), list(header["columns"])


def _build(path: Path, arrival: Any, codes: Any, names: tuple[str, ...],
           columns: dict[str, Any]) -> Workload:
    try:
        out = Workload.from_arrays(arrival=arrival, model=np.asarray(codes, dtype=np.int32),
                                   model_names=names, **columns)
    except WorkloadError as exc:
        raise WorkloadError(f"{str(path)!r} holds an invalid workload: {exc}") from exc
    if len(out) > 1 and np.any(out.arrival[1:] < out.arrival[:-1]):
        raise WorkloadError(f"{str(path)!r}: arrivals are not sorted")  # pragma: no cover
    return out


def _save_npz(workload: Workload, path: Path) -> None:
    header = np.frombuffer(json.dumps(_header(workload)).encode(), dtype=np.uint8)
    arrays: dict[str, Any] = {"header": header, "arrival": workload.arrival,
                              "model_codes": workload.model_codes}
    for col in OPTIONAL_COLUMNS:
        if getattr(workload, col) is not None:
            arrays[col] = getattr(workload, col)
    with path.open("wb") as fh:  # a file object: np.savez would otherwise append ".npz"
        np.savez(fh, **arrays)


def _load_npz(path: Path) -> Workload:
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            names, cols = _check_header(header, path)
            arrival = data["arrival"]
            codes = data["model_codes"]
            columns = {c: data[c] for c in cols}
    except (KeyError, ValueError, OSError) as exc:
        raise WorkloadError(f"{str(path)!r} is not a readable workload npz: {exc}") from exc
    return _build(path, arrival, codes, names, columns)


def _save_parquet(workload: Workload, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    model = pa.DictionaryArray.from_arrays(
        pa.array(workload.model_codes, type=pa.int32()),
        pa.array(list(workload.model_names), type=pa.string()))
    fields = {"arrival": pa.array(workload.arrival, type=pa.float64()), "model": model}
    for col in OPTIONAL_COLUMNS:
        values = getattr(workload, col)
        if values is not None:
            fields[col] = pa.array(values)
    table = pa.table(fields).replace_schema_metadata(
        {_META_KEY: json.dumps(_header(workload)).encode()})
    pq.write_table(table, path)


def _load_parquet(path: Path) -> Workload:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise WorkloadError(f"{str(path)!r} is not a readable parquet file: {exc}") from exc
    meta = table.schema.metadata or {}
    if _META_KEY not in meta:
        raise WorkloadError(f"{str(path)!r} is parquet but has no workload metadata")
    names, cols = _check_header(json.loads(meta[_META_KEY].decode()), path)
    missing = [c for c in ("arrival", "model", *cols) if c not in table.column_names]
    if missing:
        raise WorkloadError(f"{str(path)!r} lacks columns {missing}")
    model = table.column("model").combine_chunks()
    if pa.types.is_dictionary(model.type):
        # Map the stored dictionary onto the saved name order (a reader may re-encode it).
        dictionary = model.dictionary.to_pylist()
        unknown = sorted(set(dictionary) - set(names))
        if unknown:
            raise WorkloadError(f"{str(path)!r}: models {unknown} are not in its model names")
        remap = np.array([names.index(d) for d in dictionary], dtype=np.int32)
        indices = model.indices.to_numpy(zero_copy_only=False)
        codes = remap[indices] if indices.size else np.empty(0, np.int32)
    else:
        raise WorkloadError(f"{str(path)!r}: column 'model' is not dictionary-encoded")
    columns = {c: table.column(c).to_numpy().astype(_INT_DTYPES[c]) for c in cols}
    arrival = table.column("arrival").to_numpy().astype(np.float64)
    return _build(path, arrival, codes, names, columns)
