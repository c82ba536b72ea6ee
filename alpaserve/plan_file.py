"""The plan file: one JSON file that carries a plan and what it was planned for.

``alpaserve plan --out plan.json`` writes it; ``alpaserve simulate plan.json`` and
``alpaserve fidelity plan.json`` read it, and so does :func:`load_plan_file`. Layout::

    {"format": "alpaserve-plan", "version": 1,
     "placement": {...},            # Placement.to_dict()
     "slo": {"model": seconds, ...},
     "profiles": {"source": "analytic"} | {"source": "file", "path": ..., "sha256": ...},
     "workload": {"kind": "mix", ...} | {"kind": "trace", ...} | null,
     "policy": ..., "attainment": ..., ...}   # the PlanResult summary

The workload spec of a mix holds ``model_names, rate, cv, zipf, duration, seed``; that of
a trace holds ``path, sha256, format, start, end, rate_scale, mapping`` and the
``train_span``/``test_span`` the plan was searched and tested on (seconds after the window
start, rate scaling applied). A bare placement JSON (:meth:`Placement.to_json`) is read
too: it is a plan file without the rest.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.placement_spec import Placement
from alpaserve.profiles import ProfileDB
from alpaserve.safe_files import write_text
from alpaserve.strict_json import dumps_strict, loads_object, read_text

#: The profiles a plan file's memory is checked with, or a reader of them given the file's
#: models and its own profiles source (``None`` for a bare placement); the reader may return
#: None (analytic weights).
ProfileReader = Callable[[Mapping[str, ModelSpec], Mapping[str, Any] | None], ProfileDB | None]
ProfilesArg = ProfileDB | ProfileReader | None

__all__ = ["PLAN_FORMAT", "PLAN_VERSION", "PlanFile", "file_sha256", "load_plan_file",
           "parse_plan_file"]

PLAN_FORMAT = "alpaserve-plan"
PLAN_VERSION = 1
_OWN_KEYS = ("format", "version", "placement", "slo", "profiles", "workload")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, in hex (read in chunks).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as fh:
    ...     _ = fh.write(b"abc"); fh.flush()
    ...     file_sha256(fh.name)[:12]
    'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, kw_only=True)
class PlanFile:
    """A plan read from (or to be written to) a plan file.

    ``slo``, ``workload`` and ``profiles`` are None for a bare placement; ``summary`` holds
    the plan's other fields (policy, attainment, search log, ...) as written.

    Parameters
    ----------
    placement : Placement
        The groups and the models they host.
    slo : mapping of str to float, optional
        SLO in seconds per model.
    workload : mapping, optional
        The workload the plan was made for: ``{"kind": "mix", rate, cv, zipf, duration, seed,
        start_mode}`` or ``{"kind": "trace", path, window, mapping, rate_scale, split, sha256}``.
    profiles : mapping, optional
        Where the latencies came from (``{"source": "analytic", ...}`` or a profile file and
        its hash).
    summary : mapping, optional
        The plan result's other fields, as written.
    path : str, optional
        The file it was read from.

    Examples
    --------
    >>> from alpaserve import Group, Placement, homogeneous_cluster, model_preset
    >>> m = model_preset("bert-1.3b")
    >>> p = Placement(cluster=homogeneous_cluster(1), models={m.name: m},
    ...               groups=(Group.uniform(name="g0", device_ids=[0], pipeline_degree=1,
    ...                                     models=[m]),))
    >>> pf = PlanFile(placement=p, slo={m.name: 0.5},
    ...               workload={"kind": "mix", "rate": 4.0, "seed": 0})
    >>> again = parse_plan_file(pf.to_json())
    >>> again.workload["rate"], again.slo, again.is_bare
    (4.0, {'bert-1.3b': 0.5}, False)
    >>> parse_plan_file(p.to_json()).is_bare
    True
    """

    placement: Placement
    slo: Mapping[str, float] | None = None
    workload: Mapping[str, Any] | None = None
    profiles: Mapping[str, Any] | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None

    @property
    def is_bare(self) -> bool:
        """True when read from a bare placement JSON (no SLOs, workload or profiles)."""
        return self.slo is None and self.workload is None and self.profiles is None

    def to_dict(self) -> dict[str, Any]:
        """The plan file's fields (the summary's keys first, then the plan's own).

        Returns
        -------
        dict
            ``format``, ``version``, the summary's keys, ``placement``, ``slo``, ``profiles`` and
            ``workload``.
        """
        return {"format": PLAN_FORMAT, "version": PLAN_VERSION,
                **{k: v for k, v in self.summary.items() if k not in _OWN_KEYS},
                "placement": self.placement.to_dict(),
                "slo": None if self.slo is None else dict(self.slo),
                "profiles": None if self.profiles is None else dict(self.profiles),
                "workload": None if self.workload is None else dict(self.workload)}

    def to_json(self, indent: int | None = 2) -> str:
        """Strict JSON (no ``NaN``).

        Parameters
        ----------
        indent : int or None, default 2
            JSON indentation; ``None`` for one line.

        Returns
        -------
        str
            The plan file's text.
        """
        return dumps_strict(self.to_dict(), indent=indent)

    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> None:
        """Write the plan file to ``path`` (atomically; see :mod:`alpaserve.safe_files`).

        Parameters
        ----------
        path
            Where to write. An existing file is replaced only if alpaserve wrote it.
        force
            Replace a file alpaserve did not write.

        Returns
        -------
        None

        Examples
        --------
        >>> import tempfile, os
        >>> from alpaserve import homogeneous_cluster
        >>> pf = PlanFile(placement=Placement(cluster=homogeneous_cluster(1), models={},
        ...                                   groups=()), slo={})
        >>> with tempfile.TemporaryDirectory() as d:
        ...     pf.save(os.path.join(d, "plan.json"))
        ...     load_plan_file(os.path.join(d, "plan.json")).slo
        {}
        """
        write_text(Path(path), self.to_json() + "\n", force=force)


def parse_plan_file(text: str, *, path: str | None = None,
                    profiles: ProfilesArg = None) -> PlanFile:
    """Read a plan file's text, or a bare placement JSON.

    Parameters
    ----------
    text
        The file's contents.
    path
        Where it came from, for messages.
    profiles
        The profiles the placement's memory is checked with (their weights where they
        have an entry, analytic weights elsewhere): a :class:`ProfileDB`, or a function of
        the file's models and its recorded profiles source that reads one (an AlpaServe TSV
        needs the specs; the source names the file a plan was made with).

    Returns
    -------
    PlanFile
        The plan; :attr:`PlanFile.is_bare` for a bare placement.

    Examples
    --------
    >>> parse_plan_file('{"format": "alpaserve-plan", "version": 99}')
    Traceback (most recent call last):
    ...
    alpaserve.errors.SpecError: plan file version 99 is newer than this alpaserve reads (1)
    """
    where = f"{path!r}: " if path else ""
    data = loads_object(text, where=where, what="a plan file or placement")
    if data.get("kind") == "alpaserve-llm-plan":
        raise SpecError(f"{where}an LLM plan file (from `alpaserve llm plan`), not a "
                        "request-level plan; simulate it with `alpaserve llm simulate`")
    if "format" not in data:
        if "cluster" not in data:
            raise SpecError(f"{where}neither a plan file (no 'format' key) nor a placement "
                            "(no 'cluster' key)")
        return PlanFile(placement=Placement.from_dict(data, profiles=_profiles_for(
            data, None, profiles, where)), path=path)
    if data["format"] != PLAN_FORMAT:
        raise SpecError(f"{where}format {data['format']!r} is not {PLAN_FORMAT!r}")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise SpecError(f"{where}plan file version must be a positive int, got {version!r}")
    if version > PLAN_VERSION:
        raise SpecError(f"{where}plan file version {version} is newer than this alpaserve "
                        f"reads ({PLAN_VERSION})")
    if not isinstance(data.get("placement"), dict):
        raise SpecError(f"{where}plan file has no placement object")
    for key in ("slo", "workload", "profiles"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise SpecError(f"{where}plan file field {key!r} must be an object or null, got "
                            f"{type(data[key]).__name__}")
    slo = data.get("slo")
    if slo is not None:
        bad = {k: v for k, v in slo.items() if not isinstance(v, int | float) or not v > 0}
        if bad:
            raise SpecError(f"{where}plan file SLOs must be positive seconds, got {bad}")
    db = _profiles_for(data["placement"], data.get("profiles"), profiles, where)
    return PlanFile(placement=Placement.from_dict(data["placement"], profiles=db),
                    slo=None if slo is None else {k: float(v) for k, v in slo.items()},
                    workload=data.get("workload"), profiles=data.get("profiles"),
                    summary={k: v for k, v in data.items() if k not in _OWN_KEYS}, path=path)


def _profiles_for(placement: Mapping[str, Any], source: Mapping[str, Any] | None,
                  profiles: ProfilesArg, where: str) -> ProfileDB | None:
    if profiles is None or isinstance(profiles, ProfileDB):
        return profiles
    try:
        models = {name: ModelSpec.from_dict(spec)
                  for name, spec in dict(placement["models"]).items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpecError(f"{where}the placement's models are malformed: {exc!r}") from exc
    return profiles(models, source)


def load_plan_file(path: str | os.PathLike[str], *,
                   profiles: ProfilesArg = None) -> PlanFile:
    """Read a plan file (``alpaserve plan --out``) or a bare placement JSON.

    Parameters
    ----------
    path
        The file.
    profiles
        As for :func:`parse_plan_file`: the profiles memory is checked with.

    Returns
    -------
    PlanFile
        The placement with the SLOs, profiles source and workload spec it was planned for.

    Examples
    --------
    >>> try:
    ...     load_plan_file("no-such-plan.json")
    ... except SpecError as exc:
    ...     print(exc)
    cannot read placement or plan file 'no-such-plan.json': No such file or directory
    """
    text = read_text(path, "placement or plan file")
    return parse_plan_file(text, path=str(path), profiles=profiles)
