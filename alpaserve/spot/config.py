"""SpotServe's configuration optimizer over (data, pipeline, tensor, batch, micro-batches).

Rule (Miao et al., ASPLOS 2024, §4): among the configs that fit the available devices and
memory, take the lowest request latency whose throughput is at least the arrival rate; if
none qualifies, take the highest throughput. Replicas below the memory floor never fit.

Latency does not depend on the number of replicas, so a :class:`ConfigTable` scores every
per-replica shape once; a choice for ``n`` devices then uses ``n // (pipeline × tensor)``
replicas of each shape (more replicas only add throughput).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from alpaserve._validation import positive_int
from alpaserve.cost.llm import LLMConfig, fits_memory, memory_floor, request_latency
from alpaserve.cost.llm_profile import LLMProfile
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.hardware import SpotHardware


@dataclass(frozen=True, kw_only=True)
class ConfigSpace:
    """The candidate degrees, batch sizes and micro-batch counts.

    Parameters
    ----------
    tensor : tuple of int
        Tensor-parallel degrees (each >= 1).
    pipeline : tuple of int
        Pipeline degrees (each >= 1).
    batch : tuple of int
        Static batch sizes, requests (each >= 1).
    micro_batches : tuple of int
        Micro-batch counts (each >= 1; only those <= the batch size are used).
    min_replica_devices : int
        Fewest devices (``pipeline × tensor``) per replica, e.g. a memory floor measured on
        real devices (the SpotServe paper: 4 for OPT-6.7B, 12 for GPT-20B, 16 for its 30B
        model); 1 leaves the floor to the memory model.

    Raises
    ------
    SpecError
        An empty tuple or a value below 1.

    Examples
    --------
    >>> len(list(ConfigSpace(tensor=(4,), pipeline=(1, 2), batch=(1, 2), micro_batches=(1,))
    ...          .shapes()))
    4
    """

    tensor: tuple[int, ...] = (1, 2, 4, 8)
    pipeline: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    batch: tuple[int, ...] = (1, 2, 4, 8, 16)
    micro_batches: tuple[int, ...] = (1, 2, 4)
    min_replica_devices: int = 1

    def __post_init__(self) -> None:
        positive_int("ConfigSpace", "min_replica_devices", self.min_replica_devices)
        for name in ("tensor", "pipeline", "batch", "micro_batches"):
            values = tuple(getattr(self, name))
            object.__setattr__(self, name, values)
            if not values:
                raise SpecError(f"ConfigSpace.{name} must not be empty")
            for v in values:
                positive_int("ConfigSpace", name, v)

    def shapes(self) -> list[LLMConfig]:
        """One-replica configs of every combination with ``micro_batches <= batch``.

        Returns
        -------
        list of LLMConfig
            Configs with ``data = 1``, tensor-major.
        """
        return [LLMConfig(data=1, pipeline=p, tensor=t, batch=b, micro_batches=m)
                for t in self.tensor for p in self.pipeline for b in self.batch
                for m in self.micro_batches
                if m <= b and p * t >= self.min_replica_devices]


@dataclass(frozen=True, kw_only=True)
class RequestShape:
    """The request the optimizer plans for.

    Parameters
    ----------
    prompt_tokens : int
        Mean prompt length, tokens (>= 1).
    output_tokens : int
        Mean output length, tokens (>= 1).
    max_context : int
        Context the KV cache must hold for every request of a batch, tokens (>= 1).

    Raises
    ------
    SpecError
        A value below 1.
    """

    prompt_tokens: int
    output_tokens: int
    max_context: int

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "output_tokens", "max_context"):
            positive_int("RequestShape", name, getattr(self, name))


@dataclass(frozen=True, kw_only=True)
class ConfigEstimate:
    """A config with its estimated latency and throughput.

    Parameters
    ----------
    config : LLMConfig
        The config (with its number of replicas).
    latency : float
        Seconds one full batch of the planned request takes.
    throughput : float
        Requests/s of all replicas serving full batches back to back.
    """

    config: LLMConfig
    latency: float
    throughput: float


@dataclass(frozen=True, kw_only=True)
class ConfigTable:
    """Latency and per-replica throughput of every memory-feasible replica shape.

    Build one with :meth:`build`.

    Parameters
    ----------
    model : ModelSpec
        The decoder served.
    hardware : SpotHardware
        The nodes' hardware.
    request : RequestShape
        The request planned for.
    entries : tuple of ConfigEstimate
        One-replica shapes with their latency (s) and throughput (requests/s).
    floor : int
        The memory floor: the fewest devices one replica needs.
    profile : LLMProfile, optional
        The measured profile the latencies come from (``None``: the analytic model).

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> from alpaserve.spot.hardware import g4dn_hardware
    >>> table = ConfigTable.build(model=model_preset("gpt-20b"), hardware=g4dn_hardware(),
    ...                           request=RequestShape(prompt_tokens=512, output_tokens=64,
    ...                                                max_context=1024),
    ...                           space=ConfigSpace(tensor=(4, 8), pipeline=(1, 2),
    ...                                             batch=(1, 4), micro_batches=(1,)))
    >>> table.floor, table.choose(num_devices=3, arrival_rate=0.1) is None
    (4, True)
    >>> table.choose(num_devices=8, arrival_rate=0.1).config.key  # fastest that keeps up
    'd1-p1-t8-b1-m1'
    >>> table.choose(num_devices=8, arrival_rate=100.0).config.key  # most throughput
    'd2-p1-t4-b4-m1'
    """

    model: ModelSpec
    hardware: SpotHardware
    request: RequestShape
    entries: tuple[ConfigEstimate, ...] = field(repr=False)
    floor: int
    profile: LLMProfile | None = field(default=None, repr=False)

    @classmethod
    def build(cls, *, model: ModelSpec, hardware: SpotHardware, request: RequestShape,
              space: ConfigSpace | None = None,
              profile: LLMProfile | None = None) -> ConfigTable:
        """Score every memory-feasible replica shape of ``space``.

        Parameters
        ----------
        model : ModelSpec
            The decoder served.
        hardware : SpotHardware
            The nodes' hardware (memory, and the analytic latency without a profile).
        request : RequestShape
            Token counts the latencies are for.
        space : ConfigSpace, optional
            Candidate degrees (default :class:`ConfigSpace`).
        profile : LLMProfile, optional
            Measured per-layer latencies; latencies then follow SpotServe's formula, and
            only the tensor degrees the profile covers, with micro-batches no larger than
            its largest batch, are candidates.

        Returns
        -------
        ConfigTable
            The table.

        Raises
        ------
        InfeasibleError
            The model fits no replica shape.
        ProfileError
            ``profile`` does not match ``model``.
        """
        space = space or ConfigSpace()
        tensor = space.tensor
        if profile is not None:
            profile.check_model(model)
            tensor = tuple(t for t in space.tensor if t in profile.tensor_degrees) or tensor
        floor = max(space.min_replica_devices,
                    memory_floor(model, hardware, context_tokens=request.max_context,
                                 tensor_degrees=tensor, max_pipeline=max(space.pipeline)))
        entries = []
        for cfg in space.shapes():
            if cfg.pipeline > model.num_layers or not fits_memory(
                    model, hardware, cfg, context_tokens=request.max_context):
                continue
            if profile is None:
                latency = request_latency(model, hardware, cfg,
                                          prompt_tokens=request.prompt_tokens,
                                          output_tokens=request.output_tokens)
            elif (cfg.tensor in profile.tensor_degrees
                  and cfg.batch <= profile.max_batch * cfg.micro_batches):
                latency = profile.request_latency(cfg, prompt_tokens=request.prompt_tokens,
                                                  output_tokens=request.output_tokens)
            else:
                continue
            entries.append(ConfigEstimate(config=cfg, latency=latency,
                                          throughput=cfg.batch / latency))
        return cls(model=model, hardware=hardware, request=request, entries=tuple(entries),
                   floor=floor, profile=profile)

    def candidates(self, num_devices: int) -> list[ConfigEstimate]:
        """Every shape with as many replicas as ``num_devices`` allows.

        Parameters
        ----------
        num_devices : int
            Usable devices.

        Returns
        -------
        list of ConfigEstimate
            Each shape with ``num_devices // replica_devices`` replicas (>= 1), its latency
            (s) and total throughput (requests/s).
        """
        out = []
        for e in self.entries:
            data = num_devices // e.config.replica_devices
            if data >= 1:
                out.append(ConfigEstimate(config=e.config.with_data(data), latency=e.latency,
                                          throughput=e.throughput * data))
        return out

    def choose(self, *, num_devices: int, arrival_rate: float,
               fixed: LLMConfig | None = None) -> ConfigEstimate | None:
        """SpotServe's rule on ``num_devices``.

        Parameters
        ----------
        num_devices : int
            Usable devices.
        arrival_rate : float
            The throughput target, requests/s (see :func:`choose_config`).
        fixed : LLMConfig, optional
            Restricts the choice to its pipeline, tensor, batch and micro-batch values (only
            the number of replicas varies), as the rerouting baseline does.

        Returns
        -------
        ConfigEstimate or None
            The choice; ``None`` below the memory floor.
        """
        cands = self.candidates(num_devices)
        if fixed is not None:
            cands = [c for c in cands if c.config.with_data(1) == fixed.with_data(1)]
        return choose_config(cands, arrival_rate=arrival_rate)


def choose_config(candidates: Sequence[ConfigEstimate], *,
                  arrival_rate: float) -> ConfigEstimate | None:
    """Lowest latency with ``throughput >= arrival_rate``, else the highest throughput.

    Ties go to higher throughput, then fewer devices, then the config key (deterministic).

    Parameters
    ----------
    candidates : sequence of ConfigEstimate
        The configs to choose from.
    arrival_rate : float
        The throughput target, requests/s.

    Returns
    -------
    ConfigEstimate or None
        The choice; ``None`` without candidates.

    Examples
    --------
    >>> a = ConfigEstimate(config=LLMConfig(data=1, pipeline=1, tensor=4, batch=1),
    ...                    latency=1.0, throughput=1.0)
    >>> b = ConfigEstimate(config=LLMConfig(data=1, pipeline=1, tensor=4, batch=8),
    ...                    latency=3.0, throughput=2.7)
    >>> choose_config([a, b], arrival_rate=0.5) is a, choose_config([a, b], arrival_rate=2.0) is b
    (True, True)
    >>> choose_config([a, b], arrival_rate=9.0) is b
    True
    """
    if not candidates:
        return None
    ok = [c for c in candidates if c.throughput >= arrival_rate]
    if ok:
        return min(ok, key=lambda c: (c.latency, -c.throughput, c.config.num_devices,
                                      c.config.key))
    return min(candidates, key=lambda c: (-c.throughput, c.latency, c.config.num_devices,
                                          c.config.key))
