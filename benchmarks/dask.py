"""Dask: chunked filtering against the in-memory call, and in bounded memory.

Question 1 (throughput): how close to the in-memory engine does chunked filtering come? An
8192² float32 image, 7-tap Gaussian (sigma 1, truncate 3) along both axes, 2 dask threads and
2 engine threads, contenders run in interleaved rounds in one process (the machine's speed
drifts, so the figures of merit are medians of per-round ratios; absolute times are recorded):

* ``in-memory``: ``sepconv.correlate_separable(x, [w, w], output=out)`` on the NumPy array
  (``in-memory-alloc``: without ``output=``, a new array as ``.compute()`` returns);
* ``store-numpy-C``: ``da.store(correlate_separable(da.from_array(x, chunks=C)), out)``: the
  result written into a preallocated array, chunks C², C in 1024, 2048, 4096 and 8192 (a single
  chunk: the engine's threads must then use all the cores);
* ``compute-numpy-C``: the same lazy result, ``.compute()`` (dask assembles a new array);
* ``store-zarr-C``: the source is an uncompressed in-memory zarr array chunked C² (one read of
  each chunk's region with its halo), stored into the preallocated array;
* ``tiff-chunked-2048``: ``sepconv.dask.filter_tiff`` TIFF to TIFF (tiled, uncompressed) against
  ``tiff-in-memory``: read the whole TIFF, filter, write it;
* ``dask-image-C``: ``dask_image.ndfilters.gaussian_filter(sigma=1, truncate=3)`` (scipy's
  separable filter per chunk, the same weights) on the NumPy-backed array, stored likewise.

The graph is built inside the timed call (users pay it); ``da.from_array`` is not (it copies
the array once). Per-task overhead: (chunked - in-memory time) / tasks, per round, median.

Question 2 (memory): peak RSS of a fresh process that filters a 24576² float32 image (2.4 GB,
from ``da.random``) with ``.sum().compute()``; imports and numba's compiled kernels included.

Writes docs/benchmarks/dask.json and docs/benchmarks/dask.md:
``.venv/bin/python benchmarks/dask.py`` (``--quick``: a smoke run), with no other timing running.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

# This file is named dask.py: take its folder off sys.path so that `import dask` finds the
# library, then put it back at the end (for _timing).
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import dask.array as da  # noqa: E402
import dask.config  # noqa: E402
import numpy as np  # noqa: E402

import sepconv  # noqa: E402

sys.path.append(str(HERE))
from _timing import clock, environment, write_outputs  # noqa: E402

ROOT = HERE.parent
WEIGHTS = sepconv.kernels.gaussian_1d(1.0, truncate=3.0)  # 7 taps
RSS_LIMIT_MB = 1200


def filtered(x: da.Array) -> da.Array:
    return sepconv.correlate_separable(x, [WEIGHTS, WEIGHTS])


def dask_image(x: da.Array) -> da.Array:
    from dask_image import ndfilters

    return ndfilters.gaussian_filter(x, sigma=1.0, truncate=3.0)


def zarr_copy(x: np.ndarray, chunk: int) -> da.Array:
    import zarr

    z = zarr.create_array(store=zarr.storage.MemoryStore(), shape=x.shape, dtype=x.dtype,
                          chunks=(chunk, chunk), compressors=None)
    z[...] = x
    return da.from_zarr(z)


def contenders(x: np.ndarray, out: np.ndarray, chunks: list[int], peer: bool
               ) -> dict[str, tuple[Callable[[], Any], int]]:
    """name -> (call, number of tasks); each call writes or returns the whole filtered image."""
    runs: dict[str, tuple[Callable[[], Any], int]] = {
        "in-memory": (lambda: sepconv.correlate_separable(x, [WEIGHTS, WEIGHTS], output=out), 1),
        "in-memory-alloc": (lambda: sepconv.correlate_separable(x, [WEIGHTS, WEIGHTS]), 1)}
    for c in chunks:
        lazy, stored = da.from_array(x, chunks=c), zarr_copy(x, c)
        tasks = lazy.npartitions
        runs[f"store-numpy-{c}"] = (lambda a=lazy: da.store(filtered(a), out, lock=False), tasks)
        runs[f"compute-numpy-{c}"] = (lambda a=lazy: filtered(a).compute(), tasks)
        runs[f"store-zarr-{c}"] = (lambda a=stored: da.store(filtered(a), out, lock=False), tasks)
        if peer:
            runs[f"dask-image-{c}"] = (lambda a=lazy: da.store(dask_image(a), out, lock=False), tasks)
    return runs


def tiff_runs(x: np.ndarray, folder: Path, chunk: int) -> dict[str, tuple[Callable[[], Any], int]]:
    """TIFF to TIFF (tiled 256², uncompressed): ``filter_tiff`` against read, filter, write in memory."""
    import tifffile

    from sepconv.dask import filter_tiff

    source, target = folder / "in.tif", folder / "out.tif"
    tifffile.imwrite(source, x, tile=(256, 256))
    kernel = sepconv.kernels.gaussian(1.0, truncate=3.0)

    def in_memory() -> None:
        image = tifffile.imread(source)
        tifffile.imwrite(target, sepconv.correlate(image, kernel), tile=(256, 256))

    tasks = (-(-x.shape[0] // chunk)) ** 2
    return {f"tiff-chunked-{chunk}": (lambda: filter_tiff(source, target, kernel, chunks=chunk), tasks),
            "tiff-in-memory": (in_memory, 1)}


def check_identical(x: np.ndarray, chunks: list[int]) -> dict[str, bool]:
    want = sepconv.correlate_separable(x, [WEIGHTS, WEIGHTS])
    return {str(c): bool(np.array_equal(filtered(da.from_array(x, chunks=c)).compute(), want))
            for c in chunks}


def interleave(runs: dict[str, tuple[Callable[[], Any], int]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call, ``rounds`` rounds after a warm-up one, the order rotated every round."""
    for fn, _ in runs.values():  # warm-up: compile, first allocations
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(rounds):
        order = list(runs)[r % len(runs):] + list(runs)[:r % len(runs)]
        for name in order:
            times[name].append(clock(runs[name][0]))
        print(f"round {r}: " + ", ".join(f"{n} {times[n][-1]:.3f}" for n in runs), flush=True)
    return times


def acceptance(x: np.ndarray, out: np.ndarray, rounds: int) -> dict[str, Any]:
    """The issue's check alone: in-memory ``output=`` against ``da.store`` at 2048² and 1024²."""
    runs = {name: run for name, run in contenders(x, out, [1024, 2048], peer=False).items()
            if name == "in-memory" or name.startswith("store-numpy")}
    times = interleave(runs, rounds)
    ratios = {n: [b / t for b, t in zip(times["in-memory"], ts)] for n, ts in times.items()
              if n != "in-memory"}
    return {"rounds": rounds, "ratio_median": {n: round(statistics.median(v), 3) for n, v in ratios.items()},
            "ratio_range": {n: [round(min(v), 3), round(max(v), 3)] for n, v in ratios.items()},
            "times_s": times}


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    x = np.random.default_rng(2026).random((args.size, args.size), dtype=np.float32)
    out = np.empty_like(x)
    accepted = acceptance(x, out, 3 * args.rounds)
    runs = contenders(x, out, args.chunks, peer=not args.no_peer)
    folder = Path(tempfile.mkdtemp(prefix="sepconv-dask-"))
    runs.update(tiff_runs(x, folder, 2048))
    times = interleave(runs, args.rounds)
    base = times["in-memory"]
    ratios = {n: [b / t for b, t in zip(base, ts)] for n, ts in times.items() if n != "in-memory"}
    overhead = {n: [(t - b) / runs[n][1] * 1e3 for b, t in zip(base, ts)]
                for n, ts in times.items() if n != "in-memory"}
    shutil.rmtree(folder)
    tiff = [m / c for m, c in zip(times["tiff-in-memory"], times["tiff-chunked-2048"])]
    alloc = times["in-memory-alloc"]
    vs_alloc = {n: [b / t for b, t in zip(alloc, ts)] for n, ts in times.items() if n.startswith("compute")}
    return {
        "acceptance": accepted,
        "median_s": {n: round(statistics.median(ts), 4) for n, ts in times.items()},
        "tiff_ratio_chunked_to_in_memory": [round(statistics.median(tiff), 3), round(min(tiff), 3),
                                            round(max(tiff), 3)],
        "compute_ratio_to_in_memory_alloc_median": {n: round(statistics.median(v), 3)
                                                    for n, v in vs_alloc.items()},
        "ratio_to_in_memory_median": {n: round(statistics.median(v), 3) for n, v in ratios.items()},
        "ratio_to_in_memory_range": {n: [round(min(v), 3), round(max(v), 3)] for n, v in ratios.items()},
        "per_task_overhead_ms_median": {n: round(statistics.median(v), 3) for n, v in overhead.items()},
        "tasks": {n: t for n, (_, t) in runs.items()},
        "identical_to_in_memory": check_identical(x, args.chunks),
        "times_s": times,
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def first_run(args: argparse.Namespace) -> dict[str, Any]:
    """Warm up on a small array (numba compiles), then one full run: peak RSS of the process."""
    run = filtered if args.contender == "sepconv-dask" else dask_image

    def image(size: int, chunk: int) -> da.Array:
        return da.random.default_rng(2026).random((size, size), dtype=np.float32, chunks=chunk)

    run(image(512, 256)).sum().compute()
    before = peak_rss_mb()
    seconds = clock(lambda: run(image(args.rss_size, args.rss_chunk)).sum().compute())
    return {"contender": args.contender, "chunk": args.rss_chunk, "seconds": round(seconds, 2),
            "peak_rss_MB_before_full_run": round(before, 1), "peak_rss_MB": round(peak_rss_mb(), 1)}


def rss_in_fresh_process(args: argparse.Namespace, contender: str, chunk: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--rss-only", contender, "--rss-size", str(args.rss_size),
           "--rss-chunk", str(chunk), "--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def versions(threads: int) -> dict[str, Any]:
    from importlib.metadata import version

    import numba

    info = environment()
    for name in ("dask", "distributed", "dask-image", "zarr"):
        info[name] = version(name)
    info["numba_threads"] = numba.get_num_threads()
    info["dask_threads"] = threads
    return info


def markdown(report: dict[str, Any]) -> str:
    env, s, res = report["environment"], report["setup"], report["throughput"]
    lines = [
        "# Dask: chunked filtering against the in-memory call",
        "",
        f"{env['date']}, {env['cpu']}, {env['cpus_available']} CPUs (shared; load average "
        f"{env['load_average'][0]:.1f} at the start), dask {env['dask']}, dask-image "
        f"{env['dask-image']}, zarr {env['zarr']}, numba {env['numba']}, numpy {env['numpy']}. "
        "Written by `benchmarks/dask.py`.",
        "",
        f"{s['size']}² float32, {s['taps']}-tap Gaussian along both axes, {s['threads']} dask "
        f"threads and {env['numba_threads']} engine threads; {s['rounds']} interleaved rounds. "
        "Ratio = in-memory time ÷ chunked time (1 = in-memory speed), median of per-round ratios "
        "and range; per-task overhead = (chunked − in-memory) ÷ tasks.",
        "",
        f"**Acceptance** (the issue's check alone, {res['acceptance']['rounds']} rounds of in-memory "
        "`output=` against `da.store` of the NumPy-backed array): "
        + ", ".join(f"{n} **{v:.2f}** ({res['acceptance']['ratio_range'][n][0]:.2f}–"
                    f"{res['acceptance']['ratio_range'][n][1]:.2f})"
                    for n, v in res["acceptance"]["ratio_median"].items()) + ".",
        "",
        "All contenders, interleaved (dask-image, zarr and TIFF between the calls):",
        "",
        "| contender | tasks | throughput ÷ in-memory | range | overhead per task | median time |",
        "|---|---|---|---|---|---|",
    ]
    for name, ratio in res["ratio_to_in_memory_median"].items():
        lo, hi = res["ratio_to_in_memory_range"][name]
        lines.append(f"| {name} | {res['tasks'][name]} | **{ratio:.2f}** | {lo:.2f}–{hi:.2f} | "
                     f"{res['per_task_overhead_ms_median'][name]:.2f} ms | {res['median_s'][name]:.3f} s |")
    lines += ["", f"In-memory: {res['median_s']['in-memory']:.3f} s. Chunked results identical to "
              f"the in-memory call (array_equal) at chunks: {res['identical_to_in_memory']}.", "",
              "`.compute()` returns a new array, as the in-memory call without `output=` does "
              "(`in-memory-alloc`); throughput ÷ that call's, median of per-round ratios: "
              + ", ".join(f"{n} **{v:.2f}**"
                          for n, v in res["compute_ratio_to_in_memory_alloc_median"].items())
              + ".", "",
              "TIFF to TIFF (8192² float32, tiled 256², uncompressed): `filter_tiff(chunks=2048)` "
              "throughput ÷ `imread` + `correlate` + `imwrite` in memory: **{:.2f}** (range {:.2f}–{:.2f})."
              .format(*res["tiff_ratio_chunked_to_in_memory"]), ""]
    if report.get("peak_rss"):
        lines += [
            f"Peak RSS, {s['rss_size']}² float32 ({s['rss_size'] ** 2 * 4 / 1e9:.2f} GB) from "
            f"`da.random`, `.sum().compute()`, fresh process (limit {RSS_LIMIT_MB} MB):", "",
            "| contender | chunks | peak RSS | after imports + compile | full run |", "|---|---|---|---|---|",
            *(f"| {r['contender']} | {r['chunk']}² | **{r['peak_rss_MB']:.0f} MB** | "
              f"{r['peak_rss_MB_before_full_run']:.0f} MB | {r['seconds']} s |" for r in report["peak_rss"]),
            ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--chunks", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-peer", action="store_true", help="leave dask-image out")
    parser.add_argument("--rss-size", type=int, default=24576)
    parser.add_argument("--rss-chunk", type=int, default=2048)
    parser.add_argument("--rss-runs", default="sepconv-dask:2048,sepconv-dask:1024,dask-image:2048",
                        help="contender:chunk pairs, each measured in a fresh process ('' for none)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one round, no files written")
    parser.add_argument("--acceptance-only", action="store_true",
                        help="only the issue's check (3 x --rounds rounds), printed, no files written")
    parser.add_argument("--rss-only", dest="contender", choices=["sepconv-dask", "dask-image"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.chunks, args.rounds, args.rss_runs = 2048, [512, 1024], 1, ""
    import numba

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    with dask.config.set(scheduler="threads", num_workers=args.threads):
        if args.contender:
            print(json.dumps(first_run(args)))
            return
        if args.acceptance_only:
            x = np.random.default_rng(2026).random((args.size, args.size), dtype=np.float32)
            result = acceptance(x, np.empty_like(x), 3 * args.rounds)
            print(json.dumps({k: v for k, v in result.items() if k != "times_s"}))
            return
        # fresh processes first: a child forked from a large parent inherits its peak RSS
        pairs = [p.split(":") for p in args.rss_runs.split(",") if p]
        rss = [rss_in_fresh_process(args, name, int(chunk)) for name, chunk in pairs]
        print("peak RSS:", json.dumps(rss), flush=True)
        result = throughput(args)
        print(json.dumps({k: v for k, v in result.items() if k != "times_s"}, indent=2), flush=True)
    setup = {k: getattr(args, k) for k in ("size", "chunks", "threads", "rounds", "rss_size")}
    report = {"question": "chunked vs in-memory throughput (8192², 7 taps, 2 threads); peak RSS at 2.4 GB",
              "setup": {**setup, "taps": int(WEIGHTS.size)}, "environment": versions(args.threads),
              "throughput": result, "peak_rss": rss}
    if not args.quick:
        write_outputs(ROOT / "docs" / "benchmarks" / "dask.json", report, markdown(report))


if __name__ == "__main__":
    main()
