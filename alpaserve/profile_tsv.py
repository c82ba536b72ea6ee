"""AlpaServe's profile TSV, read and written for :class:`~alpaserve.profiles.ProfileDB`.

One row per (model, batch size, config): ``ModelName, BS, #Microbatch, DP, OP, PP, #GPU,
MeanTime(s), StdTime(s), TFLOPs, StageWeights(B), StagePeakMem(B), StageLatencies(s)``
(:data:`~alpaserve.profiles.TSV_COLUMNS`). Only uniform pipelines of ``(1, t)`` meshes are
expressible; every reader error names the file and line.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

from alpaserve.errors import ProfileError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles.database import TSV_COLUMNS
from alpaserve.profiles.entry import ProfileEntry

logger = logging.getLogger(__name__)


def write_tsv(entries: Iterable[ProfileEntry], *, skip_inexpressible: bool = False) -> str:
    """The entries as AlpaServe's TSV (see :meth:`ProfileDB.to_tsv`).

    Parameters
    ----------
    entries : iterable of ProfileEntry
        The entries, in the order written.
    skip_inexpressible : bool, default False
        Leave out (and log) entries whose config the TSV cannot express, instead of raising.

    Returns
    -------
    str
        The header and one row per entry.

    Raises
    ------
    ProfileError
        When an entry's config is not a uniform pipeline of ``(1, t)`` meshes.
    """
    entries = list(entries)
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(TSV_COLUMNS)
    skipped = 0
    for e in entries:
        first = e.config.stages[0]
        if not e.config.is_uniform or first.mesh_shape[0] != 1:
            if skip_inexpressible:
                skipped += 1
                continue
            raise ProfileError(f"config {e.config.key} of {e.model!r} is not a uniform "
                               "pipeline of (1, t) meshes, which AlpaServe's TSV cannot "
                               "express")
        op = first.tensor_degree
        pp = e.config.pipeline_degree
        writer.writerow([e.model, e.batch_size, 1, 1, op, pp, op * pp,
                         repr(e.total_latency), repr(e.latency_std), repr(e.tflops),
                         repr(list(e.stage_weight_bytes)),
                         repr(list(e.stage_peak_memory_bytes)),
                         repr([float(x) for x in e.stage_latencies])])
    if skipped:
        logger.warning("left %d of %d profile entries out of the TSV: their configs are "
                       "not uniform", skipped, len(entries))
    return out.getvalue()


def read_tsv(text: str, models: Mapping[str, ModelSpec], *, source: str = "measured",
             path: str = "<tsv>") -> list[ProfileEntry]:
    """The entries of an AlpaServe TSV, in row order (see :meth:`ProfileDB.from_tsv`).

    Parameters
    ----------
    text : str
        The TSV text (a byte-order mark and blank rows are allowed).
    models : mapping of str to ModelSpec
        The spec of every model the rows name.
    source : str, default "measured"
        ``source`` of every entry.
    path : str, default "<tsv>"
        Name used in error messages.

    Returns
    -------
    list of ProfileEntry
        One entry per row.

    Raises
    ------
    ProfileError
        On a bad header or row, naming the file and line.
    """
    try:
        rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter="\t"))
    except csv.Error as exc:
        raise ProfileError(f"{path}: malformed TSV: {exc}") from None
    if not rows or tuple(c.strip() for c in rows[0]) != TSV_COLUMNS:
        raise ProfileError(f"{path}: header must be {TSV_COLUMNS}, "
                           f"got {tuple(rows[0]) if rows else 'nothing'}")
    out: list[ProfileEntry] = []
    configs: dict[tuple[int, int, int], ParallelConfig] = {}  # one per shape, not per row
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line
        if len(row) != len(TSV_COLUMNS):
            raise ProfileError(f"{path} line {line_no}: expected {len(TSV_COLUMNS)} "
                               f"columns, got {len(row)}")
        rec = dict(zip(TSV_COLUMNS, row, strict=True))
        out.append(_entry_from_tsv_row(rec, models, source, f"{path} line {line_no}",
                                       configs))
    return out


def _entry_from_tsv_row(rec: dict[str, str], models: Mapping[str, ModelSpec], source: str,
                        where: str, configs: dict[tuple[int, int, int], ParallelConfig]
                        ) -> ProfileEntry:
    name = rec["ModelName"]
    if name not in models:
        raise ProfileError(f"{where}: model {name!r} has no spec; known: {sorted(models)}")

    def number(column: str, kind: type) -> Any:
        try:
            value = float(rec[column])
        except ValueError:
            raise ProfileError(f"{where}: column {column!r} is not a number: "
                               f"{rec[column][:40]!r}") from None
        if not math.isfinite(value):
            raise ProfileError(f"{where}: column {column!r} is not finite: {rec[column]!r}")
        if kind is int:
            if not value.is_integer():
                raise ProfileError(f"{where}: column {column!r} is not an integer: "
                                   f"{rec[column]!r}")
            return int(value)
        return value

    def values(column: str) -> list[Any]:
        try:  # plain lists of numbers are JSON, which parses faster than Python literals
            parsed = json.loads(rec[column])
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, list):
            return parsed
        try:
            parsed = ast.literal_eval(rec[column])
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise ProfileError(f"{where}: column {column!r} is not a list: "
                               f"{rec[column][:40]!r}") from None
        return list(parsed) if isinstance(parsed, list | tuple) else [parsed]

    dp, op, pp = number("DP", int), number("OP", int), number("PP", int)
    if dp != 1:
        raise ProfileError(f"{where}: DP={dp} is not supported; each replica is its own group")
    gpus = number("#GPU", int)
    if gpus != dp * op * pp:
        raise ProfileError(f"{where}: #GPU={gpus} is not DP×OP×PP={dp * op * pp}")
    try:
        shape = (models[name].num_layers, pp, op)
        if shape not in configs:
            configs[shape] = ParallelConfig.uniform(num_layers=shape[0], pipeline_degree=pp,
                                                    tensor_degree=op)
        config = configs[shape]
        return ProfileEntry(
            model=name, config=config, batch_size=number("BS", int),
            stage_latencies=tuple(float(x) for x in values("StageLatencies(s)")),
            stage_weight_bytes=tuple(int(x) for x in values("StageWeights(B)")),
            stage_peak_memory_bytes=tuple(int(x) for x in values("StagePeakMem(B)")),
            source=source, latency_std=number("StdTime(s)", float),
            tflops=number("TFLOPs", float),
        )
    except (SpecError, TypeError, ValueError, OverflowError) as exc:
        # SpecError from the entry's checks; the others from list items that are not numbers
        raise ProfileError(f"{where}: {exc}") from exc
