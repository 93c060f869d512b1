"""Threads: contiguous bands of output rows, one per thread, on a small Python thread pool.

The kernels release the GIL (``nogil=True``), so plain Python threads run them in parallel; the
serial path (``parallel=False``, used inside dask chunks so dask owns the threads) is the same
compiled function called once. This keeps one compiled version per dtype (no ``parallel=True``
parfor variant) and needs no numba threading layer.

How many threads: ``numba.get_num_threads()``, which users set with ``NUMBA_NUM_THREADS`` or
``numba.set_num_threads`` (it is thread-local, so a limit set inside a worker thread applies to
that worker's calls), capped by the CPUs this process may run on and by the work: a band gets at
least ``_MIN_WORK`` multiply-adds, since waking a thread costs ~20-100 µs on a shared VM.
threadpoolctl limits OpenMP/BLAS libraries, which this pool is not; use
``numba.set_num_threads`` to limit sepconv.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# Multiply-adds per thread. Measured on this 2-core VM (public API, 1 against 2 threads,
# interleaved with OpenCV): 512² k = 3 and 7 (1.6M, 3.7M) ran faster on one thread (2 threads:
# +8 to +18 %, a straggling helper costs a scheduler slice), 1080p k = 3 (12.4M) 1.7x faster
# on two. So two threads from 8.4M (2 · _MIN_WORK) on.
_MIN_WORK = 1 << 22
# chunks per thread for dynamic scheduling (benchmarks/filters.py: 4096² under load)
_CHUNKS_PER_THREAD = 8
_pool: ThreadPoolExecutor | None = None
_pool_pid = -1


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
    try:
        work()
    finally:
        for future in futures:
            # a helper the OS has not started yet (the cores are shared) is not waited for:
            # its chunks are done; cancelling it saves a wake-up of ~0.1 ms
            if not future.cancel():
                future.result()


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
