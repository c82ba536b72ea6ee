"""The columns of a :class:`~workloads.workload.Workload`: their types, validation and merging.

These functions hold the checks behind :meth:`Workload.from_arrays` and :meth:`Workload.merge`
so the class stays a thin, documented surface; they work on plain arrays and return the
keyword arguments of the raw constructor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from workloads.errors import WorkloadError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CodeArray = npt.NDArray[np.int32]
OPTIONAL_COLUMNS = ("slo", "prompt_tokens", "output_tokens")


class HasColumns(Protocol):
    """What :func:`merged_arguments` reads of a workload."""

    @property
    def arrival(self) -> FloatArray:
        """Arrival times."""
        ...

    @property
    def model_codes(self) -> CodeArray:
        """Model code per request."""
        ...

    @property
    def model_names(self) -> tuple[str, ...]:
        """The names the codes index."""
        ...

    def __len__(self) -> int:
        """Number of requests."""
        ...


def readonly(array: np.ndarray) -> np.ndarray:
    """A contiguous, read-only view (or copy) of ``array``.

    Parameters
    ----------
    array : numpy.ndarray
        Any array.

    Returns
    -------
    numpy.ndarray
        The same values, contiguous, with ``writeable`` off.

    Examples
    --------
    >>> readonly(np.arange(3)).flags.writeable
    False
    """
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


def validated_columns(*, arrival: npt.ArrayLike, model: Any, slo: Any = None,
                      prompt_tokens: npt.ArrayLike | None = None,
                      output_tokens: npt.ArrayLike | None = None,
                      model_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Check, encode and stably sort by arrival the columns of :meth:`Workload.from_arrays`.

    Parameters
    ----------
    arrival, model, slo, prompt_tokens, output_tokens, model_names
        As :meth:`Workload.from_arrays` takes them.

    Returns
    -------
    dict
        Keyword arguments of the raw ``Workload`` constructor: read-only, sorted columns.

    Raises
    ------
    WorkloadError
        If an arrival is not finite, an SLO is not positive, a token count is negative or
        fractional, a column's length differs, or a model is not in ``model_names``.

    Examples
    --------
    >>> kw = validated_columns(arrival=[2.0, 1.0], model=["b", "a"])
    >>> kw["arrival"].tolist(), kw["model_codes"].tolist(), kw["model_names"]
    ([1.0, 2.0], [0, 1], ('a', 'b'))
    """
    arr = np.asarray(arrival, dtype=np.float64).ravel()
    n = arr.size
    if n and not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise WorkloadError(f"arrival[{bad}] is {arr[bad]!r}; arrivals must be finite")
    codes, names = encode_models(model, n, model_names)
    columns: dict[str, Any] = {}
    if slo is not None:
        s = np.broadcast_to(np.asarray(slo, dtype=np.float64), (n,)).copy()
        if n and not np.all(s > 0):
            bad = int(np.flatnonzero(~(s > 0))[0])
            raise WorkloadError(f"slo[{bad}] is {s[bad]!r}; SLOs must be positive")
        columns["slo"] = s
    for name, values in (("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens)):
        if values is not None:
            columns[name] = _token_counts(name, values, n)
    if n > 1 and not np.all(arr[1:] >= arr[:-1]):  # O(n) check spares sorted input a sort
        order = np.argsort(arr, kind="stable")
        arr = arr[order]
        codes = codes[order]
        columns = {k: v[order] for k, v in columns.items()}
    return {"arrival": readonly(arr), "model_codes": readonly(codes), "model_names": names,
            **{k: readonly(v) for k, v in columns.items()}}


def _token_counts(name: str, values: npt.ArrayLike, n: int) -> IntArray:
    raw = np.asarray(values)
    if raw.shape != (n,):
        raise WorkloadError(f"{name} has shape {raw.shape}, expected ({n},)")
    as_float = raw.astype(np.float64)
    if n and (not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float))):
        raise WorkloadError(f"{name} must hold whole numbers")
    ints = raw.astype(np.int64)
    if n and ints.min() < 0:
        bad = int(np.argmin(ints))
        raise WorkloadError(f"{name}[{bad}] is {ints[bad]}; token counts must be >= 0")
    return ints


def merged_arguments(parts: Sequence[HasColumns]) -> dict[str, Any]:
    """The :meth:`Workload.from_arrays` arguments that interleave ``parts`` by arrival.

    Model names are unioned in the order seen; an optional column is kept when every
    non-empty part has it.

    Parameters
    ----------
    parts : sequence of Workload
        At least one workload.

    Returns
    -------
    dict
        ``arrival``, ``model`` (codes), ``model_names`` and the shared optional columns.

    Raises
    ------
    WorkloadError
        If a column is present in some non-empty parts and missing in others (rather than
        dropping it silently).

    Examples
    --------
    >>> from workloads import Workload
    >>> kw = merged_arguments([Workload.from_arrays(arrival=[0.0], model="a"),
    ...                        Workload.from_arrays(arrival=[1.0], model="b")])
    >>> kw["model"].tolist(), kw["model_names"]
    ([0, 1], ('a', 'b'))
    """
    names: list[str] = []
    for w in parts:
        names.extend(n for n in w.model_names if n not in names)
    code_maps = [np.array([names.index(n) for n in w.model_names], dtype=np.int32)
                 for w in parts]
    columns: dict[str, Any] = {}
    for col in OPTIONAL_COLUMNS:
        present = [getattr(w, col) is not None for w in parts if len(w)]
        if any(present) and not all(present):
            raise WorkloadError(f"cannot merge: column {col!r} is present in some "
                                "workloads and missing in others")
        if present and all(present):
            columns[col] = np.concatenate([getattr(w, col) for w in parts if len(w)])
    return {"arrival": np.concatenate([w.arrival for w in parts]),
            "model": np.concatenate([m[w.model_codes] if len(w) else np.empty(0, np.int32)
                                     for m, w in zip(code_maps, parts, strict=True)]),
            "model_names": tuple(names), **columns}


def encode_models(model: Any, n: int, model_names: Sequence[str] | None
                  ) -> tuple[CodeArray, tuple[str, ...]]:
    """Integer codes and the name order of the ``model`` argument of ``from_arrays``.

    Parameters
    ----------
    model : str, sequence of str or array_like of int
        One name for all, one name per request, or codes into ``model_names``.
    n : int
        Number of requests.
    model_names : sequence of str, optional
        The name order; default: the single name, or the sorted distinct names.

    Returns
    -------
    tuple of (numpy.ndarray, tuple of str)
        int32 codes and the names they index.

    Raises
    ------
    WorkloadError
        If the shape is wrong, a code is out of range or a name is not in ``model_names``.

    Examples
    --------
    >>> codes, names = encode_models(["b", "a", "b"], 3, None)
    >>> codes.tolist(), names
    ([1, 0, 1], ('a', 'b'))
    """
    if isinstance(model, str):
        names = tuple(model_names) if model_names is not None else (model,)
        if model not in names:
            raise WorkloadError(f"model {model!r} is not in model_names {list(names)}")
        return np.full(n, names.index(model), dtype=np.int32), names
    raw = np.asarray(model)
    if raw.shape != (n,):
        raise WorkloadError(f"model has shape {raw.shape}, expected ({n},)")
    if raw.dtype.kind in "iu":
        if model_names is None:
            raise WorkloadError("integer model codes need model_names")
        names = tuple(model_names)
        if n and (raw.min() < 0 or raw.max() >= len(names)):
            raise WorkloadError(f"model codes must lie in [0, {len(names)}), "
                                f"got range [{raw.min()}, {raw.max()}]")
        return raw.astype(np.int32), names
    strings = raw.astype(str)
    uniques, inverse = np.unique(strings, return_inverse=True)
    if model_names is None:
        return inverse.astype(np.int32), tuple(str(u) for u in uniques)
    names = tuple(model_names)
    unknown = sorted(set(uniques.tolist()) - set(names))
    if unknown:
        raise WorkloadError(f"models {unknown} are not in model_names {list(names)}")
    remap = np.array([names.index(str(u)) for u in uniques], dtype=np.int32)
    return remap[inverse], names
