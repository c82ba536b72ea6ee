"""SpotServe request streams and rate schedules, and LLM request files of either form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workloads.errors import TraceFormatError, WorkloadError
from workloads.traces.spotserve import (
    RateSchedule,
    read_llm_requests,
    read_rate_schedule,
    read_spotserve_queries,
    sniff_request_format,
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def stream(n: int = 50, gap: float = 2.86) -> str:
    """Rows as the artifact ships them: index, arrival (s), prompt tokens, a counter."""
    return "".join(f"{i},{(i + 1) * gap},512,{i * 2966}\n" for i in range(n))


def test_query_stream_as_shipped(tmp_path: Path) -> None:
    w = read_spotserve_queries(write(tmp_path, "query_tpt0.35_cv6.txt", stream()),
                               model="gpt-20b")
    assert len(w) == 50
    assert w.arrival[0] == pytest.approx(2.86)
    assert np.all(w.prompt_tokens == 512)
    assert np.all(w.output_tokens == 128)
    assert (len(w) - 1) / (w.arrival[-1] - w.arrival[0]) == pytest.approx(0.35, rel=0.01)
    ms = read_spotserve_queries(write(tmp_path, "ms.txt", "0,1500,64,0\n"), time_unit="ms",
                                output_tokens=16)
    assert ms.arrival.tolist() == [1.5]
    assert ms.output_tokens.tolist() == [16]


@pytest.mark.parametrize(("text", "match"), [
    ("0,1.0\n", "expected index, arrival, prompt_tokens"),
    ("0,x,512,0\n", "arrival must be a number"),
    ("0,1.0,0,0\n", "prompt_tokens must be an int >= 1"),
    ("0,5.0,512,0\n1,4.0,512,0\n", "goes back in time"),
])
def test_query_stream_rejects_bad_rows(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(TraceFormatError, match=match):
        read_spotserve_queries(write(tmp_path, "bad.txt", text))
    with pytest.raises(WorkloadError, match="no rows"):
        read_spotserve_queries(write(tmp_path, "empty.txt", "\n"))


def test_rate_schedule(tmp_path: Path) -> None:
    path = write(tmp_path, "arrival-rates.csv", "0.58,0.65,1.2,\n")
    s = read_rate_schedule(path)
    assert s.rates == (0.58, 0.65, 1.2)
    assert s.end == 180.0
    assert s.rate_at(90.0) == 0.65
    assert s.rate_at(-1.0) == 0.0
    assert s.rate_at(180.0) == 0.0
    a = s.arrivals(cv=1.0, seed=3)
    assert np.all(np.diff(a) >= 0)
    assert a.min() >= 0
    assert a.max() < 180.0
    assert np.array_equal(a, s.arrivals(cv=1.0, seed=3))         # deterministic
    many = RateSchedule(rates=(1.0, 3.0), interval=2000.0).arrivals(cv=2.0, seed=0)
    first, second = int((many < 2000).sum()), int((many >= 2000).sum())
    assert 1500 < first < 2500
    assert 5000 < second < 7000  # follows the rates
    with pytest.raises(TraceFormatError, match="blank rate"):
        read_rate_schedule(write(tmp_path, "b.csv", "1.0,,2.0\n"))
    with pytest.raises(TraceFormatError, match="rate must be finite"):
        read_rate_schedule(write(tmp_path, "c.csv", "1.0,-2\n"))
    with pytest.raises(WorkloadError, match="one of them > 0"):
        RateSchedule(rates=(0.0,))


def test_requests_are_sniffed(tmp_path: Path) -> None:
    azure = write(tmp_path, "azure.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                  "2023-11-16 18:15:46.5,100,7\n2023-11-16 18:15:47.0,30,9\n")
    query = write(tmp_path, "q.txt", stream(3))
    assert sniff_request_format(azure) == "azure-llm"
    assert sniff_request_format(query) == "spotserve"
    w = read_llm_requests(azure, model="m")
    assert w.arrival.tolist() == [0.0, 0.5]
    assert w.output_tokens.tolist() == [7, 9]
    assert len(read_llm_requests(query)) == 3
    with pytest.raises(TraceFormatError):
        read_llm_requests(query, format="azure-llm")
    with pytest.raises(TraceFormatError, match="request format must be"):
        read_llm_requests(query, format="tsv")  # type: ignore[arg-type]
