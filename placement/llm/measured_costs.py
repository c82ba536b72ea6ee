"""Costs from Vidur's measured operator profiles where they exist, the analytic model elsewhere.

Memory (weights, KV blocks, activation reserve) is :class:`.analytic_costs.AnalyticCosts`'s
sizing. The iteration cost of a model on a ``tp × pp`` shape is
:func:`alpaserve.llm.vidur.measured_iteration_cost` when an operator profile (``mlp.csv``)
is given for the model's preset and measures that tensor degree (and, for ``tp > 1``, an
all-reduce profile is given); otherwise the analytic cost. Each cost's ``source`` says which
(``"measured:<file>"`` or ``"analytic:<device>"``), and the plan records it per group.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import SpecError
from alpaserve.llm.iteration import IterationCost
from placement.llm.analytic_costs import AnalyticCosts

if TYPE_CHECKING:
    from alpaserve.llm.collectives import CollectiveProfile
    from alpaserve.llm.spec import LLMSpec
    from alpaserve.llm.vidur import OperatorProfile

# Vidur's folders: compute/<gpu>/<org>/<model>/mlp.csv and network/<gpu>_dgx/all_reduce.csv.
VIDUR_MODELS = {"llama-2-7b": "meta-llama/Llama-2-7b-hf",
                "llama-2-13b": "meta-llama/Llama-2-13b-hf",
                "codellama-34b": "codellama/CodeLlama-34b-Instruct-hf",
                "llama-2-70b": "meta-llama/Llama-2-70b-hf"}
VIDUR_GPUS = {"a100-80gb": "a100", "h100-80gb": "h100"}


class MeasuredCosts(AnalyticCosts):
    """Measured iteration costs where profiled, analytic ones otherwise.

    Parameters
    ----------
    models : mapping of str to LLMSpec
        The served models by name.
    device : DeviceSpec
        The device of every group.
    operators : mapping of str to path
        Operator profile (Vidur's ``mlp.csv``) per preset name (``LLMSpec.name``, e.g.
        ``"llama-2-7b"``); models of other presets use the analytic cost.
    allreduce : path, optional
        The GPU kind's ``all_reduce.csv``; without it only ``tp=1`` is measured.
    max_batched_tokens : int, default 8192
        The scheduler's token budget (the cost table's length).
    max_num_seqs : int, default 256
        The scheduler's sequence cap.
    gpus_per_node : int, default 8
        Devices per node (for all-reduces).

    Raises
    ------
    SpecError
        If a model or the device is malformed, or ``operators`` is not a mapping of names
        to paths.
    """

    def __init__(self, models: Mapping[str, LLMSpec], device: DeviceSpec, *,
                 operators: Mapping[str, str | Path], allreduce: str | Path | None = None,
                 max_batched_tokens: int = 8192, max_num_seqs: int = 256,
                 gpus_per_node: int = 8) -> None:
        super().__init__(models, device, max_batched_tokens=max_batched_tokens,
                         max_num_seqs=max_num_seqs)
        if not isinstance(operators, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str | Path) for k, v in operators.items()):
            raise SpecError(f"MeasuredCosts.operators must map preset names to paths, "
                            f"got {operators!r}")
        self.operators = {k: str(v) for k, v in operators.items()}
        self.allreduce = None if allreduce is None else str(allreduce)
        self.gpus_per_node = int(gpus_per_node)
        self._profiles: dict[str, OperatorProfile] = {}
        self._network: CollectiveProfile | None = None

    @classmethod
    def from_vidur(cls, root: str | Path, models: Mapping[str, LLMSpec], device: DeviceSpec,
                   **options: Any) -> MeasuredCosts:
        """The profiles of Vidur's folder layout under ``root`` that exist for ``models``.

        Parameters
        ----------
        root : path
            Vidur's ``profiles`` folder (``compute/`` and ``network/`` inside).
        models : mapping of str to LLMSpec
            The served models.
        device : DeviceSpec
            The device (``a100-80gb`` and ``h100-80gb`` have profiles).
        **options
            ``max_batched_tokens``, ``max_num_seqs``, ``gpus_per_node``.

        Returns
        -------
        MeasuredCosts
            Measured where a file exists, analytic elsewhere.
        """
        base = Path(root)
        gpu = VIDUR_GPUS.get(device.name)
        operators: dict[str, str] = {}
        allreduce: Path | None = None
        if gpu is not None:
            for spec in models.values():
                folder = VIDUR_MODELS.get(spec.name)
                path = base / "compute" / gpu / folder / "mlp.csv" if folder else None
                if path is not None and path.is_file():
                    operators[spec.name] = str(path)
            net = base / "network" / f"{gpu}_dgx" / "all_reduce.csv"
            allreduce = net if net.is_file() else None
        return cls(models, device, operators=operators, allreduce=allreduce, **options)

    def _profile(self, preset: str) -> OperatorProfile | None:
        path = self.operators.get(preset)
        if path is None:
            return None
        if preset not in self._profiles:
            from alpaserve.llm.vidur import read_operator_profile
            self._profiles[preset] = read_operator_profile(path)
        return self._profiles[preset]

    def measured(self, model: str, tp: int) -> bool:
        """Whether ``model`` at tensor degree ``tp`` takes the measured cost.

        Parameters
        ----------
        model : str
            Model name.
        tp : int
            Tensor degree.

        Returns
        -------
        bool
            A profile of its preset measures ``tp`` (and an all-reduce profile is given
            when ``tp > 1``).
        """
        profile = self._profile(self._spec(model).name)
        return profile is not None and tp in profile.tensor_degrees and (
            tp == 1 or self.allreduce is not None)

    def iteration_cost(self, model: str, tp: int, pp: int) -> IterationCost:
        """The measured cost where profiled, else the analytic one (built once per shape).

        Parameters
        ----------
        model : str
            Model name.
        tp, pp : int
            Tensor and pipeline degree.

        Returns
        -------
        IterationCost
            ``source`` names the profile or ``"analytic:<device>"``.

        Raises
        ------
        ProfileError
            If a named profile cannot be read or describes another model shape.
        """
        key = (model, tp, pp)
        cost = self._costs.get(key)
        if cost is not None:
            return cost
        if not self.measured(model, tp):
            return super().iteration_cost(model, tp, pp)
        from alpaserve.llm.collectives import read_collective_profile
        from alpaserve.llm.vidur import measured_iteration_cost
        if tp > 1 and self._network is None and self.allreduce is not None:
            self._network = read_collective_profile(self.allreduce)
        spec = self._spec(model)
        profile = self._profile(spec.name)
        cost = measured_iteration_cost(spec, self.device,
                                       operators=profile or self.operators[spec.name],
                                       allreduce=self._network if tp > 1 else None, tp=tp,
                                       pp=pp, max_tokens=self.max_batched_tokens,
                                       gpus_per_node=self.gpus_per_node,
                                       max_num_seqs=self.max_num_seqs)
        self._costs[key] = cost
        return cost

    def to_dict(self) -> dict[str, Any]:
        """How the costs are built, JSON-ready (the profiles by path, not their numbers).

        Returns
        -------
        dict
            The analytic description with ``kind="measured"``, ``operators``,
            ``allreduce`` and ``gpus_per_node``.
        """
        return {**super().to_dict(), "kind": "measured", "operators": dict(self.operators),
                "allreduce": self.allreduce, "gpus_per_node": self.gpus_per_node}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MeasuredCosts:
        """Rebuild from :meth:`to_dict` (the profiles are read again from their paths).

        Parameters
        ----------
        data : mapping
            The description.

        Returns
        -------
        MeasuredCosts
            The same cost model.

        Raises
        ------
        SpecError
            If a field is missing or malformed.
        """
        base = AnalyticCosts.from_dict(data)
        try:
            return cls(base.models, base.device, operators=dict(data["operators"]),
                       allreduce=data.get("allreduce"),
                       max_batched_tokens=base.max_batched_tokens,
                       max_num_seqs=base.max_num_seqs,
                       gpus_per_node=int(data.get("gpus_per_node", 8)))
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecError(f"malformed measured costs: {exc!r}") from None
