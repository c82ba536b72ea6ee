"""Reading a :class:`~alpaserve.modelless.registry.VariantRegistry` from documents and tables.

A mixin of the registry: the document schema (see :mod:`alpaserve.modelless.registry`) from a
mapping, JSON or YAML text, a CSV table, or a file whose suffix picks the format. Every error
names its source and the entry at fault.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from alpaserve.errors import SpecError
from alpaserve.modelless._records import hardware_from_record, split_numbers, variant_from_record
from alpaserve.modelless.variants import HardwareType

if TYPE_CHECKING:
    from alpaserve.modelless.variants import Variant

FORMAT_VERSION = 1


class RegistryReaders:
    """The registry's constructors from documents, JSON, YAML, CSV and files."""

    if TYPE_CHECKING:  # provided by VariantRegistry
        def __init__(self, hardware: Iterable[HardwareType] = ()) -> None: ...

        def add_hardware(self, hw: HardwareType) -> None: ...

        def add(self, variant: Variant) -> None: ...

        hardware_of: Callable[[Variant | str], HardwareType]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<registry>"
                  ) -> Self:
        """Build a registry from the document schema in this module's docstring.

        Parameters
        ----------
        data : mapping
            The document.
        source : str
            Where it came from, named in errors.

        Returns
        -------
        VariantRegistry
            The registry.

        Raises
        ------
        SpecError
            If the document does not follow the schema (the message names the entry).
        """
        if not isinstance(data, Mapping):
            raise SpecError(f"{source}: a registry document is a mapping, got {type(data)}")
        version = data.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise SpecError(f"{source}: unsupported registry format_version {version!r}")
        unknown = set(data) - {"format_version", "hardware", "variants", "defaults"}
        if unknown:
            raise SpecError(f"{source}: unknown top-level keys {sorted(unknown)}")
        reg = cls()
        for i, raw in enumerate(data.get("hardware") or []):
            reg.add_hardware(hardware_from_record(raw, f"{source} hardware[{i}]"))
        defaults = dict(data.get("defaults") or {})
        for i, raw in enumerate(data.get("variants") or []):
            if not isinstance(raw, Mapping):
                raise SpecError(f"{source} variants[{i}] is not a mapping: {raw!r}")
            record = {**defaults, **raw}
            reg.add(variant_from_record(record, reg.hardware_of, f"{source} variants[{i}]"))
        return reg

    @classmethod
    def from_json(cls, text: str, *, source: str = "<json>") -> Self:
        """A registry from a JSON document.

        Parameters
        ----------
        text : str
            The JSON text.
        source : str
            Where it came from, named in errors.

        Returns
        -------
        VariantRegistry
            The registry.

        Raises
        ------
        SpecError
            If the text is not JSON or does not follow the schema.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{source}: registry JSON is malformed: {exc}") from exc
        return cls.from_dict(data, source=source)

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<yaml>") -> Self:
        """A registry from a YAML document.

        Parameters
        ----------
        text : str
            The YAML text.
        source : str
            Where it came from, named in errors.

        Returns
        -------
        VariantRegistry
            The registry.

        Raises
        ------
        SpecError
            If the text is not YAML or does not follow the schema.
        """
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(f"{source}: registry YAML is malformed: {exc}") from exc
        return cls.from_dict(data, source=source)

    @classmethod
    def from_csv(cls, text: str, hardware: Iterable[HardwareType], *,
                 source: str = "<csv>") -> Self:
        """Variants from a CSV table (one row each) running on the given hardware.

        Columns are the variant fields of the document schema; ``batch_sizes`` and
        ``latency_ms`` hold ``;``-separated numbers when the row gives a profile instead of
        ``latency_slope``/``latency_intercept``.

        Parameters
        ----------
        text : str
            The CSV text, with a header row.
        hardware : iterable of HardwareType
            The types the rows may name.
        source : str
            Where it came from, named in errors (with the line number).

        Returns
        -------
        VariantRegistry
            The hardware and the rows' variants.

        Raises
        ------
        SpecError
            If a row is malformed.

        Examples
        --------
        >>> hw = HardwareType(name="cpu", kind="cpu", price_per_hour=0.1, startup_time=1,
        ...                   memory_bytes=1 << 30)
        >>> table = ("task,name,architecture,framework,hardware,accuracy,batch_sizes,"
        ...          "latency_ms,load_latency,peak_memory_mib,max_batch\\n"
        ...          "t,a,resnet50,tf,cpu,75,1;4,40;100,1.5,300,4\\n")
        >>> from alpaserve.modelless.registry import VariantRegistry
        >>> reg = VariantRegistry.from_csv(table, [hw])
        >>> round(reg.get("t", "a").latency_slope, 4)
        0.02
        """
        reg = cls(hardware)
        reader = csv.DictReader(io.StringIO(text))
        for line_no, row in enumerate(reader, start=2):
            record: dict[str, Any] = {k.strip(): v.strip() for k, v in row.items()
                                      if k is not None and v is not None and v.strip() != ""}
            where = f"{source} line {line_no}"
            if "batch_sizes" in record or "latency_ms" in record:
                record["profile"] = {
                    "batch_sizes": split_numbers(record.pop("batch_sizes", ""), where),
                    "latency_ms": split_numbers(record.pop("latency_ms", ""), where)}
            reg.add(variant_from_record(record, reg.hardware_of, where))
        return reg

    @classmethod
    def from_file(cls, path: str | Path) -> Self:
        """Load a ``.yaml``/``.yml`` or ``.json`` registry file.

        Parameters
        ----------
        path : str or Path
            The file; its suffix picks the format.

        Returns
        -------
        VariantRegistry
            The registry.

        Raises
        ------
        SpecError
            If the suffix is unknown, the file cannot be read or its content is invalid.
        """
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix not in (".yaml", ".yml", ".json"):
            raise SpecError(f"registry file {str(p)!r} must end in .yaml, .yml or .json "
                            "(CSV tables need their hardware: use VariantRegistry.from_csv)")
        try:
            text = p.read_text()
        except OSError as exc:
            raise SpecError(f"cannot read registry file {str(p)!r}: {exc}") from exc
        if suffix == ".json":
            return cls.from_json(text, source=str(p))
        return cls.from_yaml(text, source=str(p))
