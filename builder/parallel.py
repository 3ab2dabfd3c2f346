"""Spread CPU-bound build work (rendering pages and bodies, packaging zips) over processes.

Workers are forked, so they start with everything the parent already holds (the loaded marketplace,
the theme's templates) and nothing is pickled but the results. Forking is only safe in a process
with one thread: with more (the proxy rebuilding after an editor's publish) the work runs here, in
order. Results come back in input order either way, so the output does not depend on the split.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_PER_PROCESS = 150  # below this many items per worker, forking costs more than it saves

_JOB: tuple[Callable[[Any], Any], Sequence[Any]] | None = None  # read by the forked workers


def _run_slice(start: int, stop: int) -> list[Any]:
    assert _JOB is not None
    func, items = _JOB
    return [func(item) for item in items[start:stop]]


def map_forked(func: Callable[[T], R], items: Sequence[T], processes: int) -> list[R]:
    """``[func(item) for item in items]``, in up to ``processes`` forked workers."""
    global _JOB
    workers = min(processes, len(items) // MIN_PER_PROCESS)
    if workers < 2 or threading.active_count() > 1 or _JOB is not None:
        return [func(item) for item in items]
    bounds = [len(items) * i // workers for i in range(workers + 1)]
    _JOB = (func, items)
    try:
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            results: list[R] = []
            for part in pool.map(_run_slice, bounds[:-1], bounds[1:]):
                results += part
            return results
    finally:
        _JOB = None
