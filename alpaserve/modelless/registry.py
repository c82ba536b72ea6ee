"""The variant registry: hardware types and model variants, keyed by task and variant name.

Registries load from YAML or JSON documents, from CSV tables, or from a :class:`ProfileDB`
(measured profiles or the analytic cost model's estimates), see
:func:`variants_from_profiles`. The document schema::

    format_version: 1
    hardware:                       # one entry per worker type
      - {name: cpu, kind: cpu, price_per_hour: 0.17, startup_time: 30, memory_gib: 8}
    defaults: {task: image-classification}   # merged into every variant (optional)
    variants:
      - name: resnet50-tf-cpu
        architecture: resnet50
        framework: tensorflow
        hardware: cpu
        accuracy: 74.9                # top-1, percent
        profile: {batch_sizes: [1, 4], latency_ms: [47, 172]}   # or latency_slope/_intercept
        load_latency: 2.0             # seconds
        peak_memory_mib: 400          # or peak_memory_bytes
        max_batch: 4
        # price_per_hour: taken from the hardware when absent, and must match it if given

The bundled example is ``alpaserve/data/infaas_image_classification.yaml``
(:func:`example_registry`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from alpaserve.errors import ProfileError, SpecError
from alpaserve.modelless.variants import HardwareType, Variant, fit_latency
from alpaserve.profiles import ProfileDB

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
EXAMPLE_FILE = "infaas_image_classification.yaml"
MIB = 1 << 20
GIB = 1 << 30


class VariantRegistry:
    """Hardware types and variants; variants are keyed by ``(task, name)``.

    Parameters
    ----------
    hardware : iterable of HardwareType
        Worker types, registered first.
    variants : iterable of Variant
        Variants, each on a registered hardware type (see :meth:`add`).

    Raises
    ------
    SpecError
        If a hardware name is registered twice differently, or a variant is invalid.

    Examples
    --------
    >>> reg = example_registry()
    >>> "image-classification" in reg.tasks()
    True
    >>> v = reg.get("image-classification", "resnet50-tf-cpu")
    >>> v.hardware, reg.hardware_of(v).kind
    ('cpu-c5.xlarge', 'cpu')
    >>> [x.name for x in reg.variants("image-classification", min_accuracy=78.0)][:2]
    ['resnet152v2-tf-cpu', 'resnet152v2-trt-t4']
    """

    def __init__(self, hardware: Iterable[HardwareType] = (),
                 variants: Iterable[Variant] = ()) -> None:
        self._hardware: dict[str, HardwareType] = {}
        self._variants: dict[tuple[str, str], Variant] = {}
        for hw in hardware:
            self.add_hardware(hw)
        for v in variants:
            self.add(v)

    # ------------------------------------------------------------------ mutation
    def add_hardware(self, hw: HardwareType) -> None:
        """Register a hardware type.

        Parameters
        ----------
        hw : HardwareType
            The type; registering an equal one again is a no-op.

        Raises
        ------
        SpecError
            If another type with the same name is registered.
        """
        if not isinstance(hw, HardwareType):
            raise SpecError(f"expected a HardwareType, got {hw!r}")
        if hw.name in self._hardware and self._hardware[hw.name] != hw:
            raise SpecError(f"hardware {hw.name!r} is already registered differently")
        self._hardware[hw.name] = hw

    def add(self, variant: Variant) -> None:
        """Register ``variant``; its hardware must be known and its price must match.

        Parameters
        ----------
        variant : Variant
            Its ``(task, name)`` must be new, its hardware known, its price the hardware's and
            its peak memory within the hardware's.

        Raises
        ------
        SpecError
            If any of those does not hold.
        """
        if not isinstance(variant, Variant):
            raise SpecError(f"expected a Variant, got {variant!r}")
        hw = self._hardware.get(variant.hardware)
        if hw is None:
            raise SpecError(f"variant {variant.name!r} runs on unknown hardware "
                            f"{variant.hardware!r}; known: {sorted(self._hardware)}")
        if abs(hw.price_per_hour - variant.price_per_hour) > 1e-9:
            raise SpecError(f"variant {variant.name!r} costs ${variant.price_per_hour}/h but "
                            f"its hardware {hw.name!r} costs ${hw.price_per_hour}/h")
        if variant.peak_memory_bytes > hw.memory_bytes:
            raise SpecError(f"variant {variant.name!r} needs {variant.peak_memory_bytes} bytes, "
                            f"more than hardware {hw.name!r} has ({hw.memory_bytes})")
        if variant.key in self._variants:
            raise SpecError(f"variant {variant.name!r} of task {variant.task!r} is registered "
                            "twice")
        self._variants[variant.key] = variant

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self._variants)

    def __iter__(self) -> Iterator[Variant]:
        return iter(self._variants.values())

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, VariantRegistry) and self._hardware == other._hardware
                and self._variants == other._variants)

    def __repr__(self) -> str:
        return (f"VariantRegistry({len(self)} variants, tasks {self.tasks()}, "
                f"hardware {sorted(self._hardware)})")

    def tasks(self) -> list[str]:
        """The tasks that have variants.

        Returns
        -------
        list of str
            Sorted task names.
        """
        return sorted({t for t, _ in self._variants})

    @property
    def hardware(self) -> Mapping[str, HardwareType]:
        return dict(self._hardware)

    def hardware_of(self, variant: Variant | str) -> HardwareType:
        """The hardware type of a variant, or by name.

        Parameters
        ----------
        variant : Variant or str
            A variant, or a hardware name.

        Returns
        -------
        HardwareType
            The registered type.

        Raises
        ------
        SpecError
            If the hardware is not registered.
        """
        name = variant.hardware if isinstance(variant, Variant) else variant
        try:
            return self._hardware[name]
        except KeyError:
            raise SpecError(f"unknown hardware {name!r}; known: {sorted(self._hardware)}"
                            ) from None

    def get(self, task: str, name: str) -> Variant:
        """The variant ``name`` of ``task``.

        Parameters
        ----------
        task : str
            A task.
        name : str
            A variant name within it.

        Returns
        -------
        Variant
            The variant.

        Raises
        ------
        SpecError
            If the task or the variant is unknown.
        """
        v = self._variants.get((task, name))
        if v is None:
            if task not in self.tasks():
                raise SpecError(f"unknown task {task!r}; known tasks: {self.tasks()}")
            raise SpecError(f"task {task!r} has no variant {name!r}; known: "
                            f"{[x.name for x in self.variants(task)]}")
        return v

    def variants(self, task: str, *, min_accuracy: float = 0.0,
                 hardware: str | None = None) -> list[Variant]:
        """Variants of ``task`` with at least ``min_accuracy``, sorted by name.

        Parameters
        ----------
        task : str
            A task (an unknown one gives an empty list).
        min_accuracy : float
            Top-1 floor, percent.
        hardware : str or None
            Only variants on this hardware type; None: all.

        Returns
        -------
        list of Variant
            Sorted by name.
        """
        if task not in self.tasks():
            raise SpecError(f"unknown task {task!r}; known tasks: {self.tasks()}")
        out = [v for (t, _), v in self._variants.items() if t == task
               and v.accuracy >= min_accuracy and (hardware is None or v.hardware == hardware)]
        return sorted(out, key=lambda v: v.name)

    # ------------------------------------------------------------------ documents
    def to_dict(self) -> dict[str, Any]:
        """The registry as a document of the module's schema.

        Returns
        -------
        dict
            ``format_version``, ``hardware`` and ``variants`` (with fitted latency lines).
        """
        return {"format_version": FORMAT_VERSION,
                "hardware": [hw.to_dict() for hw in self._hardware.values()],
                "variants": [v.to_dict() for v in self]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<registry>"
                  ) -> VariantRegistry:
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
            reg.add_hardware(_hardware_from_record(raw, f"{source} hardware[{i}]"))
        defaults = dict(data.get("defaults") or {})
        for i, raw in enumerate(data.get("variants") or []):
            if not isinstance(raw, Mapping):
                raise SpecError(f"{source} variants[{i}] is not a mapping: {raw!r}")
            record = {**defaults, **raw}
            reg.add(_variant_from_record(record, reg, f"{source} variants[{i}]"))
        return reg

    def to_json(self, indent: int | None = 2) -> str:
        """The registry as a JSON document.

        Parameters
        ----------
        indent : int or None
            JSON indentation; None: one line.

        Returns
        -------
        str
            The JSON text (:meth:`from_json` reads it back).
        """
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str, *, source: str = "<json>") -> VariantRegistry:
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
    def from_yaml(cls, text: str, *, source: str = "<yaml>") -> VariantRegistry:
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
                 source: str = "<csv>") -> VariantRegistry:
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
                    "batch_sizes": _split_numbers(record.pop("batch_sizes", ""), where),
                    "latency_ms": _split_numbers(record.pop("latency_ms", ""), where)}
            reg.add(_variant_from_record(record, reg, where))
        return reg

    @classmethod
    def from_file(cls, path: str | Path) -> VariantRegistry:
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


def example_registry() -> VariantRegistry:
    """The bundled image-classification registry modelled on INFaaS's variants.

    Returns
    -------
    VariantRegistry
        Task ``image-classification``: ResNet, Inception, MobileNet and DenseNet variants on
        CPU, T4, V100 and Inferentia workers (see the YAML file's header for the sources).
    """
    text = resources.files("alpaserve").joinpath("data", EXAMPLE_FILE).read_text()
    return VariantRegistry.from_yaml(text, source=EXAMPLE_FILE)


def variants_from_profiles(db: ProfileDB, *, task: str, hardware: HardwareType,
                           accuracy: Mapping[str, float], framework: str = "alpa",
                           load_bandwidth: float = 2e9, load_overhead: float = 0.5,
                           devices_per_worker: int = 1,
                           models: Sequence[str] | None = None) -> list[Variant]:
    """Variants fitted from a profile database (measured, or the analytic cost model's).

    For every (model, parallel config) in ``db`` the latency line is fitted from its
    entries' end-to-end latencies over the profiled batch sizes; the peak memory is the
    largest per-device stage peak; the load latency is ``load_overhead`` plus the weights
    over ``load_bandwidth`` (bytes/s); ``max_batch`` is the largest profiled batch size.
    ``accuracy`` gives each model's top-1 accuracy; models missing from it are an error.
    ``hardware`` is one worker with ``devices_per_worker`` devices: only configs that use
    exactly that many devices become variants (the others are counted and logged).

    Parameters
    ----------
    db : ProfileDB
        The profiles.
    task : str
        Task of the variants.
    hardware : HardwareType
        The worker type they run on.
    accuracy : mapping of str to float
        Top-1 accuracy (percent) of each model.
    framework : str
        Framework name of the variants.
    load_bandwidth : float
        Bytes per second at which weights load.
    load_overhead : float
        Seconds added to every load.
    devices_per_worker : int
        Devices of one worker; only configs using exactly that many become variants.
    models : sequence of str or None
        Models to take; None: all of ``db``'s.

    Returns
    -------
    list of Variant
        One per (model, parallel config) kept, named ``{model}-pp{p}-tp{t}-{hardware}``.

    Raises
    ------
    SpecError
        If a model has no accuracy or no profile.

    Examples
    --------
    >>> from alpaserve.parallel_config import ParallelConfig
    >>> from alpaserve.profiles import ProfileEntry
    >>> cfg = ParallelConfig.uniform(num_layers=2)
    >>> db = ProfileDB(ProfileEntry(model="m", config=cfg, batch_size=b,
    ...                             stage_latencies=(0.01 + 0.002 * b,),
    ...                             stage_weight_bytes=(10**9,),
    ...                             stage_peak_memory_bytes=(2 * 10**9,), source="analytic")
    ...                for b in (1, 2, 4))
    >>> hw = HardwareType(name="v100", kind="gpu", price_per_hour=3.06, startup_time=40,
    ...                   memory_bytes=16 << 30)
    >>> [v] = variants_from_profiles(db, task="t", hardware=hw, accuracy={"m": 80.0})
    >>> v.name, round(v.latency_slope, 4), v.max_batch, v.load_latency
    ('m-pp1-tp1-v100', 0.002, 4, 1.0)
    """
    out: list[Variant] = []
    skipped = 0
    names = sorted(db.models()) if models is None else list(models)
    for model in names:
        if model not in accuracy:
            raise ProfileError(f"no accuracy given for model {model!r}; "
                               f"given: {sorted(accuracy)}")
        configs = db.configs(model)
        if not configs:
            raise ProfileError(f"profile database has no entries for model {model!r}")
        for cfg in configs:
            if cfg.num_devices != devices_per_worker:
                skipped += 1
                continue
            sizes = db.batch_sizes(model, cfg)
            entries = [db.get(model, cfg, b) for b in sizes]
            fit = fit_latency(sizes, [e.total_latency for e in entries])
            weights = sum(w * d for w, d in zip(entries[0].stage_weight_bytes,
                                                cfg.tensor_degrees, strict=True))
            out.append(Variant(
                task=task, name=f"{model}-{cfg.key}-{hardware.name}", architecture=model,
                framework=framework, hardware=hardware.name, accuracy=float(accuracy[model]),
                latency_slope=fit.slope, latency_intercept=fit.intercept,
                load_latency=load_overhead + weights / load_bandwidth,
                peak_memory_bytes=max(max(e.stage_peak_memory_bytes) for e in entries) or 1,
                max_batch=max(sizes), price_per_hour=hardware.price_per_hour,
            ))
    if skipped:
        logger.info("variants_from_profiles: skipped %d configs that do not use %d device(s)",
                    skipped, devices_per_worker)
    return out


# ---------------------------------------------------------------------- record parsing
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


def _split_numbers(text: str, where: str) -> list[float]:
    try:
        return [float(x) for x in text.split(";") if x.strip()]
    except ValueError:
        raise SpecError(f"{where}: expected ';'-separated numbers, got {text!r}") from None


def _hardware_from_record(raw: Any, where: str) -> HardwareType:
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


def _variant_from_record(record: Mapping[str, Any], reg: VariantRegistry,
                         where: str) -> Variant:
    unknown = set(record) - _VARIANT_FIELDS
    if unknown:
        raise SpecError(f"{where}: unknown fields {sorted(unknown)}")
    hw = reg.hardware_of(str(record.get("hardware", "")))
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
