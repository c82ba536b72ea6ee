"""Small many-LLM planning problems for the placement tests: hand-built costs, toy devices."""

from __future__ import annotations

from pathlib import Path

from alpaserve.device_spec import GB, DeviceSpec, device_preset
from alpaserve.llm.analytic import LAYER_OPERATORS, layer_operator_times
from alpaserve.llm.iteration import IterationCost
from alpaserve.llm.spec import llm_preset
from placement.llm import LLMPlanProblem, TableCosts, TableEntry
from workloads.llm_requests import gamma_arrivals, llm_workload
from workloads.workload import Workload

TOY = DeviceSpec(name="toy", peak_flops=1e14, memory_bandwidth=1e12, memory_bytes=10 * GB)
# (weights in bytes over all devices, fixed seconds per iteration, seconds per token)
MODELS = {"a": (2e9, 0.004, 2e-5), "b": (4e9, 0.008, 4e-5), "c": (12e9, 0.02, 1e-4)}
SHAPES = ((1, 1), (2, 1), (4, 1), (1, 2), (2, 2), (1, 4))


def toy_cost(fixed: float, per_token: float, tp: int, pp: int) -> IterationCost:
    """A cost that speeds up with tensor parallelism (not perfectly) and pipelines by ``pp``."""
    speed = tp ** 0.8
    return IterationCost(linear_s=[0.0, (fixed + per_token) / speed,
                                   (fixed + 2 * per_token) / speed],
                         prefill_attention_s=1e-9 / speed, decode_attention_s=2e-8 / speed,
                         overhead_s=0.001, pipeline_stages=pp, handoff_s=0.0005 if pp > 1 else 0.0,
                         source="table:toy")


def toy_costs(models: dict[str, tuple[float, float, float]] | None = None) -> TableCosts:
    """Table costs of :data:`MODELS` on every shape of :data:`SHAPES`."""
    entries = {}
    for name, (weights, fixed, per_token) in (models or MODELS).items():
        for tp, pp in SHAPES:
            entries[(name, tp, pp)] = TableEntry(
                cost=toy_cost(fixed, per_token, tp, pp), weight_bytes=weights / (tp * pp),
                kv_bytes_per_token=2e5 / (tp * pp), activation_bytes=1e8 / tp)
    return TableCosts(entries)


def toy_problem(**changes: object) -> LLMPlanProblem:
    """Models a, b, c on 4 toy devices (one node of 4)."""
    settings: dict[str, object] = {
        "models": ["a", "b", "c"], "num_devices": 4, "device": TOY, "gpus_per_node": 4,
        "ttft_slo": 0.5, "tpot_slo": 0.05, "min_kv_tokens": 512, "costs": toy_costs()}
    settings.update(changes)
    return LLMPlanProblem(**settings)  # type: ignore[arg-type]


def toy_workload(*, rates: tuple[float, ...] = (12.0, 4.0, 1.5), duration: float = 40.0,
                 seed: int = 0, cv: float = 2.0) -> Workload:
    """Gamma arrivals per model with token pairs drawn from a few shapes."""
    parts = []
    for i, (name, rate) in enumerate(zip(("a", "b", "c"), rates, strict=False)):
        arrivals = gamma_arrivals(rate=rate, cv=cv, start=0.0, end=duration, seed=seed + i)
        parts.append(llm_workload(arrivals=arrivals, seed=seed + 10 + i, model=name,
                                  token_pairs=[(128, 32), (512, 16), (64, 96)]))
    return Workload.merge(parts)


def write_vidur_profiles(root: Path, *, preset: str = "llm-small",
                         tps: tuple[int, ...] = (1, 2)) -> Path:
    """Vidur's folder layout under ``root`` with an ``mlp.csv`` for ``preset`` on an A100
    (operator times from the analytic model, embedding 1 us per token) and an
    ``all_reduce.csv``; the preset's folder is registered in ``VIDUR_MODELS`` by the caller."""
    spec = llm_preset(preset)
    device = device_preset("a100-80gb")
    stats = ("min", "max", "mean", "median", "std")
    ops = ("emb", *LAYER_OPERATORS)
    header = [f"time_stats.{op}.{s}" for op in ops for s in stats]
    header += ["n_head", "n_kv_head", "n_embd", "n_expanded_embd", "vocab_size",
               "use_gated_mlp", "num_tokens", "num_tensor_parallel_workers"]
    lines = [",".join(header)]
    tokens = (1, 16, 256, 4096)
    for tp in tps:
        times = layer_operator_times(spec, device, tp=tp, tokens=tokens)
        for i, n in enumerate(tokens):
            ms = [0.001 * n] + [times[op][i] * 1e3 for op in LAYER_OPERATORS]
            cells = [f"{v:.9g}" for v in ms for _ in stats]
            cells += [str(spec.num_heads), str(spec.num_kv_heads), str(spec.hidden_size),
                      str(spec.ffn_size), str(spec.vocab_size), str(spec.gated_mlp), str(n),
                      str(tp)]
            lines.append(",".join(cells))
    folder = root / "compute" / "a100" / "test" / preset
    folder.mkdir(parents=True)
    (folder / "mlp.csv").write_text("\n".join(lines) + "\n")
    net = root / "network" / "a100_dgx"
    net.mkdir(parents=True)
    rows = [",time_stats.all_reduce.min,time_stats.all_reduce.max,time_stats.all_reduce.mean,"
            "time_stats.all_reduce.median,time_stats.all_reduce.std,rank,num_workers,size,"
            "collective,devices_per_node,max_devices_per_node"]
    for i, (w, size) in enumerate((w, s) for w in (2, 4) for s in (2048, 1 << 20, 1 << 24)):
        t = (20e-6 + 2 * (w - 1) / w * size / 100e9) * 1e3
        rows.append(f"{i},{t},{t},{t},{t},0,0,{w},{size},all_reduce,{w},8")
    (net / "all_reduce.csv").write_text("\n".join(rows) + "\n")
    return folder / "mlp.csv"
