"""The profile store: entries indexed by model, config and batch size, and their queries.

:class:`ProfileStore` holds the entries and answers lookups (by model, config, batch size;
the memory entry of a config; the weights of each stage); :class:`~alpaserve.profiles.ProfileDB`
adds the JSON and TSV formats on top.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, TypeVar

from alpaserve.errors import ProfileError, SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles.entry import ProfileEntry, ProfileKey

T = TypeVar("T")


class ProfileStore:
    """Profile entries keyed by (model, config, batch size), and their queries.

    :class:`~alpaserve.profiles.ProfileDB`, the class to use, adds the file formats.

    Parameters
    ----------
    entries : iterable of ProfileEntry, default ()
        Initial entries; a later entry replaces an earlier one with the same key.

    Examples
    --------
    >>> cfg = ParallelConfig.uniform(num_layers=4)
    >>> db = ProfileStore([ProfileEntry(model="m", config=cfg, batch_size=1,
    ...                                 stage_latencies=(0.1,), stage_weight_bytes=(8,),
    ...                                 stage_peak_memory_bytes=(8,), source="measured")])
    >>> db.get("m", cfg, 1).stage_latencies
    (0.1,)
    >>> len(db), db.models()
    (1, {'m'})
    """

    def __init__(self, entries: Iterable[ProfileEntry] = ()) -> None:
        self._entries: dict[ProfileKey, ProfileEntry] = {}
        # model -> config -> batch size -> entry: lookups by model or config never scan
        self._index: dict[str, dict[ParallelConfig, dict[int, ProfileEntry]]] = {}
        # values derived from the entries (see ``derived``); emptied by every ``add``
        self._derived: dict[Hashable, Any] = {}
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
        >>> db = ProfileStore([e])
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
        self._derived.clear()
        self._index.setdefault(entry.model, {}).setdefault(entry.config, {})[
            entry.batch_size] = entry

    def update(self, other: ProfileStore | Iterable[ProfileEntry]) -> None:
        """Add every entry of ``other``, replacing entries with the same key.

        Parameters
        ----------
        other : ProfileStore or iterable of ProfileEntry
            The entries to add.

        Examples
        --------
        >>> cfg = ParallelConfig.uniform(num_layers=4)
        >>> e = ProfileEntry(model="m", config=cfg, batch_size=1, stage_latencies=(0.1,),
        ...                  stage_weight_bytes=(8,), stage_peak_memory_bytes=(8,),
        ...                  source="measured")
        >>> db = ProfileStore()
        >>> db.update([e, e])
        >>> len(db)
        1
        """
        for entry in other:
            self.add(entry)

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``, computed once and kept until the next :meth:`add`.

        For summaries a planner asks for on every call (the lightest weights of a model,
        its fastest latency); ``build`` must read only this store and return an immutable
        value, which every caller with the same ``key`` then shares.

        Parameters
        ----------
        key : Hashable
            Names the value (include every argument ``build`` depends on).
        build : callable
            Computes it from the entries.

        Returns
        -------
        object
            The value.

        Examples
        --------
        >>> db = ProfileStore()
        >>> db.derived("n", lambda: len(db)), db.derived("n", lambda: -1)
        (0, 0)
        """
        try:
            return self._derived[key]
        except KeyError:
            value = self._derived[key] = build()
            return value

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[ProfileEntry]:
        return iter(self._entries.values())

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProfileStore) and self._entries == other._entries

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} entries, models {sorted(self.models())})"

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
        >>> ProfileStore([e]).models()
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
        >>> [c.key for c in ProfileStore([e]).configs("m")]
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
        >>> ProfileStore([e]).batch_sizes("m", cfg)
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
        >>> db = ProfileStore([ProfileEntry(model="m", config=cfg, batch_size=b,
        ...                                 stage_latencies=(0.1 * b,), stage_weight_bytes=(8,),
        ...                                 stage_peak_memory_bytes=(9,), source="measured")
        ...                    for b in (1, 2)])
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
        >>> from alpaserve.model_presets import model_preset
        >>> bert = model_preset("bert-1.3b")
        >>> cfg = ParallelConfig.uniform(num_layers=bert.num_layers, pipeline_degree=2)
        >>> db = ProfileStore([ProfileEntry(model=bert.name, config=cfg, batch_size=1,
        ...                                 stage_latencies=(0.1, 0.1), stage_weight_bytes=(5, 6),
        ...                                 stage_peak_memory_bytes=(7, 8), source="measured")])
        >>> db.stage_weights(bert, cfg)
        ((5, 6), 'profile (measured)')
        >>> ProfileStore().stage_weights(bert, cfg)[1]
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
        >>> ProfileStore([e]).get("m", cfg, 2)  # doctest: +ELLIPSIS
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
        >>> ProfileStore([e]).stage_latencies("m", cfg)
        (0.1,)
        """
        return self.get(model, config, batch_size).stage_latencies

