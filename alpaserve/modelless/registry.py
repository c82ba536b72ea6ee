"""The variant registry: hardware types and model variants, keyed by task and variant name.

Registries load from YAML or JSON documents, from CSV tables, or from a :class:`ProfileDB`
(measured profiles or the analytic cost model's estimates), see
:func:`~alpaserve.modelless.profiled.variants_from_profiles`. The document schema::

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

import json
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import Any

from alpaserve.errors import SpecError
from alpaserve.modelless.profiled import variants_from_profiles as variants_from_profiles
from alpaserve.modelless.readers import FORMAT_VERSION, RegistryReaders
from alpaserve.modelless.variants import HardwareType, Variant

EXAMPLE_FILE = "infaas_image_classification.yaml"


class VariantRegistry(RegistryReaders):
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
