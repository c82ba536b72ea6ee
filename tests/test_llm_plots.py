"""Figures of many-LLM simulations: PNGs are written, panels hold the data, bad input is
refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from alpaserve.errors import SpecError
from alpaserve.llm.plots import (
    plot_kv_timeline,
    plot_kv_utilization,
    plot_llm_attainment,
    plot_llm_latency_cdfs,
    plot_llm_simulation,
)

PNG = b"\x89PNG\r\n\x1a\n"


def saved_png(fig: Figure, path: Path) -> bytes:
    fig.savefig(path)
    data = path.read_bytes()
    assert data.startswith(PNG)
    return data


def test_latency_cdfs_one_line_per_model_and_slo(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ttft = {"a": rng.exponential(0.3, 50), "b": rng.exponential(0.6, 30), "idle": []}
    tpot = {"a": rng.exponential(0.03, 50), "b": rng.exponential(0.05, 30), "idle": []}
    fig = plot_llm_latency_cdfs(ttft, tpot, ttft_slo=1.0, tpot_slo=0.1, title="t")
    left, right = fig.axes
    assert len(left.lines) == len(right.lines) == 3  # a, b and the SLO; "idle" is empty
    assert left.lines[0].get_ydata()[-1] == pytest.approx(1.0)
    assert right.get_xlabel() == "time per output token (s)"
    saved_png(fig, tmp_path / "cdf.png")


def test_attainment_bars_per_plan_keep_model_order(tmp_path: Path) -> None:
    per_plan = {"dedicated": {"z": 0.5, "a": 1.0}, "search": {"z": 0.9, "a": None}}
    fig = plot_llm_attainment(per_plan, metric="ttft_attainment")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["z", "a"]
    heights = [p.get_height() for p in ax.patches]
    assert heights[:3] == [50.0, 100.0, 90.0]
    assert np.isnan(heights[3])
    assert ax.get_ylabel() == "TTFT SLO attainment (%)"
    saved_png(fig, tmp_path / "bars.png")
    with pytest.raises(SpecError, match="at least one plan"):
        plot_llm_attainment({})
    with pytest.raises(SpecError, match="plan 'x' has fractions outside"):
        plot_llm_attainment({"x": {"a": 1.5}})


def test_kv_utilisation_bars_per_group_with_busy_ticks(tmp_path: Path) -> None:
    kv = {"muxserve": {"g0": 0.4}, "dedicated": {"g0": 0.7, "g1": 0.25}}
    busy = {"muxserve": {"g0": 0.9}, "dedicated": {"g0": 0.5, "g1": None}}
    fig = plot_kv_utilization(kv, busy=busy)
    ax = fig.axes[0]
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths == pytest.approx([25.0, 40.0, 70.0])
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "muxserve: g0", "dedicated: g0", "dedicated: g1"]
    saved_png(fig, tmp_path / "kv.png")
    with pytest.raises(SpecError, match="at least one group"):
        plot_kv_utilization({"p": {}})


def test_one_simulation_in_three_panels(tmp_path: Path) -> None:
    fig = plot_llm_simulation(ttft={"a": [0.1, 0.2]}, tpot={"a": [0.01, 0.02]},
                              kv_utilization={"g0: a": 0.3}, busy_fraction={"g0: a": 0.6},
                              ttft_slo=0.5, tpot_slo=0.05, title="run")
    assert len(fig.axes) == 3
    assert len(saved_png(fig, tmp_path / "sim.png")) > 1000


def test_kv_timeline_step_lines_per_group(tmp_path: Path) -> None:
    series = {"g0: a": ([0.0, 1.0, 3.0], [0.25, 0.375, 0.0]), "g1: b": ([], []),
              "g2: c": ([0.5, 2.0], [1.0, 0.0])}
    fig = plot_kv_timeline(series, end_time=4.0, title="kv")
    ax = fig.axes[0]
    assert len(ax.lines) == 2  # the empty group draws nothing
    assert ax.lines[0].get_drawstyle() == "steps-post"
    assert ax.lines[0].get_ydata().tolist() == [25.0, 37.5, 0.0, 0.0]  # extended to 4 s
    assert ax.lines[1].get_xdata().tolist() == [0.5, 2.0, 4.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["g0: a", "g2: c"]
    saved_png(fig, tmp_path / "timeline.png")
    with pytest.raises(SpecError, match="at least one group"):
        plot_kv_timeline({})
    with pytest.raises(SpecError, match="'x' has \\(2,\\) times but \\(1,\\)"):
        plot_kv_timeline({"x": ([0.0, 1.0], [0.5])})
    with pytest.raises(SpecError, match="outside"):
        plot_kv_timeline({"x": ([0.0], [1.5])})


def test_one_simulation_with_its_kv_timeline_in_four_panels(tmp_path: Path) -> None:
    fig = plot_llm_simulation(ttft={"a": [0.1, 0.2]}, tpot={"a": [0.01, 0.02]},
                              kv_utilization={"g0: a": 0.3},
                              kv_timeline={"g0: a": ([0.0, 1.0], [0.6, 0.0])}, end_time=2.0)
    assert len(fig.axes) == 4
    assert fig.axes[3].get_ylabel() == "KV blocks in use (%)"
    saved_png(fig, tmp_path / "sim4.png")
