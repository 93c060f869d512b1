"""Dask: a 2.4 GB float32 image (24576², from ``da.random``) filtered separably with 2 threads.

Question: does sepconv filter an image larger than it should hold in memory in bounded memory,
and how fast compared with in-memory sepconv and with dask-image (scipy per chunk)?

Contenders, run in interleaved rounds in one process (the machine's speed drifts, so the figures
of merit are per-round ratios; absolute times are only recorded):

* ``sepconv-dask``: ``sepconv.correlate_separable(image, [w, w]).sum().compute()``, 7-tap
  Gaussian (sigma 1, truncate 3), chunks of 2048², 2 dask threads, serial numba in chunks.
* ``generate``: ``image.sum().compute()``: producing the random chunks alone; subtracted from the
  dask contenders to give the net filtering time.
* ``in-memory``: ``sepconv.correlate_separable`` on a 4096² NumPy array (2 numba threads),
  called 36 times: the same 2.4 GB of work.
* ``dask-slice``: the same 4096² array wrapped by ``da.from_array`` (same chunks), filtered
  through dask 36 times: the cost of chunking alone, without the random generation.
* ``dask-image``: ``dask_image.ndfilters.correlate`` with the dense 7×7 kernel (the issue's peer)
  and ``dask-image-gauss``: ``gaussian_filter(sigma=1, truncate=3)``, the same filter applied
  separably by scipy (dask-image has no ``correlate1d``), on the same dask array, or on a
  smaller one (``--peer-size``) when too slow: the JSON says which.

Throughput is MB/s of float32 input. Peak RSS (``ru_maxrss``) is measured in fresh processes
that import, compile (on a 512² array) and run one full filter: imports, numba's compiled
kernels and the random generation are included; dask-image's peak is measured the same way.
Writes docs/benchmarks/dask.json and docs/benchmarks/dask.md.

Run: ``.venv/bin/python benchmarks/dask.py`` (about 10 minutes; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
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
from _timing import clock, environment  # noqa: E402

ROOT = HERE.parent
WEIGHTS = sepconv.kernels.gaussian_1d(1.0, truncate=3.0)  # 7 taps


def image(size: int, chunk: int) -> da.Array:
    return da.random.default_rng(2026).random((size, size), dtype=np.float32, chunks=chunk)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def sepconv_dask(x: da.Array) -> float:
    return float(sepconv.correlate_separable(x, [WEIGHTS, WEIGHTS]).sum().compute())


def generate(x: da.Array) -> float:
    return float(x.sum().compute())


def dask_image_dense(x: da.Array) -> float:
    from dask_image import ndfilters

    return float(ndfilters.correlate(x, np.outer(WEIGHTS, WEIGHTS).astype(np.float32)).sum().compute())


def dask_image_gaussian(x: da.Array) -> float:
    from dask_image import ndfilters

    return float(ndfilters.gaussian_filter(x, sigma=1.0, truncate=3.0).sum().compute())


def in_memory(x: np.ndarray, repeats: int = 1) -> float:
    return sum(float(sepconv.correlate_separable(x, [WEIGHTS, WEIGHTS]).sum()) for _ in range(repeats))


def dask_slice(x: np.ndarray, chunk: int, repeats: int) -> float:
    lazy = da.from_array(x, chunks=chunk)
    return sum(sepconv_dask(lazy) for _ in range(repeats))


def rounds(args: argparse.Namespace, big: da.Array) -> dict[str, Any]:
    peer = big if args.peer_size == args.size else image(args.peer_size, args.chunk)
    small = image(args.slice, args.chunk).compute()
    repeats = max(1, round(big.nbytes / small.nbytes))  # the same volume of work as the dask run
    runs = {
        "sepconv-dask": (lambda: sepconv_dask(big), big.nbytes),
        "generate": (lambda: generate(big), big.nbytes),
        "in-memory": (lambda: in_memory(small, repeats), small.nbytes * repeats),
        "dask-slice": (lambda: dask_slice(small, args.chunk, repeats), small.nbytes * repeats),
        "dask-image": (lambda: dask_image_dense(peer), peer.nbytes),
        "dask-image-gauss": (lambda: dask_image_gaussian(peer), peer.nbytes),
    }
    if args.peer_size != args.size:
        runs["generate-peer"] = (lambda: generate(peer), peer.nbytes)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(args.rounds):
        order = list(runs)[r % len(runs):] + list(runs)[:r % len(runs)]  # rotate the order
        for name in order:
            times[name].append(clock(runs[name][0]))
            print(f"round {r}: {name} {times[name][-1]:.2f} s", flush=True)
    return {"times_s": times, "nbytes": {name: n for name, (_, n) in runs.items()}}


def summary(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    t, nbytes = result["times_s"], result["nbytes"]
    gen_peer = t.get("generate-peer", t["generate"])
    mbs = {  # MB/s per round; dask contenders gross (with generation) and net (without)
        "sepconv-dask": _rate(nbytes["sepconv-dask"], t["sepconv-dask"]),
        "sepconv-dask-net": _rate(nbytes["sepconv-dask"], _minus(t["sepconv-dask"], t["generate"])),
        "in-memory": _rate(nbytes["in-memory"], t["in-memory"]),
        "dask-slice": _rate(nbytes["dask-slice"], t["dask-slice"]),
        "dask-image": _rate(nbytes["dask-image"], t["dask-image"]),
        "dask-image-net": _rate(nbytes["dask-image"], _minus(t["dask-image"], gen_peer)),
        "dask-image-gauss": _rate(nbytes["dask-image-gauss"], t["dask-image-gauss"]),
        "dask-image-gauss-net": _rate(nbytes["dask-image-gauss"], _minus(t["dask-image-gauss"], gen_peer)),
    }
    pairs = {
        "sepconv-dask-net / in-memory": ("sepconv-dask-net", "in-memory"),
        "dask-slice / in-memory": ("dask-slice", "in-memory"),
        "sepconv-dask / dask-image": ("sepconv-dask", "dask-image"),
        "sepconv-dask-net / dask-image-net": ("sepconv-dask-net", "dask-image-net"),
        "sepconv-dask / dask-image-gauss": ("sepconv-dask", "dask-image-gauss"),
        "sepconv-dask-net / dask-image-gauss-net": ("sepconv-dask-net", "dask-image-gauss-net"),
    }
    ratios = {label: [a / b for a, b in zip(mbs[x], mbs[y])] for label, (x, y) in pairs.items()}
    return {
        "median_MB_per_s": {k: round(_median(v), 1) for k, v in mbs.items()},
        "throughput_ratio_median": {k: round(_median(v), 2) for k, v in ratios.items()},
        "throughput_ratio_range": {k: _range(v) for k, v in ratios.items()},
    }


def _rate(nbytes: int, seconds: list[float]) -> list[float]:
    """MB/s per round; NaN where a net time came out <= 0 (noise larger than the work)."""
    return [nbytes / 1e6 / s if s > 0 else float("nan") for s in seconds]


def _range(values: list[float]) -> list[float]:
    finite = [v for v in values if v == v] or [float("nan")]
    return [round(min(finite), 2), round(max(finite), 2)]


def _median(values: list[float]) -> float:
    finite = [v for v in values if v == v]
    return statistics.median(finite) if finite else float("nan")


def _minus(a: list[float], b: list[float]) -> list[float]:
    return [x - y for x, y in zip(a, b)]


CONTENDERS = {"sepconv-dask": lambda x: sepconv_dask(x), "dask-image-gauss": lambda x: dask_image_gaussian(x)}


def first_run(args: argparse.Namespace) -> dict[str, Any]:
    """Warm up on a small array (numba compiles), then one full run: peak RSS of the process."""
    run = CONTENDERS[args.contender]
    run(image(512, 256))
    before = peak_rss_mb()
    big = image(args.size, args.chunk)
    seconds = clock(lambda: run(big))
    return {"contender": args.contender, "chunk": args.chunk, "seconds": round(seconds, 2),
            "peak_rss_MB_before_full_run": round(before, 1), "peak_rss_MB": round(peak_rss_mb(), 1)}


def rss_in_fresh_process(args: argparse.Namespace, contender: str, chunk: int) -> dict[str, Any]:
    """Peak RSS of a whole process that only imports, compiles and runs the full filter once."""
    cmd = [sys.executable, __file__, "--rss-only", contender, "--size", str(args.size),
           "--chunk", str(chunk), "--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def versions() -> dict[str, Any]:
    from importlib.metadata import version

    info = environment()
    for name in ("dask", "distributed", "dask-image"):
        info[name] = version(name)
    import numba

    info["numba_threads"] = numba.get_num_threads()
    info["numba_threading_layer"] = numba.config.THREADING_LAYER
    return info


def write(report: dict[str, Any]) -> None:
    out = ROOT / "docs" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    (out / "dask.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "dask.md").write_text(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    s, env, rss = report["setup"], report["environment"], report["peak_rss"]
    lines = [
        "# Dask: a 2.4 GB image filtered in chunks",
        "",
        f"{env['date']}, {env['cpu']}, {env['cpus_available']} CPUs (shared, load average "
        f"{env['load_average'][0]:.1f}), "
        f"dask {env['dask']}, dask-image {env['dask-image']}, numba {env['numba']}, "
        f"numpy {env['numpy']}, scipy {env['scipy']}. Written by `benchmarks/dask.py`.",
        "",
        f"Image {s['size']}² float32 ({s['size'] ** 2 * 4 / 1e9:.2f} GB) from `da.random`, chunks "
        f"{s['chunk']}², {s['taps']}-tap Gaussian along both axes, {s['threads']} dask threads, "
        f"`.sum().compute()`; in-memory slice {s['slice']}²; dask-image on {s['peer_size']}².",
        "",
        f"Peak RSS of a whole process (fresh, imports and numba's compiled kernels included; "
        f"limit {rss['limit_MB']} MB):",
        "",
        "| contender | chunks | peak RSS | after imports + compile | full run |",
        "|---|---|---|---|---|",
        *(f"| {r['contender']} | {r['chunk']}² | **{r['peak_rss_MB']:.0f} MB** | "
          f"{r['peak_rss_MB_before_full_run']:.0f} MB | {r['seconds']} s |" for r in rss["runs"]),
        "",
        f"Throughput ratios a / b (MB/s), median over {s['rounds']} interleaved rounds and range; "
        "above 1 means a is faster. *net* subtracts the time to generate the random chunks; "
        "*dask-slice* is the in-memory slice wrapped by `da.from_array` (chunking cost alone).",
        "",
        "| ratio | median | range |",
        "|---|---|---|",
    ]
    res = report["results"]
    for label, value in res["throughput_ratio_median"].items():
        lo, hi = res["throughput_ratio_range"][label]
        lines.append(f"| {label} | {value} | {lo}–{hi} |")
    lines += ["", "| contender | median MB/s |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in res["median_MB_per_s"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=24576)
    parser.add_argument("--chunk", type=int, default=1024, help="chunk side for the timed rounds")
    parser.add_argument("--rss-runs", default="sepconv-dask:1024,sepconv-dask:2048,dask-image-gauss:2048",
                        help="contender:chunk pairs whose peak RSS to measure, each in a fresh process")
    parser.add_argument("--slice", type=int, default=4096, help="side of the in-memory array")
    parser.add_argument("--peer-size", type=int, default=None, help="side for dask-image (default: --size)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes, one round, no files written")
    parser.add_argument("--rss-only", dest="contender", choices=sorted(CONTENDERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.chunk, args.slice, args.rounds = 4096, 1024, 1024, 1
        args.rss_runs = "sepconv-dask:1024"
    args.peer_size = args.peer_size or args.size
    with dask.config.set(scheduler="threads", num_workers=args.threads):
        if args.contender:
            print(json.dumps(first_run(args)))
            return
        rss = [rss_in_fresh_process(args, name, int(chunk))
               for name, chunk in (pair.split(":") for pair in args.rss_runs.split(","))]
        print("peak RSS:", json.dumps(rss), flush=True)
        sepconv_dask(image(512, 256))  # warm-up: numba compiles the serial and parallel kernels
        in_memory(image(512, 256).compute())
        result = rounds(args, image(args.size, args.chunk))
    setup = {k: getattr(args, k) for k in ("size", "chunk", "slice", "peer_size", "threads", "rounds")}
    report = {"question": "2.4 GB float32 image, separable 7-tap filter, 2 threads: RSS and throughput",
              "setup": {**setup, "taps": int(WEIGHTS.size)}, "environment": versions(),
              "peak_rss": {"limit_MB": 1200, "runs": rss}, "results": summary(result, args),
              "raw": result}
    print(json.dumps(report["results"], indent=2))
    if not args.quick:
        write(report)


if __name__ == "__main__":
    main()
