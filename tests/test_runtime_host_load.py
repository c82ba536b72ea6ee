"""Host load: /proc/stat parsing, samples, and the other-process and steal arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from alpaserve.errors import SimulationError
from alpaserve.runtime.host_load import CpuSample, cpu_sample, host_load, parse_proc_stat


def test_parse_proc_stat_reads_the_aggregate_line() -> None:
    text = "cpu0 1 1 1 1 1 1 1 1\ncpu  10 2 3 100 4 5 6 7 8 9\nintr 1\n"
    assert parse_proc_stat(text) == (26.0, 7.0)  # user+nice+system+irq+softirq; steal
    assert parse_proc_stat("cpu 1 2 3 4 5 6 7") == (19.0, 0.0)  # old kernels: no steal
    with pytest.raises(SimulationError, match="no aggregate 'cpu' line"):
        parse_proc_stat("cpu0 1 2 3 4 5 6 7 8\n")
    with pytest.raises(SimulationError, match="fewer than 7 fields"):
        parse_proc_stat("cpu 1 2 3\n")
    with pytest.raises(SimulationError, match="malformed /proc/stat line 'cpu 1 x"):
        parse_proc_stat("cpu 1 x 3 4 5 6 7 8\n")


def test_cpu_sample_reads_a_stat_file_or_reports_unknown(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 100 500 0 0 0 40 0 0\n")
    ticks = iter([5.0, 7.0])
    a = cpu_sample(stat_path=str(stat), clock=lambda: next(ticks))
    assert a.wall == 5.0
    assert a.busy is not None
    assert a.steal is not None
    assert a.steal / a.busy == pytest.approx(0.2)
    b = cpu_sample(stat_path=str(stat), clock=lambda: next(ticks))
    load = host_load(a, b)
    assert load.wall == 2.0
    assert load.steal_cores == 0.0
    missing = cpu_sample(stat_path=str(tmp_path / "absent"))
    assert missing.busy is None
    assert missing.steal is None


def test_host_load_subtracts_own_time_and_clamps() -> None:
    a = CpuSample(wall=10.0, own=1.0, busy=50.0, steal=1.0)
    b = CpuSample(wall=14.0, own=3.0, busy=56.0, steal=1.4)
    load = host_load(a, b)
    assert (load.other_cores, load.steal_cores, load.own_cores) == pytest.approx((1.0, 0.1, 0.5))
    # jiffy rounding can make host busy < own: never negative
    rounded = host_load(a, CpuSample(wall=11.0, own=1.5, busy=50.4, steal=1.0))
    assert rounded.other_cores == 0.0
    unknown = host_load(CpuSample(wall=0.0, own=0.0, busy=None, steal=None),
                        CpuSample(wall=1.0, own=0.5, busy=None, steal=None))
    assert unknown.other_cores is None
    assert unknown.steal_cores is None
    assert unknown.own_cores == 0.5
    with pytest.raises(SimulationError, match=r"taken in order, got -4\.0s apart"):
        host_load(b, a)
