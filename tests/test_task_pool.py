"""Running search tasks: the automatic thread rule and task order on every backend."""

from __future__ import annotations

from placement.search_types import SearchOptions
from placement.task_pool import map_tasks


def test_automatic_threads_follow_the_request_count(monkeypatch):
    from placement import task_pool as search

    monkeypatch.setattr(search.os, "cpu_count", lambda: 4)
    few = search.MIN_THREADED_REQUESTS - 1
    assert search.search_threads(SearchOptions(), tasks=10, requests=few) == 1
    assert search.search_threads(SearchOptions(), tasks=10, requests=few + 1) == 4
    assert search.search_threads(SearchOptions(), tasks=3, requests=10**6) == 3
    assert search.search_threads(SearchOptions(threads=2), tasks=10, requests=1) == 2
    assert search.search_threads(SearchOptions(threads=8), tasks=0, requests=1) == 1
    assert search.search_threads(SearchOptions(), tasks=None, requests=10**6) == 4
    assert search.search_threads(SearchOptions(threads=8), tasks=None, requests=1) == 8


def test_results_keep_task_order_on_threads_and_inline() -> None:
    tasks = list(range(-20, 20))
    want = [abs(t) for t in tasks]
    assert map_tasks(abs, tasks, SearchOptions(threads=1), "x", requests=0) == want
    assert map_tasks(abs, tasks, SearchOptions(threads=4), "x", requests=0) == want
    assert map_tasks(abs, [], SearchOptions(), "x", requests=0) == []
