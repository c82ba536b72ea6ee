"""The engine of :func:`workloads.mixes.mix_processes`: one stream per model, merged.

Renewal processes (Gamma, deterministic, Pareto) generate through their checked-once span
path, and their merged arrays, finite and float64 by construction, go straight to the raw
:class:`Workload` constructor after the stable sort; any other process goes through its
public ``generate`` and the merge through :meth:`Workload.from_arrays`, as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from workloads._renewal import _Renewal, check_request
from workloads._rng import SeedLike, spawn
from workloads.arrivals import ArrivalProcess
from workloads.columns import readonly
from workloads.errors import WorkloadError
from workloads.workload import Workload

FloatArray = npt.NDArray[np.float64]
Generators = Sequence[np.random.Generator]


def model_generators(seed: SeedLike | Generators, n: int) -> list[np.random.Generator]:
    """One generator per model: ``spawn(seed, n)``, or the ``n`` generators given.

    Parameters
    ----------
    seed : int, SeedSequence, Generator or sequence of Generator
        The source of randomness, or one generator per model, used as given.
    n : int
        Number of models.

    Returns
    -------
    list of numpy.random.Generator
        ``n`` generators.

    Raises
    ------
    WorkloadError
        If a sequence of generators has the wrong length or holds something else.

    Examples
    --------
    >>> len(model_generators(0, 3))
    3
    """
    if isinstance(seed, list | tuple):
        if len(seed) != n or not all(isinstance(g, np.random.Generator) for g in seed):
            raise WorkloadError(f"seed as a sequence must hold one numpy Generator per model "
                                f"({n}), got {len(seed)} item(s)")
        return list(seed)
    return spawn(seed, n)  # type: ignore[arg-type]


def merge_streams(processes: Mapping[str, ArrivalProcess], names: tuple[str, ...],
                  rngs: Sequence[np.random.Generator], *, duration: float,
                  start: float) -> Workload:
    """Each named model's arrivals over ``[start, start + duration)``, merged by time.

    Parameters
    ----------
    processes : Mapping[str, ArrivalProcess]
        The process of each model that has one (every key is in ``names``).
    names : tuple of str
        The workload's model names, in code order.
    rngs : sequence of numpy.random.Generator
        One generator per name.
    duration, start : float
        The span in seconds.

    Returns
    -------
    Workload
        The requests, stably sorted by arrival (ties in name order).

    Examples
    --------
    >>> from workloads.arrivals import DeterministicProcess
    >>> w = merge_streams({"a": DeterministicProcess(rate=1.0, start_mode="ordinary")},
    ...                   ("a", "b"), model_generators(0, 2), duration=2.5, start=0.0)
    >>> w.arrival.tolist(), w.model_names
    ([1.0, 2.0], ('a', 'b'))
    """
    arrivals: list[FloatArray] = []
    codes: list[int] = []
    trusted = True  # every stream from a renewal process: float64 and finite
    checked = False
    for code, (name, rng) in enumerate(zip(names, rngs, strict=True)):
        process = processes.get(name)
        if process is None:
            continue
        if isinstance(process, _Renewal):
            if not checked:  # what each generate would check first, once for the mix
                check_request(None, duration, start)
                checked = True
            t = process._span(rng, duration, start)
        else:
            t = process.generate(duration=duration, start=start, seed=rng)
            trusted = False
        arrivals.append(t)
        codes.append(code)
    sizes = [t.size for t in arrivals]
    code_arr = np.repeat(np.asarray(codes, dtype=np.int32), sizes)
    arrival = np.concatenate(arrivals) if arrivals else np.empty(0)
    if not trusted:
        return Workload.from_arrays(arrival=arrival, model=code_arr, model_names=names)
    if len(arrivals) > 1:  # each stream is sorted: only a mix of several needs the sort
        order = np.argsort(arrival, kind="stable")
        arrival = arrival[order]
        code_arr = code_arr[order]
    return Workload(arrival=readonly(arrival), model_codes=readonly(code_arr),
                    model_names=names)
