"""Fuzzing every reader with random bytes and random rows: only named errors may escape.

The readers are the trace readers (``workloads/traces``), the availability readers and the
profile database's TSV and JSON. Whatever the input, a reader returns a result or raises
an :class:`~alpaserve.errors.AlpaServeError`; never ``UnicodeDecodeError``,
``OverflowError``, ``csv.Error``, ``RecursionError`` or the like.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alpaserve.errors import AlpaServeError
from alpaserve.model_presets import model_preset
from alpaserve.profiles import TSV_COLUMNS, ProfileDB
from workloads.availability_io import read_availability_csv, read_availability_jsonl
from workloads.function_mapping import FunctionMapping
from workloads.storage import load_workload
from workloads.traces import (
    AzureFunctions2019Spec,
    AzureFunctions2021Spec,
    AzureLLMSpec,
    GenericCsvSpec,
    read_azure_functions_2019,
    read_azure_functions_2021,
    read_azure_llm,
    read_generic_csv,
)

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MAPPING = FunctionMapping(num_models=2)
MODELS = {"m0": model_preset("bert-1.3b").renamed("m0")}


@contextmanager
def written(data: bytes, name: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(data)
        yield path


def _readers(on_error: str) -> dict[str, Callable[[Path], Any]]:
    return {
        "azure-llm": lambda p: read_azure_llm(p, AzureLLMSpec(on_error=on_error)),  # type: ignore[arg-type]
        "azure-2019": lambda p: read_azure_functions_2019(p, AzureFunctions2019Spec(
            mapping=MAPPING, minutes=(0, 3), on_error=on_error), seed=0),  # type: ignore[arg-type]
        "azure-2021": lambda p: read_azure_functions_2021(p, AzureFunctions2021Spec(
            mapping=MAPPING, on_error=on_error)),  # type: ignore[arg-type]
        "generic-csv": lambda p: read_generic_csv(p, GenericCsvSpec(on_error=on_error)),  # type: ignore[arg-type]
        "availability-csv": read_availability_csv,
        "availability-jsonl": read_availability_jsonl,
        "profiles-tsv": lambda p: ProfileDB.from_tsv(p.read_text("utf-8", "replace"), MODELS),
        "profiles-json": lambda p: ProfileDB.from_json(p.read_text("utf-8", "replace")),
        "saved-npz": load_workload,
        "saved-parquet": load_workload,
    }


SUFFIX = {"availability-jsonl": ".jsonl", "saved-npz": ".npz", "saved-parquet": ".parquet",
          "profiles-tsv": ".tsv", "profiles-json": ".json"}
HEADERS = {
    "azure-llm": "TIMESTAMP,ContextTokens,GeneratedTokens",
    "azure-2019": "HashOwner,HashApp,HashFunction,Trigger,1,2,3",
    "azure-2021": "app,func,end_timestamp,duration",
    "generic-csv": "arrival_s,model,slo_s,prompt_tokens,output_tokens",
    "availability-csv": None,
    "profiles-tsv": "\t".join(TSV_COLUMNS),
}
SEP = {"profiles-tsv": "\t"}


def read_safely(reader: str, data: bytes, on_error: str = "raise") -> None:
    # A named error is the allowed outcome; anything else fails the test.
    with written(data, "trace" + SUFFIX.get(reader, ".csv")) as path, \
            contextlib.suppress(AlpaServeError):
        _readers(on_error)[reader](path)


@pytest.mark.parametrize("reader", sorted(_readers("raise")))
@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes(reader: str, data: bytes) -> None:
    read_safely(reader, data)


@pytest.mark.parametrize("reader", sorted(_readers("raise")))
@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_after_a_valid_header(reader: str, data: bytes) -> None:
    header = HEADERS.get(reader)
    read_safely(reader, ((header + "\n").encode() if header else b"") + data)


# Field text that looks like what a trace holds, plus the usual trouble makers.
FIELD = st.one_of(
    st.integers(-10**25, 10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "nan", "inf", "-0", "1e308", "1e-400", "9999-12-31 23:59:59",
                     "2023-11-16 18:15:46.6805900", "2023-02-30 00:00:00", "0001-01-01 00:00:00",
                     "add", "remove", "[1, 2]", "[[1]]", "['a']", "[" * 50, "\ufeff", "\"",
                     "a\"b", "é", "\x00", "0" * 40]),
    st.text(max_size=12),
)


@pytest.mark.parametrize("on_error", ["raise", "skip"])
@pytest.mark.parametrize("reader", sorted(set(HEADERS)))
@FUZZ
@given(rows=st.lists(st.lists(FIELD, min_size=0, max_size=14), max_size=8))
def test_random_rows(reader: str, on_error: str, rows: list[list[str]]) -> None:
    sep = SEP.get(reader, ",")
    header = HEADERS[reader]
    lines = ([header] if header else []) + [sep.join(row) for row in rows]
    read_safely(reader, ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"), on_error)


@FUZZ
@given(items=st.lists(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(),
              st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["nodes", "name", "type", "market"]),
                                            inner, max_size=4)),
    max_leaves=12), max_size=6))
def test_random_json_lines_for_availability(items: list[Any]) -> None:
    import json

    text = "\n".join(json.dumps(i) for i in items) + "\n"
    read_safely("availability-jsonl", text.encode())


@FUZZ
@given(entries=st.lists(st.dictionaries(
    st.sampled_from(["model", "config", "batch_size", "stage_latencies", "stage_weight_bytes",
                     "stage_peak_memory_bytes", "source", "latency_std", "tflops"]),
    st.one_of(st.none(), st.integers(-10**20, 10**20), st.floats(), st.text(max_size=5),
              st.lists(st.floats(), max_size=3), st.dictionaries(st.text(max_size=3),
                                                                 st.integers(), max_size=2))),
    max_size=3))
def test_random_profile_json_entries(entries: list[dict[str, Any]]) -> None:
    import json

    from alpaserve.profiles import FORMAT_VERSION

    text = json.dumps({"format_version": FORMAT_VERSION, "entries": entries})
    read_safely("profiles-json", text.encode())


def test_the_fuzz_files_are_cleaned_up() -> None:
    with written(b"x", "t.csv") as path:
        directory = path.parent
    assert not os.path.exists(directory)
