"""Policies for serving an LLM on a spot fleet: SpotServe and its three baselines.

* :class:`SpotServePolicy`: SpotServe's optimizer picks the config; the Kuhn-Munkres planner
  maps it onto the surviving devices; weights are prefetched while the old config serves,
  in-flight requests decode until the deadline minus the KV transfer time and resume on the
  new config with their KV cache (stateful recovery).
* :class:`ReparallelizePolicy`: the same optimizer, but every change stops everything (at
  the removal itself, ignoring the notice), reloads all weights from storage and restarts
  in-flight requests from scratch.
* :class:`ReroutePolicy`: a fixed pipeline × tensor shape, batch and micro-batches; only
  data-parallel replicas come and go. Replicas hit by a removal serve until it and lose
  their in-flight requests; new replicas load their weights from storage.
* On-demand only: :func:`on_demand_fleet` builds a fleet of never-preempted on-demand
  nodes (served with :class:`SpotServePolicy`, which then never migrates for preemptions).

Every policy plans for ``PolicyContext.target``: the throughput target (``required_tpt`` or
the measured rate with headroom, plus the queue's backlog).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alpaserve.cost.llm import LLMConfig
from alpaserve.spot.config import ConfigTable
from alpaserve.spot.deployment import Deployment, DeviceKey, pack_devices
from alpaserve.spot.migration import MigrationPlan, evaluate_transfer, plan_migration
from simulator.spot.policy import PolicyContext, Reconfiguration
from workloads.availability import G4DN_12XLARGE, AvailabilityTrace, NodeType
from workloads.synthetic_availability import static_availability


def _storage_plan(table: ConfigTable, deployment: Deployment) -> MigrationPlan:
    return evaluate_transfer(model=table.model, hardware=table.hardware, old=None,
                             kv_tokens=(), new=deployment, replica_map=(), sources=())


def _stop_all(ctx: PolicyContext, *, keep_progress: bool, note: str) -> Reconfiguration | None:
    if ctx.current is None:
        return None
    stop = ctx.deadline if ctx.deadline is not None else ctx.now
    return Reconfiguration(deployment=None, stop_at=stop,
                           carry=(None,) * ctx.current.config.data,
                           keep_progress=keep_progress, note=note)


@dataclass(frozen=True, kw_only=True)
class SpotServePolicy:
    """SpotServe: optimizer + KM migration planner + stateful recovery.

    Parameters
    ----------
    table : ConfigTable
        The optimizer's table.
    name : str
        Name in the results.
    stateful : bool
        Requests keep their committed tokens when their replica vanishes.

    Examples
    --------
    >>> from alpaserve.model_presets import model_preset
    >>> from alpaserve.spot.config import ConfigSpace, RequestShape
    >>> from alpaserve.spot.hardware import g4dn_hardware
    >>> table = ConfigTable.build(model=model_preset("gpt-1.3b"), hardware=g4dn_hardware(),
    ...                           request=RequestShape(prompt_tokens=64, output_tokens=8,
    ...                                                max_context=128),
    ...                           space=ConfigSpace(tensor=(1, 2), pipeline=(1,),
    ...                                             batch=(1, 2), micro_batches=(1,)))
    >>> devs = (("a", 0), ("a", 1))
    >>> d = SpotServePolicy(table=table).decide(PolicyContext(now=0.0, reasons=frozenset(),
    ...                                                        usable=devs, arrival_rate=1.0))
    >>> d.deployment.config.key, d.ready_at[0] > 0
    ('d1-p1-t2-b1-m1', True)
    """

    table: ConfigTable
    name: str = "spotserve"
    stateful: bool = True

    def decide(self, ctx: PolicyContext) -> Reconfiguration | None:
        """The optimizer's config for the target, migrated with the most reuse; in a grace period
        batches decode until the deadline minus the KV transfer.

        Parameters
        ----------
        ctx : PolicyContext
            The fleet, the deployment and the throughput target now.

        Returns
        -------
        Reconfiguration or None
            ``None`` keeps the current deployment.
        """
        choice = self.table.choose(num_devices=len(ctx.usable), arrival_rate=ctx.target)
        if choice is None:
            return _stop_all(ctx, keep_progress=True, note="below the memory floor")
        cfg, cur, deadline, now = choice.config, ctx.current, ctx.deadline, ctx.now
        if cur is not None and cur.config == cfg and deadline is None:
            return None
        model, hw = self.table.model, self.table.hardware
        if cur is None:
            plan = plan_migration(model=model, hardware=hw, old=None, kv_tokens=(),
                                  new_config=cfg, devices=ctx.usable)
            return Reconfiguration(deployment=plan.deployment, stop_at=now,
                                   ready_at=(now + plan.transfer_time,) * cfg.data,
                                   keep_progress=True, moved_bytes=plan.moved_bytes,
                                   transfer_time=plan.transfer_time, note="initial load")
        plan = plan_migration(model=model, hardware=hw, old=cur, kv_tokens=ctx.kv_tokens,
                              new_config=cfg, devices=ctx.usable)
        note = "migrate"
        if deadline is None:
            stop = now + plan.weight_time
            ready = stop + plan.kv_time
        elif now + plan.transfer_time <= deadline:
            stop = deadline - plan.kv_time
            ready = deadline
        else:  # too late for the leaving devices to send: plan without them
            sources = [d for d in cur.devices if d not in ctx.leaving]
            plan = plan_migration(model=model, hardware=hw, old=cur, kv_tokens=ctx.kv_tokens,
                                  new_config=cfg, devices=ctx.usable, sources=sources)
            stop = deadline
            ready = max(deadline, now + plan.weight_time) + plan.kv_time
            note = "migrate (past the grace period)"
        return Reconfiguration(deployment=plan.deployment, stop_at=stop,
                               ready_at=(ready,) * cfg.data, kept=plan.kept,
                               carry=plan.replica_map, keep_progress=True,
                               moved_bytes=plan.moved_bytes, transfer_time=plan.transfer_time,
                               note=note)


@dataclass(frozen=True, kw_only=True)
class ReparallelizePolicy:
    """Stop everything, reload from storage, restart in-flight requests from scratch.

    Parameters
    ----------
    table : ConfigTable
        The optimizer's table.
    name : str
        Name in the results.
    stateful : bool
        Requests keep their committed tokens when their replica vanishes (no).
    """

    table: ConfigTable
    name: str = "reparallelize"
    stateful: bool = False

    def decide(self, ctx: PolicyContext) -> Reconfiguration | None:
        """The optimizer's config, loaded from storage once the old one stops.

        Parameters
        ----------
        ctx : PolicyContext
            The fleet, the deployment and the throughput target now.

        Returns
        -------
        Reconfiguration or None
            ``None`` keeps the current deployment.
        """
        choice = self.table.choose(num_devices=len(ctx.usable), arrival_rate=ctx.target)
        if choice is None:
            return _stop_all(ctx, keep_progress=False, note="below the memory floor")
        cfg, cur = choice.config, ctx.current
        if cur is not None and cur.config == cfg and ctx.deadline is None:
            return None
        stop = ctx.deadline if ctx.deadline is not None else ctx.now
        dep = pack_devices(cfg, ctx.usable)
        plan = _storage_plan(self.table, dep)
        return Reconfiguration(deployment=dep, stop_at=stop,
                               ready_at=(stop + plan.weight_time,) * cfg.data,
                               carry=(None,) * (cur.config.data if cur else 0),
                               keep_progress=False, moved_bytes=plan.moved_bytes,
                               transfer_time=plan.weight_time, note="restart from storage")


@dataclass(frozen=True, kw_only=True)
class ReroutePolicy:
    """Fixed ``shape`` (its ``data`` is ignored); replicas come and go with the fleet.

    Parameters
    ----------
    table : ConfigTable
        The optimizer's table (for load times).
    shape : LLMConfig
        The fixed pipeline, tensor, batch and micro-batch values.
    name : str
        Name in the results.
    stateful : bool
        Requests keep their committed tokens when their replica vanishes (no).
    """

    table: ConfigTable
    shape: LLMConfig
    name: str = "reroute"
    stateful: bool = False

    def decide(self, ctx: PolicyContext) -> Reconfiguration | None:
        """Keep surviving replicas, add replicas of the shape on free devices.

        Parameters
        ----------
        ctx : PolicyContext
            The fleet, the deployment and the throughput target now.

        Returns
        -------
        Reconfiguration or None
            ``None`` keeps the current deployment.
        """
        cur, now, size = ctx.current, ctx.now, self.shape.replica_devices
        usable = set(ctx.usable)
        old = cur.replicas if cur is not None else ()
        survivors = [i for i, rep in enumerate(old) if usable.issuperset(rep)]
        doomed = [i for i in range(len(old)) if i not in survivors]
        used = {d for i in survivors for d in old[i]}
        later = {d for i in doomed for d in old[i]} & usable  # free once the doomed stop
        now_free = [d for d in ctx.usable if d not in used and d not in later]
        free: list[DeviceKey] = now_free + sorted(later)
        extra = len(free) // size
        if not doomed and extra == 0:
            return None
        total = len(survivors) + extra
        if total == 0:
            return _stop_all(ctx, keep_progress=False, note="fleet below one replica")
        stop = ctx.deadline if ctx.deadline is not None else now
        fresh = pack_devices(self.shape.with_data(extra), free) if extra else None
        new_reps = [old[i] for i in survivors] + list(fresh.replicas if fresh else ())
        dep = Deployment(config=self.shape.with_data(total), replicas=tuple(new_reps))
        load = _storage_plan(self.table, fresh).weight_time if fresh else 0.0
        ready = [now] * len(survivors)
        for rep in new_reps[len(survivors):]:
            start = stop if later.intersection(rep) else now
            ready.append(start + load)
        return Reconfiguration(deployment=dep, stop_at=stop, ready_at=tuple(ready),
                               kept=tuple((i, j) for j, i in enumerate(survivors)),
                               carry=(None,) * len(old), keep_progress=False,
                               moved_bytes=_storage_plan(self.table, fresh).storage_bytes
                               if fresh else 0.0, transfer_time=load, note="reroute")


def on_demand_fleet(spot: AvailabilityTrace, *, start: float, end: float,
                    add_at: float | None = None,
                    node_type: NodeType = G4DN_12XLARGE) -> AvailabilityTrace:
    """On-demand nodes for the same load: as many as the spot fleet held on average over
    ``[start, end)`` (rounded up), added at ``add_at`` (default ``start``) and never
    preempted; released at the spot trace's ``DONE`` when it has one, so both fleets are
    billed over the same window.

    Parameters
    ----------
    spot : AvailabilityTrace
        The spot fleet it replaces (its throughput targets are kept).
    start, end : float
        The window over which the spot fleet's size is averaged, seconds.
    add_at : float, optional
        When the on-demand nodes are acquired (default ``start``).
    node_type : NodeType
        Their type.

    Returns
    -------
    AvailabilityTrace
        The on-demand fleet.

    Examples
    --------
    >>> spot = AvailabilityTrace.from_events([(0.0, "add", "a"), (0.0, "add", "b"),
    ...                                       (50.0, "remove", "b")])
    >>> len(on_demand_fleet(spot, start=0.0, end=100.0).alive_at(10.0))
    2
    """
    count = max(1, math.ceil(spot.mean_alive(start, end) - 1e-9))
    fleet = static_availability(num_nodes=count, start=start if add_at is None else add_at,
                                node_type=node_type)
    return AvailabilityTrace.from_events(fleet.events, nodes=fleet.nodes, targets=spot.targets,
                                         stop_time=spot.stop_time)
