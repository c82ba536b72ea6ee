"""Smoke tests: every plot returns a Figure with the expected content and rejects bad input."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.errors import SpecError
from alpaserve.model_presets import model_preset
from alpaserve.placement_spec import Group, Placement
from alpaserve.plots import (
    plot_arrival_rate,
    plot_attainment_sweep,
    plot_latency_cdf,
    plot_model_attainment,
    plot_placement,
)
from workloads.workload import Workload


@pytest.fixture
def placement() -> Placement:
    models = [model_preset("bert-1.3b").renamed(f"m{i}") for i in range(3)]
    groups = (
        Group.uniform(name="g0", device_ids=range(4), pipeline_degree=2, models=models),
        Group.uniform(name="g1", device_ids=[8, 9], pipeline_degree=1, models=models[:1]),
    )
    return Placement(cluster=homogeneous_cluster(16), models={m.name: m for m in models},
                     groups=groups)


def test_attainment_sweep_has_one_panel_per_parameter(tmp_path) -> None:
    sweeps = {p: {"sr": ([1, 2], [0.5, 0.9]), "alpaserve": ([1, 2], [0.8, 1.0])}
              for p in ("devices", "rate", "cv", "slo_scale")}
    fig = plot_attainment_sweep(sweeps, title="study")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4
    assert [len(ax.lines) for ax in fig.axes] == [3, 3, 3, 3]  # two policies + target line
    fig.savefig(tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 0


def test_attainment_sweep_rejects_ragged_series() -> None:
    with pytest.raises(SpecError, match="policy 'sr': 2 x values but 1 attainments"):
        plot_attainment_sweep({"cv": {"sr": ([1, 2], [0.5])}})
    with pytest.raises(SpecError, match="at least one"):
        plot_attainment_sweep({})


def test_latency_cdf_ends_at_one() -> None:
    fig = plot_latency_cdf({"a": np.array([0.3, 0.1, 0.2]), "empty": []}, slo=0.25)
    line = fig.axes[0].lines[0]
    assert line.get_ydata()[-1] == pytest.approx(1.0)
    assert list(line.get_xdata()) == [0.1, 0.2, 0.3]


def test_model_attainment_bars_per_policy_and_model() -> None:
    fig = plot_model_attainment({"sr": {"m0": 0.9, "m1": 0.5}, "alpa": {"m0": 1.0}})
    assert len(fig.axes[0].patches) == 4  # missing (alpa, m1) is a NaN bar, still drawn


def test_placement_diagram_draws_every_device(placement: Placement) -> None:
    fig = plot_placement(placement)
    ax = fig.axes[0]
    # one background cell per device plus one overlay per used device
    assert len(ax.patches) == 16 + placement.num_devices_used
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "g0 pp2-tp2" in texts
    assert "m2" in texts
    assert "g1 pp1-tp2\nm0" in texts


def test_arrival_rate_matches_the_rate() -> None:
    w = Workload.from_arrays(arrival=np.arange(0, 600, 0.25), model=["a", "b"] * 1200)
    fig = plot_arrival_rate(w, window_s=60)
    ys = fig.axes[0].lines[0].get_ydata()
    assert np.allclose(ys, 4.0, rtol=0.01)
    # A last, partial window is divided by its own length, not a full window's.
    short = Workload.from_arrays(arrival=np.arange(0, 100, 0.5), model="m")
    assert np.allclose(plot_arrival_rate(short, window_s=30).axes[0].lines[0].get_ydata(),
                       2.0, rtol=0.02)
    per_model = plot_arrival_rate(w, window_s=60, per_model=True)
    assert len(per_model.axes[0].lines) == 2
    assert plot_arrival_rate(Workload.empty(), window_s=1).axes[0].get_title() == "empty workload"
    with pytest.raises(SpecError, match="window_s must be positive, got 0"):
        plot_arrival_rate(w, window_s=0)


def test_plots_draw_into_a_given_panel(placement: Placement) -> None:
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot_placement(placement, ax=left) is fig
    assert plot_model_attainment({"sr": {"m0": 1.0}}, ax=right) is fig
    assert len(fig.axes) == 2
