"""Bad inputs of ``alpaserve llm plan`` / ``llm simulate`` for the bad-input table
(``tests/test_cli_checks.py``): trace files, LLM plan files, and edits of a real plan file.

``LLM_CONTENT_CASES`` has the shape of ``CONTENT_CASES`` (``tests/_fixtures_bad_inputs.py``):
``(id, file name, bytes, argv with {f}, exit code, text)``. ``LLM_PLAN_EDITS`` are
``(id, path into the plan file's JSON, new value or DELETE, text)``, applied to a plan file
that ``llm plan`` wrote.
"""

from __future__ import annotations

import gzip
from typing import Any

AZURE = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
CSV = "arrival_s,model,prompt_tokens,output_tokens\n"
ROWS = ("2023-11-16 18:15:46.68,100,20\n2023-11-16 18:15:47.68,120,30\n"
        "2023-11-16 18:15:48.68,90,10\n")
PLAN = ["llm", "plan", "--models", "llm-tiny", "--devices", "1", "--method", "dedicated",
        "--trace", "{f}"]
SIMULATE = ["llm", "simulate", "{f}"]
DELETE = object()  # an LLM_PLAN_EDITS value: remove the key

LLM_CONTENT_CASES: list[tuple[str, str, bytes, list[str], int, str]] = [
    # traces
    ("llm-trace-empty", "t.csv", b"", PLAN, 2, "cannot tell the trace format"),
    ("llm-trace-header-only", "t.csv", AZURE.encode(), PLAN, 2, "at least 2 are needed"),
    ("llm-trace-one-row", "t.csv", (AZURE + ROWS.splitlines()[0] + "\n").encode(), PLAN, 2,
     "holds 1 request(s)"),
    ("llm-trace-bad-time", "t.csv", (AZURE + ROWS + "yesterday,1,1\n").encode(), PLAN, 2,
     "line 5, column 'TIMESTAMP'"),
    ("llm-trace-unsorted", "t.csv", (AZURE + "".join(reversed(ROWS.splitlines(True))))
     .encode(), PLAN, 2, "earlier than the row before"),
    ("llm-trace-same-instant", "t.csv", (AZURE + ROWS.splitlines(True)[0] * 4).encode(), PLAN,
     2, "arrive at the same instant"),
    ("llm-trace-negative-tokens", "t.csv", (AZURE + ROWS + "2023-11-16 18:15:49,-5,2\n")
     .encode(), PLAN, 2, "negative count: '-5'"),
    ("llm-trace-float-tokens", "t.csv", (AZURE + ROWS + "2023-11-16 18:15:49,1.5,2\n")
     .encode(), PLAN, 2, "not a whole number: '1.5'"),
    ("llm-trace-huge-tokens", "t.csv", (AZURE + ROWS + "2023-11-16 18:15:49,1" + "0" * 22
                                        + ",2\n").encode(), PLAN, 2, "exceeds the limit"),
    ("llm-trace-short-row", "t.csv", (AZURE + ROWS + "2023-11-16 18:15:49,5\n").encode(),
     PLAN, 2, "missing column"),
    ("llm-trace-binary", "t.csv", bytes(range(256)) * 4, PLAN, 2, "binary file"),
    ("llm-trace-latin1", "t.csv", (AZURE + ROWS).encode() + b"\xe9,1,1\n", PLAN, 2,
     "not UTF-8"),
    ("llm-trace-truncated-gzip", "t.csv.gz", gzip.compress((AZURE + ROWS * 50).encode())[:40],
     PLAN, 2, "cannot read"),
    ("llm-csv-nan-arrival", "t.csv", (CSV + "0.1,llm-tiny,10,5\nnan,llm-tiny,10,5\n").encode(),
     PLAN, 2, "not finite: 'nan'"),
    ("llm-csv-huge-arrival", "t.csv", (CSV + "0.1,llm-tiny,10,5\n1e300,llm-tiny,10,5\n")
     .encode(), PLAN, 2, "out of range"),
    ("llm-csv-empty-model", "t.csv", (CSV + "0.1,,10,5\n0.2,llm-tiny,10,5\n").encode(), PLAN, 2,
     "empty model name"),
    ("llm-csv-unknown-model", "t.csv", (CSV + "0.1,gpt,10,5\n0.2,llm-tiny,10,5\n").encode(),
     PLAN, 2, "names ['gpt'], which are not among --models"),
    ("llm-csv-text-tokens", "t.csv", (CSV + "0.1,llm-tiny,ten,5\n0.2,llm-tiny,1,5\n").encode(),
     PLAN, 2, "not a whole number: 'ten'"),
    ("llm-csv-no-tokens", "t.csv", b"arrival_s,model\n0.1,llm-tiny\n0.2,llm-tiny\n", PLAN, 2,
     "has no token counts"),
    # plan files, whatever their content
    ("llm-plan-empty", "p.json", b"", SIMULATE, 2, "not valid JSON"),
    ("llm-plan-not-json", "p.json", b"{plan", SIMULATE, 2, "not valid JSON"),
    ("llm-plan-truncated", "p.json", b'{"kind": "alpaserve-llm-plan", "version": 1, "pl',
     SIMULATE, 2, "not valid JSON"),
    ("llm-plan-binary", "p.json", bytes(range(128, 256)), SIMULATE, 2, "not UTF-8"),
    ("llm-plan-list", "p.json", b"[]", SIMULATE, 2, "must be a JSON object"),
    ("llm-plan-null", "p.json", b"null", SIMULATE, 2, "must be a JSON object"),
    ("llm-plan-request-level", "p.json", b'{"format": "alpaserve-plan", "version": 1}',
     SIMULATE, 2, "`alpaserve simulate`"),
    ("llm-plan-sweep", "p.json", b'{"kind": "sweep", "version": 1}', SIMULATE, 2,
     "not an LLM plan file"),
]

GROUP = ("plan", "groups", 0)
LLM_PLAN_EDITS: list[tuple[str, tuple[Any, ...], Any, str]] = [
    ("version-newer", ("version",), 2, "version 2 is newer"),
    ("version-string", ("version",), "1", "version must be a positive int"),
    ("version-zero", ("version",), 0, "version must be a positive int"),
    ("no-plan", ("plan",), DELETE, "has no 'plan'"),
    ("plan-format", ("plan", "format"), "x/9", "not an LLM plan: format 'x/9'"),
    ("no-groups", ("plan", "groups"), [], "the plan has no group"),
    ("group-device-outside", (*GROUP, "devices"), [5], "device 5 is outside the cluster"),
    ("group-device-twice", (*GROUP, "devices"), [0, 0], "devices must be distinct"),
    ("group-device-negative", (*GROUP, "devices"), [-1], "non-negative ids"),
    ("group-device-string", (*GROUP, "devices"), ["0"], "'devices' must be a list of integers"),
    ("group-tp-shape", (*GROUP, "tp"), 2, "tp 2 × pp 1 is not its 1 devices"),
    ("group-pp-float", (*GROUP, "pp"), 1.5, "tp and pp must be positive integers"),
    ("group-kv-negative", (*GROUP, "kv_blocks"), [-4], "kv_blocks must be from 1"),
    ("group-kv-huge", (*GROUP, "kv_blocks"), [10**30], "kv_blocks must be from 1"),
    ("group-kv-count", (*GROUP, "kv_blocks"), [4, 4], "one of each per model"),
    ("group-unknown-model", (*GROUP, "models"), ["gpt-9"], "unknown model 'gpt-9'"),
    ("group-no-models", (*GROUP, "models"), [], "non-empty list of names"),
    ("group-route-weight", (*GROUP, "route_weights"), [-1.0], "must be positive numbers"),
    ("group-kv-sharing", (*GROUP, "kv_sharing"), "magic", "kv_sharing must be"),
    ("group-cost-source", (*GROUP, "cost_source"), "vidur:x", "says its costs come from"),
    ("group-no-name", (*GROUP, "name"), DELETE, "has no 'name'"),
    ("settings-devices", ("plan", "settings", "num_devices"), 0, "'num_devices' must be"),
    ("costs-kind", ("plan", "costs", "kind"), "magic", "unknown cost kind 'magic'"),
    ("costs-layers", ("plan", "costs", "models", "llm-tiny", "num_layers"), -2, "num_layers"),
    ("slo-negative", ("slo", "ttft", "llm-tiny"), -1, "TTFT SLOs must be positive"),
    ("slo-no-model", ("slo", "ttft"), {}, "must map each model to seconds"),
    ("scheduler-type", ("scheduler", "block_size"), "16", "'block_size' must be a int"),
    ("scheduler-zero", ("scheduler", "block_size"), 0, "'block_size' must be at least 1"),
    ("scheduler-differs", ("scheduler", "block_size"), 32, "differs from the plan's"),
    ("workload-kind", ("workload", "kind"), "magic", "workload kind must be"),
    ("workload-model", ("workload", "model_names"), ["gpt-9"], "have no SLO"),
    ("workload-rate", ("workload", "rate"), -1.0, "'rate' must be a positive number"),
    ("workload-train-fraction", ("workload", "train_fraction"), 1.5, "must be in (0, 1)"),
]


def edited(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """``data`` with the value at ``path`` replaced (or removed for :data:`DELETE`), in place.

    Parameters
    ----------
    data : dict
        A plan file's JSON.
    path : tuple
        Keys and list indices.
    value : Any
        The new value, or :data:`DELETE`.

    Returns
    -------
    dict
        ``data``.
    """
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data
