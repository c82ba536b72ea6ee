"""Local sweep execution: a pool of spawned processes, one thread each; failure messages and
the progress bar shared by every backend."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from alpaserve.sweep.storage import SweepError


def failure(exc: BaseException) -> str:
    """How a failed case is reported on every backend.

    Parameters
    ----------
    exc
        The runner's exception.

    Returns
    -------
    str
        ``"ErrorType: message"``.

    Examples
    --------
    >>> failure(ValueError("bad"))
    'ValueError: bad'
    """
    return f"{type(exc).__name__}: {exc}"


def limit_threads(threads: int) -> None:
    """Make this process's compiled and BLAS code use ``threads`` threads (a sweep worker
    runs one case per CPU it was given).

    Parameters
    ----------
    threads
        Threads per worker.

    Returns
    -------
    None

    Examples
    --------
    >>> limit_threads(1)
    """
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def run_pool(todo: Sequence[Any], runner: Callable[..., Any],
             execute: Callable[..., dict[str, Any]], args: tuple[Any, ...], workers: int,
             record: Callable[[dict[str, Any]], None], failed: dict[str, str],
             bar: Any) -> None:
    """Run ``execute(runner, case, *args)`` for every case on a pool of spawned processes,
    recording rows as they finish.

    Parameters
    ----------
    todo
        The cases.
    runner, execute, args
        As for :func:`alpaserve.sweep.ray_backend.run_on_ray`.
    workers
        Processes, each limited to one thread.
    record
        Called with each finished row.
    failed
        Receives ``case_id -> "ErrorType: message"`` for each failed case.
    bar
        A progress bar (``update(n)``).

    Returns
    -------
    None

    Examples
    --------
    >>> run_pool([], print, print, (), 2, print, {}, progress_bar(0, False))
    """
    # spawn, not fork: forking a process that has loaded jax (or any threaded library) can
    # deadlock the child. One thread per worker: the pool already uses the cores.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=limit_threads, initargs=(1,)) as pool:
        futures: dict[Future[dict[str, Any]], Any] = {
            pool.submit(execute, runner, c, *args): c for c in todo}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                try:
                    row = fut.result()
                except BrokenProcessPool as exc:
                    raise SweepError("a sweep worker process died; rerun the same command to "
                                     "resume") from exc
                except Exception as exc:  # counted, as on every backend
                    failed[futures[fut].case_id] = failure(exc)
                else:
                    record(row)
                bar.update(1)


class _NoBar:
    def update(self, n: int) -> None:
        del n

    def close(self) -> None:
        pass


def progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar on stderr, or a silent stand-in.

    Parameters
    ----------
    total
        Cases to run.
    enabled
        Show the bar.

    Returns
    -------
    Any
        An object with ``update(n)`` and ``close()``.

    Examples
    --------
    >>> progress_bar(3, False).update(1)
    """
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc="sweep", unit="case")
