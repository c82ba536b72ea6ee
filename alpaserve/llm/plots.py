"""Matplotlib figures of token-level (many-LLM) simulations.

The conventions of :mod:`alpaserve.plots`: the object API (no ``pyplot``, so no global
figure state and no window; any backend, Agg included, can save them), plain data in (arrays
and mappings, e.g. ``LLMSimResult.latencies("ttft")`` or ``LLMSummary.kv_utilization``), a
:class:`~matplotlib.figure.Figure` out, and ``ax=`` to draw a single panel into a larger
figure. The module never imports the simulator; matplotlib loads only when it is imported.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from alpaserve.errors import SpecError
from alpaserve.plots import _axes, plot_latency_cdf

Scores = Mapping[str, Mapping[str, float | None]]

_LABELS = {"goodput": "goodput (% meeting TTFT and TPOT SLOs)",
           "ttft_attainment": "TTFT SLO attainment (%)",
           "tpot_attainment": "TPOT SLO attainment (%)"}


def _percent(value: float | None) -> float:
    return float("nan") if value is None else 100.0 * float(value)


def plot_llm_latency_cdfs(ttft: Mapping[str, npt.ArrayLike],
                          tpot: Mapping[str, npt.ArrayLike], *,
                          ttft_slo: float | None = None, tpot_slo: float | None = None,
                          title: str | None = None) -> Figure:
    """TTFT and TPOT CDFs side by side, one line per label (a model, or a plan).

    Parameters
    ----------
    ttft, tpot : Mapping[str, array_like]
        Seconds per label over finished requests (``LLMSimResult.latencies("ttft")`` and
        ``.latencies("tpot")``); empty ones are not drawn.
    ttft_slo, tpot_slo : float, optional
        Draw a dashed line at each SLO (seconds).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        A new figure with two panels.

    Examples
    --------
    >>> fig = plot_llm_latency_cdfs({"a": [0.2, 0.4]}, {"a": [0.02, 0.03]}, ttft_slo=0.5)
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['time to first token (s)', 'time per output token (s)']
    """
    fig = Figure(figsize=(9.5, 3.4), layout="constrained")
    for ax, values, slo, label in zip(fig.subplots(1, 2), (ttft, tpot), (ttft_slo, tpot_slo),
                                      ("time to first token (s)", "time per output token (s)"),
                                      strict=True):
        plot_latency_cdf(values, slo=slo, ax=ax)
        ax.set_xlabel(label)
    if title:
        fig.suptitle(title)
    return fig


def plot_llm_attainment(per_plan: Scores, *, metric: str = "goodput",
                        ax: Axes | None = None) -> Figure:
    """Grouped bars per model, one bar colour per plan (or method).

    Parameters
    ----------
    per_plan : Mapping[str, Mapping[str, float or None]]
        ``{plan: {model: fraction}}``, e.g. each plan's
        ``{m: summary.models[m].goodput for m in models}``; None (a model without requests)
        leaves a gap. Models are drawn in the order they first appear.
    metric : str, default "goodput"
        What the fractions are, for the axis label (``goodput``, ``ttft_attainment``,
        ``tpot_attainment`` get readable ones).
    ax : matplotlib.axes.Axes, optional
        Draw into this panel of an existing figure; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (``ax``'s figure when given).

    Raises
    ------
    SpecError
        Without plans, or with a fraction outside [0, 1].

    Examples
    --------
    >>> fig = plot_llm_attainment({"dedicated": {"a": 0.9, "b": 0.5},
    ...                            "search": {"a": 0.95, "b": 0.8}})
    >>> len(fig.axes[0].patches)
    4
    """
    if not per_plan:
        raise SpecError("plot_llm_attainment needs at least one plan")
    for plan, scores in per_plan.items():
        bad = {m: v for m, v in scores.items() if v is not None and not 0.0 <= v <= 1.0}
        if bad:
            raise SpecError(f"plot_llm_attainment: plan {plan!r} has fractions outside "
                            f"[0, 1]: {bad}")
    models = list(dict.fromkeys(m for scores in per_plan.values() for m in scores))
    plans = list(per_plan)
    fig, ax = _axes(ax, (max(5.0, 0.45 * len(models) * len(plans) + 1.5), 3.4))
    width = 0.8 / len(plans)
    x = np.arange(len(models))
    for k, plan in enumerate(plans):
        ys = [_percent(per_plan[plan].get(m)) for m in models]
        ax.bar(x + (k - (len(plans) - 1) / 2) * width, ys, width, label=plan)
    tilt = len(models) > 6
    ax.set_xticks(x, models, rotation=45 if tilt else 0, ha="right" if tilt else "center")
    ax.set_ylabel(_LABELS.get(metric, f"{metric} (%)"))
    ax.set_ylim(0, 118)  # room for the legend above the bars
    ax.set_yticks(np.arange(0, 101, 20))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="upper center", ncols=min(len(plans), 4), frameon=False)
    return fig


def plot_kv_utilization(per_plan: Scores, *, busy: Scores | None = None,
                        ax: Axes | None = None) -> Figure:
    """Horizontal bars of each group's KV-cache utilisation, plans one after the other.

    Parameters
    ----------
    per_plan : Mapping[str, Mapping[str, float or None]]
        ``{plan: {group: utilisation}}`` (``LLMSummary.kv_utilization``; a label such as
        ``"g0: llama-2-7b"`` reads better than a bare group name). A single plan may be
        given as ``{"": {...}}``.
    busy : Mapping[str, Mapping[str, float or None]], optional
        ``{plan: {group: busy fraction}}`` (``LLMSummary.busy_fraction``), drawn as a black
        tick on each bar.
    ax : matplotlib.axes.Axes, optional
        Draw into this panel of an existing figure; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (``ax``'s figure when given).

    Raises
    ------
    SpecError
        Without groups.

    Examples
    --------
    >>> fig = plot_kv_utilization({"muxserve": {"g0": 0.4}, "dedicated": {"g0": 0.7,
    ...                                                                   "g1": 0.2}})
    >>> len(fig.axes[0].patches)
    3
    """
    rows = [(plan, group, value) for plan, groups in per_plan.items()
            for group, value in groups.items()]
    if not rows:
        raise SpecError("plot_kv_utilization needs at least one group")
    fig, ax = _axes(ax, (6.0, 0.9 + 0.28 * len(rows)))
    colours = {plan: f"C{k}" for k, plan in enumerate(per_plan)}
    y = np.arange(len(rows))[::-1]
    ax.barh(y, [_percent(v) for _, _, v in rows], color=[colours[p] for p, _, _ in rows])
    if busy is not None:
        ticks = [_percent(busy.get(p, {}).get(g)) for p, g, _ in rows]
        ax.scatter(ticks, y, marker="|", s=200, color="black", label="busy", zorder=3)
        ax.legend(fontsize="small", loc="lower right")
    ax.set_yticks(y, [f"{p}: {g}" if p else g for p, g, _ in rows], fontsize="small")
    ax.set_xlabel("KV-cache utilisation (% of block-time)")
    ax.set_xlim(0, 102)
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_kv_timeline(series: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]], *,
                     end_time: float | None = None, ax: Axes | None = None,
                     title: str | None = None) -> Figure:
    """KV-cache utilisation over time, a step line per group.

    Parameters
    ----------
    series : Mapping[str, tuple of array_like]
        ``{label: (times, fraction)}``: from each time on, that fraction of the group's KV
        blocks is in use (``LLMSimResult.kv_timeline.utilisation()``, recorded with
        ``simulate_llm(..., kv_timeline=True)``); empty series are not drawn.
    end_time : float, optional
        Extend each line to this time (the run's ``end_time``).
    ax : matplotlib.axes.Axes, optional
        Draw into this panel of an existing figure; default: a new figure.
    title : str, optional
        Panel title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (``ax``'s figure when given).

    Raises
    ------
    SpecError
        Without series, on times and fractions of different lengths, or on a fraction
        outside [0, 1].

    Examples
    --------
    >>> fig = plot_kv_timeline({"g0": ([0.0, 1.0, 3.0], [0.25, 0.375, 0.0])}, end_time=4.0)
    >>> fig.axes[0].lines[0].get_xdata().tolist()
    [0.0, 1.0, 3.0, 4.0]
    """
    if not series:
        raise SpecError("plot_kv_timeline needs at least one group")
    fig, ax = _axes(ax, (8.0, 3.2))
    for label, (times, fraction) in series.items():
        t = np.asarray(times, dtype=np.float64)
        u = np.asarray(fraction, dtype=np.float64)
        if t.shape != u.shape or t.ndim != 1:
            raise SpecError(f"plot_kv_timeline: {label!r} has {t.shape} times but "
                            f"{u.shape} fractions")
        if np.any((u < 0) | (u > 1)):
            raise SpecError(f"plot_kv_timeline: {label!r} has fractions outside [0, 1]")
        if t.size == 0:
            continue
        if end_time is not None and end_time > t[-1]:
            t, u = np.append(t, end_time), np.append(u, u[-1])
        ax.step(t, 100.0 * u, where="post", label=label, linewidth=1.0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("KV blocks in use (%)")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize="small", loc="upper right")
    if title:
        ax.set_title(title)
    return fig


def plot_llm_simulation(*, ttft: Mapping[str, npt.ArrayLike],
                        tpot: Mapping[str, npt.ArrayLike],
                        kv_utilization: Mapping[str, float | None],
                        busy_fraction: Mapping[str, float | None] | None = None,
                        ttft_slo: float | None = None, tpot_slo: float | None = None,
                        title: str | None = None,
                        kv_timeline: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]]
                        | None = None, end_time: float | None = None) -> Figure:
    """One simulation in three panels: TTFT and TPOT CDFs per model, KV use per group; with
    ``kv_timeline``, a fourth below them: KV use over time per group.

    Parameters
    ----------
    ttft, tpot : Mapping[str, array_like]
        Seconds per model over finished requests.
    kv_utilization : Mapping[str, float or None]
        Per group (label).
    busy_fraction : Mapping[str, float or None], optional
        Per group, the same labels.
    ttft_slo, tpot_slo : float, optional
        SLO lines (seconds).
    title : str, optional
        Figure title.
    kv_timeline : Mapping[str, tuple of array_like], optional
        Per group, ``(times, fraction)`` (:func:`plot_kv_timeline`).
    end_time : float, optional
        The run's last event, where the timeline's lines end.

    Returns
    -------
    matplotlib.figure.Figure
        A new figure.

    Examples
    --------
    >>> fig = plot_llm_simulation(ttft={"a": [0.1]}, tpot={"a": [0.01]},
    ...                           kv_utilization={"g0": 0.3})
    >>> len(fig.axes)
    3
    >>> len(plot_llm_simulation(ttft={"a": [0.1]}, tpot={"a": [0.01]},
    ...                         kv_utilization={"g0": 0.3},
    ...                         kv_timeline={"g0": ([0.0, 2.0], [0.3, 0.0])}).axes)
    4
    """
    if kv_timeline is None:
        fig = Figure(figsize=(14.0, 3.6), layout="constrained")
        left, middle, right = fig.subplots(1, 3)
    else:
        fig = Figure(figsize=(14.0, 6.8), layout="constrained")
        grid = fig.add_gridspec(2, 3)
        left, middle, right = (fig.add_subplot(grid[0, k]) for k in range(3))
        plot_kv_timeline(kv_timeline, end_time=end_time, ax=fig.add_subplot(grid[1, :]))
    for ax, values, slo, label in ((left, ttft, ttft_slo, "time to first token (s)"),
                                   (middle, tpot, tpot_slo, "time per output token (s)")):
        plot_latency_cdf(values, slo=slo, ax=ax)
        ax.set_xlabel(label)
    plot_kv_utilization({"": kv_utilization},
                        busy=None if busy_fraction is None else {"": busy_fraction}, ax=right)
    if title:
        fig.suptitle(title)
    return fig
