"""A contention calibration, and two around a run made one (:func:`bracket`).

:func:`~alpaserve.runtime.contention.calibrate_contention` measures a
:class:`ContentionCalibration`: each stage's lone latency and the slowdown curves, one over
all stages and one per group. A host's speed drifts over seconds, so a run is calibrated just
before and just after it; :func:`bracket` averages the two, and :func:`calibration_shift` says
how far the host moved between them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from alpaserve.errors import SpecError
from alpaserve.profiles import ProfileDB
from simulator.slowdown import ContentionCurve


@dataclass(frozen=True, kw_only=True)
class ContentionCalibration:
    """The lone stage latencies and the slowdown curve of one host.

    Parameters
    ----------
    curve : ContentionCurve
        Slowdown by the number of stages busy at once.
    lone : ProfileDB
        Every hosted (model, config, batch size), each stage timed with nothing else busy.
    samples : dict of int to tuple of float
        Per busy count, each thread's median slowdown in each pass.
    seconds : float
        Wall time the calibration took.
    spread : tuple of float
        Percentiles 0, 1, ..., 100 of every timed call over its thread's median while
        stages ran together: how far one stage run strays from the curve (empty: unknown).
    shift : float, optional
        For a calibration made of two around a run (:func:`bracket`): how far the second
        moved from the first (:func:`calibration_shift`); ``None`` for a single one.
    parts : tuple of ContentionCalibration
        The two calibrations a bracketed one averages (empty for a single one).
    group_samples : tuple of dict of int to tuple of float
        ``samples`` split by the group of the thread's stage, in placement order (empty:
        not split).
    """

    curve: ContentionCurve
    lone: ProfileDB
    samples: dict[int, tuple[float, ...]]
    seconds: float
    spread: tuple[float, ...] = ()
    shift: float | None = None
    parts: tuple[ContentionCalibration, ...] = ()
    group_samples: tuple[dict[int, tuple[float, ...]], ...] = ()

    @property
    def group_curves(self) -> tuple[ContentionCurve, ...]:
        """One curve per group, fitted to its own samples (:func:`group_curve`).

        Returns
        -------
        tuple of ContentionCurve
            In placement order; empty when the samples were not split by group.
        """
        return tuple(group_curve(x) for x in self.group_samples)

    @property
    def curves(self) -> ContentionCurve | tuple[ContentionCurve, ...]:
        """What a prediction stretches stages with: the groups' own curves where measured,
        else the one curve.

        Returns
        -------
        ContentionCurve or tuple of ContentionCurve
            ``group_curves``, or ``curve`` when there are none.
        """
        return self.group_curves or self.curve

    @property
    def skew(self) -> float:
        """``s(1) - 1`` of largest magnitude over this calibration and its parts: a stage
        timed alone in the curve's one-busy pass against its lone timing a moment before.

        Returns
        -------
        float
            The signed skew.
        """
        return max((c.curve.slowdown[0] - 1.0 for c in (self, *self.parts)), key=abs)

    def to_dict(self) -> dict[str, Any]:
        """The calibration as JSON-ready values.

        Returns
        -------
        dict
            ``curve``, ``lone_ms`` (per ``model/config/bs``, per stage), ``samples``,
            ``seconds`` and ``spread`` (percentiles 0, 10, ..., 100 of it), and the
            groups' own curves (``group_curves``); a bracketed calibration adds ``shift``
            and its two parts' own (``bracket``).
        """
        out: dict[str, Any] = {
            "curve": self.curve.to_dict(),
            "group_curves": [c.to_dict() for c in self.group_curves],
            "lone_ms": {f"{e.model}/{e.config.key}/bs{e.batch_size}":
                        [round(1e3 * x, 4) for x in e.stage_latencies] for e in self.lone},
            "samples": {str(k): list(v) for k, v in self.samples.items()},
            "seconds": self.seconds,
            "spread": [round(x, 4) for x in self.spread[::10]]}
        if self.parts:
            out["shift"] = self.shift
            out["bracket"] = [c.to_dict() for c in self.parts]
        return out


def calibration_shift(before: ContentionCalibration, after: ContentionCalibration) -> float:
    """How far a stage's service time moved between two calibrations, at any busy count.

    A stage busy with ``n`` others takes its lone latency times ``s(n)``; the shift is the
    largest ``|L · s_after(n) / s_before(n) - 1|`` over the counts both measured, where ``L``
    is the geometric mean over lone entries of their total latency after / before. A host
    whose speed drifted during the run between them shows as a large shift.

    Parameters
    ----------
    before, after : ContentionCalibration
        Two calibrations of the same placement.

    Returns
    -------
    float
        The shift (0: the two agree).

    Raises
    ------
    SpecError
        When the two share no lone entry or no busy count.

    Examples
    --------
    >>> from alpaserve.runtime._examples import toy_calibration as cal
    >>> round(calibration_shift(cal(0.010, 1.5), cal(0.011, 1.5)), 3)  # 10% slower alone
    0.1
    >>> round(calibration_shift(cal(0.010, 1.5), cal(0.010, 1.2)), 3)  # busy pair 20% faster
    0.2
    """
    ratios = [after.lone.get(e.model, e.config, e.batch_size).total_latency / e.total_latency
              for e in before.lone if e.key in after.lone]
    counts = sorted(set(before.curve.busy) & set(after.curve.busy))
    if not ratios or not counts:
        raise SpecError("the two calibrations share no lone entry or busy count: are they of "
                        "the same placement?")
    lone = float(np.exp(np.mean(np.log(ratios))))
    s_before, s_after = before.curve.at(counts), after.curve.at(counts)
    return float(np.max(np.abs(lone * s_after / s_before - 1.0)))


def bracket(before: ContentionCalibration, after: ContentionCalibration
            ) -> ContentionCalibration:
    """One calibration from two made just before and just after a run.

    A host's speed drifts over seconds (on a shared VM by 30-50% between probes), so one
    calibration taken before a run describes its start, not the run. Bracketing averages
    the two: each lone stage latency is the mean of both timings, the curve is fitted to
    both calibrations' samples pooled, and the spread is the mean of both at each
    percentile. :func:`calibration_shift` between them says how far the host moved
    (:class:`~alpaserve.runtime.stationarity.Stationarity` judges it).

    Parameters
    ----------
    before, after : ContentionCalibration
        Two calibrations of the same placement, around one run.

    Returns
    -------
    ContentionCalibration
        The averaged calibration, with ``shift`` and both ``parts``.

    Raises
    ------
    SpecError
        When the two do not cover the same lone entries and stage counts.

    Examples
    --------
    >>> from alpaserve.runtime._examples import toy_calibration as cal
    >>> both = bracket(cal(0.010, 1.4), cal(0.012, 1.6))
    >>> [round(e.total_latency, 4) for e in both.lone]
    [0.011]
    >>> both.curve.slowdown, round(both.shift, 3), both.seconds
    ((1.0, 1.5), 0.371, 2.0)
    """
    keys = {e.key for e in before.lone}
    if keys != {e.key for e in after.lone} or set(before.samples) != set(after.samples):
        raise SpecError("cannot bracket calibrations of different placements: their lone "
                        "entries or busy counts differ")
    lone = ProfileDB()
    for e in before.lone:
        other = after.lone.get(e.model, e.config, e.batch_size).stage_latencies
        lone.add(replace(e, stage_latencies=tuple(
            (a + b) / 2.0 for a, b in zip(e.stage_latencies, other, strict=True))))
    samples = {k: before.samples[k] + after.samples[k] for k in before.samples}
    curve = ContentionCurve.fit({k: list(v) for k, v in samples.items()}) if samples \
        else before.curve
    split: tuple[dict[int, tuple[float, ...]], ...] = ()
    if len(before.group_samples) == len(after.group_samples):
        split = tuple({k: a.get(k, ()) + b.get(k, ()) for k in sorted({*a, *b})}
                      for a, b in zip(before.group_samples, after.group_samples, strict=True))
    spread = (tuple((a + b) / 2.0 for a, b in zip(before.spread, after.spread, strict=True))
              if before.spread and after.spread else before.spread or after.spread)
    return ContentionCalibration(curve=curve, lone=lone, samples=samples,
                                 seconds=before.seconds + after.seconds, spread=spread,
                                 shift=calibration_shift(before, after),
                                 parts=(before, after), group_samples=split)


def group_curve(samples: Mapping[int, Sequence[float]]) -> ContentionCurve:
    """The curve of one group's stages, from the slowdowns its threads saw at each count.

    A group whose stages were never the only one busy gets ``s(1) = 1``: alone, a stage
    takes its lone latency by definition.

    Parameters
    ----------
    samples : dict of int to sequence of float
        Per busy count, the group's threads' median slowdowns.

    Returns
    -------
    ContentionCurve
        :meth:`ContentionCurve.fit` of them.

    Examples
    --------
    >>> group_curve({2: [1.8, 2.2], 3: [2.5]}).slowdown
    (1.0, 2.0, 2.5)
    """
    return ContentionCurve.fit({1: [1.0], **{k: list(v) for k, v in samples.items()}})
