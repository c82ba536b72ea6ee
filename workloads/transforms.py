"""What a :class:`~workloads.workload.Workload` can be turned into: windows, shifts, subsets.

A mixin of :class:`Workload`, kept apart so the class's file holds its columns and basics;
every method returns a new workload and leaves its input untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import numpy.typing as npt

from workloads.columns import (
    CodeArray,
    FloatArray,
    IntArray,
    merged_arguments,
    validated_columns,
)
from workloads.columns import readonly as _readonly
from workloads.errors import WorkloadError

if TYPE_CHECKING:
    from workloads.workload import Workload


class WorkloadTransforms:
    """Windows, shifts, model subsets, SLO columns and merges of a :class:`Workload`."""

    if TYPE_CHECKING:  # provided by Workload
        arrival: FloatArray
        model_codes: CodeArray
        model_names: tuple[str, ...]
        slo: FloatArray | None
        prompt_tokens: IntArray | None
        output_tokens: IntArray | None

        def __init__(self, **columns: Any) -> None: ...

        def model_code(self, name: str) -> int: ...

        def slo_array(self, default: float | dict[str, float] | None = None
                      ) -> FloatArray: ...

        @classmethod
        def empty(cls, model_names: tuple[str, ...] = ()) -> Self: ...

    def _take(self, index: npt.NDArray[Any] | slice) -> Self:
        def pick(col: np.ndarray | None) -> np.ndarray | None:
            return None if col is None else _readonly(col[index])

        return type(self)(
            arrival=_readonly(self.arrival[index]),
            model_codes=_readonly(self.model_codes[index]),
            model_names=self.model_names,
            slo=pick(self.slo),
            prompt_tokens=pick(self.prompt_tokens),
            output_tokens=pick(self.output_tokens),
        )

    def window(self, start: float, end: float, *, rebase: bool = False) -> Self:
        """Requests with ``start <= arrival < end``; ``rebase`` shifts times to start at 0.

        Parameters
        ----------
        start, end : float
            The window in seconds; ``end`` must exceed ``start``.
        rebase : bool, default False
            Subtract ``start`` from every arrival.

        Returns
        -------
        Workload
            The requests in the window, with all columns and model names.

        Raises
        ------
        WorkloadError
            If ``end`` does not exceed ``start``.

        Examples
        --------
        >>> from workloads import Workload
        >>> w = Workload.from_arrays(arrival=[1.0, 5.0, 9.0], model="m")
        >>> w.window(4.0, 10.0).arrival.tolist(), w.window(4.0, 10.0, rebase=True).arrival.tolist()
        ([5.0, 9.0], [1.0, 5.0])
        """
        if not end > start:
            raise WorkloadError(f"window end {end!r} must exceed start {start!r}")
        lo, hi = np.searchsorted(self.arrival, [start, end], side="left")
        out = self._take(slice(int(lo), int(hi)))
        return out.shifted(-start) if rebase else out

    def shifted(self, offset: float) -> Self:
        """The same requests with ``offset`` added to every arrival.

        Parameters
        ----------
        offset : float
            Seconds to add (may be negative).

        Returns
        -------
        Workload
            The shifted workload.

        Examples
        --------
        >>> from workloads import Workload
        >>> Workload.from_arrays(arrival=[1.0], model="m").shifted(-0.5).arrival.tolist()
        [0.5]
        """
        return type(self)(arrival=_readonly(self.arrival + offset), model_codes=self.model_codes,
                        model_names=self.model_names, slo=self.slo,
                        prompt_tokens=self.prompt_tokens, output_tokens=self.output_tokens)

    def filter_models(self, names: Iterable[str]) -> Self:
        """Only the requests for ``names`` (model names are kept, codes unchanged).

        Parameters
        ----------
        names : iterable of str
            The models to keep.

        Returns
        -------
        Workload
            Their requests, in arrival order.

        Raises
        ------
        WorkloadError
            If a name is not a model of the workload.

        Examples
        --------
        >>> from workloads import Workload
        >>> w = Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "b"]).filter_models(["b"])
        >>> w.arrival.tolist(), w.model_names
        ([1.0], ('a', 'b'))
        """
        codes = [self.model_code(n) for n in names]
        return self._take(np.isin(self.model_codes, codes))

    def with_slo(self, slo: float | dict[str, float]) -> Self:
        """A copy with the ``slo`` column set from a scalar or a per-model mapping.

        Parameters
        ----------
        slo : float or dict of str to float
            SLO in seconds for every request, or per model name (every model needed).

        Returns
        -------
        Workload
            The workload with its ``slo`` column replaced.

        Raises
        ------
        WorkloadError
            If a model has no SLO or an SLO is not positive.

        Examples
        --------
        >>> from workloads import Workload
        >>> Workload.from_arrays(arrival=[0.0], model="m").with_slo(0.25).slo.tolist()
        [0.25]
        """
        if self.slo is not None:
            return self._replace_slo(None).with_slo(slo)
        return self._replace_slo(_readonly(self.slo_array(slo)))

    def _replace_slo(self, slo: FloatArray | None) -> Self:
        return type(self)(arrival=self.arrival, model_codes=self.model_codes,
                        model_names=self.model_names, slo=slo,
                        prompt_tokens=self.prompt_tokens, output_tokens=self.output_tokens)

    @classmethod
    def merge(cls, workloads: Iterable[Workload]) -> Self:
        """Interleave several workloads by arrival; model names are unioned in order seen.

        An optional column is kept when every non-empty input has it.

        Parameters
        ----------
        workloads : iterable of Workload
            The workloads to merge (none gives an empty workload).

        Returns
        -------
        Workload
            All requests sorted by arrival (stable), with the union of model names.

        Raises
        ------
        WorkloadError
            If a column is present in some non-empty inputs and missing in others (rather
            than dropping it silently).

        Examples
        --------
        >>> from workloads import Workload
        >>> a = Workload.from_arrays(arrival=[0.0, 2.0], model="a")
        >>> b = Workload.from_arrays(arrival=[1.0], model="b")
        >>> m = Workload.merge([a, b])
        >>> m.models_of().tolist(), m.model_names
        (['a', 'b', 'a'], ('a', 'b'))
        """
        parts = list(workloads)
        return cls(**validated_columns(**merged_arguments(parts))) if parts else cls.empty()
