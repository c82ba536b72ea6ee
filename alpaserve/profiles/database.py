"""The profile database: a :class:`ProfileStore` that saves to JSON and speaks AlpaServe's TSV.

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
from collections.abc import Mapping
from typing import Any

from alpaserve.errors import AlpaServeError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig  # noqa: F401 (the examples use it)
from alpaserve.profiles.entry import ProfileEntry
from alpaserve.profiles.store import ProfileStore

TSV_COLUMNS = ("ModelName", "BS", "#Microbatch", "DP", "OP", "PP", "#GPU", "MeanTime(s)",
               "StdTime(s)", "TFLOPs", "StageWeights(B)", "StagePeakMem(B)",
               "StageLatencies(s)")
FORMAT_VERSION = 1


class ProfileDB(ProfileStore):
    """A collection of :class:`ProfileEntry`, keyed by (model, config, batch size).

    The entries and their queries (``add``, ``get``, ``stage_latencies``, ``stage_weights``, ...)
    are :class:`ProfileStore`'s; this class adds JSON (:meth:`to_json`) and AlpaServe's TSV
    (:meth:`to_tsv`).

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

