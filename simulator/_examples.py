"""A tiny placement for doctests: one BERT-1.3B replica on one group, hand-made profiles."""

from __future__ import annotations

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.group_spec import Group
from alpaserve.model_presets import model_preset
from alpaserve.placement_spec import Placement
from alpaserve.profiles import ProfileDB, ProfileEntry


def tiny_placement(stages: int = 1, latency: float = 0.1) -> tuple[Placement, ProfileDB]:
    """``bert-1.3b`` on one group of ``stages`` devices, each stage ``latency`` seconds.

    Batch size 2 is profiled too, at 1.5 × the batch-1 latency per stage.

    Parameters
    ----------
    stages : int, default 1
        Pipeline stages (one device each).
    latency : float, default 0.1
        Seconds per stage at batch size 1.

    Returns
    -------
    placement : Placement
        The group ``g0`` hosting ``bert-1.3b``.
    profiles : ProfileDB
        Its profile at batch sizes 1 and 2.

    Examples
    --------
    >>> p, db = tiny_placement(stages=2)
    >>> config = p.groups[0].models["bert-1.3b"]
    >>> p.groups[0].num_stages, db.get("bert-1.3b", config, 2).stage_latencies
    (2, (0.15000000000000002, 0.15000000000000002))
    """
    bert = model_preset("bert-1.3b")
    group = Group.uniform(name="g0", device_ids=list(range(stages)), pipeline_degree=stages,
                          models=[bert])
    placement = Placement(cluster=homogeneous_cluster(stages), models={bert.name: bert},
                          groups=(group,))
    config = group.models[bert.name]
    profiles = ProfileDB(ProfileEntry(model=bert.name, config=config, batch_size=b,
                                      stage_latencies=(latency * (1 + 0.5 * (b - 1)),) * stages,
                                      stage_weight_bytes=(0,) * stages,
                                      stage_peak_memory_bytes=(0,) * stages, source="analytic")
                         for b in (1, 2))
    return placement, profiles
