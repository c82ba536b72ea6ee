"""Small hand-made inputs for the runtime's doctests (no JAX, no devices)."""

from __future__ import annotations

from alpaserve.parallel_config import ParallelConfig
from alpaserve.profiles import ProfileDB, ProfileEntry
from alpaserve.runtime.bracket import ContentionCalibration
from simulator.slowdown import ContentionCurve


def toy_calibration(lone: float, pair_slowdown: float) -> ContentionCalibration:
    """A one-stage model ``"a"`` timed ``lone`` seconds alone and ``pair_slowdown`` times
    slower with two stages busy.

    Parameters
    ----------
    lone : float
        The stage's lone latency, seconds.
    pair_slowdown : float
        ``s(2)``.

    Returns
    -------
    ContentionCalibration
        Its curve ``(1, pair_slowdown)`` and one sample per count.
    """
    db = ProfileDB()
    db.add(ProfileEntry(model="a", config=ParallelConfig.uniform(num_layers=2), batch_size=1,
                        stage_latencies=(lone,), stage_weight_bytes=(0,),
                        stage_peak_memory_bytes=(0,), source="measured"))
    return ContentionCalibration(curve=ContentionCurve.fit({1: [1.0], 2: [pair_slowdown]}),
                                 lone=db, samples={1: (1.0,), 2: (pair_slowdown,)},
                                 seconds=1.0)
