"""Transformer model specs: the shape of a model (presets: :mod:`alpaserve.model_presets`).

A spec describes the shape of a model, not its weights: enough to count parameters, FLOPs,
bytes moved and memory. Three families share one layout:

* ``bert``: an encoder; every request is one forward pass over ``seq_len`` tokens.
* ``gpt``: a decoder; served either as one forward pass (AlpaServe) or as a prefill followed
  by token-by-token decoding with a KV cache (SpotServe).
* ``moe``: an encoder whose every ``expert_interval``-th layer replaces the FFN with
  ``num_experts`` experts and a gate; each token visits ``top_k`` experts (GShard style).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from alpaserve._validation import non_empty_name, positive_int
from alpaserve.errors import SpecError

Family = Literal["bert", "gpt", "moe"]
FAMILIES: tuple[Family, ...] = ("bert", "gpt", "moe")


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """The shape of one transformer model.

    Parameters
    ----------
    name : str
        Model name; non-empty (copies of a preset are named ``preset#i``).
    family : {"bert", "gpt", "moe"}
        Encoder, decoder or mixture-of-experts encoder.
    num_layers : int
        Transformer layers; positive.
    hidden_size : int
        Hidden width; positive and divisible by ``num_heads``.
    num_heads : int
        Attention heads; positive.
    ffn_size : int
        Inner width of each FFN; positive.
    vocab_size : int
        Vocabulary size; positive.
    seq_len : int
        Sequence length of one request (and of the position embedding); positive.
    dtype_bytes : int, default 2
        Bytes per parameter and activation element (2 for fp16).
    num_experts : int, default 0
        Experts per MoE layer: at least 2 for ``moe``, 0 otherwise.
    expert_interval : int, default 2
        Every ``expert_interval``-th layer is an MoE layer.
    top_k : int, default 2
        Experts each token visits; at most ``num_experts``.

    Raises
    ------
    SpecError
        If a field is out of range, ``hidden_size`` is not divisible by ``num_heads``, or
        ``num_experts`` does not fit the family.

    Examples
    --------
    >>> spec = ModelSpec(name="tiny", family="bert", num_layers=2, hidden_size=64,
    ...                  num_heads=4, ffn_size=256, vocab_size=1000, seq_len=32)
    >>> spec.num_params
    166016
    >>> spec.weight_bytes == 2 * spec.num_params
    True
    """

    name: str
    family: Family
    num_layers: int
    hidden_size: int
    num_heads: int
    ffn_size: int
    vocab_size: int
    seq_len: int
    dtype_bytes: int = 2
    num_experts: int = 0
    expert_interval: int = 2
    top_k: int = 2

    def __post_init__(self) -> None:
        owner = f"ModelSpec({self.name!r})"
        non_empty_name("ModelSpec", "name", self.name)
        if self.family not in FAMILIES:
            raise SpecError(f"{owner}.family must be one of {FAMILIES}, got {self.family!r}")
        for field in ("num_layers", "hidden_size", "num_heads", "ffn_size", "vocab_size",
                      "seq_len", "dtype_bytes", "expert_interval", "top_k"):
            positive_int(owner, field, getattr(self, field))
        if self.hidden_size % self.num_heads:
            raise SpecError(
                f"{owner}.hidden_size={self.hidden_size} is not divisible by "
                f"num_heads={self.num_heads}"
            )
        if self.family == "moe":
            if isinstance(self.num_experts, bool) or not isinstance(self.num_experts, int) \
                    or self.num_experts < 2:
                raise SpecError(f"{owner}.num_experts must be >= 2 for an MoE model, "
                                f"got {self.num_experts!r}")
            if self.top_k > self.num_experts:
                raise SpecError(f"{owner}.top_k={self.top_k} exceeds "
                                f"num_experts={self.num_experts}")
        elif self.num_experts != 0:
            raise SpecError(f"{owner}.num_experts must be 0 for family {self.family!r}, "
                            f"got {self.num_experts!r}")

    # ------------------------------------------------------------------ structure
    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def is_decoder(self) -> bool:
        """Whether the model generates tokens autoregressively and keeps a KV cache."""
        return self.family == "gpt"

    def is_moe_layer(self, layer: int) -> bool:
        """Whether ``layer`` (0-based) holds experts instead of a dense FFN.

        Parameters
        ----------
        layer : int
            Layer index, ``0 <= layer < num_layers``.

        Returns
        -------
        bool
            True for the MoE layers of an ``moe`` model.

        Raises
        ------
        SpecError
            If ``layer`` is out of range.

        Examples
        --------
        >>> from alpaserve.model_presets import model_preset
        >>> moe = model_preset("moe-1.3b")
        >>> [moe.is_moe_layer(i) for i in range(4)]
        [False, True, False, True]
        """
        self._check_layer(layer)
        return self.family == "moe" and layer % self.expert_interval == self.expert_interval - 1

    # ------------------------------------------------------------------ parameters
    @property
    def attention_params(self) -> int:
        """QKV and output projections with biases."""
        h = self.hidden_size
        return 4 * h * h + 4 * h

    @property
    def ffn_params(self) -> int:
        """One dense FFN (two matmuls with biases)."""
        return 2 * self.hidden_size * self.ffn_size + self.ffn_size + self.hidden_size

    @property
    def layer_norm_params(self) -> int:
        return 4 * self.hidden_size

    def layer_params(self, layer: int) -> int:
        """Parameters of transformer layer ``layer`` (0-based).

        Parameters
        ----------
        layer : int
            Layer index, ``0 <= layer < num_layers``.

        Returns
        -------
        int
            Attention, layer norms and the FFN (all experts and the gate in an MoE layer).

        Raises
        ------
        SpecError
            If ``layer`` is out of range.

        Examples
        --------
        >>> from alpaserve.model_presets import model_preset
        >>> bert = model_preset("bert-1.3b")
        >>> bert.layer_params(0) == bert.attention_params + bert.layer_norm_params + bert.ffn_params
        True
        """
        base = self.attention_params + self.layer_norm_params
        if self.is_moe_layer(layer):
            return base + self.num_experts * self.ffn_params + self.hidden_size * self.num_experts
        return base + self.ffn_params

    @property
    def embedding_params(self) -> int:
        """Token and position embeddings; the output head is tied to the token embedding."""
        return (self.vocab_size + self.seq_len) * self.hidden_size

    @property
    def num_params(self) -> int:
        return self.embedding_params + sum(self.layer_params(i) for i in range(self.num_layers))

    @property
    def weight_bytes(self) -> int:
        return self.num_params * self.dtype_bytes

    def layer_range_weight_bytes(self, start: int, end: int) -> int:
        """Weight bytes of layers ``[start, end)``; the first stage also holds the embeddings.

        Parameters
        ----------
        start, end : int
            Layer range, ``0 <= start < end <= num_layers``.

        Returns
        -------
        int
            Bytes of those layers' weights, plus the embeddings when ``start == 0``.

        Raises
        ------
        SpecError
            If the range is invalid.

        Examples
        --------
        >>> from alpaserve.model_presets import model_preset
        >>> bert = model_preset("bert-1.3b")
        >>> bert.layer_range_weight_bytes(0, 24) == bert.weight_bytes
        True
        """
        if not 0 <= start < end <= self.num_layers:
            raise SpecError(f"layer range [{start}, {end}) is invalid for model {self.name!r} "
                            f"with {self.num_layers} layers")
        params = sum(self.layer_params(i) for i in range(start, end))
        if start == 0:
            params += self.embedding_params
        return params * self.dtype_bytes

    def kv_cache_bytes_per_token(self) -> int:
        """KV-cache bytes one token adds across all layers (decoders only; 0 otherwise).

        Returns
        -------
        int
            ``2 * num_layers * hidden_size * dtype_bytes`` for ``gpt``, else 0.

        Examples
        --------
        >>> from alpaserve.model_presets import model_preset
        >>> gpt, bert = model_preset("gpt-1.3b"), model_preset("bert-1.3b")
        >>> gpt.kv_cache_bytes_per_token(), bert.kv_cache_bytes_per_token()
        (196608, 0)
        """
        if not self.is_decoder:
            return 0
        return 2 * self.num_layers * self.hidden_size * self.dtype_bytes

    def _check_layer(self, layer: int) -> None:
        if not 0 <= layer < self.num_layers:
            raise SpecError(f"layer {layer} is out of range for model {self.name!r} "
                            f"with {self.num_layers} layers")

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict.

        Returns
        -------
        dict of str to Any
            Every field by name; :meth:`from_dict` inverts it.

        Examples
        --------
        >>> from alpaserve.model_presets import model_preset
        >>> model_preset("bert-1.3b").to_dict()["num_layers"]
        24
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Build a spec from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : dict of str to Any
            The fields by name; missing optional ones take their defaults.

        Returns
        -------
        ModelSpec
            The validated spec.

        Raises
        ------
        SpecError
            If a key is unknown, a required field is missing or a value is out of range.

        Examples
        --------
        >>> from alpaserve.model_presets import model_preset
        >>> m = model_preset("gpt-1.3b")
        >>> ModelSpec.from_dict(m.to_dict()) == m
        True
        """
        try:
            return cls(**data)
        except TypeError as exc:
            raise SpecError(f"cannot build a ModelSpec from {data!r}: {exc}") from exc

    def renamed(self, name: str) -> ModelSpec:
        """The same shape under another name (e.g. ``bert-1.3b#3`` for the 4th copy).

        Parameters
        ----------
        name : str
            The new name.

        Returns
        -------
        ModelSpec
            A spec equal to this one but for the name.

        Examples
        --------
        >>> from alpaserve.model_presets import model_preset
        >>> model_preset("bert-1.3b").renamed("bert#0").name
        'bert#0\'
        """
        return ModelSpec(**{**asdict(self), "name": name})


def __getattr__(name: str) -> Any:
    # The presets moved to alpaserve.model_presets; the old import path keeps working.
    if name in ("model_preset", "preset_names", "model_copies"):
        import importlib

        return getattr(importlib.import_module("alpaserve.model_presets"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
