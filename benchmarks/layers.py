"""sepconv.nn.SeparableConv2d beside the dense Conv2d and PyTorch's own depthwise + pointwise (issue 9).

Contenders, all on the same NCHW float32 input (``torch.set_num_threads`` = 1 or 2):

- dense: ``nn.Conv2d(C, N, k, padding=k // 2)``, the layer a separable one replaces;
- nchw: ``F.conv2d(F.conv2d(x, depthwise, groups=C), pointwise)``, the naive composition;
- channels_last: the same after ``x.contiguous(memory_format=torch.channels_last)`` (inside the
  timing); "best composition" is the faster of the two in each round (a careful hand-written one);
- sepconv: ``SeparableConv2d(C, N, k, padding="same")``, the same weights.

Forward runs under ``torch.no_grad()``; forward + backward computes all gradients. Each figure is
contender time ÷ sepconv time, the median over interleaved rounds (every contender once per round,
the starting one rotating) of the per-round ratio (above 1: sepconv is faster); "predicted" is
the multiplication ratio. See benchmarks/_timing.py for why only such ratios are reported.
Writes docs/benchmarks/layers.json and docs/benchmarks/layers.md.

    python benchmarks/layers.py            # acceptance configuration + grid (~10 min on 2 cores)
    python benchmarks/layers.py --quick    # small shapes, a smoke test; prints only
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from _timing import clock, environment, write_outputs  # type: ignore[import-not-found]
from sepconv.nn import DepthwiseConv2d, SeparableConv2d

ROOT = Path(__file__).resolve().parents[1]
COMPOSITIONS = ["nchw", "channels_last"]
# (batch, channels, size, kernel): the configuration, then MobileNet-like stages
ACCEPTANCE = (8, 128, 56, 3)
GRID = [(8, c, s, k) for c, s in ((32, 112), (128, 56), (512, 14)) for k in (3, 5, 7)] + [
    (8, 32, 56, 3), (8, 128, 28, 3), (8, 512, 28, 3), (1, 128, 56, 3)]
DEPTHWISE = [(8, 32, 112, 3), (8, 128, 56, 3), (8, 128, 56, 5), (8, 512, 14, 3)]
QUICK = [(4, 64, 32, 3), (4, 32, 64, 5)]


def predicted(channels: int, out: int, k: int) -> float:
    """Dense ÷ separable multiplications per output position: k²·C·N / (k²·C + C·N)."""
    return k * k * channels * out / (k * k * channels + channels * out)


def _clones(*params: torch.Tensor, grad: bool) -> list[torch.Tensor]:
    return [p.detach().clone().requires_grad_(grad) for p in params]


def contenders(kind: str, batch: int, channels: int, size: int, k: int, backward: bool
               ) -> dict[str, Callable[[], Any]]:
    """The callables of one configuration: sepconv's layer, PyTorch's composition in NCHW and in
    channels_last (same weights) and, for a separable layer, the dense Conv2d it replaces."""
    torch.manual_seed(0)
    x = torch.randn(batch, channels, size, size)
    grad = torch.randn(batch, channels, size, size)
    layer: nn.Module
    if kind == "separable":
        layer = SeparableConv2d(channels, channels, k, padding="same")
        weights = _clones(layer.depthwise.weight, layer.pointwise.weight, layer.pointwise.bias,
                          grad=backward)

        def plain(y: torch.Tensor) -> torch.Tensor:
            mid = F.conv2d(y, weights[0], None, 1, k // 2, 1, channels)
            return F.conv2d(mid, weights[1], weights[2])
    else:
        layer = DepthwiseConv2d(channels, k, padding="same")
        weights = _clones(layer.weight, layer.bias, grad=backward)

        def plain(y: torch.Tensor) -> torch.Tensor:
            return F.conv2d(y, weights[0], weights[1], 1, k // 2, 1, channels)

    def timed(fn: Callable[[torch.Tensor], torch.Tensor], params: list[torch.Tensor]
              ) -> Callable[[], Any]:
        def forward() -> Any:
            with torch.no_grad():
                return fn(x)

        def forward_backward() -> Any:
            for p in params:
                p.grad = None
            return fn(x.detach().requires_grad_()).backward(grad)

        return forward_backward if backward else forward

    fns = {
        "sepconv": timed(layer, list(layer.parameters())),
        "nchw": timed(plain, weights),
        "channels_last": timed(lambda y: plain(y.contiguous(memory_format=torch.channels_last)),
                               weights),
    }
    if kind == "separable":
        dense = nn.Conv2d(channels, channels, k, padding=k // 2)
        fns["dense"] = timed(dense, list(dense.parameters()))
    return fns


def rotated_rounds(fns: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call of every function in ``rounds`` rounds after one warm-up round.

    Each round runs every function once, starting one further along the list than the round
    before, so no contender always runs first (right after another one filled the caches).
    """
    names = list(fns)
    for name in names:
        fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(clock(fns[name]))
    return times


def _ratios(times: dict[str, list[float]], names: list[str]) -> list[float]:
    """Per round: the best time among ``names`` ÷ sepconv's time."""
    return [min(ts) / ours for ours, *ts in zip(times["sepconv"], *(times[n] for n in names))]


def measure(kind: str, config: tuple[int, int, int, int], threads: int, backward: bool,
            rounds: int) -> dict[str, Any]:
    """One layer kind, configuration, mode and thread count, timed in interleaved rounds."""
    batch, channels, size, k = config
    torch.set_num_threads(threads)
    times = rotated_rounds(contenders(kind, batch, channels, size, k, backward), rounds)
    groups = {**{name: [name] for name in times if name != "sepconv"},
              "best composition": COMPOSITIONS}
    ratios = {name: _ratios(times, names) for name, names in groups.items()}
    return {"layer": kind, "input": [batch, channels, size, size], "k": k,
            "out_channels": channels, "threads": threads,
            "mode": "forward+backward" if backward else "forward",
            "predicted": predicted(channels, channels, k) if kind == "separable" else None,
            "speedup": {name: statistics.median(r) for name, r in ratios.items()},
            "range": {name: [min(r), max(r)] for name, r in ratios.items()},
            "median_ms": {name: 1e3 * statistics.median(t) for name, t in times.items()},
            "rounds": rounds}


def run(quick: bool, rounds: int) -> dict[str, Any]:
    acceptance_config = QUICK[0] if quick else ACCEPTANCE
    modes = [(b, t) for b in (False, True) for t in (1, 2)]
    acceptance = [measure("separable", acceptance_config, t, b, rounds if quick else 3 * rounds)
                  for b, t in modes]
    grid = [measure("separable", c, t, b, rounds) for c in (QUICK if quick else GRID) for b, t in modes]
    depthwise = [measure("depthwise", c, t, b, rounds)
                 for c in (QUICK if quick else DEPTHWISE) for b, t in modes]
    torch.set_num_threads(2)
    return {"environment": environment(), "quick": quick, "acceptance": acceptance, "grid": grid,
            "depthwise": depthwise}


def _x(value: float) -> str:
    return f"{value:.2f}×"


def _row(case: dict[str, Any]) -> str:
    n, c, h, w = case["input"]
    s = case["speedup"]
    low, high = case["range"]["best composition"]
    cells = [f"{n}×{c}×{h}×{w}", str(case["k"]), str(case["threads"]), case["mode"]]
    if case["predicted"] is not None:
        cells += [_x(case["predicted"]), f"**{_x(s['dense'])}**"]
    cells += [f"**{_x(s['best composition'])}** ({low:.2f}–{high:.2f})", _x(s["nchw"]),
              _x(s["channels_last"])]
    return "| " + " | ".join(cells) + " |"


def _table(cases: list[dict[str, Any]]) -> list[str]:
    head = ["input (N×C×H×W)", "k", "threads", "mode"]
    if cases and cases[0]["predicted"] is not None:
        head += ["predicted (MACs)", "dense ÷ sepconv"]
    head += ["best composition ÷ sepconv (range)", "nchw ÷ sepconv", "channels_last ÷ sepconv"]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *(_row(c) for c in cases)]


def _checks(cases: list[dict[str, Any]]) -> list[str]:
    lines = []
    for case in cases:
        best = case["speedup"]["best composition"]
        goal = 1.3 if case["mode"] == "forward" else 1.0
        mark = "x" if best >= goal else " "
        lines.append(f"- [{mark}] {case['mode']}, {case['threads']} thread(s): sepconv "
                     f"{_x(best)} faster than the best composition (goal ≥ {goal:.1f}×); "
                     f"dense ÷ sepconv {_x(case['speedup']['dense'])} (promise "
                     f"{_x(case['predicted'])})")
    return lines


def layers_markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    return "\n".join([
        "# Separable layers: time ratios (benchmarks/layers.py)",
        "",
        f"Measured {env['date']} on {env['cpu']} ({env['cpus_available']} CPUs, shared; load "
        f"average at start {env['load_average'][0]:.1f}); Python {env['python']}, torch "
        f"{env['torch']}, numba {env['numba']}.",
        "",
        "Each figure is contender time ÷ sepconv time (above 1: sepconv is faster), the median "
        "over interleaved rounds of the per-round ratio, with its range; *predicted* is the "
        "multiplication ratio dense ÷ separable. Float32 NCHW input, C → C channels, padding "
        "'same', stride 1. *Best composition*: per round, the faster of PyTorch's depthwise + "
        "pointwise convolutions in NCHW and in channels_last (conversion included). Absolute "
        "times are in layers.json.",
        "",
        "## Acceptance (issue 9): SeparableConv2d, 8×128×56×56, 3×3, 128 → 128",
        "",
        *_checks(result["acceptance"]),
        "",
        *_table(result["acceptance"]),
        "",
        "## SeparableConv2d, more shapes",
        "",
        *_table(result["grid"]),
        "",
        "## DepthwiseConv2d alone (vs F.conv2d with groups = C)",
        "",
        *_table(result["depthwise"]),
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes (smoke test)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (>= 3)")
    parser.add_argument("--json", type=Path, default=ROOT / "docs/benchmarks/layers.json")
    args = parser.parse_args(argv)
    result = run(args.quick, max(3, args.rounds))
    text = layers_markdown(result)
    print(text)
    if not args.quick:
        write_outputs(args.json, result, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
