"""The LLM plan file: a many-LLM plan and everything needed to replay it.

``alpaserve llm plan --out plan.json`` writes it and ``alpaserve llm simulate plan.json``
reads it. Layout (strict JSON; ``null`` where a value is undefined)::

    {"kind": "alpaserve-llm-plan", "version": 1,
     "plan": {...},                       # LLMPlan.to_dict() (placement.llm)
     "slo": {"ttft": {"model": s, ...}, "tpot": {"model": s, ...}},
     "scheduler": {"max_num_seqs": ..., "max_batched_tokens": ..., "block_size": ...,
                   "chunked_prefill": ...},
     "workload": {"kind": "trace", ...} | {"kind": "synthetic", ...},
     ...}                                 # anything else: the plan's summary, as written

The workload spec of a trace holds ``path, sha256, format, window, rate_scale, split,
alpha, seed, train_fraction, model_names``; that of a synthetic workload ``rate, cv,
duration, alpha, seed, train_fraction, model_names, tokens``. With them ``llm simulate``
rebuilds exactly the held-out part the plan was tested on. This module checks the envelope
(kind, version, SLOs, workload spec); the plan itself is checked where it is rebuilt
(``placement.llm``), so the core stays below the placer.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alpaserve.errors import SpecError
from alpaserve.safe_files import write_text
from alpaserve.strict_json import dumps_strict, loads_object, read_text

__all__ = ["LLM_PLAN_KIND", "LLM_PLAN_VERSION", "LLMPlanFile", "check_workload_spec",
           "load_llm_plan_file", "parse_llm_plan_file"]

LLM_PLAN_KIND = "alpaserve-llm-plan"
LLM_PLAN_VERSION = 1
_OWN_KEYS = ("kind", "version", "plan", "slo", "scheduler", "workload")
_SCHEDULER_KEYS = {"max_num_seqs": int, "max_batched_tokens": int, "block_size": int,
                   "chunked_prefill": bool}
# Required keys of each workload kind and their types (numbers: int or float).
_NUMBER = (int, float)
_WORKLOAD_KEYS: dict[str, dict[str, Any]] = {
    "trace": {"path": str, "format": str, "rate_scale": _NUMBER, "split": str,
              "alpha": _NUMBER, "seed": int, "train_fraction": _NUMBER, "model_names": list},
    "synthetic": {"rate": _NUMBER, "cv": _NUMBER, "duration": _NUMBER, "alpha": _NUMBER,
                  "seed": int, "train_fraction": _NUMBER, "model_names": list},
}


def _type_ok(value: Any, kind: Any) -> bool:
    if isinstance(value, bool) and kind is not bool:
        return False  # JSON true is not a number
    return isinstance(value, kind)


def check_workload_spec(spec: Any, where: str = "") -> dict[str, Any]:
    """Check a workload spec of an LLM plan file and return it as a dict.

    Parameters
    ----------
    spec
        The ``"workload"`` object: ``{"kind": "trace", ...}`` or ``{"kind": "synthetic", ...}``.
    where
        A prefix for messages (the file's name).

    Returns
    -------
    dict
        The spec, unchanged.

    Raises
    ------
    SpecError
        A missing key, a value of the wrong type, a non-positive rate, CV, duration or rate
        scale, a train fraction outside (0, 1), a negative alpha or seed, or no model names.

    Examples
    --------
    >>> check_workload_spec({"kind": "synthetic", "rate": 2.0, "cv": 1.0, "duration": 60,
    ...                      "alpha": 1.0, "seed": 0, "train_fraction": 0.5,
    ...                      "model_names": ["a"]})["rate"]
    2.0
    >>> check_workload_spec({"kind": "mix"})
    Traceback (most recent call last):
    ...
    alpaserve.errors.SpecError: workload kind must be 'trace' or 'synthetic', got 'mix'
    """
    if not isinstance(spec, Mapping):
        raise SpecError(f"{where}workload must be an object, got {type(spec).__name__}")
    kind = spec.get("kind")
    if kind not in _WORKLOAD_KEYS:
        raise SpecError(f"{where}workload kind must be 'trace' or 'synthetic', got {kind!r}")
    for key, typ in _WORKLOAD_KEYS[kind].items():
        if key not in spec:
            raise SpecError(f"{where}{kind} workload spec has no {key!r}")
        if not _type_ok(spec[key], typ):
            raise SpecError(f"{where}{kind} workload {key!r} has the wrong type: "
                            f"{spec[key]!r}")
    positive = ("rate_scale",) if kind == "trace" else ("rate", "cv", "duration")
    for key in positive:
        if not (math.isfinite(spec[key]) and spec[key] > 0):
            raise SpecError(f"{where}workload {key!r} must be a positive number, "
                            f"got {spec[key]!r}")
    if not 0 < spec["train_fraction"] < 1:
        raise SpecError(f"{where}workload train_fraction must be in (0, 1), got "
                        f"{spec['train_fraction']!r}")
    if not (math.isfinite(spec["alpha"]) and spec["alpha"] >= 0) or spec["seed"] < 0:
        raise SpecError(f"{where}workload alpha and seed must be >= 0, got "
                        f"{spec['alpha']!r} and {spec['seed']!r}")
    names = spec["model_names"]
    if not names or not all(isinstance(n, str) and n for n in names) \
            or len(set(names)) != len(names):
        raise SpecError(f"{where}workload model_names must be distinct names, got {names!r}")
    return dict(spec)


def _check_slo(slo: Any, where: str) -> dict[str, dict[str, float]]:
    if not isinstance(slo, Mapping) or set(slo) != {"ttft", "tpot"}:
        raise SpecError(f"{where}slo must be an object with 'ttft' and 'tpot', got {slo!r}")
    out: dict[str, dict[str, float]] = {}
    for kind in ("ttft", "tpot"):
        table = slo[kind]
        if not isinstance(table, Mapping) or not table:
            raise SpecError(f"{where}slo {kind!r} must map each model to seconds")
        bad = {k: v for k, v in table.items() if not _type_ok(v, _NUMBER)
               or not (math.isfinite(v) and v > 0)}
        if bad:
            raise SpecError(f"{where}{kind.upper()} SLOs must be positive seconds, got {bad}")
        out[kind] = {str(k): float(v) for k, v in table.items()}
    if set(out["ttft"]) != set(out["tpot"]):
        raise SpecError(f"{where}the TTFT and TPOT SLOs name different models")
    return out


def _check_scheduler(scheduler: Any, where: str) -> dict[str, Any]:
    if not isinstance(scheduler, Mapping):
        raise SpecError(f"{where}scheduler must be an object, got {scheduler!r}")
    for key, typ in _SCHEDULER_KEYS.items():
        if not _type_ok(scheduler.get(key), typ):
            raise SpecError(f"{where}scheduler {key!r} must be a {typ.__name__}, got "
                            f"{scheduler.get(key)!r}")
        if typ is int and scheduler[key] < 1:
            raise SpecError(f"{where}scheduler {key!r} must be at least 1, got "
                            f"{scheduler[key]!r}")
    return dict(scheduler)


@dataclass(frozen=True, kw_only=True)
class LLMPlanFile:
    """An LLM plan read from (or to be written to) an LLM plan file.

    Parameters
    ----------
    plan : mapping
        The plan (``placement.llm.LLMPlan.to_dict()``); rebuilt by its ``from_dict``.
    slo : mapping
        ``{"ttft": {model: seconds}, "tpot": {model: seconds}}``, positive.
    scheduler : mapping
        The scheduler configuration (``SchedulerConfig.to_dict()``).
    workload : mapping
        The workload spec (module docstring).
    summary : mapping, optional
        Other fields (scores, the trace report), as written.
    path : str, optional
        The file it was read from.

    Examples
    --------
    >>> pf = LLMPlanFile(plan={"groups": []}, slo={"ttft": {"a": 1.0}, "tpot": {"a": 0.1}},
    ...                  scheduler={"max_num_seqs": 8, "max_batched_tokens": 512,
    ...                             "block_size": 16, "chunked_prefill": False},
    ...                  workload={"kind": "synthetic", "rate": 2.0, "cv": 1.0,
    ...                            "duration": 60.0, "alpha": 1.0, "seed": 0,
    ...                            "train_fraction": 0.5, "model_names": ["a"]})
    >>> again = parse_llm_plan_file(pf.to_json())
    >>> again.slo["tpot"], again.workload["rate"]
    ({'a': 0.1}, 2.0)
    """

    plan: Mapping[str, Any]
    slo: Mapping[str, Mapping[str, float]]
    scheduler: Mapping[str, Any]
    workload: Mapping[str, Any]
    summary: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The file's fields.

        Returns
        -------
        dict
            ``kind``, ``version``, the summary's keys, then ``plan``, ``slo``, ``scheduler``
            and ``workload``.
        """
        return {"kind": LLM_PLAN_KIND, "version": LLM_PLAN_VERSION,
                **{k: v for k, v in self.summary.items() if k not in _OWN_KEYS},
                "plan": dict(self.plan),
                "slo": {k: dict(v) for k, v in self.slo.items()},
                "scheduler": dict(self.scheduler), "workload": dict(self.workload)}

    def to_json(self, indent: int | None = 2) -> str:
        """Strict JSON (no ``NaN``).

        Parameters
        ----------
        indent : int or None, default 2
            JSON indentation; ``None`` for one line.

        Returns
        -------
        str
            The file's text.
        """
        return dumps_strict(self.to_dict(), indent=indent)

    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> None:
        """Write the file atomically (see :mod:`alpaserve.safe_files`).

        Parameters
        ----------
        path
            Where to write; an existing file is replaced only if alpaserve wrote it.
        force
            Replace a file alpaserve did not write.

        Returns
        -------
        None
        """
        write_text(Path(path), self.to_json() + "\n", force=force)


def parse_llm_plan_file(text: str, *, path: str | None = None) -> LLMPlanFile:
    """Read and check an LLM plan file's text.

    Parameters
    ----------
    text
        The file's contents.
    path
        Where it came from, for messages.

    Returns
    -------
    LLMPlanFile
        The checked envelope; ``plan`` is still a dict.

    Raises
    ------
    SpecError
        Not JSON, not an object, a request-level plan file (pointing to ``alpaserve
        simulate``), another kind, a newer version, or a malformed field (named).

    Examples
    --------
    >>> try:
    ...     parse_llm_plan_file('{"format": "alpaserve-plan", "version": 1}')
    ... except SpecError as exc:
    ...     print(str(exc).split("; ")[1])
    simulate it with `alpaserve simulate`
    """
    where = f"{path!r}: " if path else ""
    data = loads_object(text, where=where, what="an LLM plan file")
    if data.get("format") == "alpaserve-plan" or ("cluster" in data and "kind" not in data):
        raise SpecError(f"{where}a request-level plan file (from `alpaserve plan`), not an LLM "
                        "plan file; simulate it with `alpaserve simulate`")
    if data.get("kind") != LLM_PLAN_KIND:
        raise SpecError(f"{where}kind {data.get('kind')!r} is not {LLM_PLAN_KIND!r}: not an "
                        "LLM plan file (write one with `alpaserve llm plan --out`)")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SpecError(f"{where}LLM plan file version must be a positive int, got {version!r}")
    if version > LLM_PLAN_VERSION:
        raise SpecError(f"{where}LLM plan file version {version} is newer than this alpaserve "
                        f"reads ({LLM_PLAN_VERSION})")
    for key in ("plan", "slo", "scheduler", "workload"):
        if key not in data:
            raise SpecError(f"{where}LLM plan file has no {key!r}")
    if not isinstance(data["plan"], dict):
        raise SpecError(f"{where}LLM plan file field 'plan' must be an object")
    slo = _check_slo(data["slo"], where)
    workload = check_workload_spec(data["workload"], where)
    missing = sorted(set(workload["model_names"]) - set(slo["ttft"]))
    if missing:
        raise SpecError(f"{where}models {missing} of the workload have no SLO")
    return LLMPlanFile(plan=data["plan"], slo=slo,
                       scheduler=_check_scheduler(data["scheduler"], where),
                       workload=workload,
                       summary={k: v for k, v in data.items() if k not in _OWN_KEYS},
                       path=path)


def load_llm_plan_file(path: str | os.PathLike[str]) -> LLMPlanFile:
    """Read an LLM plan file (``alpaserve llm plan --out``).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    LLMPlanFile
        The checked envelope.

    Raises
    ------
    SpecError
        When the file cannot be read or is malformed (see :func:`parse_llm_plan_file`).

    Examples
    --------
    >>> try:
    ...     load_llm_plan_file("no-such-plan.json")
    ... except SpecError as exc:
    ...     print(exc)
    cannot read LLM plan file 'no-such-plan.json': No such file or directory
    """
    text = read_text(path, "LLM plan file")
    return parse_llm_plan_file(text, path=str(path))
