"""The grid of a sweep: its cases, their stable ids, and the experiment they make up.

A :class:`SweepGrid` expands policies × devices × rate scale × CV scale × SLO scale × trace
windows × seeds into :class:`SweepCase` objects; each case's ``case_id`` is a hash of its full
configuration, and the sorted case ids hash to the experiment id that
:func:`alpaserve.sweep.runner.run_sweep` resumes by.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from alpaserve.errors import SpecError


@dataclass(frozen=True, kw_only=True)
class SweepCase:
    """One point of the grid. ``settings`` holds the fixed, non-varied configuration.

    Parameters
    ----------
    policy : str
        Placement policy name (e.g. ``"sr"``, ``"alpaserve"``).
    devices : int
        Devices in the cluster.
    rate_scale, cv_scale, slo_scale : float
        Factors on the base rate and CV, and the SLO as a multiple of model latency.
    window : tuple of (float, float) or None
        Trace window ``(start, end)`` in seconds, or None for all of it.
    seed : int
        Seed of the case's randomness; part of ``case_id``.
    settings : Mapping[str, Any], default empty
        The fixed configuration (models, device, base traffic; see
        :mod:`alpaserve.sweep.cases`).

    Examples
    --------
    >>> case = SweepGrid(policies=("sr",)).cases()[0]
    >>> case.policy, case.devices, len(case.case_id)
    ('sr', 8, 16)
    """

    policy: str
    devices: int
    rate_scale: float
    cv_scale: float
    slo_scale: float
    window: tuple[float, float] | None
    seed: int
    settings: Mapping[str, Any] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        """The full configuration as a JSON-ready dict (hashed into ``case_id``).

        Returns
        -------
        dict of str to Any
            Every field, ``settings`` as a dict and ``window`` as a list or None.

        Examples
        --------
        >>> SweepGrid(policies=("sr",), windows=((0, 60),)).cases()[0].config()["window"]
        [0, 60]
        """
        data = asdict(self)
        data["settings"] = dict(self.settings)
        data["window"] = list(self.window) if self.window is not None else None
        return data

    @property
    def case_id(self) -> str:
        """A stable hash of the full configuration (seed included)."""
        text = json.dumps(self.config(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def axes(self) -> dict[str, Any]:
        """The varied values as plain table columns (the window as start and end).

        Returns
        -------
        dict
            ``policy``, ``devices``, ``rate_scale``, ``cv_scale``, ``slo_scale``, ``window_start``,
            ``window_end`` and ``seed``.
        """
        start, end = self.window if self.window is not None else (None, None)
        return {"policy": self.policy, "devices": self.devices, "rate_scale": self.rate_scale,
                "cv_scale": self.cv_scale, "slo_scale": self.slo_scale,
                "window_start": start, "window_end": end, "seed": self.seed}


def experiment_id(cases: Iterable[SweepCase]) -> str:
    """The hash of an experiment: of the sorted ids of all its cases.

    Parameters
    ----------
    cases
        The experiment's cases.

    Returns
    -------
    str
        16 hex digits, stored in every row's ``experiment`` column.

    Examples
    --------
    >>> grid = SweepGrid(policies=["sr"], devices=[2, 4])
    >>> experiment_id(grid.cases()) == experiment_id(reversed(grid.cases()))
    True
    """
    text = "\n".join(sorted(c.case_id for c in cases))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class SweepGrid:
    """The cross product of the varied parameters, with fixed ``settings`` for every case.

    ``seed`` gives every case one seed; ``seeds`` makes the seed an axis (give one or the
    other). A string where a sequence is expected is one value (``policies="sr"`` is the one
    policy ``sr``). :func:`alpaserve.sweep.schema.grid_from_mapping` builds one from an
    experiment file, with type checks.

    Parameters
    ----------
    policies : sequence of str or str
        Placement policies.
    devices : sequence of int, default (8,)
        Cluster sizes.
    rate_scales, cv_scales, slo_scales : sequence of float
        Factors on the base rate and CV, and SLO multiples; positive and finite.
    windows : sequence of (float, float) or None, default (None,)
        Trace windows in seconds (``None``: the whole trace).
    seed : int, default 0
        The seed of every case (without ``seeds``).
    seeds : sequence of int, optional
        Seeds as an axis.
    settings : mapping, optional
        Fixed configuration shared by every case (the runner's settings).

    Raises
    ------
    SpecError
        When an axis is empty, a value is out of range, or both ``seed`` and ``seeds`` are given.

    Examples
    --------
    >>> grid = SweepGrid(policies=("sr", "alpaserve"), devices=(8, 16), seeds=(1, 2))
    >>> len(grid.cases())
    8
    >>> [c.policy for c in SweepGrid(policies="sr").cases()]
    ['sr']
    """

    policies: Sequence[str]
    devices: Sequence[int] = (8,)
    rate_scales: Sequence[float] = (1.0,)
    cv_scales: Sequence[float] = (1.0,)
    slo_scales: Sequence[float] = (5.0,)
    windows: Sequence[tuple[float, float] | None] = (None,)
    seed: int = 0
    seeds: Sequence[int] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.seeds is not None and self.seed != 0:
            raise SpecError("SweepGrid takes seed or seeds, not both")
        for name in ("policies", "devices", "rate_scales", "cv_scales", "slo_scales", "windows",
                     "seeds"):
            raw = getattr(self, name)
            if raw is None:
                continue
            values = (raw,) if isinstance(raw, str | int | float) else tuple(raw)
            object.__setattr__(self, name, values)
            if not values:
                raise SpecError(f"SweepGrid.{name} must not be empty")
        for d in self.devices:
            if isinstance(d, bool) or not isinstance(d, int) or d <= 0:
                raise SpecError(f"SweepGrid.devices must be positive ints, got {d!r}")
        for name in ("rate_scales", "cv_scales", "slo_scales"):
            for v in getattr(self, name):
                if not isinstance(v, int | float) or not 0 < v < math.inf:
                    raise SpecError(f"SweepGrid.{name} must be positive and finite, got {v!r}")
        for s in self.seeds or (self.seed,):
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise SpecError(f"SweepGrid seeds must be non-negative ints, got {s!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepGrid:
        """Build from a mapping, e.g. a parsed experiment file (checked key by key and type by
        type by :func:`alpaserve.sweep.schema.grid_from_mapping`; ``settings`` are not
        checked here, as they belong to the runner).

        Parameters
        ----------
        data : mapping
            The experiment's keys (see :mod:`alpaserve.sweep.schema`).

        Returns
        -------
        SweepGrid
            The checked grid.
        """
        from alpaserve.sweep.schema import grid_from_mapping

        return grid_from_mapping(data)

    def cases(self) -> list[SweepCase]:
        """Every case of the cross product (seeds vary last).

        Returns
        -------
        list of SweepCase
            One case per combination, policies varying slowest and seeds fastest.
        """
        out = []
        combos = itertools.product(self.policies, self.devices, self.rate_scales,
                                   self.cv_scales, self.slo_scales, self.windows,
                                   self.seeds or (self.seed,))
        for policy, devices, rate, cv, slo, window, seed in combos:
            out.append(SweepCase(policy=policy, devices=devices, rate_scale=float(rate),
                                 cv_scale=float(cv), slo_scale=float(slo), window=window,
                                 seed=seed, settings=dict(self.settings)))
        return out
