"""sepconv on torch tensors beside kornia and a hand-written conv2d: Gaussian blurs, 8×3×512².

Forward (no grad: sepconv runs CPU tensors on its numba engine) and forward+backward (grad:
sepconv's torch passes, as kornia and conv2d), kernels 3 to 31 (σ = (k // 2) / 2, so 7×7 is
σ 1.5), border ``mirror`` (kornia's and PyTorch's ``reflect``). CPU always; CUDA too when present.
Every comparison is interleaved after a warm-up round and reported as the median of per-round
ratios peer time / sepconv time (above 1: sepconv is faster). Writes
docs/benchmarks/torch_filters.json and .md.

    python benchmarks/torch_filters.py            # full run (~6 min on 2 cores)
    python benchmarks/torch_filters.py --quick    # small batch, a smoke test of the script
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kornia
import torch
import torch.nn.functional as F

import sepconv
from _timing import environment, interleaved, write_outputs  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
SIZES = (3, 7, 15, 31)


def _sync(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def _functions(x: torch.Tensor, k: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    sigma = (k // 2) / 2
    g = torch.as_tensor(sepconv.kernels.gaussian_1d(sigma, radius=k // 2), dtype=x.dtype,
                        device=x.device)
    dense = torch.outer(g, g).expand(x.shape[1], 1, k, k)
    pad = (k // 2,) * 4
    return {
        "sepconv": lambda t: sepconv.correlate_separable(t, [g, g], axes=(-2, -1), mode="mirror"),
        "kornia gaussian_blur2d": lambda t: kornia.filters.gaussian_blur2d(
            t, (k, k), (sigma, sigma), border_type="reflect"),
        "conv2d dense": lambda t: F.conv2d(F.pad(t, pad, mode="reflect"), dense, groups=t.shape[1]),
    }


def _timed(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, backward: bool,
           sync: Callable[[], None]) -> Callable[[], Any]:
    def forward() -> Any:
        with torch.no_grad():
            out = fn(x)
        sync()
        return out

    def both() -> Any:
        t = x.detach().requires_grad_()
        fn(t).sum().backward()
        sync()
        return t.grad

    return both if backward else forward


def case(x: torch.Tensor, k: int, backward: bool, rounds: int) -> dict[str, Any]:
    fns = _functions(x, k)
    with torch.no_grad():
        ours = fns["sepconv"](x)
        diffs = {name: float((fn(x) - ours).abs().max()) for name, fn in fns.items() if name != "sepconv"}
    sync = _sync(x.device.type)
    timed = {name: _timed(fn, x, backward, sync) for name, fn in fns.items()}
    result = interleaved(timed.pop("sepconv"), timed, rounds=rounds)
    return {
        "device": x.device.type, "k": k, "pass": "forward+backward" if backward else "forward",
        "speedup": {name: 1 / r for name, r in result["ratio"].items()},
        "speedup_range": {name: [1 / hi, 1 / lo] for name, (lo, hi) in result["ratio_range"].items()},
        "median_s": result["median_s"], "rounds": rounds, "max_abs_diff": diffs,
    }


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    lines = [
        "# sepconv on torch tensors vs kornia and conv2d",
        "",
        f"Measured {env['date']} on {env['cpu']} ({env['cpus_available']} CPUs available, load average "
        f"at start {env['load_average'][0]:.1f}); torch {env['torch']}, kornia {result['kornia']}, "
        f"torch threads {result['torch_threads']}. Input {result['shape']} float32, Gaussian k×k with "
        "σ = (k // 2) / 2, border mirror (kornia `reflect`).",
        "",
        "Figures: peer time ÷ sepconv time, median of per-round ratios over interleaved rounds "
        "(range in brackets); above 1 sepconv is faster. The machine is shared (2 cores, other jobs "
        "running): absolute times in torch_filters.json vary, ratios less so.",
        "",
        "| device | pass | k | vs kornia gaussian_blur2d | vs conv2d dense | sepconv ms "
        "| max abs diff vs kornia |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in result["cases"]:
        cells = [f"{c['speedup'][p]:.2f}× [{c['speedup_range'][p][0]:.2f}–{c['speedup_range'][p][1]:.2f}]"
                 for p in ("kornia gaussian_blur2d", "conv2d dense")]
        diff = c["max_abs_diff"]["kornia gaussian_blur2d"]
        lines.append(f"| {c['device']} | {c['pass']} | {c['k']} | {cells[0]} | {cells[1]} | "
                     f"{1000 * c['median_s']['ours']:.1f} | {diff:.1e} |")
    acc = result["acceptance"]
    lines += ["", f"Acceptance (CPU, forward, 7×7 σ 1.5, mirror): max abs diff vs kornia "
              f"{acc['max_abs_diff']:.1e} (≤ 1e-4: {acc['same']}), {acc['speedup']:.2f}× kornia "
              f"(≥ 1.5×: {acc['fast']}).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1×3×128², 2 rounds (smoke test)")
    args = parser.parse_args(argv)
    shape = (1, 3, 128, 128) if args.quick else (8, 3, 512, 512)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    cases = []
    for device in devices:
        x = torch.rand(shape, generator=torch.Generator().manual_seed(0)).to(device)
        for backward in (False, True):
            for k in SIZES:
                rounds = 2 if args.quick else (3 if k >= 15 else 7)
                cases.append(case(x, k, backward, rounds))
                c = cases[-1]
                print(f"{device} {c['pass']} k={k}: " + ", ".join(
                    f"{p} {s:.2f}x" for p, s in c["speedup"].items()), flush=True)
    accept = next(c for c in cases if c["device"] == "cpu" and c["pass"] == "forward" and c["k"] == 7)
    peer = "kornia gaussian_blur2d"
    diff, speed = accept["max_abs_diff"][peer], accept["speedup"][peer]
    result = {
        "environment": environment(), "kornia": kornia.__version__,
        "torch_threads": torch.get_num_threads(),
        "shape": list(shape), "cases": cases,
        "acceptance": {"max_abs_diff": diff, "same": diff <= 1e-4, "speedup": speed, "fast": speed >= 1.5},
    }
    name = "torch_filters_quick" if args.quick else "torch_filters"
    write_outputs(ROOT / "docs" / "benchmarks" / f"{name}.json", result, markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
