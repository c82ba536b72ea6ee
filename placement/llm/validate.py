"""Checks of an LLM plan read back from a file: field types (no silent ``int("0")`` or
``int(1.5)``), each group's shape, and the layout as a whole (unique names, disjoint devices
inside the cluster). A hand-edited or damaged plan fails here with the group and field
named, before any deployment is built."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from alpaserve.errors import SpecError

# KV blocks a model may hold on one group: far above any GPU's (an A100-80GB holds ~2e7 of a
# tiny model's), and below 2^53 so the engine's int64 and float64 sums stay exact.
MAX_KV_BLOCKS = 2**53


def _where(data: Mapping[str, Any], index: int) -> str:
    name = data.get("name")
    return f"group {name!r}" if isinstance(name, str) else f"group #{index}"


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_list(data: Mapping[str, Any], key: str, where: str) -> tuple[int, ...]:
    value = data[key]
    if not isinstance(value, Sequence) or isinstance(value, str) or not all(
            _int(v) for v in value):
        raise SpecError(f"{where}: {key!r} must be a list of integers, got {value!r}")
    return tuple(value)


def group_fields(data: Any, index: int) -> dict[str, Any]:
    """The checked fields of one group of a plan file.

    Parameters
    ----------
    data : Any
        The group's object.
    index : int
        Its position, for messages when it has no name.

    Returns
    -------
    dict
        The :class:`~placement.llm.result.GroupPlan` fields, typed.

    Raises
    ------
    SpecError
        Naming the group and the field: a missing field, a wrong type, ``tp × pp`` not the
        number of devices, repeated devices or models, lists of different lengths, KV
        blocks outside ``[1, MAX_KV_BLOCKS]`` or route weights that are not positive.

    Examples
    --------
    >>> g = {"name": "g0", "devices": [0, 1], "tp": 2, "pp": 1, "models": ["a"],
    ...      "kv_blocks": [100], "route_weights": [1.0], "kv_sharing": "partitioned",
    ...      "cost_source": "analytic"}
    >>> group_fields(g, 0)["devices"]
    (0, 1)
    >>> try:
    ...     group_fields({**g, "tp": 1}, 0)
    ... except SpecError as exc:
    ...     print(exc)
    group 'g0': tp 1 × pp 1 is not its 2 devices
    """
    if not isinstance(data, Mapping):
        raise SpecError(f"group #{index} must be an object, got {type(data).__name__}")
    where = _where(data, index)
    missing = [k for k in ("name", "devices", "tp", "pp", "models", "kv_blocks",
                           "route_weights", "kv_sharing", "cost_source") if k not in data]
    if missing:
        raise SpecError(f"{where} has no {', '.join(map(repr, missing))}")
    for key in ("name", "cost_source", "kv_sharing"):
        if not isinstance(data[key], str) or not data[key]:
            raise SpecError(f"{where}: {key!r} must be a non-empty string, got {data[key]!r}")
    devices = _int_list(data, "devices", where)
    kv_blocks = _int_list(data, "kv_blocks", where)
    tp, pp = data["tp"], data["pp"]
    if not (_int(tp) and _int(pp) and tp >= 1 and pp >= 1):
        raise SpecError(f"{where}: tp and pp must be positive integers, got {tp!r} and {pp!r}")
    if not devices or min(devices) < 0 or len(set(devices)) != len(devices):
        raise SpecError(f"{where}: devices must be distinct non-negative ids, got "
                        f"{list(devices)}")
    if tp * pp != len(devices):
        raise SpecError(f"{where}: tp {tp} × pp {pp} is not its {len(devices)} devices")
    models, weights = data["models"], data["route_weights"]
    if (not isinstance(models, Sequence) or isinstance(models, str) or not models
            or not all(isinstance(m, str) and m for m in models)):
        raise SpecError(f"{where}: 'models' must be a non-empty list of names, got {models!r}")
    if len(set(models)) != len(models):
        raise SpecError(f"{where}: 'models' names a model twice: {list(models)}")
    if not isinstance(weights, Sequence) or isinstance(weights, str) or not all(
            isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w)
            and w > 0 for w in weights):
        raise SpecError(f"{where}: 'route_weights' must be positive numbers, got {weights!r}")
    if not len(models) == len(kv_blocks) == len(weights):
        raise SpecError(f"{where}: {len(models)} models, {len(kv_blocks)} kv_blocks and "
                        f"{len(weights)} route_weights; one of each per model")
    bad = [b for b in kv_blocks if not 1 <= b <= MAX_KV_BLOCKS]
    if bad:
        raise SpecError(f"{where}: kv_blocks must be from 1 to 2^53, got {bad}")
    return {"name": data["name"], "devices": devices, "tp": tp, "pp": pp,
            "models": tuple(models), "kv_blocks": kv_blocks,
            "route_weights": tuple(float(w) for w in weights),
            "kv_sharing": data["kv_sharing"], "cost_source": data["cost_source"]}


def check_layout(groups: Sequence[Any], settings: Mapping[str, Any]) -> None:
    """The groups together: unique names, devices disjoint and inside the cluster.

    Parameters
    ----------
    groups : sequence of GroupPlan
        The plan's groups (``name`` and ``devices`` are read).
    settings : mapping
        The plan's settings; ``num_devices`` is the cluster size.

    Returns
    -------
    None

    Raises
    ------
    SpecError
        Without groups, on a bad ``num_devices``, a repeated name, a device outside the
        cluster or a device in two groups.
    """
    if not groups:
        raise SpecError("the plan has no group")
    size = settings.get("num_devices")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise SpecError(f"settings 'num_devices' must be a positive integer, got {size!r}")
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise SpecError(f"group names must be distinct, got {names}")
    owner: dict[int, str] = {}
    for g in groups:
        for d in g.devices:
            if d >= size:
                raise SpecError(f"group {g.name!r}: device {d} is outside the cluster's "
                                f"{size} devices")
            if d in owner:
                raise SpecError(f"device {d} is in groups {owner[d]!r} and {g.name!r}")
            owner[d] = g.name
