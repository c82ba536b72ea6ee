"""Vidur's measured operator and collective times, and the iteration cost they imply.

Vidur (Agrawal et al., MLSys 2024) profiles every non-attention operator of one transformer
layer by tokens in the batch and tensor degree (``mlp.csv``), and NCCL collectives by message
size (``all_reduce.csv``, ``send_recv.csv``); times are in milliseconds, with
``min``/``max``/``mean``/``median``/``std`` columns per operator (the median is used by
default). Rows repeated for one key (the profiles repeat some token counts) are averaged and
counted in ``duplicates``.

The collective tables are read by :mod:`alpaserve.llm.collectives`.

:func:`measured_iteration_cost` builds an :class:`~alpaserve.llm.iteration.IterationCost`
whose ``linear_s`` is the measured per-layer operators times the layers, plus two measured
all-reduces of ``n h`` activations per layer, plus the measured embedding once; the LM head,
attention and pipeline hand-offs (not profiled) come from :mod:`alpaserve.llm.analytic`.
Between measured token counts times are interpolated linearly, beyond the largest they
follow the last segment.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from alpaserve._validation import positive_int
from alpaserve.device_spec import DeviceSpec
from alpaserve.errors import ProfileError, TraceFormatError
from alpaserve.llm.analytic import (
    LAYER_OPERATORS,
    Efficiency,
    analytic_iteration_cost,
    lm_head_seconds,
)
from alpaserve.llm.collectives import (
    STATISTICS,
    CollectiveProfile,
    PathLike,
    _check_statistic,
    _group,
    _interp,
    read_collective_profile,
)
from alpaserve.llm.iteration import IterationCost
from alpaserve.llm.shards import stage_layers
from alpaserve.llm.spec import LLMSpec
from workloads.traces._common import (
    check_width,
    data_rows,
    open_text,
    parse_count,
    parse_float,
    read_header,
)

logger = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
__all__ = ["STATISTICS", "CollectiveProfile", "OperatorProfile", "measured_iteration_cost",
           "read_collective_profile", "read_operator_profile"]
SHAPE_COLUMNS = ("n_head", "n_kv_head", "n_embd", "n_expanded_embd", "vocab_size",
                 "use_gated_mlp")
_MS = 1e-3


@dataclass(frozen=True, kw_only=True)
class OperatorProfile:
    """Measured per-layer operator times of one model on one GPU kind.

    Parameters
    ----------
    path : str
        The file read.
    shape : mapping of str to int
        The model shape columns (``n_head``, ``n_kv_head``, ``n_embd``,
        ``n_expanded_embd``, ``vocab_size``, ``use_gated_mlp`` as 0/1).
    tokens : mapping of int to ndarray
        ``tokens[tp]``: measured token counts at tensor degree ``tp``, increasing.
    seconds : mapping of int to mapping of str to ndarray
        ``seconds[tp][op]``: seconds of operator ``op`` aligned with ``tokens[tp]``; the
        operators of :data:`~alpaserve.llm.analytic.LAYER_OPERATORS` and ``emb``.
    rows : int
        Data rows read.
    duplicates : int
        Rows whose (tokens, tp) repeated an earlier row (averaged with it).
    """

    path: str
    shape: MappingProxyType[str, int]
    tokens: MappingProxyType[int, Floats] = field(repr=False)
    seconds: MappingProxyType[int, MappingProxyType[str, Floats]] = field(repr=False)
    rows: int
    duplicates: int

    @property
    def tensor_degrees(self) -> tuple[int, ...]:
        """The measured tensor-parallel degrees."""
        return tuple(sorted(self.tokens))

    def layer_seconds(self, *, tp: int, tokens: npt.ArrayLike,
                      operators: tuple[str, ...] = LAYER_OPERATORS) -> Floats:
        """Measured seconds of ``operators`` (summed) of one layer, by token count.

        Parameters
        ----------
        tp : int
            A measured tensor degree.
        tokens : array_like of float
            Token counts; interpolated linearly, extrapolated along the last segment.
        operators : tuple of str, default LAYER_OPERATORS
            Operators to sum (``emb`` is the embedding, run once per iteration).

        Returns
        -------
        ndarray of float
            Seconds aligned with ``tokens``.

        Raises
        ------
        ProfileError
            If ``tp`` or an operator was not measured.
        """
        if tp not in self.tokens:
            raise ProfileError(f"{self.path}: no rows at tensor degree {tp}; measured: "
                               f"{list(self.tensor_degrees)}")
        xs = self.tokens[tp]
        n = np.asarray(tokens, dtype=np.float64)
        total = np.zeros_like(n)
        for op in operators:
            if op not in self.seconds[tp]:
                raise ProfileError(f"{self.path}: operator {op!r} not measured; have "
                                   f"{sorted(self.seconds[tp])}")
            total += _interp(n, xs, self.seconds[tp][op])
        return total

    def check_matches(self, spec: LLMSpec) -> None:
        """Raise unless the profiled shape is ``spec``'s (width, heads, MLP).

        Parameters
        ----------
        spec : LLMSpec
            The model the profile should describe.

        Raises
        ------
        ProfileError
            Naming the first field that differs.
        """
        want = {"n_head": spec.num_heads, "n_kv_head": spec.num_kv_heads,
                "n_embd": spec.hidden_size, "n_expanded_embd": spec.ffn_size,
                "use_gated_mlp": int(spec.gated_mlp)}
        for key, value in want.items():
            if self.shape[key] != value:
                raise ProfileError(f"{self.path} profiles {key}={self.shape[key]}, but "
                                   f"{spec.name!r} has {value}")


def read_operator_profile(path: PathLike, *, statistic: str = "median") -> OperatorProfile:
    """Read one of Vidur's ``mlp.csv`` operator profiles (streamed).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    statistic : {"min", "max", "mean", "median"}, default "median"
        Which column of each operator's ``time_stats`` to use.

    Returns
    -------
    OperatorProfile
        The tables in seconds.

    Raises
    ------
    ProfileError
        Naming the file, line and column of a missing column, bad or negative value, or a
        model shape that changes between rows.
    """
    _check_statistic(statistic)
    ops = ("emb", *LAYER_OPERATORS)
    time_cols = tuple(f"time_stats.{op}.{statistic}" for op in ops)
    required = (*time_cols, *SHAPE_COLUMNS, "num_tokens", "num_tensor_parallel_workers")
    keys: list[tuple[int, ...]] = []
    values: list[list[float]] = []
    shape: dict[str, int] | None = None
    p = str(path)
    try:
        with open_text(path) as lines:
            reader = csv.reader(lines)
            index = read_header(reader, p, required=required, extra_ok=True)
            header = [name for name, _ in sorted(index.items(), key=lambda kv: kv[1])]
            for line, row in data_rows(reader, p):
                check_width(row, header, p, line)
                vals = [parse_float(row[index[c]], path=p, line=line, column=c,
                                    non_negative=True) * _MS for c in time_cols]
                row_shape = {c: _shape_value(row[index[c]], p, line, c) for c in SHAPE_COLUMNS}
                if shape is None:
                    shape = row_shape
                elif row_shape != shape:
                    bad = next(c for c in SHAPE_COLUMNS if row_shape[c] != shape[c])
                    raise TraceFormatError(f"model shape changes: {row_shape[bad]} after "
                                           f"{shape[bad]}", path=p, line=line, column=bad)
                key = tuple(parse_count(row[index[c]], path=p, line=line, column=c)
                            for c in ("num_tensor_parallel_workers", "num_tokens"))
                if key[0] < 1 or key[1] < 1:
                    raise TraceFormatError("must be >= 1", path=p, line=line,
                                           column="num_tokens" if key[1] < 1
                                           else "num_tensor_parallel_workers")
                keys.append(key)
                values.append(vals)
    except TraceFormatError as exc:
        raise ProfileError(str(exc)) from None
    if shape is None:
        raise ProfileError(f"{p}: no data rows")
    table, dup = _group(keys, values)
    tokens: dict[int, Floats] = {}
    seconds: dict[int, MappingProxyType[str, Floats]] = {}
    for tp in sorted({k[0] for k in table}):
        ks = sorted(k for k in table if k[0] == tp)
        tokens[tp] = np.array([k[1] for k in ks], dtype=np.float64)
        seconds[tp] = MappingProxyType({op: np.array([table[k][i] for k in ks])
                                        for i, op in enumerate(ops)})
    if dup:
        logger.info("%s: averaged %d repeated (tp, num_tokens) rows", p, dup)
    return OperatorProfile(path=p, shape=MappingProxyType(shape),
                           tokens=MappingProxyType(tokens), seconds=MappingProxyType(seconds),
                           rows=len(keys), duplicates=dup)


def _shape_value(text: str, path: str, line: int, column: str) -> int:
    low = text.strip().lower()
    if low in ("true", "false"):
        return int(low == "true")
    return parse_count(text, path=path, line=line, column=column)


def measured_iteration_cost(spec: LLMSpec, device: DeviceSpec, *,
                            operators: OperatorProfile | PathLike,
                            allreduce: CollectiveProfile | PathLike | None = None,
                            tp: int, pp: int, max_tokens: int, gpus_per_node: int = 8,
                            max_num_seqs: int = 256, overhead_s: float = 0.0,
                            efficiency: Efficiency | None = None) -> IterationCost:
    """The :class:`IterationCost` of a ``tp × pp`` replica from Vidur's measured operators.

    Parameters
    ----------
    spec : LLMSpec
        The model (checked against the profile's shape).
    device : DeviceSpec
        One device, for the analytic parts (LM head, attention, hand-offs).
    operators : OperatorProfile or path
        The model's ``mlp.csv`` on that GPU kind.
    allreduce : CollectiveProfile or path, optional
        The GPU kind's ``all_reduce.csv``; required when ``tp > 1``.
    tp : int
        Tensor-parallel degree (must be measured).
    pp : int
        Pipeline stages.
    max_tokens : int
        Largest batch of the table.
    gpus_per_node : int, default 8
        Devices per node (all-reduces of a wider ``tp`` span ``tp / gpus_per_node`` nodes).
    max_num_seqs : int, default 256
        Most sequences sampled per iteration (rows of the LM head).
    overhead_s : float, default 0
        Fixed seconds per iteration.
    efficiency : Efficiency, optional
        Constants of the analytic parts; by default the calibrated ones.

    Returns
    -------
    IterationCost
        ``source="measured:<operators file>"``.

    Raises
    ------
    ProfileError
        If the profile does not match ``spec``, lacks ``tp``, or ``tp > 1`` without an
        all-reduce profile.
    """
    positive_int("measured_iteration_cost", "max_tokens", max_tokens)
    base = analytic_iteration_cost(spec, device, tp=tp, pp=pp, max_tokens=1,
                                   gpus_per_node=gpus_per_node, max_num_seqs=max_num_seqs,
                                   overhead_s=overhead_s, efficiency=efficiency)
    profile = (operators if isinstance(operators, OperatorProfile)
               else read_operator_profile(operators))
    profile.check_matches(spec)
    n = np.arange(1, max_tokens + 1, dtype=np.float64)
    per_layer = profile.layer_seconds(tp=tp, tokens=n)
    if tp > 1:
        if allreduce is None:
            raise ProfileError(f"tensor degree {tp} needs an all-reduce profile")
        net = (allreduce if isinstance(allreduce, CollectiveProfile)
               else read_collective_profile(allreduce))
        per_node = min(tp, gpus_per_node)
        per_layer = per_layer + 2.0 * net.time_s(n * spec.hidden_size * spec.dtype_bytes,
                                                 num_workers=tp, devices_per_node=per_node)
    layers = sum(stage_layers(spec, pp=pp))
    work = (layers * per_layer + profile.layer_seconds(tp=tp, tokens=n, operators=("emb",))
            + lm_head_seconds(spec, device, tp=tp, tokens=n, max_num_seqs=max_num_seqs,
                              efficiency=efficiency))
    linear = np.maximum.accumulate(np.concatenate([[0.0], work]))
    repaired = int(np.count_nonzero(linear[1:] > work))
    if repaired:
        logger.info("%s: %d of %d token counts raised to keep the cost non-decreasing "
                    "(measurement noise)", profile.path, repaired, max_tokens)
    return replace(base, linear_s=linear, source=f"measured:{profile.path}")


def profile_summary(profile: OperatorProfile | CollectiveProfile) -> dict[str, Any]:
    """A JSON-ready summary of a profile read (for reports).

    Parameters
    ----------
    profile : OperatorProfile or CollectiveProfile
        A profile.

    Returns
    -------
    dict
        Its path, rows, duplicates and measured keys.
    """
    keys: list[Any] = (list(profile.tensor_degrees) if isinstance(profile, OperatorProfile)
                       else [list(k) for k in sorted(profile.sizes)])
    return {"path": profile.path, "rows": profile.rows, "duplicates": profile.duplicates,
            "keys": keys}

