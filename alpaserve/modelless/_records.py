"""Parsing of the variant registry's records: hardware types and variants from mappings.

The records are the entries of a registry document or the rows of a CSV table (see
:mod:`alpaserve.modelless.registry` for the schema); every error names where the record came
from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from alpaserve.errors import ProfileError, SpecError
from alpaserve.modelless.variants import HardwareType, Variant

MIB = 1 << 20
GIB = 1 << 30


def _number(record: Mapping[str, Any], key: str, where: str) -> float:
    try:
        return float(record[key])
    except KeyError:
        raise SpecError(f"{where}: missing field {key!r}") from None
    except (TypeError, ValueError):
        raise SpecError(f"{where}: field {key!r} is not a number: {record[key]!r}") from None


def _bytes(record: Mapping[str, Any], stem: str, where: str) -> int:
    for suffix, scale in (("_bytes", 1), ("_mib", MIB), ("_gib", GIB)):
        if stem + suffix in record:
            return round(_number(record, stem + suffix, where) * scale)
    raise SpecError(f"{where}: missing field {stem + '_bytes'!r} (or _mib/_gib)")


def split_numbers(text: str, where: str) -> list[float]:
    try:
        return [float(x) for x in text.split(";") if x.strip()]
    except ValueError:
        raise SpecError(f"{where}: expected ';'-separated numbers, got {text!r}") from None


def hardware_from_record(raw: Any, where: str) -> HardwareType:
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where} is not a mapping: {raw!r}")
    known = {"name", "kind", "price_per_hour", "startup_time", "description",
             "memory_bytes", "memory_mib", "memory_gib"}
    unknown = set(raw) - known
    if unknown:
        raise SpecError(f"{where}: unknown fields {sorted(unknown)}")
    try:
        return HardwareType(name=raw.get("name", ""), kind=raw.get("kind", ""),
                            price_per_hour=_number(raw, "price_per_hour", where),
                            startup_time=_number(raw, "startup_time", where),
                            memory_bytes=_bytes(raw, "memory", where),
                            description=str(raw.get("description", "")))
    except SpecError as exc:
        if str(exc).startswith(where):
            raise
        raise SpecError(f"{where}: {exc}") from exc



_VARIANT_FIELDS = {"task", "name", "architecture", "framework", "hardware", "accuracy",
                   "latency_slope", "latency_intercept", "profile", "load_latency",
                   "peak_memory_bytes", "peak_memory_mib", "peak_memory_gib", "max_batch",
                   "price_per_hour", "source"}


def variant_from_record(record: Mapping[str, Any],
                        hardware_of: Callable[[str], HardwareType], where: str) -> Variant:
    unknown = set(record) - _VARIANT_FIELDS
    if unknown:
        raise SpecError(f"{where}: unknown fields {sorted(unknown)}")
    hw = hardware_of(str(record.get("hardware", "")))
    try:
        max_batch = _number(record, "max_batch", where)
        if max_batch != int(max_batch):
            raise SpecError(f"{where}: max_batch must be a whole number, got {max_batch!r}")
        fields: dict[str, Any] = {
            "task": str(record.get("task", "")), "name": str(record.get("name", "")),
            "architecture": str(record.get("architecture", "")),
            "framework": str(record.get("framework", "")), "hardware": hw.name,
            "accuracy": _number(record, "accuracy", where),
            "load_latency": _number(record, "load_latency", where),
            "peak_memory_bytes": _bytes(record, "peak_memory", where),
            "max_batch": int(max_batch),
            "price_per_hour": (_number(record, "price_per_hour", where)
                               if "price_per_hour" in record else hw.price_per_hour),
        }
        if "profile" in record:
            if "latency_slope" in record or "latency_intercept" in record:
                raise SpecError(f"{where}: give either a profile or latency_slope/"
                                "latency_intercept, not both")
            prof = record["profile"]
            if not isinstance(prof, Mapping) or "batch_sizes" not in prof:
                raise SpecError(f"{where}: profile needs batch_sizes and latency_ms "
                                f"(or latencies in seconds), got {prof!r}")
            if "latency_ms" in prof:
                lat = [float(x) / 1000.0 for x in prof["latency_ms"]]
            elif "latencies" in prof:
                lat = [float(x) for x in prof["latencies"]]
            else:
                raise SpecError(f"{where}: profile needs latency_ms or latencies")
            try:
                return Variant.from_points(batch_sizes=list(prof["batch_sizes"]),
                                           latencies=lat, **fields)
            except ProfileError as exc:
                raise SpecError(f"{where}: {exc}") from exc
        return Variant(latency_slope=_number(record, "latency_slope", where),
                       latency_intercept=_number(record, "latency_intercept", where),
                       **fields)
    except SpecError as exc:
        if str(exc).startswith(where):
            raise
        raise SpecError(f"{where}: {exc}") from exc
