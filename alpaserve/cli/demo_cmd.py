"""``alpaserve demo``: for now, the cost model's table for the BERT presets on a V100.

The lead replaces this with a small planning study once the simulator and placer exist.
"""

from __future__ import annotations

import argparse

BERT_PRESETS = ("bert-1.3b", "bert-2.6b", "bert-6.7b")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="v100-16gb",
                        help="device preset (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from alpaserve.cli.costs_cmd import cost_rows, format_table

    print(f"Analytic costs of the BERT presets on {args.device} (batch 1, up to 8 devices)\n")
    print(format_table(cost_rows(list(BERT_PRESETS), args.device, 1, 8)), end="")
    return 0
