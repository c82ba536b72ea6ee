"""Shapes of decoder LLMs as served today (Llama family): GQA attention, gated (SwiGLU) MLPs.

One layer holds the Q/K/V projections (``h × (h + 2 · kv_heads · head_dim)``), the attention
output projection (``h × h``), the MLP (``3 · h · ffn`` gated, ``2 · h · ffn`` plain) and two
RMSNorm weight vectors. Outside the layers: the token embedding (``vocab × h``), the final
norm and an untied LM head (``vocab × h``), as in Llama 2.

Preset shapes are those of the published Hugging Face ``config.json`` files
(``meta-llama/Llama-2-{7,13,70}b-hf``, ``codellama/CodeLlama-34b-hf``); 34B and 70B use
grouped-query attention with 8 KV heads. ``llm-tiny`` and ``llm-small`` are made-up shapes
for tests and CPU runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from alpaserve._validation import non_empty_name, positive_int, preset
from alpaserve.errors import SpecError


@dataclass(frozen=True, kw_only=True)
class LLMSpec:
    """A decoder-only LLM's shape.

    Parameters
    ----------
    name : str
        Model name; non-empty.
    num_layers : int
        Transformer layers.
    hidden_size : int
        Model width ``h``; a multiple of ``num_heads``.
    num_heads : int
        Query heads.
    num_kv_heads : int
        Key/value heads (grouped-query attention); divides ``num_heads``.
    ffn_size : int
        MLP inner width.
    gated_mlp : bool, default True
        SwiGLU MLP (gate, up and down matrices) instead of two matrices.
    vocab_size : int, default 32000
        Vocabulary size.
    max_context : int, default 4096
        Longest sequence (prompt plus output) the model accepts, in tokens.
    dtype_bytes : int, default 2
        Bytes per weight and per KV-cache element (fp16/bf16: 2).

    Raises
    ------
    SpecError
        If a field is out of range or the heads do not divide the width.

    Examples
    --------
    >>> spec = llm_preset("llama-2-7b")
    >>> round(spec.num_params / 1e9, 2), spec.kv_bytes_per_token
    (6.74, 524288)
    """

    name: str
    num_layers: int
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    ffn_size: int
    gated_mlp: bool = True
    vocab_size: int = 32000
    max_context: int = 4096
    dtype_bytes: int = 2

    def __post_init__(self) -> None:
        non_empty_name("LLMSpec", "name", self.name)
        owner = f"LLMSpec({self.name!r})"
        for name in ("num_layers", "hidden_size", "num_heads", "num_kv_heads", "ffn_size",
                     "vocab_size", "max_context", "dtype_bytes"):
            positive_int(owner, name, getattr(self, name))
        if not isinstance(self.gated_mlp, bool):
            raise SpecError(f"{owner}.gated_mlp must be a bool, got {self.gated_mlp!r}")
        if self.hidden_size % self.num_heads:
            raise SpecError(f"{owner}.hidden_size={self.hidden_size} is not a multiple of "
                            f"num_heads={self.num_heads}")
        if self.num_heads % self.num_kv_heads:
            raise SpecError(f"{owner}.num_kv_heads={self.num_kv_heads} does not divide "
                            f"num_heads={self.num_heads}")

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden_size // self.num_heads

    @property
    def kv_dim(self) -> int:
        """Width of the keys (and of the values) of one token in one layer."""
        return self.num_kv_heads * self.head_dim

    @property
    def mlp_matrices(self) -> int:
        """Weight matrices of the MLP: 3 when gated, else 2."""
        return 3 if self.gated_mlp else 2

    @property
    def layer_params(self) -> int:
        """Parameters of one transformer layer (projections, MLP, two norm vectors)."""
        h = self.hidden_size
        attention = h * (h + 2 * self.kv_dim) + h * h
        return attention + self.mlp_matrices * h * self.ffn_size + 2 * h

    @property
    def embedding_params(self) -> int:
        """Parameters of the token embedding (and, separately, of the untied LM head)."""
        return self.vocab_size * self.hidden_size

    @property
    def num_params(self) -> int:
        """All parameters: layers, embedding, final norm and LM head."""
        return (self.num_layers * self.layer_params + 2 * self.embedding_params
                + self.hidden_size)

    @property
    def weight_bytes(self) -> int:
        """Bytes of all weights at ``dtype_bytes`` each."""
        return self.num_params * self.dtype_bytes

    @property
    def kv_bytes_per_token(self) -> int:
        """KV bytes of one token over all layers: ``2 · layers · kv_heads · head_dim · dtype``."""
        return 2 * self.num_layers * self.kv_dim * self.dtype_bytes

    def check_tensor_degree(self, tp: int) -> int:
        """Check that tensor parallelism of degree ``tp`` can shard this model.

        The query heads must split evenly; the KV heads either split evenly or, when
        ``tp`` exceeds them, are replicated (``tp`` a multiple of ``num_kv_heads``), as in
        vLLM.

        Parameters
        ----------
        tp : int
            Tensor-parallel degree.

        Returns
        -------
        int
            ``tp``.

        Raises
        ------
        SpecError
            If the heads cannot be split ``tp`` ways.

        Examples
        --------
        >>> llm_preset("llama-2-70b").check_tensor_degree(16)
        16
        """
        positive_int(f"LLMSpec({self.name!r})", "tensor degree", tp)
        if self.num_heads % tp or (self.num_kv_heads % tp and tp % self.num_kv_heads):
            raise SpecError(f"tensor degree {tp} cannot shard {self.name!r}: it needs to "
                            f"divide num_heads={self.num_heads} and divide or be a multiple "
                            f"of num_kv_heads={self.num_kv_heads}")
        return tp

    def kv_heads_per_device(self, tp: int) -> int:
        """KV heads each device of a ``tp``-way group stores (at least one: replicated).

        Parameters
        ----------
        tp : int
            Tensor-parallel degree (checked by :meth:`check_tensor_degree`).

        Returns
        -------
        int
            ``max(1, num_kv_heads // tp)``.
        """
        self.check_tensor_degree(tp)
        return max(1, self.num_kv_heads // tp)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict.

        Returns
        -------
        dict of str to Any
            Every field by name; ``LLMSpec(**d)`` inverts it.
        """
        return asdict(self)


def _presets() -> dict[str, LLMSpec]:
    specs = [
        LLMSpec(name="llama-2-7b", num_layers=32, hidden_size=4096, num_heads=32,
                num_kv_heads=32, ffn_size=11008),
        LLMSpec(name="llama-2-13b", num_layers=40, hidden_size=5120, num_heads=40,
                num_kv_heads=40, ffn_size=13824),
        LLMSpec(name="codellama-34b", num_layers=48, hidden_size=8192, num_heads=64,
                num_kv_heads=8, ffn_size=22016, max_context=16384),
        LLMSpec(name="llama-2-70b", num_layers=80, hidden_size=8192, num_heads=64,
                num_kv_heads=8, ffn_size=28672),
        LLMSpec(name="llm-tiny", num_layers=2, hidden_size=64, num_heads=4, num_kv_heads=2,
                ffn_size=176, vocab_size=256, max_context=256),
        LLMSpec(name="llm-small", num_layers=4, hidden_size=256, num_heads=8, num_kv_heads=4,
                ffn_size=688, vocab_size=1024, max_context=1024),
    ]
    return {s.name: s for s in specs}


def llm_preset_names() -> tuple[str, ...]:
    """Names of the LLM presets.

    Returns
    -------
    tuple of str
        Every name :func:`llm_preset` accepts.

    Examples
    --------
    >>> llm_preset_names()[:2]
    ('llama-2-7b', 'llama-2-13b')
    """
    return tuple(_presets())


def llm_preset(name: str) -> LLMSpec:
    """Return the LLM preset called ``name`` (case-insensitive).

    Parameters
    ----------
    name : str
        A name of :func:`llm_preset_names`, in any case.

    Returns
    -------
    LLMSpec
        The preset.

    Raises
    ------
    SpecError
        If no preset has that name.

    Examples
    --------
    >>> llm_preset("Llama-2-70B").num_kv_heads
    8
    """
    return preset(_presets(), name, "LLM")
