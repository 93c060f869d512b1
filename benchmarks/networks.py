"""Whole networks (issue 14): MobileNetV1 from sepconv layers vs the same network in plain PyTorch.

The acceptance network: a plain stem (3×3 conv stride 2 + BatchNorm + ReLU), 13 blocks
``SeparableConv2d(i, o, 3, stride=s, padding=1, bias=False, between=BN+ReLU) → BN → ReLU``,
global average pooling and a 1000-way linear layer; its twin is the same network with
``nn.Conv2d(groups=i)`` and 1×1 ``nn.Conv2d``, sharing weights and BatchNorm statistics.
Contenders, timed in interleaved rounds (benchmarks/_timing.py) under ``torch.inference_mode``:
the twin in NCHW and in channels_last, ``sepconv.nn.accelerate`` of the twin, ONNX Runtime on the
exported twin and (without ``--quick``, with ``--compile``) ``torch.compile`` with freezing; a
training step (batch 8, 160²); and the experiments' CNN converted by ``convert_model`` on the
input shape it is timed on. ``python benchmarks/networks.py [--quick]``, with no other
timing running on the machine.
"""

from __future__ import annotations

import argparse
import copy
import io
import statistics
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sepconv.nn as snn
from _timing import environment, interleaved, write_outputs

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2),
          *[(512, 512, 1)] * 5, (512, 1024, 2), (1024, 1024, 1)]


def _bn_relu(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]


def mobilenet_v1(sepconv: bool, blocks: list[tuple[int, int, int]] = BLOCKS) -> nn.Sequential:
    """MobileNetV1 from sepconv layers (``sepconv=True``) or from plain ``nn.Conv2d``."""
    layers: list[nn.Module] = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), *_bn_relu(32)]
    for i, o, s in blocks:
        if sepconv:
            between = nn.Sequential(nn.BatchNorm2d(i), nn.ReLU())
            layers.append(nn.Sequential(
                snn.SeparableConv2d(i, o, 3, stride=s, padding=1, bias=False, between=between),
                *_bn_relu(o)))
        else:
            layers.append(nn.Sequential(
                nn.Conv2d(i, i, 3, s, 1, groups=i, bias=False), nn.BatchNorm2d(i), nn.ReLU(),
                nn.Conv2d(i, o, 1, bias=False), *_bn_relu(o)))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(blocks[-1][1], 1000)]
    return nn.Sequential(*layers)


V2_STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1)]


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1×1 expand + BN + ReLU6, depthwise + BN + ReLU6, 1×1 + BN, (+ x)."""

    def __init__(self, i: int, o: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = i * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(i, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU6(inplace=True)]
        layers += [nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), nn.BatchNorm2d(mid),
                   nn.ReLU6(inplace=True), nn.Conv2d(mid, o, 1, bias=False), nn.BatchNorm2d(o)]
        self.conv = nn.Sequential(*layers)
        self.skip = stride == 1 and i == o

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.skip else self.conv(x)


def mobilenet_v2(stages: list[tuple[int, int, int, int]] = V2_STAGES) -> nn.Sequential:
    """MobileNetV2 (width 1.0) in plain PyTorch, BatchNorm statistics randomized."""
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32),
                               nn.ReLU6(inplace=True)]
    channels = 32
    for t, c, n, s in stages:
        for k in range(n):
            layers.append(InvertedResidual(channels, c, s if k == 0 else 1, t))
            channels = c
    layers += [nn.Conv2d(channels, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6(inplace=True),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 1000)]
    model = nn.Sequential(*layers)
    randomize_bn(model)
    return model


def v2_case(batch: int, size: int, threads: int, rounds: int, quick: bool) -> dict[str, Any]:
    """accelerate(MobileNetV2) vs the original in NCHW and channels_last, eval, inference_mode."""
    torch.set_num_threads(threads)
    plain = mobilenet_v2(V2_STAGES[:3] if quick else V2_STAGES).eval()
    fast, _ = snn.accelerate(plain)
    plain_cl = copy.deepcopy(plain).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, size, size)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        errors = {"accelerate(twin)": _relative(fast(x), plain(x))}
        peers = {"twin NCHW": lambda: plain(x), "twin channels_last": lambda: plain_cl(x_cl),
                 "onnxruntime": _ort_session(plain, x, threads)}
        result = interleaved(lambda: fast(x), peers, rounds=rounds, warmup=2)
    return _summary("eval MobileNetV2: accelerate", batch, size, threads, result, errors)


# the conversion study's timing batch (256 digits, 8×8) and a batch of 8 larger images
CONVERT_SHAPES = [(256, 1, 8, 8), (8, 1, 128, 128)]
CONVERSIONS: dict[str, dict[str, Any]] = {
    "depth_multiplier=2": {"depth_multiplier": 2},
    "budget=0.5, cost='time'": {"budget": 0.5, "cost": "time"},
    "depth_multiplier=2, speed_guard=False": {"depth_multiplier": 2, "speed_guard": False},
}


def convert_case(shape: tuple[int, int, int, int], threads: int, rounds: int) -> dict[str, Any]:
    """The experiments' CNN (``small_cnn('normal', 32, 10)``) converted by ``convert_model`` on
    the input shape it is timed on (speed guard on, except in the last conversion, which shows
    what the guard prevents), each against the original, eval, inference_mode."""
    from sepconv.experiments.models import small_cnn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    original = small_cnn("normal", 32, 10).eval()
    randomize_bn(original)
    x = torch.randn(*shape)
    converted: dict[str, nn.Module] = {}
    kept: dict[str, str] = {}
    for name, options in CONVERSIONS.items():
        model, report = snn.convert_model(original, input_shape=shape, **options)
        converted[name] = model.eval()
        kept[name] = f"{sum(r.kept_dense is None for r in report.layers)}/{len(report.layers)}"
    with torch.inference_mode():
        result = interleaved(lambda: original(x), {n: (lambda m=m: m(x)) for n, m in
                                                   converted.items()}, rounds=rounds, warmup=2)
    return {"mode": "convert_model", "shape": list(shape), "threads": threads, "rounds": rounds,
            "median_ms": {k: v * 1e3 for k, v in result["median_s"].items()},
            # "ours" is the original here: the ratio is original time ÷ converted time, the
            # median over rounds (above 1: the converted model is faster)
            "speedup": dict(result["ratio"]),
            "layers_converted": kept}


def _convert_row(case: dict[str, Any]) -> str:
    n, c, h, w = case["shape"]
    cells = [f"{case['speedup'][name]:.2f}× ({case['layers_converted'][name]})"
             for name in CONVERSIONS]
    return (f"| {n}×{c}×{h}×{w} | {case['threads']} | {case['median_ms']['ours']:.2f} | "
            + " | ".join(cells) + " |")


def randomize_bn(model: nn.Module, seed: int = 0) -> None:
    """BatchNorm statistics and affine parameters away from the identity (folding must matter)."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.1)


def twins(blocks: list[tuple[int, int, int]] = BLOCKS) -> tuple[nn.Sequential, nn.Sequential]:
    """The sepconv network and its plain twin with the same weights and BatchNorm statistics."""
    torch.manual_seed(0)
    plain = mobilenet_v1(False, blocks)
    randomize_bn(plain)
    ours = mobilenet_v1(True, blocks)
    ours.load_state_dict(_renamed(plain.state_dict(), len(blocks)))
    return ours, plain


def _renamed(state: dict[str, torch.Tensor], count: int) -> dict[str, torch.Tensor]:
    """The twin's state under the sepconv network's names (same tensors)."""
    names = {"0": "0.depthwise", "1": "0.between.0", "3": "0.pointwise", "4": "1"}
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if 3 <= int(parts[0]) < 3 + count and parts[1] in names:
            key = ".".join([parts[0], names[parts[1]], *parts[2:]])
        out[key] = value
    return out


def macs(blocks: list[tuple[int, int, int]] = BLOCKS, size: int = 224) -> dict[str, float]:
    """Multiply-adds of the blocks: depthwise + pointwise, and a dense 3×3 conv in their place."""
    h, sep, dense = size // 2, 0.0, 0.0
    for i, o, s in blocks:
        h = (h + s - 1) // s
        sep += h * h * (9 * i + i * o)
        dense += h * h * 9 * i * o
    return {"separable": sep, "dense": dense, "dense_over_separable": dense / sep}


def _ort_session(model: nn.Module, x: torch.Tensor, threads: int) -> Callable[[], Any]:
    import onnxruntime as ort

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buffer, dynamo=False, input_names=["x"])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # ONNX Runtime's workers spin after each run by default and would slow whoever runs next
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy()}
    return lambda: session.run(None, feed)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def eval_case(batch: int, size: int, threads: int, rounds: int, peers_extra: bool,
              blocks: list[tuple[int, int, int]]) -> dict[str, Any]:
    """Eval forward under inference_mode: sepconv network vs its twin's contenders."""
    torch.set_num_threads(threads)
    ours, plain = (m.eval() for m in twins(blocks))
    x = torch.randn(batch, 3, size, size)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    plain_cl = copy.deepcopy(plain).to(memory_format=torch.channels_last)
    fast, _ = snn.accelerate(plain)
    fast_ours, _ = snn.accelerate(ours)
    with torch.inference_mode():
        reference = plain(x)
        errors = {"sepconv": _relative(ours(x), reference)}
        peers: dict[str, Callable[[], Any]] = {
            "twin NCHW": lambda: plain(x), "twin channels_last": lambda: plain_cl(x_cl)}
        if fast is not None:
            errors["accelerate(twin)"] = _relative(fast(x), reference)
            peers["accelerate(twin)"] = lambda: fast(x)
            errors["accelerate(sepconv)"] = _relative(fast_ours(x), reference)
            peers["accelerate(sepconv)"] = lambda: fast_ours(x)
        if peers_extra:
            peers["onnxruntime"] = _ort_session(plain, x, threads)
            if peers_extra == "compile":
                compiled = _compiled(plain, x)
                peers["torch.compile"] = lambda: compiled(x)
        result = interleaved(lambda: ours(x), peers, rounds=rounds, warmup=2)
    return _summary("eval", batch, size, threads, result, errors)


def _compiled(model: nn.Module, x: torch.Tensor) -> Callable[[torch.Tensor], Any]:
    import torch._inductor.config as inductor

    inductor.freezing = True
    compiled = torch.compile(model)
    compiled(x)
    return compiled


def train_case(batch: int, size: int, threads: int, rounds: int,
               blocks: list[tuple[int, int, int]]) -> dict[str, Any]:
    """One SGD step in train mode (forward, cross-entropy, backward, update)."""
    torch.set_num_threads(threads)
    ours, plain = (m.train() for m in twins(blocks))
    plain_cl = copy.deepcopy(plain).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, size, size)
    target = torch.randint(0, 1000, (batch,))

    def step(model: nn.Module, inp: torch.Tensor) -> Callable[[], Any]:
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)

        def run() -> None:
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(inp), target).backward()
            optimizer.step()
        return run

    peers = {"twin NCHW": step(plain, x),
             "twin channels_last": step(plain_cl, x.contiguous(memory_format=torch.channels_last))}
    result = interleaved(step(ours, x), peers, rounds=rounds, warmup=1)
    return _summary("train step", batch, size, threads, result, {})


def _summary(mode: str, batch: int, size: int, threads: int, result: dict[str, Any],
             errors: dict[str, float]) -> dict[str, Any]:
    times = result["times_s"]
    best = [min(a, b) for a, b in zip(times["twin NCHW"], times["twin channels_last"])]
    vs_best = statistics.median(b / o for b, o in zip(best, times["ours"], strict=True))
    speedup = {name: 1 / r for name, r in result["ratio"].items()}
    if "accelerate(twin)" in times:
        speedup["accelerate(twin) vs faster twin"] = statistics.median(
            b / a for b, a in zip(best, times["accelerate(twin)"]))
    return {"mode": mode, "batch": batch, "size": size, "threads": threads,
            "rounds": result["rounds"], "median_ms": {k: v * 1e3 for k, v in
                                                      result["median_s"].items()},
            "speedup": speedup, "speedup_vs_faster_twin": vs_best, "relative_error": errors}


def run(quick: bool, rounds: int, compile_peer: bool) -> dict[str, Any]:
    blocks = BLOCKS[:4] if quick else BLOCKS
    size, train_size = (64, 64) if quick else (224, 160)
    cases = []
    extra: str | bool = "compile" if compile_peer and not quick else True
    for threads in (1, 2):
        for batch in (1, 8):
            cases.append(eval_case(batch, size, threads, rounds, extra, blocks))
            print(_row(cases[-1]), flush=True)
        cases.append(train_case(8, train_size, threads, max(3, rounds // 2), blocks))
        print(_row(cases[-1]), flush=True)
        for batch in (1, 8):
            cases.append(v2_case(batch, size, threads, rounds, quick))
            print(_row(cases[-1]), flush=True)
    converts = [convert_case(shape, threads, rounds) for threads in (1, 2)
                for shape in ([(8, 1, 32, 32)] if quick else CONVERT_SHAPES)]
    for case in converts:
        print(_convert_row(case), flush=True)
    return {"environment": environment(), "quick": quick, "macs": macs(blocks, size),
            "cases": cases, "convert_model": converts}


def _row(case: dict[str, Any]) -> str:
    peers = ["twin NCHW", "twin channels_last", "accelerate(twin)", "accelerate(sepconv)",
             "onnxruntime", "torch.compile"]
    ms = case["median_ms"]
    cells = [f"{ms[p]:.1f}" if p in ms else "—" for p in ["ours", *peers]]
    errors = ", ".join(f"{k} {v:.1e}" for k, v in case["relative_error"].items()) or "—"
    faster = case["speedup"].get("accelerate(twin) vs faster twin")
    return (f"| {case['mode']} | {case['batch']}×{case['size']}² | {case['threads']} | "
            + " | ".join(cells) + f" | {case['speedup_vs_faster_twin']:.2f}× | "
            + (f"{faster:.2f}×" if faster else "—") + f" | {errors} |")


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    return "\n".join([
        "# Whole networks: MobileNetV1 (benchmarks/networks.py)", "",
        f"Measured {env['date']} on {env['cpu']} ({env['cpus_available']} CPUs, shared with other "
        f"jobs; load average at start {env['load_average'][0]:.1f}); torch {env['torch']}.", "",
        "Median milliseconds over interleaved rounds; *vs faster twin*: the median over rounds of "
        "(faster of the twin in NCHW and channels_last) ÷ sepconv network (above 1: sepconv is "
        "faster); *accelerate vs twin*: the same for `sepconv.nn.accelerate(twin)`; "
        "*accelerate(sepconv)*: the sepconv network through `accelerate` (the BatchNorm + ReLU "
        "after each layer moved into its `after=`). Relative "
        "error: max |out − twin| ÷ max |twin|. Dense 3×3 ÷ separable multiply-adds of the blocks: "
        f"{result['macs']['dense_over_separable']:.1f}×.", "",
        "| mode | input | threads | sepconv | twin NCHW | twin channels_last | accelerate(twin) "
        "| accelerate(sepconv) | ONNX Runtime | torch.compile | sepconv vs faster twin | "
        "accelerate vs twin | relative error |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(_row(c) for c in result["cases"]), "",
        "MobileNetV2 rows: the *sepconv* column is `accelerate(MobileNetV2)`.", "",
        "## The experiments' CNN converted by `convert_model`", "",
        "`small_cnn('normal', 32, 10)` of `sepconv.experiments` (random weights: speed does not "
        "depend on training), converted whole by `convert_model(model, input_shape=shape, ...)` "
        "on the shape it is then timed on; eval, `torch.inference_mode()`. Each cell: the median "
        "over interleaved rounds of original time ÷ converted time (above 1: the converted "
        "model is faster), and how many of its 4 convolutions stayed separable (the speed "
        "guard keeps the dense convolution where the separable one measured slower).", "",
        "| input | threads | original ms | " + " | ".join(f"`{n}`" for n in CONVERSIONS) + " |",
        "|---|---|---|" + "---|" * len(CONVERSIONS),
        *(_convert_row(c) for c in result.get("convert_model", [])), "",
        "## Acceptance (issue 14; 2 threads)", "", *_acceptance(result["cases"]),
        *_convert_acceptance(result.get("convert_model", [])), ""])


def _convert_acceptance(cases: list[dict[str, Any]]) -> list[str]:
    lines = []
    for case in cases:
        for name in CONVERSIONS:
            if case["threads"] == 2 and "speed_guard=False" not in name:
                got = case["speedup"][name]
                lines.append(f"- [{'x' if got >= 0.95 else ' '}] convert_model `{name}`, "
                             f"{'×'.join(map(str, case['shape']))}: {got:.2f}× the original's "
                             "speed (goal ≥ 0.95×, at most 5% slower)")
    return lines


def _acceptance(cases: list[dict[str, Any]]) -> list[str]:
    lines = []
    goals = {"eval": 1.3, "train step": 0.95, "eval MobileNetV2: accelerate": 1.2}
    for case in cases:
        if case["threads"] != 2:
            continue
        goal, got = goals[case["mode"]], case["speedup_vs_faster_twin"]
        lines.append(f"- [{'x' if got >= goal else ' '}] {case['mode']}, batch {case['batch']}, "
                     f"{case['size']}²: {got:.2f}× the faster twin (goal ≥ {goal:.2f}×)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 blocks at 64² (smoke test)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (>= 3)")
    parser.add_argument("--compile", action="store_true", help="add torch.compile (slow to build)")
    parser.add_argument("--json", type=Path, default=ROOT / "docs/benchmarks/networks.json")
    args = parser.parse_args(argv)
    result = run(args.quick, max(3, args.rounds), args.compile)
    text = markdown(result)
    print(text)
    if not args.quick:
        write_outputs(args.json, result, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
