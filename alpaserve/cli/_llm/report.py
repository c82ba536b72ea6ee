"""Tables of ``alpaserve llm``: one row per model and one for all of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# (column, key in the metrics) in table order
COLUMNS = (("requests", "requests"), ("ttft_p50_s", "ttft_p50"), ("ttft_p90_s", "ttft_p90"),
           ("ttft_p99_s", "ttft_p99"), ("tpot_p50_s", "tpot_p50"), ("tpot_p90_s", "tpot_p90"),
           ("tpot_p99_s", "tpot_p99"), ("ttft_attain", "ttft_attainment"),
           ("tpot_attain", "tpot_attainment"), ("goodput", "goodput"),
           ("goodput_rps", "goodput_rps"), ("tokens_per_s", "tokens_per_s"),
           ("kv_util", "kv_utilization"), ("preemptions", "preemptions"),
           ("rejected", "rejected"))


def metric_rows(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row for all models, then one per model.

    Parameters
    ----------
    metrics : mapping
        :func:`alpaserve.cli._llm.bridge.metrics`'s output.

    Returns
    -------
    list of dict
        Rows keyed by ``model`` and the columns of :data:`COLUMNS` (``nan`` where absent).
    """
    def row(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"model": name}
        for column, key in COLUMNS:
            value = values.get(key)
            out[column] = float("nan") if value is None else value
        return out

    return [row("(all)", metrics["overall"]),
            *(row(name, values) for name, values in metrics["per_model"].items())]
