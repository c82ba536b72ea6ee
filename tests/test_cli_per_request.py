"""``simulate --per-request``: the table streamed in chunks equals the result's columns."""

from __future__ import annotations

import csv
import json
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from alpaserve.cli._per_request import COLUMNS, iter_chunks, write_per_request
from simulator.result import SimResult


def _result(n: int, seed: int = 0) -> SimResult:
    rng = np.random.default_rng(seed)
    arrival = np.sort(rng.random(n) * 100.0)
    status = rng.integers(0, 3, n)  # served, dropped, unserved
    served = status == 0
    start = np.where(served, arrival + rng.random(n) * 0.1, np.nan)
    finish = np.where(served, start + rng.random(n) * 0.5, np.nan)
    group = np.where(served, rng.integers(0, 2, n), -1)
    return SimResult.from_outcomes(model_names=("a", "b", "c"), group_names=("g0", "g1"),
                                   arrival=arrival, model_codes=rng.integers(0, 3, n),
                                   slo=np.full(n, 0.3), start=start, finish=finish, group=group,
                                   status=status)


def _none(value: object) -> object:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


@pytest.mark.parametrize("chunk", [1, 7, 1 << 16])
def test_chunks_concatenate_to_the_dataframe(chunk: int) -> None:
    result = _result(50)
    frame = result.to_dataframe()
    cols: dict[str, list] = {c: [] for c in COLUMNS}
    for part in iter_chunks(result, chunk):
        for c in COLUMNS:
            cols[c].extend(part[c])
    for c in COLUMNS:
        want = frame[c].astype(object).where(frame[c].notna(), None).tolist()
        got = [None if isinstance(v, float) and math.isnan(v) else v for v in cols[c]]
        assert got == want, c


def test_csv_json_and_parquet_hold_the_same_rows(tmp_path: Path) -> None:
    result = _result(40)
    paths = {s: tmp_path / f"r{s}" for s in (".csv", ".json", ".parquet")}
    for path in paths.values():
        assert write_per_request(result, path, chunk=16) == 40
    with paths[".csv"].open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    strict = json.loads(paths[".json"].read_text(),
                        parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    import pandas as pd

    table = pd.read_parquet(paths[".parquet"])
    assert len(rows) == len(strict) == len(table) == 40
    for k in range(40):
        assert rows[k]["model"] == strict[k]["model"] == table["model"][k]
        assert (rows[k]["group"] or None) == strict[k]["group"] == _none(table["group"][k])
        assert rows[k]["status"] == strict[k]["status"] == table["status"][k]
        if strict[k]["latency"] is None:
            assert rows[k]["latency"] == ""
            assert math.isnan(table["latency"][k])
        else:
            assert float(rows[k]["latency"]) == strict[k]["latency"] == table["latency"][k]


def test_an_empty_result_writes_only_the_header(tmp_path: Path) -> None:
    result = _result(0)
    assert write_per_request(result, tmp_path / "r.csv") == 0
    assert (tmp_path / "r.csv").read_text().strip() == ",".join(COLUMNS)
    assert write_per_request(result, tmp_path / "r.json") == 0
    assert json.loads((tmp_path / "r.json").read_text()) == []
    assert write_per_request(result, tmp_path / "r.parquet") == 0


def test_memory_is_a_chunk_not_a_dict_per_request(tmp_path: Path) -> None:
    # The old path held ~1.2 KB of Python objects per request: 240 MB for 200 k requests.
    result = _result(200_000)
    _ = result.slo, result.batch_size  # cached columns the result holds anyway
    tracemalloc.start()
    try:
        write_per_request(result, tmp_path / "r.csv", chunk=8192)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24e6, peak  # ~ a few columns of 8 bytes per request plus one chunk


def test_unknown_suffix_is_a_named_error(tmp_path: Path) -> None:
    from alpaserve.errors import SpecError

    with pytest.raises(SpecError, match=r"must end in \.csv, \.parquet or \.json"):
        write_per_request(_result(3), tmp_path / "r.txt")
