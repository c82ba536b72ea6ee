"""The README's Python examples run as written (in order, sharing one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert 0.0 <= namespace["result"].attainment <= 1.0
    assert namespace["table"].shape[0] == len(namespace["workload"])


def test_readme_quickstart_has_exactly_the_two_commands() -> None:
    text = README.read_text()
    quickstart = text.split("## Quickstart", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^make \w+", quickstart, flags=re.M)
    assert commands == ["make demo", "make test"]
