"""Model-zoo networks through ``sepconv.nn.accelerate`` (issue 14): timm and torchvision models.

``accelerate(model)`` (no example input) against the original model in eager mode, NCHW and
channels_last, under ``torch.inference_mode``, batch 1 and 8 at the model's input size, 1 and 2
threads, in interleaved rounds (benchmarks/_timing.py); BatchNorm statistics randomized so the
folding is not an identity. timm and torchvision do not import beside the pinned CPU torch 2.13.0
of ``make bench``; there the script says so and exits 0. Run it where they import (torch 2.14.1:
``pip install torch==2.14.1 torchvision==0.29.1 timm`` then ``pip install -e .``):
``python benchmarks/model_zoo.py [--quick]``, with no other timing running on the machine.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sepconv.nn as snn
from _timing import environment, interleaved, write_outputs
from sepconv.nn._fold import FusedConv2d, FusedSeparable2d

ROOT = Path(__file__).resolve().parent.parent
MODELS = [("timm", "mobilenetv1_100"), ("timm", "mobilenetv2_100"), ("timm", "efficientnet_b0"),
          ("torchvision", "mobilenet_v2"), ("torchvision", "mobilenet_v3_large")]
GOAL = 1.2  # issue 14: accelerate on model-zoo MobileNetV1/V2, batch 8, 2 threads


def _importable(library: str) -> Any:
    try:
        return __import__(library)
    except Exception:  # torchvision beside a torch it was not built for raises at import
        return None


def build(library: str, name: str) -> nn.Module:
    module = _importable(library)
    model = (module.create_model(name, pretrained=False) if library == "timm"
             else getattr(module.models, name)())
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d) and m.running_mean is not None:
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
    return model.eval()


def case(library: str, name: str, batch: int, threads: int, rounds: int, size: int
         ) -> dict[str, Any]:
    torch.set_num_threads(threads)
    model = build(library, name)
    fast, report = snn.accelerate(model)
    model_cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, size, size)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    peers: dict[str, Callable[[], Any]] = {"NCHW": lambda: model(x),
                                           "channels_last": lambda: model_cl(x_cl)}
    with torch.inference_mode():
        want = model(x)
        error = float((fast(x) - want).abs().max() / want.abs().max())
        result = interleaved(lambda: fast(x), peers, rounds=rounds, warmup=2)
    times = result["times_s"]
    best = [min(a, b) for a, b in zip(times["NCHW"], times["channels_last"])]
    return {"library": library, "model": name, "batch": batch, "size": size, "threads": threads,
            "rounds": rounds,
            "median_ms": {k: v * 1e3 for k, v in result["median_s"].items()},
            "speedup_vs_faster_original": statistics.median(
                b / o for b, o in zip(best, times["ours"])),
            "relative_error": error,
            "separable_chains": sum(isinstance(m, FusedSeparable2d) for m in fast.modules()),
            "conv_batchnorm": sum(isinstance(m, FusedConv2d) for m in fast.modules()),
            "left": len(report.left)}


def _row(c: dict[str, Any]) -> str:
    ms = c["median_ms"]
    return (f"| {c['library']} {c['model']} | {c['batch']}×{c['size']}² | {c['threads']} | "
            f"{ms['ours']:.1f} | {ms['NCHW']:.1f} | {ms['channels_last']:.1f} | "
            f"{c['speedup_vs_faster_original']:.2f}× | {c['separable_chains']} / "
            f"{c['conv_batchnorm']} / {c['left']} | {c['relative_error']:.1e} |")


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    lines = ["# Model-zoo networks through `accelerate` (benchmarks/model_zoo.py)", "",
             f"Measured {env['date']} on {env['cpu']} ({env['cpus_available']} CPUs, shared with "
             f"other jobs; load average at start {env['load_average'][0]:.1f}); torch "
             f"{env['torch']}, {result['libraries']}.", "",
             "`fast, report = sepconv.nn.accelerate(model)` (no example input) against the "
             "original model in eager mode, under `torch.inference_mode()`. Median milliseconds "
             "over interleaved rounds; *speed-up*: the median over rounds of (faster of the "
             "original in NCHW and channels_last) ÷ accelerated model; *fused*: separable "
             "chains / conv + BatchNorm pairs / depthwise convolutions left; relative error: "
             "max |fast − original| ÷ max |original|.", "",
             "| model | input | threads | accelerate | original NCHW | original channels_last "
             "| speed-up | fused | relative error |",
             "|---|---|---|---|---|---|---|---|---|",
             *(_row(c) for c in result["cases"]), "",
             f"## Acceptance (issue 14: MobileNetV1 and V2, batch 8, 2 threads, ≥ {GOAL}×)", ""]
    for c in result["cases"]:
        if c["batch"] == 8 and c["threads"] == 2 and any(
                v in c["model"].replace("_", "") for v in ("mobilenetv1", "mobilenetv2")):
            got = c["speedup_vs_faster_original"]
            lines.append(f"- [{'x' if got >= GOAL else ' '}] {c['library']} {c['model']}: "
                         f"{got:.2f}×, relative error {c['relative_error']:.1e}")
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one model, batch 1, 96² (smoke)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (>= 3)")
    parser.add_argument("--json", type=Path, default=ROOT / "docs/benchmarks/model_zoo.json")
    args = parser.parse_args(argv)
    models = [(lib, name) for lib, name in MODELS if _importable(lib) is not None]
    if not models:
        print("model_zoo.py: neither timm nor torchvision imports here (they need torch 2.14.1 "
              "on these machines): skipped")
        return 0
    cases = []
    for threads in (1, 2):
        for lib, name in models[:1] if args.quick else models:
            for batch in (1,) if args.quick else (1, 8):
                cases.append(case(lib, name, batch, threads, max(3, args.rounds),
                                  96 if args.quick else 224))
                print(_row(cases[-1]), flush=True)
    libraries = ", ".join(f"{lib} {_importable(lib).__version__}"
                          for lib in sorted({lib for lib, _ in models}))
    result = {"environment": environment(), "libraries": libraries, "cases": cases}
    text = markdown(result)
    print(text)
    if not args.quick:
        write_outputs(args.json, result, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
