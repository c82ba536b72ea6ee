"""Matplotlib figures for studies, traces and placements.

Every function builds and returns a :class:`matplotlib.figure.Figure` through the object API
(no ``pyplot``, so no global figure state and no window): save it with ``fig.savefig`` or let
a notebook display it. Single-panel plots also take ``ax=`` to draw into a panel of a larger
figure, and then return that figure. Inputs are plain data — arrays, mappings, a
:class:`Placement`, a :class:`Workload` — so the module sits in the core layer and never
imports the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from alpaserve.errors import SpecError
from alpaserve.group_spec import Group
from alpaserve.placement_spec import Placement
from workloads.workload import Workload

# Figure 11 of the AlpaServe paper varies these four parameters around a default.
SWEEP_AXES: dict[str, str] = {
    "devices": "#devices",
    "rate": "rate scale / req/s",
    "cv": "CV (burstiness)",
    "slo_scale": "SLO scale",
}

Series = Mapping[str, tuple[Sequence[float], Sequence[float]]]


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        fig = ax.get_figure()
        if not isinstance(fig, Figure):
            raise SpecError("ax must belong to a matplotlib Figure")
        return fig, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def plot_attainment_sweep(sweeps: Mapping[str, Series], *, target: float | None = 0.99,
                          title: str | None = None) -> Figure:
    """One panel per varied parameter, one line per policy (AlpaServe's Figure 11 layout).

    Parameters
    ----------
    sweeps : Mapping[str, Mapping[str, tuple of (sequence, sequence)]]
        ``{parameter: {policy: (xs, attainments)}}``; attainments are fractions in [0, 1].
        Known parameters (``devices``, ``rate``, ``cv``, ``slo_scale``) get readable axis
        labels.
    target : float or None, default 0.99
        Draw a dashed line at this attainment (None for none).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        A new figure with one panel per parameter.

    Raises
    ------
    SpecError
        If ``sweeps`` is empty or a series has different numbers of x and y values.

    Examples
    --------
    >>> fig = plot_attainment_sweep({"cv": {"sr": ([1, 4], [0.99, 0.7]),
    ...                                     "alpaserve": ([1, 4], [0.99, 0.95])}})
    >>> len(fig.axes)
    1
    """
    if not sweeps:
        raise SpecError("plot_attainment_sweep needs at least one parameter sweep")
    fig = Figure(figsize=(3.6 * len(sweeps), 3.2), layout="constrained")
    axes = fig.subplots(1, len(sweeps), squeeze=False)[0]
    for ax, (param, series) in zip(axes, sweeps.items(), strict=True):
        for policy, (xs, ys) in series.items():
            if len(xs) != len(ys):
                raise SpecError(f"sweep {param!r} policy {policy!r}: {len(xs)} x values but "
                                f"{len(ys)} attainments")
            ax.plot(xs, 100 * np.asarray(ys, dtype=float), marker="o", label=policy)
        if target is not None:
            ax.axhline(100 * target, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlabel(SWEEP_AXES.get(param, param))
        ax.set_ylabel("SLO attainment (%)")
        ax.set_ylim(0, 102)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_latency_cdf(latencies: Mapping[str, npt.ArrayLike], *,
                     slo: float | None = None, ax: Axes | None = None) -> Figure:
    """Empirical CDFs of latency, one line per label (e.g. per policy).

    Parameters
    ----------
    latencies : Mapping[str, array_like]
        Latencies in seconds per label; empty ones are not drawn.
    slo : float, optional
        Draw a dashed line at this latency (seconds).
    ax : matplotlib.axes.Axes, optional
        Draw into this panel of an existing figure; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (``ax``'s figure when given).

    Examples
    --------
    >>> fig = plot_latency_cdf({"a": [0.1, 0.2, 0.3]}, slo=0.25)
    >>> fig.axes[0].get_xlabel()
    'latency (s)'
    """
    fig, ax = _axes(ax, (5, 3.4))
    for label, values in latencies.items():
        v = np.sort(np.asarray(values, dtype=float))
        if v.size == 0:
            continue
        ax.step(v, np.arange(1, v.size + 1) / v.size, where="post", label=label)
    if slo is not None:
        ax.axvline(slo, color="grey", linestyle="--", linewidth=0.8, label="SLO")
    ax.set_xlabel("latency (s)")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_model_attainment(per_model: Mapping[str, Mapping[str, float]], *,
                          ax: Axes | None = None) -> Figure:
    """Grouped bars of attainment per model, one bar colour per policy.

    Parameters
    ----------
    per_model : Mapping[str, Mapping[str, float]]
        ``{policy: {model: attainment}}``, attainments as fractions in [0, 1].
    ax : matplotlib.axes.Axes, optional
        Draw into this panel of an existing figure; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (``ax``'s figure when given).

    Examples
    --------
    >>> fig = plot_model_attainment({"sr": {"m0": 0.9, "m1": 0.5}})
    >>> len(fig.axes[0].patches)
    2
    """
    policies = list(per_model)
    models = sorted({m for scores in per_model.values() for m in scores})
    fig, ax = _axes(ax, (max(5.0, 0.5 * len(models) * max(1, len(policies))), 3.4))
    width = 0.8 / max(1, len(policies))
    x = np.arange(len(models))
    for k, policy in enumerate(policies):
        ys = [100 * per_model[policy].get(m, np.nan) for m in models]
        ax.bar(x + (k - (len(policies) - 1) / 2) * width, ys, width, label=policy)
    ax.set_xticks(x, models, rotation=45 if len(models) > 6 else 0, ha="right"
                  if len(models) > 6 else "center")
    ax.set_ylabel("SLO attainment (%)")
    ax.set_ylim(0, 102)
    ax.legend(fontsize="small", loc="lower right")
    return fig


def plot_placement(placement: Placement, *, max_models_per_label: int = 3,
                   ax: Axes | None = None) -> Figure:
    """Devices as a grid (one row per node), groups outlined, stages shaded, models labelled.

    Parameters
    ----------
    placement : Placement
        The placement to draw.
    max_models_per_label : int, default 3
        A group with more hosted models than this shows their count instead of names.
    ax : matplotlib.axes.Axes, optional
        Draw into this panel of an existing figure; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (``ax``'s figure when given).

    Examples
    --------
    >>> from alpaserve.cluster_spec import homogeneous_cluster
    >>> from alpaserve.model_presets import model_preset
    >>> from alpaserve.group_spec import Group
    >>> bert = model_preset("bert-1.3b")
    >>> p = Placement(cluster=homogeneous_cluster(4), models={bert.name: bert},
    ...               groups=(Group.uniform(name="g0", device_ids=range(4),
    ...                                     pipeline_degree=2, models=[bert]),))
    >>> fig = plot_placement(p)
    >>> fig.axes[0].get_title()
    'placement: 1 groups on 4 of 4 devices'
    """
    cluster = placement.cluster
    per_node = cluster.devices_per_node
    fig, ax = _axes(ax, (1.1 * per_node + 1.5, 0.9 * cluster.num_nodes + 1.2))
    palette = [f"C{i}" for i in range(10)]

    def cell(device: int) -> tuple[float, float]:
        return device % per_node, cluster.num_nodes - 1 - device // per_node

    for d in range(cluster.num_devices):
        x, y = cell(d)
        ax.add_patch(Rectangle((x + 0.05, y + 0.05), 0.9, 0.9, facecolor="#f2f2f2",
                               edgecolor="#bbbbbb"))
        ax.text(x + 0.5, y + 0.12, str(d), ha="center", va="bottom", fontsize=6, color="grey")
    for gi, group in enumerate(placement.groups):
        colour = palette[gi % len(palette)]
        for si, mesh in enumerate(group.stage_meshes):
            alpha = 0.35 + 0.5 * si / max(1, group.num_stages - 1)
            for d in mesh.device_ids:
                x, y = cell(d)
                ax.add_patch(Rectangle((x + 0.05, y + 0.05), 0.9, 0.9, facecolor=colour,
                                       alpha=alpha, edgecolor=colour, linewidth=1.5))
        cells = [cell(d) for d in group.device_ids]
        cx = float(np.mean([c[0] for c in cells])) + 0.5
        cy = float(np.mean([c[1] for c in cells])) + 0.5
        ax.text(cx, cy, _group_label(group, max_models_per_label), ha="center",
                va="center", fontsize=6.5,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})
    ax.set_xlim(0, per_node)
    ax.set_ylim(0, cluster.num_nodes)
    ax.set_yticks([n + 0.5 for n in range(cluster.num_nodes)],
                  [f"node {cluster.num_nodes - 1 - n}" for n in range(cluster.num_nodes)])
    ax.set_xticks([])
    ax.set_aspect("equal")
    ax.set_title(f"placement: {len(placement.groups)} groups on "
                 f"{placement.num_devices_used} of {cluster.num_devices} devices")
    return fig


def _group_label(group: Group, max_models: int) -> str:
    """``g0 pp2×tp1`` and the hosted models (or their count when there are many)."""
    configs = {c.key for c in group.models.values()}
    shape = configs.pop() if len(configs) == 1 else f"{group.num_stages} stages"
    names = sorted(group.models)
    models = "\n".join(names) if len(names) <= max_models else f"{len(names)} models"
    return f"{group.name} {shape}\n{models}"


def plot_arrival_rate(workload: Workload, *, window_s: float = 60.0,
                      per_model: bool = False, top_models: int = 8,
                      ax: Axes | None = None) -> Figure:
    """Arrival rate over time in windows of ``window_s`` seconds.

    Parameters
    ----------
    workload : Workload
        The requests.
    window_s : float, default 60.0
        Window length in seconds; positive.
    per_model : bool, default False
        One line per model instead of one for the total.
    top_models : int, default 8
        With ``per_model``, draw only the most requested models.
    ax : matplotlib.axes.Axes, optional
        Draw into this panel of an existing figure; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (``ax``'s figure when given).

    Raises
    ------
    SpecError
        If ``window_s`` is not positive.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=np.arange(0, 120, 0.5), model="m")
    >>> fig = plot_arrival_rate(w, window_s=30)
    >>> fig.axes[0].get_ylabel()
    'requests / s'
    """
    if not window_s > 0:
        raise SpecError(f"window_s must be positive, got {window_s!r}")
    fig, ax = _axes(ax, (7, 3.2))
    if len(workload) == 0:
        ax.set_title("empty workload")
        return fig
    start, stop = float(workload.arrival[0]), float(workload.arrival[-1])
    edges = np.arange(start, stop + window_s, window_s)
    if edges.size < 2:
        edges = np.array([start, start + window_s])
    # The last window ends at the last arrival, not a full window later: divide its count
    # by its real length, merging it into the previous window when shorter than half one.
    edges = edges.astype(np.float64)
    edges[-1] = max(stop, edges[0] + 1e-9)
    if edges.size > 2 and edges[-1] - edges[-2] < window_s / 2:
        edges = np.delete(edges, -2)
    widths = np.diff(edges)
    centres = ((edges[:-1] + edges[1:]) / 2 - start) / 60.0
    if per_model:
        counts = workload.counts_by_model()
        for name in sorted(counts, key=counts.__getitem__, reverse=True)[:top_models]:
            sel = workload.arrival[workload.model_codes == workload.model_code(name)]
            hist, _ = np.histogram(sel, bins=edges)
            ax.plot(centres, hist / widths, label=name, linewidth=1)
        ax.legend(fontsize="x-small", ncols=2)
    else:
        hist, _ = np.histogram(workload.arrival, bins=edges)
        ax.plot(centres, hist / widths, linewidth=1)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("requests / s")
    ax.grid(alpha=0.3)
    return fig


def plot_attainment_over_time(arrival: npt.ArrayLike, good: npt.ArrayLike, *,
                              window_s: float = 60.0, label: str | None = None,
                              ax: Axes | None = None) -> Figure:
    """SLO attainment per window of ``window_s`` seconds, with the arrival rate beneath.

    Parameters
    ----------
    arrival
        Arrival time of each request (seconds).
    good
        Whether each request met its SLO (e.g. ``SimResult.good``).
    window_s
        Window length in seconds.
    label
        Legend label of the attainment curve (call again with ``ax=`` to overlay runs).
    ax
        Draw into this axes instead of a new figure.

    Returns
    -------
    Figure
        Attainment (%) on the left axis, requests/s (grey) on the right; windows without
        requests are gaps.

    Examples
    --------
    >>> fig = plot_attainment_over_time(np.arange(0, 120, 0.5), np.arange(240) % 4 > 0,
    ...                                 window_s=30, label="sr")
    >>> fig.axes[0].get_ylabel(), round(fig.axes[0].lines[0].get_ydata()[0])
    ('SLO attainment (%)', 75)
    """
    times = np.asarray(arrival, dtype=np.float64)
    ok = np.asarray(good, dtype=bool)
    if times.shape != ok.shape:
        raise SpecError(f"arrival and good differ in shape: {times.shape} vs {ok.shape}")
    if not window_s > 0:
        raise SpecError(f"window_s must be positive, got {window_s!r}")
    fig, ax = _axes(ax, (7, 3.2))
    if times.size == 0:
        ax.set_title("no requests")
        return fig
    start = float(times.min())
    edges = np.arange(start, float(times.max()) + window_s, window_s)
    if edges.size < 2:
        edges = np.array([start, start + window_s])
    total, _ = np.histogram(times, bins=edges)
    met, _ = np.histogram(times[ok], bins=edges)
    centres = (edges[:-1] - start + window_s / 2) / 60.0
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, 100.0 * met / np.maximum(total, 1), np.nan)
    ax.plot(centres, share, label=label, linewidth=1.2)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("SLO attainment (%)")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    if label is not None:
        ax.legend(fontsize="small")
    rate_ax = ax.twinx()
    rate_ax.plot(centres, total / window_s, color="0.6", linewidth=0.8, zorder=0)
    rate_ax.set_ylabel("requests / s", color="0.4")
    return fig
