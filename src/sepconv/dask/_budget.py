"""Engine threads for each dask task: the CPUs shared among the tasks that run at once."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import dask

_running = 0  # tasks of any graph running the engine in this process
_running_lock = threading.Lock()


class Budget:
    """Engine threads for each task of one graph: the CPUs shared among the tasks that run at once.

    A task counts the tasks running in this process and those of its graph not yet started (up
    to dask's ``num_workers``, or the CPUs): many tasks run the engine serially, while a few large
    ones (or the last ones) split the CPUs between them. After pickling (dask.distributed) each
    task sees only itself started, so it takes the CPUs over ``num_workers`` (default: the CPUs,
    which never oversubscribes however many worker processes share the machine).
    """

    def __init__(self, tasks: int) -> None:
        self.tasks = tasks
        self.started = 0  # counts on over repeated computes of the same graph

    def __reduce__(self) -> tuple[type, tuple[int]]:
        return (Budget, (self.tasks,))

    @contextlib.contextmanager
    def share(self) -> Iterator[int]:
        global _running
        cpus = _cpus()
        workers = dask.config.get("num_workers", None) or cpus
        with _running_lock:
            _running += 1
            unstarted = self.tasks - 1 - self.started % self.tasks
            self.started += 1
            sharing = max(_running, min(workers, unstarted + _running))
        try:
            yield max(1, cpus // sharing)
        finally:
            with _running_lock:
                _running -= 1


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
