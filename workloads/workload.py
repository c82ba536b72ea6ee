"""The :class:`Workload`: an immutable, columnar set of requests sorted by arrival.

Columns
-------
``arrival``
    Arrival time in seconds, float64, non-decreasing.
``model_codes``
    int32 index into ``model_names`` (the categorical ``model`` column).
``slo``
    Optional per-request latency SLO in seconds (float64, > 0).
``prompt_tokens``, ``output_tokens``
    Optional int64 token counts for LLM requests.

Every array is read-only; operations return new workloads. Sorting on construction is stable,
so requests that arrive at the same instant keep their given order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from workloads.columns import (
    OPTIONAL_COLUMNS,
    CodeArray,
    FloatArray,
    IntArray,
    validated_columns,
)
from workloads.errors import WorkloadError
from workloads.transforms import WorkloadTransforms

__all__ = ["OPTIONAL_COLUMNS", "Workload"]

@dataclass(frozen=True, eq=False, kw_only=True)
class Workload(WorkloadTransforms):
    """Requests sorted by arrival time.

    Build one with :meth:`from_arrays` rather than the raw constructor, which expects
    already-validated, sorted, read-only arrays.

    Parameters
    ----------
    arrival : numpy.ndarray
        Arrival times in seconds, float64, sorted, read-only.
    model_codes : numpy.ndarray
        Index (int32) into ``model_names`` of each request.
    model_names : tuple of str
        Distinct model names; a model may have no request.
    slo : numpy.ndarray, optional
        Per-request latency objective in seconds (positive).
    prompt_tokens, output_tokens : numpy.ndarray, optional
        Per-request int64 token counts (LLM workloads).

    Raises
    ------
    WorkloadError
        If a column's length differs from ``arrival``'s or a model name repeats.

    Examples
    --------
    >>> w = Workload.from_arrays(arrival=[0.3, 0.1, 0.2], model=["b", "a", "a"])
    >>> len(w), w.arrival.tolist(), w.model_names
    (3, [0.1, 0.2, 0.3], ('a', 'b'))
    >>> w.models_of().tolist()
    ['a', 'a', 'b']
    """

    arrival: FloatArray
    model_codes: CodeArray
    model_names: tuple[str, ...]
    slo: FloatArray | None = None
    prompt_tokens: IntArray | None = None
    output_tokens: IntArray | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        *,
        arrival: Sequence[float] | npt.ArrayLike,
        model: Sequence[str] | npt.ArrayLike | str,
        slo: npt.ArrayLike | float | None = None,
        prompt_tokens: npt.ArrayLike | None = None,
        output_tokens: npt.ArrayLike | None = None,
        model_names: Sequence[str] | None = None,
    ) -> Workload:
        """Validate, sort (stably) by arrival and freeze the given columns.

        ``model`` is one name for all requests, a sequence of names, or integer codes into
        ``model_names``. ``slo`` may be a scalar applied to every request.

        Parameters
        ----------
        arrival : array_like of float
            Arrival times in seconds; finite, in any order.
        model : str, sequence of str or array_like of int
            One model name for all requests, one name per request, or int codes into
            ``model_names``.
        slo : float or array_like of float, optional
            Latency objective in seconds, one for all or one per request; positive.
        prompt_tokens, output_tokens : array_like of int, optional
            Per-request token counts; whole numbers, non-negative.
        model_names : sequence of str, optional
            The name order (may list models without requests); default: the single name,
            or the sorted distinct names.

        Returns
        -------
        Workload
            The requests sorted by arrival (ties keep their order), with read-only columns.

        Raises
        ------
        WorkloadError
            If an arrival is not finite, an SLO is not positive, a token count is negative or
            fractional, a column's length differs, or a model is not in ``model_names``.

        Examples
        --------
        >>> w = Workload.from_arrays(arrival=[2.0, 1.0], model=[1, 0], model_names=("a", "b"),
        ...                          slo=0.5)
        >>> w.arrival.tolist(), w.models_of().tolist(), w.slo.tolist()
        ([1.0, 2.0], ['a', 'b'], [0.5, 0.5])
        >>> Workload.from_arrays(arrival=[0.0], model="m", model_names=("a",))
        Traceback (most recent call last):
        ...
        workloads.errors.WorkloadError: model 'm' is not in model_names ['a']
        """
        return cls(**validated_columns(arrival=arrival, model=model, slo=slo,
                                       prompt_tokens=prompt_tokens,
                                       output_tokens=output_tokens, model_names=model_names))

    @classmethod
    def empty(cls, model_names: Sequence[str] = ()) -> Workload:
        """A workload without requests.

        Parameters
        ----------
        model_names : sequence of str, default ()
            The models it names.

        Returns
        -------
        Workload
            Zero requests and no optional column.

        Examples
        --------
        >>> w = Workload.empty(("a",))
        >>> len(w), w.model_names
        (0, ('a',))
        """
        return cls.from_arrays(arrival=np.empty(0), model=np.empty(0, dtype=np.int32),
                               model_names=tuple(model_names))

    def __post_init__(self) -> None:
        n = self.arrival.shape[0]
        if self.model_codes.shape != (n,):
            raise WorkloadError(f"model_codes has shape {self.model_codes.shape}, expected ({n},)")
        for name in OPTIONAL_COLUMNS:
            col = getattr(self, name)
            if col is not None and col.shape != (n,):
                raise WorkloadError(f"{name} has shape {col.shape}, expected ({n},)")
        if len(set(self.model_names)) != len(self.model_names):
            raise WorkloadError(f"model_names has duplicates: {self.model_names}")

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return int(self.arrival.shape[0])

    def __repr__(self) -> str:
        cols = [c for c in OPTIONAL_COLUMNS if getattr(self, c) is not None]
        span = f"{self.arrival[0]:.3f}..{self.arrival[-1]:.3f}s" if len(self) else "empty"
        return (f"Workload({len(self)} requests, {len(self.model_names)} models, {span}"
                + (f", columns {cols}" if cols else "") + ")")

    @property
    def duration(self) -> float:
        """Time from the first to the last arrival (0 for fewer than two requests)."""
        return float(self.arrival[-1] - self.arrival[0]) if len(self) > 1 else 0.0

    def models_of(self) -> npt.NDArray[np.str_]:
        """The model name of every request.

        Returns
        -------
        numpy.ndarray
            One name (str) per request, in arrival order.

        Examples
        --------
        >>> Workload.from_arrays(arrival=[0.0, 1.0], model=["x", "y"]).models_of().tolist()
        ['x', 'y']
        """
        return np.asarray(self.model_names, dtype=object)[self.model_codes].astype(str)

    def model_code(self, name: str) -> int:
        """The code of model ``name``, its index in ``model_names``.

        Parameters
        ----------
        name : str
            A model name.

        Returns
        -------
        int
            Index into ``model_names``.

        Raises
        ------
        WorkloadError
            If the workload does not name that model.

        Examples
        --------
        >>> Workload.from_arrays(arrival=[0.0], model="m", model_names=("k", "m")).model_code("m")
        1
        """
        try:
            return self.model_names.index(name)
        except ValueError:
            raise WorkloadError(f"model {name!r} is not in this workload; "
                                f"models: {list(self.model_names)}") from None

    def counts_by_model(self) -> dict[str, int]:
        """Number of requests per model.

        Returns
        -------
        dict of str to int
            Every model of ``model_names`` (zero included), in name order.

        Examples
        --------
        >>> Workload.from_arrays(arrival=[0.0, 1.0, 2.0], model=["a", "b", "a"]).counts_by_model()
        {'a': 2, 'b': 1}
        """
        counts = np.bincount(self.model_codes, minlength=len(self.model_names))
        return {name: int(c) for name, c in zip(self.model_names, counts, strict=True)}

    def slo_array(self, default: float | dict[str, float] | None = None) -> FloatArray:
        """Per-request SLOs: the ``slo`` column, else ``default`` (scalar or per model).

        Parameters
        ----------
        default : float or dict of str to float, optional
            SLO in seconds for every request, or per model name; used only when the
            workload has no ``slo`` column.

        Returns
        -------
        numpy.ndarray
            Per-request SLO in seconds (float64).

        Raises
        ------
        WorkloadError
            If there is neither an ``slo`` column nor a default, a model has no default,
            or an SLO is not positive.

        Examples
        --------
        >>> w = Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "b"])
        >>> w.slo_array({"a": 0.1, "b": 0.2}).tolist(), w.slo_array(0.3).tolist()
        ([0.1, 0.2], [0.3, 0.3])
        """
        if self.slo is not None:
            return self.slo
        if default is None:
            raise WorkloadError("workload has no slo column and no default SLO was given")
        if isinstance(default, dict):
            missing = [m for m in self.model_names if m not in default]
            if missing:
                raise WorkloadError(f"no SLO given for models {missing}")
            per_model = np.array([default[m] for m in self.model_names], dtype=np.float64)
            out = per_model[self.model_codes]
        else:
            out = np.full(len(self), float(default))
        if len(out) and not np.all(out > 0):
            raise WorkloadError(f"SLOs must be positive, got {default!r}")
        return out

    def equals(self, other: Workload) -> bool:
        """Whether both workloads hold the same requests, columns and model names, exactly.

        Parameters
        ----------
        other : Workload
            The workload to compare with.

        Returns
        -------
        bool
            True when every column and the model names are equal element by element.

        Examples
        --------
        >>> a = Workload.from_arrays(arrival=[1.0], model="m")
        >>> a.equals(Workload.from_arrays(arrival=[1.0], model="m")), a.equals(a.shifted(1.0))
        (True, False)
        """
        if not isinstance(other, Workload) or self.model_names != other.model_names:
            return False
        if not (np.array_equal(self.arrival, other.arrival)
                and np.array_equal(self.model_codes, other.model_codes)):
            return False
        for col in OPTIONAL_COLUMNS:
            mine, theirs = getattr(self, col), getattr(other, col)
            if (mine is None) != (theirs is None):
                return False
            if mine is not None and not np.array_equal(mine, theirs):
                return False
        return True

    # ------------------------------------------------------------------ storage
    def save(self, path: str | os.PathLike[str], *,
             format: Literal["auto", "parquet", "npz"] = "auto") -> Literal["parquet", "npz"]:
        """Write to ``path``; see :func:`workloads.storage.save_workload`.

        Parameters
        ----------
        path : str or os.PathLike
            The file to create or overwrite.
        format : {"auto", "parquet", "npz"}, default "auto"
            The file format; ``auto`` is parquet when pyarrow is installed.

        Returns
        -------
        {"parquet", "npz"}
            The format written.

        Examples
        --------
        >>> import os, tempfile
        >>> w = Workload.from_arrays(arrival=[1.0], model="m")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     w.save(os.path.join(d, "w.npz"), format="npz")
        'npz\'
        """
        from workloads.storage import save_workload  # storage imports this module

        return save_workload(self, path, format=format)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Workload:
        """Read a saved workload; see :func:`workloads.storage.load_workload`.

        Parameters
        ----------
        path : str or os.PathLike
            A parquet or npz file written by :meth:`save`.

        Returns
        -------
        Workload
            The workload as saved.

        Examples
        --------
        >>> import os, tempfile
        >>> w = Workload.from_arrays(arrival=[1.0], model="m")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = w.save(os.path.join(d, "w.npz"), format="npz")
        ...     Workload.load(os.path.join(d, "w.npz")).equals(w)
        True
        """
        from workloads.storage import load_workload

        return load_workload(path)
