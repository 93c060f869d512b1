"""Threads: contiguous bands of output rows, one per thread, on a small Python thread pool.

The kernels release the GIL (``nogil=True``), so plain Python threads run them in parallel; the
serial path (``parallel=False``, used inside dask chunks so dask owns the threads) is the same
compiled function called once. This keeps one compiled version per dtype (no ``parallel=True``
parfor variant) and needs no numba threading layer.

How many threads: ``numba.get_num_threads()``, which users set with ``NUMBA_NUM_THREADS`` or
``numba.set_num_threads`` (it is thread-local, so a limit set inside a worker thread applies to
that worker's calls), capped by the CPUs this process may run on and by the work: a band gets at
least ``_MIN_WORK`` multiply-adds, since waking a thread costs ~20-50 µs; and small or mid-size
calls stay on one thread for a second after helpers were late (other processes hold the
cores). threadpoolctl limits OpenMP/BLAS libraries, which this pool is not; use
``numba.set_num_threads`` to limit sepconv.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_MIN_WORK = 1 << 19
# chunks per thread for dynamic scheduling (benchmarks/filters.py: 4096² under load)
_CHUNKS_PER_THREAD = 8
_pool: ThreadPoolExecutor | None = None
_pool_pid = -1
# Busy cores: when a helper thread kept the caller waiting longer than the caller's own share
# took (the OS had given its core to another process), calls under _BUSY_WORK run on one thread
# for _BUSY_SECONDS. A straggling helper costs a scheduler time slice (3-8 ms measured by
# benchmarks/workloads.py on 2 shared cores: a 512² filter took 8 ms instead of 0.25). One
# thread won there (512² float32 k=3: 0.22 ms against 0.33, interleaved with OpenCV), and lost
# from 1080p on (1.5 ms against 1.0), so calls from ~8M multiply-adds keep their threads.
_BUSY_WORK = 1 << 23
_BUSY_SECONDS = 1.0
_busy_until = 0.0


def _available_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def thread_count(parallel: bool, items: int, work: int) -> int:
    """Threads to use for ``items`` independent rows totalling ``work`` multiply-adds."""
    if not parallel or items < 2 or work < 2 * _MIN_WORK:
        return 1
    import numba  # the engine is the only place numba is imported

    wanted = min(numba.get_num_threads(), _available_cpus(), getattr(_cap, "threads", None) or items)
    if work < _BUSY_WORK and time.monotonic() < _busy_until:
        return 1
    return max(1, min(wanted, items, work // _MIN_WORK))


def _executor() -> ThreadPoolExecutor:
    """The shared pool, recreated after a fork (a forked child has no pool threads)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        _pool = ThreadPoolExecutor(max_workers=_available_cpus(), thread_name_prefix="sepconv")
        _pool_pid = os.getpid()
    return _pool


def run_bands(band: Callable[..., Any], args: tuple, items: int, threads: int) -> None:
    """Call ``band(*args, start, stop)`` over ``range(items)`` using ``threads`` threads.

    The range is cut into ``_CHUNKS_PER_THREAD`` chunks per thread, which the threads take in
    order from a shared counter: a thread the OS preempts (the cores are shared) holds up at
    most one chunk instead of a whole 1/threads of the work. The calling thread works too, and
    does not wait for a helper that had not started when the chunks ran out.
    """
    if threads == 1:
        band(*args, 0, items)
        return
    chunks = min(items, threads * _CHUNKS_PER_THREAD)
    edges = [items * c // chunks for c in range(chunks + 1)]
    counter = itertools.count()

    def work() -> None:
        while (c := next(counter)) < chunks:  # next() on a count is atomic under the GIL
            band(*args, edges[c], edges[c + 1])

    futures = [_executor().submit(work) for _ in range(threads - 1)]
    start = time.monotonic()
    try:
        work()
    finally:
        mine = time.monotonic() - start
        for future in futures:
            # a helper the OS has not started yet (the cores are shared) is not waited for:
            # its chunks are done; cancelling it saves a wake-up of ~0.1 ms (512² images)
            if not future.cancel():
                future.result()
        _note_waiting(time.monotonic() - start - mine, mine)


def _note_waiting(waited: float, mine: float) -> None:
    """After a threaded call: if helpers kept the caller waiting, the cores are busy."""
    global _busy_until
    if waited > max(mine, 1e-4):
        _busy_until = time.monotonic() + _BUSY_SECONDS


_cap = threading.local()  # at_most(): a per-thread cap (sepconv.dask gives each task its share)


@contextlib.contextmanager
def at_most(threads: int) -> Iterator[None]:
    """Run the engine calls made in this thread on at most ``threads`` threads (the caller's)."""
    previous = getattr(_cap, "threads", None)
    _cap.threads = max(1, threads)
    try:
        yield
    finally:
        _cap.threads = previous
