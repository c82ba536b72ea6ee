"""Arguments shared by the runtime subcommands (``profile``, ``fidelity``)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from alpaserve.cli import _checks as checks
from alpaserve.errors import SpecError
from alpaserve.model_presets import model_preset, preset_names
from alpaserve.model_spec import ModelSpec
from alpaserve.parallel_config import ParallelConfig, StageConfig

_UNIFORM = re.compile(r"^pp(\d+)-tp(\d+)(?:x(\d+))?$")
_STAGE = re.compile(r"^(\d+):(\d+)@(\d+)x(\d+)$")


def add_device_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cpu-devices", type=checks.devices, default=None, metavar="N",
                        help="run on N virtual CPU devices (default: JAX's devices)")
    parser.add_argument("--seed", type=checks.seed, default=0, help="weight seed (default 0)")
    parser.add_argument("--dtype", default=None,
                        help="compute dtype, e.g. float32 (default: from the model spec)")


def add_model_spec_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("custom model (when MODEL is neither a preset nor a file)")
    g.add_argument("--family", choices=("bert", "gpt"), default="bert")
    g.add_argument("--layers", type=checks.whole(1, 10_000))
    g.add_argument("--hidden", type=checks.whole(1, 1 << 20))
    g.add_argument("--heads", type=checks.whole(1, 1 << 14))
    g.add_argument("--ffn", type=checks.whole(1, 1 << 22), help="FFN width (default 4 x hidden)")
    g.add_argument("--vocab", type=checks.whole(1, 1 << 24), default=1024)
    g.add_argument("--seq-len", type=checks.whole(1, checks.MAX_TOKENS), default=64)
    g.add_argument("--dtype-bytes", type=checks.whole(1, 8), default=4)


def resolve_model(name: str, args: argparse.Namespace) -> ModelSpec:
    """A preset name, a JSON file holding a ModelSpec, or a spec from the flags."""
    path = Path(name)
    if path.suffix == ".json" and path.is_file():
        try:
            return ModelSpec.from_dict(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise SpecError(f"{path}: not valid JSON: {exc}") from exc
    if name.lower() in preset_names():
        return model_preset(name)
    if args.layers is None or args.hidden is None or args.heads is None:
        raise SpecError(f"{name!r} is not a model preset ({', '.join(preset_names())}) nor a "
                        "JSON file; give --layers, --hidden and --heads to define it")
    return ModelSpec(name=name, family=args.family, num_layers=args.layers,
                     hidden_size=args.hidden, num_heads=args.heads,
                     ffn_size=args.ffn or 4 * args.hidden, vocab_size=args.vocab,
                     seq_len=args.seq_len, dtype_bytes=args.dtype_bytes)


def parse_config(key: str, num_layers: int) -> ParallelConfig:
    """A config key as :attr:`ParallelConfig.key` writes it.

    ``pp2-tp2``, ``pp1-tp4x2`` (4-way tensor parallel on 2 mesh rows) or
    ``stages[0:3@1x2,3:4@1x4]``.

    Examples
    --------
    >>> parse_config("pp2-tp2", 4).key, parse_config("pp1-tp4x2", 4).key
    ('pp2-tp2', 'pp1-tp4x2')
    >>> [s.layer_end for s in parse_config("stages[0:3@1x2,3:4@1x1]", 4).stages]
    [3, 4]
    """
    text = key.strip()
    m = _UNIFORM.match(text)
    if m:
        pp, tp, rows = int(m[1]), int(m[2]), int(m[3] or 1)
        return ParallelConfig.uniform(num_layers=num_layers, pipeline_degree=pp,
                                      tensor_degree=tp, mesh_rows=rows)
    if text.startswith("stages[") and text.endswith("]"):
        stages = []
        for part in text[len("stages["):-1].split(","):
            sm = _STAGE.match(part.strip())
            if not sm:
                raise SpecError(f"stage {part!r} in {key!r} is not START:END@ROWSxCOLS")
            stages.append(StageConfig(layer_start=int(sm[1]), layer_end=int(sm[2]),
                                      mesh_shape=(int(sm[3]), int(sm[4]))))
        return ParallelConfig(stages=tuple(stages))
    raise SpecError(f"cannot parse parallel config {key!r}; use ppP-tpT, ppP-tpTxR or "
                    "stages[START:END@ROWSxCOLS,...]")


def int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SpecError(f"expected comma-separated integers, got {text!r}") from None


def devices_from(args: argparse.Namespace) -> list[Any]:
    if args.cpu_devices is not None:
        from alpaserve.runtime.devices import use_cpu_devices

        return use_cpu_devices(args.cpu_devices)
    import jax

    return list(jax.devices())
