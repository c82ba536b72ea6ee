"""The profile database: stage latencies and memory per (model, parallel config, batch size).

Entries come from the analytic cost model (``source="analytic"``), from the parallel-config
search (``"analytic-dp-ilp"``) or from real devices (``"measured"``). The database saves to
JSON and imports/exports AlpaServe's TSV schema::

    ModelName  BS  #Microbatch  DP  OP  PP  #GPU  MeanTime(s)  StdTime(s)  TFLOPs
    StageWeights(B)  StagePeakMem(B)  StageLatencies(s)

where the last three columns hold Python-style lists with one value per stage. A TSV row only
says ``PP`` and ``OP``, so on import the layers are split evenly (:meth:`ParallelConfig.uniform`)
and the model specs must be supplied to know the layer counts.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from alpaserve._validation import non_empty_name, non_negative_float, positive_int
from alpaserve.errors import ProfileError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig

SOURCES = ("analytic", "analytic-dp-ilp", "measured")
TSV_COLUMNS = ("ModelName", "BS", "#Microbatch", "DP", "OP", "PP", "#GPU", "MeanTime(s)",
               "StdTime(s)", "TFLOPs", "StageWeights(B)", "StagePeakMem(B)",
               "StageLatencies(s)")
FORMAT_VERSION = 1

ProfileKey = tuple[str, ParallelConfig, int]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ProfileEntry:
    """Measured or estimated behaviour of one model under one config at one batch size.

    ``stage_weight_bytes`` and ``stage_peak_memory_bytes`` are per device of each stage.

    Examples
    --------
    >>> cfg = ParallelConfig.uniform(num_layers=4, pipeline_degree=2)
    >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1, 0.2),
    ...                  stage_weight_bytes=(10, 10), stage_peak_memory_bytes=(12, 12),
    ...                  source="analytic")
    >>> round(e.total_latency, 3), e.max_stage_latency
    (0.3, 0.2)
    """

    model: str
    config: ParallelConfig
    batch_size: int
    stage_latencies: tuple[float, ...]
    stage_weight_bytes: tuple[int, ...]
    stage_peak_memory_bytes: tuple[int, ...]
    source: str
    latency_std: float = 0.0
    tflops: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.config, ParallelConfig):
            raise SpecError(f"ProfileEntry.config must be a ParallelConfig, got {self.config!r}")
        owner = f"ProfileEntry({self.model!r}, {self.config.key}, bs={self.batch_size})"
        non_empty_name("ProfileEntry", "model", self.model)
        positive_int(owner, "batch_size", self.batch_size)
        if self.source not in SOURCES:
            raise SpecError(f"{owner}.source must be one of {SOURCES}, got {self.source!r}")
        p = self.config.pipeline_degree
        for name in ("stage_latencies", "stage_weight_bytes", "stage_peak_memory_bytes"):
            values = tuple(getattr(self, name))
            object.__setattr__(self, name, values)
            if len(values) != p:
                raise SpecError(f"{owner}.{name} has {len(values)} values for {p} stages")
        lats = self.stage_latencies
        if any(isinstance(x, bool) or not isinstance(x, Real) or not (math.isfinite(x) and x > 0)
               for x in lats):
            raise SpecError(f"{owner}.stage_latencies must be positive and finite, got {lats}")
        object.__setattr__(self, "stage_latencies", tuple(float(x) for x in lats))
        for name in ("stage_weight_bytes", "stage_peak_memory_bytes"):
            values = getattr(self, name)
            if any(isinstance(b, bool) or not isinstance(b, Integral) or b < 0 for b in values):
                raise SpecError(f"{owner}.{name} must be non-negative ints, got {values}")
            object.__setattr__(self, name, tuple(int(b) for b in values))
        non_negative_float(owner, "latency_std", self.latency_std)
        non_negative_float(owner, "tflops", self.tflops)

    @property
    def key(self) -> ProfileKey:
        return (self.model, self.config, self.batch_size)

    @property
    def total_latency(self) -> float:
        """Latency of one batch through every stage (no queueing)."""
        return float(sum(self.stage_latencies))

    @property
    def max_stage_latency(self) -> float:
        """The slowest stage: the pipeline's steady-state time between batches."""
        return float(max(self.stage_latencies))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "config": self.config.to_dict(),
            "batch_size": self.batch_size,
            "stage_latencies": list(self.stage_latencies),
            "stage_weight_bytes": list(self.stage_weight_bytes),
            "stage_peak_memory_bytes": list(self.stage_peak_memory_bytes),
            "source": self.source,
            "latency_std": self.latency_std,
            "tflops": self.tflops,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileEntry:
        try:
            fields = dict(data)
            fields["config"] = ParallelConfig.from_dict(fields["config"])
            for name in ("stage_latencies", "stage_weight_bytes", "stage_peak_memory_bytes"):
                fields[name] = tuple(fields[name])
            return cls(**fields)
        except (TypeError, KeyError) as exc:
            raise SpecError(f"cannot build a ProfileEntry from {data!r}: {exc}") from exc


class ProfileDB:
    """A collection of :class:`ProfileEntry`, keyed by (model, config, batch size).

    Examples
    --------
    >>> cfg = ParallelConfig.uniform(num_layers=4)
    >>> db = ProfileDB([ProfileEntry(model="m", config=cfg, batch_size=1,
    ...                              stage_latencies=(0.1,), stage_weight_bytes=(8,),
    ...                              stage_peak_memory_bytes=(8,), source="measured")])
    >>> db.get("m", cfg, 1).stage_latencies
    (0.1,)
    >>> ProfileDB.from_json(db.to_json()) == db
    True
    """

    def __init__(self, entries: Iterable[ProfileEntry] = ()) -> None:
        self._entries: dict[ProfileKey, ProfileEntry] = {}
        # model -> config -> batch size -> entry: lookups by model or config never scan
        self._index: dict[str, dict[ParallelConfig, dict[int, ProfileEntry]]] = {}
        for entry in entries:
            self.add(entry)

    # ------------------------------------------------------------------ mutation
    def add(self, entry: ProfileEntry, *, replace: bool = True) -> None:
        """Add ``entry``; an existing entry with the same key is replaced unless told not to."""
        if not isinstance(entry, ProfileEntry):
            raise SpecError(f"ProfileDB holds ProfileEntry objects, got {entry!r}")
        if not replace and entry.key in self._entries:
            raise ProfileError(f"profile for {entry.model!r} {entry.config.key} "
                               f"bs={entry.batch_size} already exists")
        self._entries[entry.key] = entry
        self._index.setdefault(entry.model, {}).setdefault(entry.config, {})[
            entry.batch_size] = entry

    def update(self, other: ProfileDB | Iterable[ProfileEntry]) -> None:
        for entry in other:
            self.add(entry)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[ProfileEntry]:
        return iter(self._entries.values())

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProfileDB) and self._entries == other._entries

    def __repr__(self) -> str:
        return f"ProfileDB({len(self)} entries, models {sorted(self.models())})"

    def models(self) -> set[str]:
        return set(self._index)

    def configs(self, model: str) -> list[ParallelConfig]:
        """The configs profiled for ``model``, in insertion order, without repeats."""
        return list(self._index.get(model, ()))

    def batch_sizes(self, model: str, config: ParallelConfig) -> list[int]:
        return sorted(self._index.get(model, {}).get(config, ()))

    def entries(self, model: str, batch_size: int | None = None) -> list[ProfileEntry]:
        """``model``'s entries (at ``batch_size`` only, when given), configs in insertion order.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> db = ProfileDB([ProfileEntry(model="m", config=cfg, batch_size=b,
        ...                              stage_latencies=(0.1 * b,), stage_weight_bytes=(8,),
        ...                              stage_peak_memory_bytes=(9,), source="measured")
        ...                 for b in (1, 2)])
        >>> [e.batch_size for e in db.entries("m")], len(db.entries("m", 2))
        ([1, 2], 1)
        """
        by_config = self._index.get(model, {})
        if batch_size is not None:
            return [b[batch_size] for b in by_config.values() if batch_size in b]
        return [e for b in by_config.values() for e in b.values()]

    def memory_entry(self, model: str, config: ParallelConfig) -> ProfileEntry | None:
        """The entry whose memory stands for ``model`` under ``config`` (or None).

        Weights do not depend on the batch size; the smallest profiled batch is used so the
        peak memory is that of one request.
        """
        sizes = self._index.get(model, {}).get(config)
        return sizes[min(sizes)] if sizes else None

    def stage_weights(self, model: ModelSpec, config: ParallelConfig
                      ) -> tuple[tuple[int, ...], str]:
        """Per-device weight bytes of each stage, and where they come from.

        The profile is the truth when it has an entry for ``(model.name, config)`` (source
        ``"profile (measured)"`` and the like); only otherwise does the analytic model
        (:meth:`ParallelConfig.stage_weight_bytes`) answer, with source ``"analytic"``.

        Parameters
        ----------
        model
            The model's spec (its name is the profile key).
        config
            The parallel config.

        Returns
        -------
        tuple
            ``(bytes per device of each stage, source)``.

        Examples
        --------
        >>> from alpaserve.model_spec import model_preset
        >>> bert = model_preset("bert-1.3b")
        >>> cfg = ParallelConfig.uniform(num_layers=bert.num_layers, pipeline_degree=2)
        >>> db = ProfileDB([ProfileEntry(model=bert.name, config=cfg, batch_size=1,
        ...                              stage_latencies=(0.1, 0.1), stage_weight_bytes=(5, 6),
        ...                              stage_peak_memory_bytes=(7, 8), source="measured")])
        >>> db.stage_weights(bert, cfg)
        ((5, 6), 'profile (measured)')
        >>> ProfileDB().stage_weights(bert, cfg)[1]
        'analytic'
        """
        entry = self.memory_entry(model.name, config)
        if entry is None:
            return config.stage_weight_bytes(model), "analytic"
        return entry.stage_weight_bytes, f"profile ({entry.source})"

    def get(self, model: str, config: ParallelConfig, batch_size: int = 1) -> ProfileEntry:
        entry = self._entries.get((model, config, batch_size))
        if entry is None:
            have = self.batch_sizes(model, config)
            if have:
                raise ProfileError(f"no profile for model {model!r} config {config.key} at "
                                   f"batch size {batch_size}; profiled sizes: {have}")
            known = [c.key for c in self.configs(model)]
            raise ProfileError(f"no profile for model {model!r} config {config.key}; "
                               f"profiled configs: {known or 'none'}")
        return entry

    def stage_latencies(self, model: str, config: ParallelConfig,
                        batch_size: int = 1) -> tuple[float, ...]:
        return self.get(model, config, batch_size).stage_latencies

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "entries": [e.to_dict() for e in self]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileDB:
        if not isinstance(data, Mapping):
            raise SpecError(f"a profile database must be a JSON object, got {type(data).__name__}")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise SpecError(f"unsupported profile format_version {version!r}")
        try:
            return cls(ProfileEntry.from_dict(e) for e in data["entries"])
        except (TypeError, KeyError) as exc:
            raise SpecError(f"malformed profile database: {exc!r}") from exc

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> ProfileDB:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"profile JSON is malformed: {exc}") from exc
        return cls.from_dict(data)

    # ------------------------------------------------------------------ AlpaServe TSV
    def to_tsv(self, *, skip_inexpressible: bool = False) -> str:
        """AlpaServe's TSV.

        A row only holds ``PP`` and ``OP``, so only uniform configs (even layer split, one
        ``(1, t)`` mesh on every stage) survive the trip. Others raise ``ProfileError``, or
        with ``skip_inexpressible`` are left out and their number is logged as a warning.
        """
        out = io.StringIO()
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(TSV_COLUMNS)
        skipped = 0
        for e in self:
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
                           "not uniform", skipped, len(self))
        return out.getvalue()

    @classmethod
    def from_tsv(cls, text: str, models: Mapping[str, ModelSpec], *,
                 source: str = "measured", path: str = "<tsv>") -> ProfileDB:
        """Parse AlpaServe's TSV; ``models`` gives each ModelName's spec (for layer counts)."""
        rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
        if not rows or tuple(rows[0]) != TSV_COLUMNS:
            raise ProfileError(f"{path}: header must be {TSV_COLUMNS}, "
                               f"got {tuple(rows[0]) if rows else 'nothing'}")
        db = cls()
        configs: dict[tuple[int, int, int], ParallelConfig] = {}  # one per shape, not per row
        for line_no, row in enumerate(rows[1:], start=2):
            if not row:
                continue
            if len(row) != len(TSV_COLUMNS):
                raise ProfileError(f"{path} line {line_no}: expected {len(TSV_COLUMNS)} "
                                   f"columns, got {len(row)}")
            rec = dict(zip(TSV_COLUMNS, row, strict=True))
            db.add(_entry_from_tsv_row(rec, models, source, f"{path} line {line_no}",
                                       configs))
        return db


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
                               f"{rec[column]!r}") from None
        if kind is int:
            if not value.is_integer():
                raise ProfileError(f"{where}: column {column!r} is not an integer: "
                                   f"{rec[column]!r}")
            return int(value)
        return value

    def values(column: str) -> list[Any]:
        try:  # plain lists of numbers are JSON, which parses faster than Python literals
            parsed = json.loads(rec[column])
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return parsed
        try:
            parsed = ast.literal_eval(rec[column])
        except (ValueError, SyntaxError):
            raise ProfileError(f"{where}: column {column!r} is not a list: "
                               f"{rec[column]!r}") from None
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
    except SpecError as exc:
        raise ProfileError(f"{where}: {exc}") from exc
