"""builder/parallel.py: work spread over forked processes comes back complete and in order, and a
process with other threads (the proxy rebuilding after an editor's publish) never forks."""

from __future__ import annotations

import os
import threading

from builder import parallel


def _tagged(item: int) -> tuple[int, int]:
    return item * item, os.getpid()


def test_results_come_back_in_order_from_several_processes() -> None:
    items = list(range(parallel.MIN_PER_PROCESS * 3))
    results = parallel.map_forked(_tagged, items, processes=3)
    assert [square for square, _pid in results] == [i * i for i in items]
    pids = {pid for _square, pid in results}
    assert len(pids) >= 2 and os.getpid() not in pids  # forked workers did the work


def test_small_batches_and_threaded_processes_run_here() -> None:
    assert {pid for _s, pid in parallel.map_forked(_tagged, [1, 2, 3], processes=4)} == {os.getpid()}
    seen: list[set[int]] = []

    def in_a_thread() -> None:
        items = list(range(parallel.MIN_PER_PROCESS * 3))
        seen.append({pid for _s, pid in parallel.map_forked(_tagged, items, processes=3)})

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join()
    assert seen == [{os.getpid()}]


def test_a_failing_item_fails_the_whole_map() -> None:
    def boom(item: int) -> int:
        if item == parallel.MIN_PER_PROCESS * 2:
            raise ValueError("bad item")
        return item

    try:
        parallel.map_forked(boom, list(range(parallel.MIN_PER_PROCESS * 3)), processes=3)
    except ValueError as exc:
        assert "bad item" in str(exc)
    else:
        raise AssertionError("the error in a worker was lost")
