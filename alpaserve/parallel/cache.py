"""On-disk cache of :func:`search_configs` results, keyed by a hash of every input.

The key hashes the model spec, the cluster spec, ``max_devices``, the search options and a
format version, so changing any of them misses. The directory is, in order: the
``cache_dir`` argument, the ``ALPASERVE_CACHE_DIR`` environment variable, or
``.alpaserve_cache/`` in the current directory. A file that cannot be read is recomputed and
rewritten (logged); writes go through a temporary file and an atomic rename.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from alpaserve.cluster_spec import ClusterSpec
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel.search import Candidate, ConfigSearchOptions, SearchResult, search_configs
from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileEntry

logger = logging.getLogger(__name__)

CACHE_ENV = "ALPASERVE_CACHE_DIR"
CACHE_VERSION = 2  # 2: kernels timed by cost_model.op_time, fixed overheads


def default_cache_dir() -> Path:
    """``$ALPASERVE_CACHE_DIR`` if set, else ``./.alpaserve_cache``.

    Returns
    -------
    pathlib.Path
        The cache folder (it need not exist yet; :func:`cached_search` creates it).
    """
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.cwd() / ".alpaserve_cache"


def cache_key(model: ModelSpec, cluster: ClusterSpec, max_devices: int,
              options: ConfigSearchOptions) -> str:
    """A hex digest of everything the search result depends on.

    Parameters
    ----------
    model : ModelSpec
        The model whose configurations are searched.
    cluster : ClusterSpec
        The cluster (device type and link speeds enter the costs).
    max_devices : int
        The largest group size searched.
    options : ConfigSearchOptions
        The search options (batch sizes, group sizes, solvers, memory policy).

    Returns
    -------
    str
        A 64-character SHA-256 hex digest; it changes with any input and with
        ``CACHE_VERSION``.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> a = cache_key(model_preset("bert-1.3b"), homogeneous_cluster(2), 2, ConfigSearchOptions())
    >>> b = cache_key(model_preset("bert-1.3b"), homogeneous_cluster(4), 2, ConfigSearchOptions())
    >>> len(a), a == b
    (64, False)
    """
    payload = {"version": CACHE_VERSION, "model": model.to_dict(),
               "cluster": cluster.to_dict(), "max_devices": max_devices,
               "options": options.to_dict()}
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _to_dict(result: SearchResult, key: str) -> dict[str, Any]:
    return {
        "version": CACHE_VERSION, "key": key, "model": result.model,
        "candidates": [{"config": c.config.to_dict(), "group_size": c.group_size,
                        "entries": [e.to_dict() for e in c.entries]}
                       for c in result.candidates],
        "skipped": list(result.skipped), "intra_op_solves": result.intra_op_solves,
        "non_optimal_solves": result.non_optimal_solves,
    }


def _from_dict(data: dict[str, Any], key: str) -> SearchResult:
    if data.get("version") != CACHE_VERSION or data.get("key") != key:
        raise SpecError(f"cache entry has version {data.get('version')!r} and key "
                        f"{str(data.get('key'))[:12]!r}, expected {CACHE_VERSION} and "
                        f"{key[:12]!r}")
    candidates = tuple(
        Candidate(config=ParallelConfig.from_dict(c["config"]), group_size=c["group_size"],
                  entries=tuple(ProfileEntry.from_dict(e) for e in c["entries"]))
        for c in data["candidates"])
    return SearchResult(model=data["model"], candidates=candidates,
                        skipped=tuple(data["skipped"]),
                        intra_op_solves=data["intra_op_solves"],
                        non_optimal_solves=data["non_optimal_solves"])


def cached_search(model: ModelSpec, cluster: ClusterSpec, *, max_devices: int | None = None,
                  options: ConfigSearchOptions | None = None, cache_dir: str | Path | None = None,
                  refresh: bool = False) -> SearchResult:
    """:func:`search_configs` through the cache; ``result.extra["cache"]`` is hit or miss.

    Parameters
    ----------
    model : ModelSpec
        The model whose configurations are searched.
    cluster : ClusterSpec
        The cluster the configurations are costed on.
    max_devices : int, optional
        The largest group size searched; all of the cluster's devices by default.
    options : ConfigSearchOptions, optional
        The search options; the defaults of :class:`ConfigSearchOptions` when omitted.
    cache_dir : str or pathlib.Path, optional
        The cache folder; :func:`default_cache_dir` when omitted. Created if missing.
    refresh : bool, default False
        Search again and overwrite the cached entry even when one exists.

    Returns
    -------
    SearchResult
        The same result :func:`search_configs` returns; an unreadable or stale cache entry is
        logged and replaced. Entries are written atomically (a temporary file, then a rename).

    Examples
    --------
    >>> import tempfile
    >>> from alpaserve.model_presets import model_preset
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> opts = ConfigSearchOptions(batch_sizes=(1,))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     first = cached_search(model_preset("bert-1.3b"), homogeneous_cluster(1),
    ...                           options=opts, cache_dir=d)
    ...     again = cached_search(model_preset("bert-1.3b"), homogeneous_cluster(1),
    ...                           options=opts, cache_dir=d)
    >>> first.extra["cache"], again.extra["cache"], first == again
    ('miss', 'hit', True)
    """
    options = options or ConfigSearchOptions()
    max_devices = cluster.num_devices if max_devices is None else max_devices
    key = cache_key(model, cluster, max_devices, options)
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = directory / f"configs-{model.name}-{key[:24]}.json"
    if not refresh and path.is_file():
        try:
            result = _from_dict(json.loads(path.read_text()), key)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable config cache %s: %s", path, exc)
        else:
            result.extra.update(cache="hit", path=str(path))
            return result
    result = search_configs(model, cluster, max_devices=max_devices, options=options)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(_to_dict(result, key), fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    result.extra.update(cache="miss", path=str(path))
    return result
