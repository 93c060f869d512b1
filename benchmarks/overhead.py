"""The fixed cost of a call: small images, where a filter costs little more than its arguments.

Question (issue 13 item 2): how many µs does a sepconv call spend before and after the engine,
and is ``sepconv.ndimage.gaussian_filter`` (sigma 1, mode reflect) at least as fast as scipy's
at 32² and 1.5x as fast at 64², for float32 and uint8 images (uint8 in, uint8 out in both)?

Per case, in interleaved rounds (each round times a batch of calls, ours then scipy's):

* ``call``: the public call, all included;
* ``engine``: the cached call's engine step alone (its bound fast path: the output array and
  one numba call; uint8 is rounded and saturated inside it);
* ``overhead``: the public call with that step replaced by a stub returning a ready array
  (argument handling, keys, cache look-ups): the per-call cost above the engine;
* ``scipy``: ``scipy.ndimage.gaussian_filter`` on the same array.

Also a loop over 200 patches of 32x32 (the workload in the issue). Writes
docs/benchmarks/overhead.json and overhead.md: ``.venv/bin/python benchmarks/overhead.py``
(about a minute; ``--quick``: no files written), with no other timing running.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.ndimage as sp

from sepconv import _plan, _request, filtering
from sepconv import ndimage as sc

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE))
from _timing import environment, write_outputs  # noqa: E402

ROOT = HERE.parent


def per_call(fn: Callable[[], Any], batch: int) -> float:
    """µs per call over a batch of ``batch`` calls."""
    start = time.perf_counter()
    for _ in range(batch):
        fn()
    return (time.perf_counter() - start) / batch * 1e6


def engine_only(x: np.ndarray) -> Callable[[], Any]:
    """The engine alone with the plan the cached call uses (the call must have run once)."""
    sc.gaussian_filter(x, 1.0)
    prepared = next(p for k, p in reversed(filtering.CALLS._data.items())
                    if k[0] == x.shape and k[1] == x.dtype.str)
    p = prepared
    if p.fast is not None:
        return lambda: p.fast(x, None)
    return lambda: _plan.execute(x, p.plan, p.axes, p.mode, p.cval, p.origins, p.dtype,
                                 final=p.final)


def stubbed(x: np.ndarray) -> Callable[[], Any]:
    """The public call with the engine replaced by a stub (measures everything else)."""
    ready = np.zeros(x.shape, x.dtype)

    def call() -> None:
        real = _request.execute
        _request.execute = lambda *a, **k: ready  # type: ignore[assignment]
        try:
            sc.gaussian_filter(x, 1.0)
        finally:
            _request.execute = real

    return call


def case(n: int, dtype: str, rounds: int, batch: int) -> dict[str, Any]:
    x = (np.random.default_rng(2026).random((n, n)) * 255).astype(dtype)
    fns = {"call": lambda: sc.gaussian_filter(x, 1.0), "engine": engine_only(x),
           "overhead": stubbed(x), "scipy": lambda: sp.gaussian_filter(x, 1.0)}
    assert sc.gaussian_filter(x, 1.0).dtype == sp.gaussian_filter(x, 1.0).dtype
    for fn in fns.values():  # warm-up
        per_call(fn, batch)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(per_call(fn, batch))
    # the stub's own cost (swapping a module attribute twice) is subtracted from "overhead"
    swap = per_call(stubbed_swap_cost(), batch)
    speed = [s / c for s, c in zip(times["scipy"], times["call"])]
    return {"shape": [n, n], "dtype": dtype, "rounds": rounds, "batch": batch,
            "median_us": {k: statistics.median(v) for k, v in times.items()},
            "overhead_us": max(statistics.median(times["overhead"]) - swap, 0.0),
            "speed_vs_scipy": statistics.median(speed), "speed_range": [min(speed), max(speed)]}


def stubbed_swap_cost() -> Callable[[], Any]:
    def call() -> None:
        real = _request.execute
        _request.execute = real
    return call


def patches(rounds: int) -> dict[str, Any]:
    stack = (np.random.default_rng(7).random((200, 32, 32)) * 255).astype(np.float32)
    ours = [per_call(lambda: [sc.gaussian_filter(p, 1.0) for p in stack], 1) for _ in range(rounds)]
    theirs = [per_call(lambda: [sp.gaussian_filter(p, 1.0) for p in stack], 1) for _ in range(rounds)]
    speed = [t / o for o, t in zip(ours, theirs)]
    return {"name": "loop over 200 patches of 32x32 float32", "ours_ms": statistics.median(ours) / 1e3,
            "scipy_ms": statistics.median(theirs) / 1e3, "speed_vs_scipy": statistics.median(speed)}


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = ["# Per-call overhead (benchmarks/overhead.py)", "",
             f"Measured {env['date']} on {env['cpu']} ({env['cpus_available']} CPUs, load average "
             f"{env['load_average'][0]:.1f}); numpy {env['numpy']}, numba {env['numba']}, "
             f"scipy {env['scipy']}. `gaussian_filter(x, 1.0)`, mode reflect, 9 taps; medians "
             "of interleaved rounds, each a batch of calls.", "",
             "| image | call µs | engine µs | overhead µs | scipy µs | speed vs scipy (×) |",
             "|---|---|---|---|---|---|"]
    for c in report["cases"]:
        m = c["median_us"]
        lines.append(f"| {c['shape'][0]}² {c['dtype']} | {m['call']:.1f} | {m['engine']:.1f} | "
                     f"{c['overhead_us']:.1f} | {m['scipy']:.1f} | {c['speed_vs_scipy']:.2f} |")
    p = report["patches"]
    lines += ["", f"{p['name']}: sepconv {p['ours_ms']:.2f} ms, scipy {p['scipy_ms']:.2f} ms "
              f"({p['speed_vs_scipy']:.2f}× scipy's speed).", "",
              "`overhead` is the call with its engine step stubbed out: argument handling, cache "
              "keys and look-ups. `engine` is that step alone: a repeated call's bound fast path "
              "(geometry, tables and weights resolved once; the output array and one numba call, "
              "uint8 rounded and saturated inside it).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="one round, no files written")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.batch = 1, 20
    cases = [case(n, dtype, args.rounds, args.batch) for n in (32, 64)
             for dtype in ("float32", "uint8")]
    report = {"question": "per-call overhead and small-image speed vs scipy (issue 13 item 2)",
              "environment": environment(), "cases": cases, "patches": patches(args.rounds)}
    text = markdown(report)
    print(text)
    if not args.quick:
        write_outputs(ROOT / "docs" / "benchmarks" / "overhead.json", report, text)


if __name__ == "__main__":
    main()
