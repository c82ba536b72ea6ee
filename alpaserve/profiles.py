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

import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from alpaserve._validation import non_empty_name, non_negative_float, positive_int
from alpaserve.errors import AlpaServeError, ProfileError, SpecError
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

    Parameters
    ----------
    model : str
        Model name; non-empty.
    config : ParallelConfig
        The parallel config profiled.
    batch_size : int
        Requests per batch; positive.
    stage_latencies : tuple of float
        Seconds per batch in each stage (one per stage); positive and finite.
    stage_weight_bytes : tuple of int
        Weight bytes per device of each stage; non-negative.
    stage_peak_memory_bytes : tuple of int
        Peak memory bytes per device of each stage (weights and activations).
    source : {"analytic", "analytic-dp-ilp", "measured"}
        Where the numbers come from.
    latency_std : float, default 0.0
        Standard deviation of the total latency in seconds (measured profiles).
    tflops : float, default 0.0
        Achieved TFLOP/s, when known.

    Raises
    ------
    SpecError
        If a value is out of range or a per-stage tuple's length differs from the number
        of stages.

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
        """The entry as a JSON-ready dict.

        Returns
        -------
        dict of str to Any
            Every field by name (the config as a dict); :meth:`from_dict` inverts it.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> e.to_dict()["config"]
        {'stages': [{'layers': [0, 4], 'mesh_shape': [1, 1]}]}
        """
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
        """Build an entry from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : Mapping[str, Any]
            The fields by name, ``config`` as a dict.

        Returns
        -------
        ProfileEntry
            The validated entry.

        Raises
        ------
        SpecError
            If a field is missing, unknown or out of range.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> ProfileEntry.from_dict(e.to_dict()) == e
        True
        """
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

    Parameters
    ----------
    entries : iterable of ProfileEntry, default ()
        Initial entries; a later entry replaces an earlier one with the same key.

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
        """Add ``entry``; an existing entry with the same key is replaced unless told not to.

        Parameters
        ----------
        entry : ProfileEntry
            The entry to add.
        replace : bool, default True
            Replace an entry with the same key; False raises instead.

        Raises
        ------
        SpecError
            If ``entry`` is not a ``ProfileEntry``.
        ProfileError
            If ``replace`` is False and the key is taken.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> db = ProfileDB([e])
        >>> db.add(e, replace=False)
        Traceback (most recent call last):
        ...
        alpaserve.errors.ProfileError: profile for 'm' pp1-tp1 bs=1 already exists
        """
        if not isinstance(entry, ProfileEntry):
            raise SpecError(f"ProfileDB holds ProfileEntry objects, got {entry!r}")
        if not replace and entry.key in self._entries:
            raise ProfileError(f"profile for {entry.model!r} {entry.config.key} "
                               f"bs={entry.batch_size} already exists")
        self._entries[entry.key] = entry
        self._index.setdefault(entry.model, {}).setdefault(entry.config, {})[
            entry.batch_size] = entry

    def update(self, other: ProfileDB | Iterable[ProfileEntry]) -> None:
        """Add every entry of ``other``, replacing entries with the same key.

        Parameters
        ----------
        other : ProfileDB or iterable of ProfileEntry
            The entries to add.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> db = ProfileDB()
        >>> db.update([e, e])
        >>> len(db)
        1
        """
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
        """The models with at least one entry.

        Returns
        -------
        set of str
            Model names.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> ProfileDB([e]).models()
        {'m'}
        """
        return set(self._index)

    def configs(self, model: str) -> list[ParallelConfig]:
        """The configs profiled for ``model``, in insertion order, without repeats.

        Parameters
        ----------
        model : str
            Model name.

        Returns
        -------
        list of ParallelConfig
            Its configs; empty if the model has no entry.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> [c.key for c in ProfileDB([e]).configs("m")]
        ['pp1-tp1']
        """
        return list(self._index.get(model, ()))

    def batch_sizes(self, model: str, config: ParallelConfig) -> list[int]:
        """The batch sizes profiled for ``model`` under ``config``.

        Parameters
        ----------
        model : str
            Model name.
        config : ParallelConfig
            The parallel config.

        Returns
        -------
        list of int
            Sorted batch sizes; empty if there is none.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> ProfileDB([e]).batch_sizes("m", cfg)
        [1]
        """
        return sorted(self._index.get(model, {}).get(config, ()))

    def entries(self, model: str, batch_size: int | None = None) -> list[ProfileEntry]:
        """``model``'s entries (at ``batch_size`` only, when given), configs in insertion order.

        Parameters
        ----------
        model : str
            Model name.
        batch_size : int, optional
            Only the entries of this batch size.

        Returns
        -------
        list of ProfileEntry
            The entries; empty if there is none.

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

        Parameters
        ----------
        model : str
            Model name.
        config : ParallelConfig
            The parallel config.

        Returns
        -------
        ProfileEntry or None
            The entry, or None when ``(model, config)`` has none.
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
        model : ModelSpec
            The model's spec (its name is the profile key).
        config : ParallelConfig
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
        """The entry of ``model`` under ``config`` at ``batch_size``.

        Parameters
        ----------
        model : str
            Model name.
        config : ParallelConfig
            The parallel config.
        batch_size : int, default 1
            Requests per batch.

        Returns
        -------
        ProfileEntry
            The entry.

        Raises
        ------
        ProfileError
            If there is none; the message lists the profiled batch sizes or configs.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> ProfileDB([e]).get("m", cfg, 2)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        alpaserve.errors.ProfileError: no profile for model 'm' config pp1-tp1 at batch size 2; ...
        """
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
        """Seconds per batch of each stage; see :meth:`get`.

        Parameters
        ----------
        model : str
            Model name.
        config : ParallelConfig
            The parallel config.
        batch_size : int, default 1
            Requests per batch.

        Returns
        -------
        tuple of float
            The entry's ``stage_latencies``.

        Raises
        ------
        ProfileError
            If there is no such entry.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> ProfileDB([e]).stage_latencies("m", cfg)
        (0.1,)
        """
        return self.get(model, config, batch_size).stage_latencies

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """The database as a JSON-ready dict, with a format version.

        Returns
        -------
        dict of str to Any
            ``format_version`` and ``entries`` (a list of entry dicts).

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> d = ProfileDB([e]).to_dict()
        >>> d["format_version"], len(d["entries"])
        (1, 1)
        """
        return {"format_version": FORMAT_VERSION, "entries": [e.to_dict() for e in self]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileDB:
        """Build a database from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : Mapping[str, Any]
            ``format_version`` (must be the current one) and ``entries``.

        Returns
        -------
        ProfileDB
            The database.

        Raises
        ------
        SpecError
            If ``data`` is not a mapping, the version is unsupported or an entry is
            malformed.

        Examples
        --------
        >>> ProfileDB.from_dict({"format_version": 99, "entries": []})
        Traceback (most recent call last):
        ...
        alpaserve.errors.SpecError: unsupported profile format_version 99
        """
        if not isinstance(data, Mapping):
            raise SpecError(f"a profile database must be a JSON object, got {type(data).__name__}")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise SpecError(f"unsupported profile format_version {version!r}")
        try:
            return cls(ProfileEntry.from_dict(e) for e in data["entries"])
        except AlpaServeError:
            raise
        except (TypeError, KeyError, ValueError, AttributeError, OverflowError) as exc:
            raise SpecError(f"malformed profile database: {exc!r}") from exc

    def to_json(self, indent: int | None = None) -> str:
        """The database as JSON text.

        Parameters
        ----------
        indent : int or None, default None
            JSON indentation; None writes one line.

        Returns
        -------
        str
            JSON of :meth:`to_dict`.

        Examples
        --------
        >>> ProfileDB().to_json()
        '{"format_version": 1, "entries": []}\'
        """
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> ProfileDB:
        """Read a database from :meth:`to_json`'s output.

        Parameters
        ----------
        text : str
            The JSON text.

        Returns
        -------
        ProfileDB
            The database.

        Raises
        ------
        SpecError
            If the JSON is malformed or the database invalid.

        Examples
        --------
        >>> len(ProfileDB.from_json('{"format_version": 1, "entries": []}'))
        0
        """
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise SpecError(f"profile JSON is malformed: {exc}") from exc
        return cls.from_dict(data)

    # ------------------------------------------------------------------ AlpaServe TSV
    def to_tsv(self, *, skip_inexpressible: bool = False) -> str:
        """AlpaServe's TSV.

        A row only holds ``PP`` and ``OP``, so only uniform configs (even layer split, one
        ``(1, t)`` mesh on every stage) survive the trip. Others raise ``ProfileError``, or
        with ``skip_inexpressible`` are left out and their number is logged as a warning.

        Parameters
        ----------
        skip_inexpressible : bool, default False
            Leave out entries the TSV cannot express instead of raising.

        Returns
        -------
        str
            The TSV text, header first, one row per entry.

        Raises
        ------
        ProfileError
            If an entry is not a uniform config and ``skip_inexpressible`` is False.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> ProfileDB([e]).to_tsv().splitlines()[1].split("\\t")[:7]
        ['m', '1', '1', '1', '1', '1', '1']
        """
        from alpaserve.profile_tsv import write_tsv

        return write_tsv(self, skip_inexpressible=skip_inexpressible)

    @classmethod
    def from_tsv(cls, text: str, models: Mapping[str, ModelSpec], *,
                 source: str = "measured", path: str = "<tsv>") -> ProfileDB:
        """Parse AlpaServe's TSV; ``models`` gives each ModelName's spec (for layer counts).

        Parameters
        ----------
        text : str
            The TSV text, with the exact :data:`TSV_COLUMNS` header; blank rows are skipped.
        models : Mapping[str, ModelSpec]
            Spec of every model the rows name.
        source : str, default "measured"
            ``source`` of every entry.
        path : str, default "<tsv>"
            Name used in error messages.

        Returns
        -------
        ProfileDB
            One entry per row, with uniform configs.

        Raises
        ------
        ProfileError
            If the header differs, a row has the wrong number of columns, names an unknown
            model, holds a value that cannot be parsed, has ``DP`` other than 1 or ``#GPU``
            other than ``DP × OP × PP``, or describes an invalid entry.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> from alpaserve.model_spec import ModelSpec
        >>> m = ModelSpec(name="m", family="bert", num_layers=4, hidden_size=64, num_heads=4,
        ...               ffn_size=256, vocab_size=100, seq_len=16)
        >>> db = ProfileDB.from_tsv(ProfileDB([e]).to_tsv(), {"m": m})
        >>> db.get("m", cfg).stage_latencies
        (0.1,)
        """
        from alpaserve.profile_tsv import read_tsv

        db = cls()
        for entry in read_tsv(text, models, source=source, path=path):
            db.add(entry)
        return db

