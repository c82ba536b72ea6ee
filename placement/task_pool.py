"""Running a search's independent tasks: in processes, on threads, or in the caller's thread.

Layouts to screen and halves of refinements are independent, and their results keep task
order, so the plan is the same however they run. :func:`search_threads` is the automatic
thread rule; :func:`map_tasks` runs the tasks with a progress bar.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from multiprocessing import get_context
from typing import Any

from placement.search_types import SearchOptions

__all__ = ["MIN_THREADED_REQUESTS", "map_tasks", "search_threads"]


#: Fewest training requests for which the automatic thread count
#: (``SearchOptions.threads == 0``) uses more than one thread. Every simulation of a layout
#: walks the bucket's requests in compiled code, which releases the GIL, between glue that
#: holds it; with few requests the glue dominates and threads only add hand-offs. On 2
#: cores, the issue-18 case with 2.9 k training requests ran 1.1x slower with 2 threads,
#: those with 12.7 k to 38 k requests 1.4 to 1.8x faster.
MIN_THREADED_REQUESTS = 6_000


def search_threads(opts: SearchOptions, tasks: int | None, requests: int) -> int:
    """Threads that score ``tasks`` independent layout tasks on ``requests`` requests.

    An explicit ``opts.threads`` is honoured (capped at ``tasks``); ``0`` means automatic:
    one thread per CPU when there are at least :data:`MIN_THREADED_REQUESTS` requests, else
    the caller's thread alone. The plan is the same for any count.

    Parameters
    ----------
    opts : SearchOptions
        Its ``threads``.
    tasks : int or None
        Independent tasks (layouts to screen, halves of refinements); None: the threads
        available, not capped by a task count.
    requests : int
        Training requests each task simulates.

    Returns
    -------
    int
        At least 1, at most ``max(tasks, 1)`` when ``tasks`` is given.

    Examples
    --------
    >>> search_threads(SearchOptions(threads=3), tasks=10, requests=100)
    3
    >>> search_threads(SearchOptions(), tasks=10, requests=100)
    1
    """
    if opts.threads:
        wanted = opts.threads
    elif requests < MIN_THREADED_REQUESTS:
        return 1
    else:
        wanted = os.cpu_count() or 1
    return max(1, wanted if tasks is None else min(wanted, tasks))


def map_tasks(fn: Callable[[Any], Any], tasks: list[Any], opts: SearchOptions, desc: str, *,
              requests: int) -> list[Any]:
    """``[fn(t) for t in tasks]``, in order: in ``opts.n_jobs`` processes, else on
    :func:`search_threads` threads, else in the caller's thread, with a progress bar.

    Parameters
    ----------
    fn : callable
        The task function (picklable for processes).
    tasks : list
        Its arguments, one per task.
    opts : SearchOptions
        ``n_jobs``, ``threads`` and ``progress``.
    desc : str
        The progress bar's label.
    requests : int
        Training requests each task simulates (the automatic thread rule).

    Returns
    -------
    list
        The results, in task order.

    Examples
    --------
    >>> map_tasks(abs, [-1, 2, -3], SearchOptions(), "abs", requests=0)
    [1, 2, 3]
    """
    from tqdm.auto import tqdm

    with ExitStack() as stack:
        bar = stack.enter_context(tqdm(total=len(tasks), desc=desc, disable=not opts.progress,
                                       leave=False))
        if opts.n_jobs > 1 and len(tasks) > 1:
            pool: Executor | None = stack.enter_context(ProcessPoolExecutor(
                max_workers=opts.n_jobs, mp_context=get_context("forkserver")))
        else:
            threads = search_threads(opts, len(tasks), requests)
            pool = (stack.enter_context(ThreadPoolExecutor(max_workers=threads))
                    if threads > 1 else None)
        results = []
        for r in (pool.map(fn, tasks) if pool is not None else map(fn, tasks)):
            results.append(r)
            bar.update()
        return results
