"""The model presets AlpaServe and SpotServe serve, and named copies of them.

Sources of the sizes: AlpaServe (Li et al., OSDI 2023, Table 1) serves BERT-1.3B, 2.6B, 6.7B
and 103.5B and MoE models of 1.3B to 10B parameters; the GPT sizes follow GPT-3 (Brown et al.,
2020, Table 2.1) and the 20B/30B models SpotServe (Miao et al., ASPLOS 2024) serves. Shapes
are chosen so that :attr:`~alpaserve.model_spec.ModelSpec.num_params` lands within a few
percent of the published parameter count; ``tests/test_model_presets.py`` checks that.
"""

from __future__ import annotations

from alpaserve._validation import preset
from alpaserve.errors import SpecError
from alpaserve.model_spec import ModelSpec


def _bert(name: str, layers: int, hidden: int, heads: int) -> ModelSpec:
    return ModelSpec(name=name, family="bert", num_layers=layers, hidden_size=hidden,
                     num_heads=heads, ffn_size=4 * hidden, vocab_size=51200, seq_len=2048)


def _gpt(name: str, layers: int, hidden: int, heads: int) -> ModelSpec:
    return ModelSpec(name=name, family="gpt", num_layers=layers, hidden_size=hidden,
                     num_heads=heads, ffn_size=4 * hidden, vocab_size=51200, seq_len=2048)


def _moe(name: str, layers: int, hidden: int, heads: int, experts: int) -> ModelSpec:
    return ModelSpec(name=name, family="moe", num_layers=layers, hidden_size=hidden,
                     num_heads=heads, ffn_size=4 * hidden, vocab_size=32000, seq_len=1024,
                     num_experts=experts, expert_interval=2, top_k=2)


def _presets() -> dict[str, ModelSpec]:
    specs = [
        _bert("bert-1.3b", 24, 2048, 32),
        _bert("bert-2.6b", 32, 2560, 32),
        _bert("bert-6.7b", 32, 4096, 32),
        _bert("bert-103.5b", 82, 10240, 80),
        _gpt("gpt-1.3b", 24, 2048, 32),
        _gpt("gpt-2.7b", 32, 2560, 32),
        _gpt("gpt-6.7b", 32, 4096, 32),
        _gpt("gpt-13b", 40, 5120, 40),
        _gpt("gpt-20b", 44, 6144, 64),
        _gpt("gpt-30b", 48, 7168, 56),
        # OPT-6.7B (Zhang et al. 2022), SpotServe's smallest model: its own vocabulary.
        ModelSpec(name="opt-6.7b", family="gpt", num_layers=32, hidden_size=4096,
                  num_heads=32, ffn_size=16384, vocab_size=50272, seq_len=2048),
        _moe("moe-1.3b", 16, 1024, 16, 16),
        _moe("moe-2.4b", 16, 1024, 16, 32),
        _moe("moe-5.3b", 16, 1536, 16, 32),
        _moe("moe-10b", 18, 2048, 16, 32),
        # Small models for CPU work: the runtime profiles and serves them in seconds.
        ModelSpec(name="bert-tiny", family="bert", num_layers=4, hidden_size=256,
                  num_heads=4, ffn_size=1024, vocab_size=30522, seq_len=128),
        ModelSpec(name="gpt-tiny", family="gpt", num_layers=4, hidden_size=256,
                  num_heads=4, ffn_size=1024, vocab_size=50257, seq_len=128),
    ]
    return {s.name: s for s in specs}


def preset_names() -> tuple[str, ...]:
    """Names of the model presets.

    Returns
    -------
    tuple of str
        Every name :func:`model_preset` accepts.

    Examples
    --------
    >>> "gpt-20b" in preset_names()
    True
    """
    return tuple(_presets())


def model_preset(name: str) -> ModelSpec:
    """Return the preset called ``name`` (case-insensitive).

    Parameters
    ----------
    name : str
        A name of :func:`preset_names`, in any case.

    Returns
    -------
    ModelSpec
        The preset.

    Raises
    ------
    SpecError
        If no preset has that name.

    Examples
    --------
    >>> model_preset("BERT-1.3B").num_layers
    24
    """
    return preset(_presets(), name, "model")


def model_copies(text: str) -> list[ModelSpec]:
    """Named copies of presets from ``"bert-1.3b:8,bert-2.6b:4"`` (PRESET[:COPIES], commas).

    Copy ``i`` of preset ``p`` is named ``p#i``, so several copies can share a cluster.

    Parameters
    ----------
    text : str
        Comma-separated ``PRESET[:COPIES]`` items; ``COPIES`` defaults to 1.

    Returns
    -------
    list of ModelSpec
        The copies, in the order given.

    Raises
    ------
    SpecError
        If a preset is unknown, a count is not a positive integer, or no model is named.

    Examples
    --------
    >>> [m.name for m in model_copies("bert-1.3b:2, gpt-1.3b")]
    ['bert-1.3b#0', 'bert-1.3b#1', 'gpt-1.3b#0']
    """
    models: list[ModelSpec] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, count = part.partition(":")
        try:
            copies = int(count) if count else 1
        except ValueError:
            raise SpecError(f"model count in {part!r} is not an integer") from None
        if copies < 1:
            raise SpecError(f"model count in {part!r} must be positive")
        base = model_preset(name)
        models += [base.renamed(f"{base.name}#{i}") for i in range(copies)]
    if not models:
        raise SpecError(f"no models in {text!r}")
    return models
