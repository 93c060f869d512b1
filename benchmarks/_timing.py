"""Timing helpers shared by the benchmarks: interleaved rounds, per-round ratios, environment.

This machine's speed drifts by up to 2x between minutes (shared cores), so absolute times are
reported but never compared across runs: each comparison runs ours and the peers alternately in
the same round, and the figure of merit is the median over rounds of the per-round ratio.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def clock(fn: Callable[[], Any]) -> float:
    """Seconds for one call of ``fn``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(ours: Callable[[], Any], peers: dict[str, Callable[[], Any]], rounds: int = 7,
                warmup: int = 1) -> dict[str, Any]:
    """Run ``ours`` and each peer once per round, ``rounds`` times, after ``warmup`` untimed
    rounds. The order rotates from round to round (ours first, then second, ...): a function
    pays for the heap its predecessor left (glibc returns freed activations to the system and
    the next call re-faults them, docs/guide/networks.md), so a fixed order biases the ratios.

    Returns median seconds per function and, per peer, the median and range of the per-round
    ratio ``ours / peer`` (below 1 means ours is faster). A peer named ``a|b`` style is not
    special: pass a callable that already picks what it wants.
    """
    for _ in range(warmup):
        ours()
        for fn in peers.values():
            fn()
    times: dict[str, list[float]] = {"ours": [], **{name: [] for name in peers}}
    functions = {"ours": ours, **peers}
    order = list(functions)
    for r in range(rounds):
        k = r % len(order)
        for name in order[k:] + order[:k]:
            times[name].append(clock(functions[name]))
    ratios = {name: [o / p for o, p in zip(times["ours"], times[name])] for name in peers}
    return {
        "rounds": rounds,
        "median_s": {name: statistics.median(ts) for name, ts in times.items()},
        "ratio": {name: statistics.median(r) for name, r in ratios.items()},
        "ratio_range": {name: [min(r), max(r)] for name, r in ratios.items()},
        "times_s": times,
    }


def best_of(times: dict[str, list[float]], names: list[str]) -> list[float]:
    """Per round, the best time among ``names`` (e.g. a peer run with 1 and with 2 threads)."""
    return [min(ts) for ts in zip(*(times[n] for n in names))]


def ratio_to_best(result: dict[str, Any], names: list[str]) -> tuple[float, list[float]]:
    """Median and range of ours / (best of ``names``) over the rounds of ``result``."""
    best = best_of(result["times_s"], names)
    ratios = [o / b for o, b in zip(result["times_s"]["ours"], best)]
    return statistics.median(ratios), [min(ratios), max(ratios)]


def environment() -> dict[str, Any]:
    """Machine, load and library versions, recorded with every benchmark result."""
    import numpy

    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": _cpu_name(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "numpy": numpy.__version__,
    }
    for name in ("numba", "scipy", "cv2", "torch", "sepconv"):
        try:
            module = __import__(name)
            info[name] = getattr(module, "__version__", "?")
        except ImportError:
            info[name] = None
    return info


def _cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor()
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def write_outputs(path: Path, result: dict[str, Any], text: str) -> None:
    """``result`` as JSON at ``path`` and ``text`` (its Markdown table) beside it as ``.md``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    path.with_suffix(".md").write_text(text)
