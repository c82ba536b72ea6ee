"""Small generated trace files in every reader's format, and a tiny model file, for the
command-line tests (no test reads ../shared)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from alpaserve.model_spec import ModelSpec


def write_azure_llm(path: Path, *, n: int = 400, rate: float = 40.0, seed: int = 0) -> Path:
    """An Azure-LLM-format CSV: Poisson arrivals at ``rate`` with random token counts."""
    rng = np.random.default_rng(seed)
    t0 = dt.datetime(2023, 11, 16, 18, 0, 0)
    times = np.cumsum(rng.exponential(1.0 / rate, n))
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for t in times:
        stamp = (t0 + dt.timedelta(seconds=float(t))).strftime("%Y-%m-%d %H:%M:%S.%f")
        lines.append(f"{stamp}0,{rng.integers(10, 5000)},{rng.integers(1, 500)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def write_azure_2019(path: Path, *, functions: int = 6, minutes: int = 3) -> Path:
    """An Azure Functions 2019 day file with a few busy minutes per function."""
    header = "HashOwner,HashApp,HashFunction,Trigger," + ",".join(str(m) for m in range(1, 1441))
    rows = [header]
    for f in range(functions):
        counts = [(5 + 3 * f) if m < minutes else 0 for m in range(1440)]
        rows.append(f"o{f},a{f},f{f},http," + ",".join(map(str, counts)))
    path.write_text("\n".join(rows) + "\n")
    return path


def write_azure_2021(path: Path, *, n: int = 300, functions: int = 5, seed: int = 0) -> Path:
    """An Azure Functions 2021 invocation CSV (``app,func,end_timestamp,duration``)."""
    rng = np.random.default_rng(seed)
    lines = ["app,func,end_timestamp,duration"]
    for t in np.sort(rng.uniform(0, 60, n)):
        f = int(rng.integers(functions))
        lines.append(f"app{f},fn{f},{t + 0.05:.4f},0.05")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_generic(path: Path, *, n: int = 200, functions: int = 3) -> Path:
    """A generic request CSV (``arrival_s,model``) cycling over ``fn0..``."""
    path.write_text("arrival_s,model\n"
                    + "".join(f"{i * 0.2:.3f},fn{i % functions}\n" for i in range(n)))
    return path


def write_tiny_model(path: Path) -> Path:
    """A ModelSpec JSON small enough to run on virtual CPU devices."""
    spec = ModelSpec(name="tiny", family="bert", num_layers=2, hidden_size=64, num_heads=4,
                     ffn_size=256, vocab_size=512, seq_len=16, dtype_bytes=4)
    path.write_text(json.dumps(spec.to_dict()))
    return path
