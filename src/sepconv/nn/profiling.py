"""``profile(model, input_shape)``: forward MACs and parameters per layer, and measured time.

MACs (multiply-accumulates) are counted for one forward pass of ``input_shape`` (PyTorch's
layout, batch included, e.g. ``(1, 3, 224, 224)``):

- ``nn.Conv{1,2,3}d``: outputs · (C / groups) · Π k (grouped and depthwise convs counted right)
- ``nn.Linear``: outputs · in_features
- sepconv's ``DepthwiseConv``: outputs · Π k; ``PointwiseConv``: outputs · C
- ``SeparableConv``: its depthwise part plus its pointwise part
- ``SpatialSeparableConv2d``: the kh×1 step (C → mid) plus the 1×kw step (mid → N)

Parameters are weights only unless ``bias=True`` (DESIGN.md). Other layers (activations, norms,
pooling) are listed with 0 MACs. With ``measure=True`` each layer is timed (median of
``repeats`` forward passes after a warm-up), so predicted and realized speedups can be put side by
side: ``profile(converted).compare(profile(original))``. The times are those of what the layers
run: on CPU, 2-D depthwise and separable layers take the fused path of :mod:`sepconv.nn.fast`
(the warm-up pass also loads its compiled kernels). ``GMAC/s`` (MACs per second) shows how close
each layer comes to the speed its multiplication count promises; timings on a shared machine
drift, so compare profiles measured close together (benchmarks/layers.py interleaves them).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from sepconv.nn import layers
from sepconv.nn._fold import FusedConv2d, FusedSeparable2d
from sepconv.nn.spatial import SpatialSeparableConv2d

#: layers counted as one unit (sepconv's composites run their steps in one function, and so do
#: accelerate's fused modules in eval mode)
UNITS = (nn.modules.conv._ConvNd, nn.Linear, layers._DepthwiseConvNd, layers._PointwiseConvNd,
         layers._SeparableConvNd, SpatialSeparableConv2d, FusedSeparable2d, FusedConv2d)


@dataclass(frozen=True)
class LayerProfile:
    """One layer: ``macs`` and ``params`` are exact integers; ``ms`` is measured (or None)."""

    name: str
    kind: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    macs: int
    params: int
    ms: float | None = None

    @property
    def gmacs(self) -> float | None:
        """Realized speed in GMAC/s (10⁹ multiply-accumulates per second), when measured."""
        return self.macs / (self.ms * 1e6) if self.ms else None


@dataclass(frozen=True)
class Profile:
    """Per-layer and total forward MACs and parameters of a model for one input shape."""

    input_shape: tuple[int, ...]
    layers: tuple[LayerProfile, ...] = field(default_factory=tuple)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def ms(self) -> float | None:
        times = [layer.ms for layer in self.layers if layer.ms is not None]
        return sum(times) if times else None

    def to_dict(self) -> dict[str, object]:
        return {"input_shape": list(self.input_shape), "macs": self.macs, "params": self.params,
                "ms": self.ms, "layers": [vars(layer) | {"input_shape": list(layer.input_shape),
                                                         "output_shape": list(layer.output_shape)}
                                          for layer in self.layers]}

    def compare(self, baseline: Profile) -> str:
        """Predicted (MACs) vs measured (time) speedup of this profile over ``baseline``."""
        predicted = baseline.macs / max(self.macs, 1)
        lines = [f"MACs {baseline.macs:,} → {self.macs:,}: predicted {predicted:.2f}×"]
        if self.ms is not None and baseline.ms is not None:
            lines.append(f"time {baseline.ms:.3f} ms → {self.ms:.3f} ms: measured "
                         f"{baseline.ms / self.ms:.2f}×")
        return "\n".join(lines)

    def __str__(self) -> str:
        head = (f"{'layer':<24} {'kind':<22} {'output':<18} {'MACs':>14} {'params':>10} {'ms':>8} "
                f"{'GMAC/s':>7}")
        rows = [head, "-" * len(head)]
        for layer in self.layers:
            ms = f"{layer.ms:.3f}" if layer.ms is not None else "-"
            speed = f"{layer.gmacs:.1f}" if layer.gmacs and layer.macs else "-"
            rows.append(f"{layer.name:<24} {layer.kind:<22} {layer.output_shape!s:<18} "
                        f"{layer.macs:>14,} {layer.params:>10,} {ms:>8} {speed:>7}")
        total = f"{self.ms:.3f}" if self.ms is not None else "-"
        speed = f"{self.macs / (self.ms * 1e6):.1f}" if self.ms else "-"
        rows.append(f"{'total':<24} {'':<22} {'':<18} {self.macs:>14,} {self.params:>10,} {total:>8} "
                    f"{speed:>7}")
        return "\n".join(rows)


def module_macs(module: nn.Module, input_shape: Sequence[int], output_shape: Sequence[int]) -> int:
    """Forward MACs of one unit for the given input and output shapes (batch included)."""
    outputs = math.prod(output_shape)
    if isinstance(module, nn.modules.conv._ConvNd):
        return outputs * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return outputs * module.in_features
    if isinstance(module, layers._DepthwiseConvNd):
        return outputs * math.prod(module.kernel_size)
    if isinstance(module, layers._PointwiseConvNd):
        return outputs * module.in_channels
    if isinstance(module, layers._SeparableConvNd):
        mid = module.depthwise.out_channels
        positions = math.prod(output_shape[2:]) * output_shape[0]
        return positions * mid * (math.prod(module.kernel_size) + module.out_channels)
    if isinstance(module, SpatialSeparableConv2d):
        return spatial_macs(module, input_shape, output_shape)
    if isinstance(module, FusedConv2d):
        return module_macs(module.conv, input_shape, output_shape)
    if isinstance(module, FusedSeparable2d):  # the 1×1 step keeps the depthwise output's size
        between = (output_shape[0], module.depthwise.out_channels, *output_shape[2:])
        return (module_macs(module.depthwise, input_shape, between)
                + module_macs(module.pointwise, between, output_shape))
    return 0


def spatial_macs(module: SpatialSeparableConv2d, input_shape: Sequence[int],
                 output_shape: Sequence[int]) -> int:
    """kh×1 step on (Ho, W) positions (it pads H only), then 1×kw step on (Ho, Wo) positions."""
    n, _, _, width = input_shape
    ho, wo = output_shape[2:]
    kh, kw = module.kernel_size
    vertical = n * ho * width * module.mid_channels * module.in_channels * kh
    return vertical + n * ho * wo * module.out_channels * module.mid_channels * kw


def module_params(module: nn.Module, bias: bool) -> int:
    return sum(p.numel() for name, p in module.named_parameters()
               if bias or not name.split(".")[-1].startswith("bias"))


def _units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Counted layers and leaf layers, not descending into counted layers."""
    found: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, module: nn.Module) -> None:
        children = list(module.named_children())
        if isinstance(module, UNITS) or not children:
            found.append((prefix or type(module).__name__, module))
            return
        for name, child in children:
            walk(f"{prefix}.{name}" if prefix else name, child)

    walk("", model)
    return found


def layer_shapes(model: nn.Module, example: torch.Tensor, modules: Sequence[nn.Module]
                 ) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Input and output shapes of ``modules`` in one forward pass (keyed by ``id(module)``)."""
    shapes: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def hook(module: nn.Module, args: tuple, output: object) -> None:
        if args and isinstance(args[0], torch.Tensor) and isinstance(output, torch.Tensor):
            shapes[id(module)] = (tuple(args[0].shape), tuple(output.shape))

    run_hooked(model, example, [m.register_forward_hook(hook) for m in modules])
    return shapes


def run_hooked(model: nn.Module, example: torch.Tensor, handles: Sequence[Any]) -> None:
    """One forward pass without gradients, then remove the hooks ``handles``."""
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()


def _times(model: nn.Module, example: torch.Tensor, modules: Sequence[nn.Module],
           repeats: int) -> dict[int, float]:
    starts: dict[int, float] = {}
    samples: dict[int, list[float]] = {id(m): [] for m in modules}

    def before(module: nn.Module, args: tuple) -> None:
        starts[id(module)] = time.perf_counter()

    def after(module: nn.Module, args: tuple, output: object) -> None:
        samples[id(module)].append(1e3 * (time.perf_counter() - starts[id(module)]))

    handles = [h for m in modules for h in (m.register_forward_pre_hook(before),
                                             m.register_forward_hook(after))]
    try:
        with torch.no_grad():
            model(example)  # warm-up
            for v in samples.values():
                v.clear()
            for _ in range(repeats):
                model(example)
    finally:
        for h in handles:
            h.remove()
    return {k: sorted(v)[len(v) // 2] for k, v in samples.items() if v}


def profile(model: nn.Module, input_shape: Sequence[int], *, measure: bool = False,
            repeats: int = 5, bias: bool = False) -> Profile:
    """Per-layer forward MACs and parameters of ``model`` for ``input_shape`` (batch included).

    The seeds' example, 12×12×3 with 5×5 kernels and 256 filters:

    >>> from sepconv.nn import SeparableConv2d
    >>> profile(nn.Conv2d(3, 256, 5), (1, 3, 12, 12)).macs
    1228800
    >>> p = profile(SeparableConv2d(3, 256, 5, bias=False), (1, 3, 12, 12))
    >>> p.macs, p.params
    (53952, 843)
    """
    shape = tuple(int(s) for s in input_shape)
    param = next(model.parameters(), None)
    example = torch.zeros(shape, dtype=param.dtype if param is not None else torch.float32,
                          device=param.device if param is not None else None)
    units = _units(model)
    modules = [m for _, m in units]
    was_training = model.training
    model.eval()
    try:
        shapes = layer_shapes(model, example, modules)
        times = _times(model, example, modules, repeats) if measure else {}
    finally:
        model.train(was_training)
    result = []
    for name, module in units:
        if id(module) not in shapes:
            continue
        ins, outs = shapes[id(module)]
        result.append(LayerProfile(name, type(module).__name__, ins, outs,
                                   module_macs(module, ins, outs), module_params(module, bias),
                                   times.get(id(module))))
    return Profile(shape, tuple(result))


def time_pair(old: nn.Module, new: nn.Module, input_shape: Sequence[int], rounds: int = 5
              ) -> tuple[float, float]:
    """Median seconds of ``old`` and ``new`` on a random input of ``input_shape`` (no grad).

    The two run alternately, ``rounds`` times each after one untimed call, so that a slow
    minute of a shared machine weighs on both (convert_model's speed guard).
    """
    weight = next(old.parameters())
    x = torch.randn(tuple(input_shape), dtype=weight.dtype, device=weight.device)
    times: tuple[list[float], list[float]] = ([], [])
    with torch.no_grad():
        old(x), new(x)
        for _ in range(rounds):
            for module, spent in zip((old, new), times):
                start = time.perf_counter()
                module(x)
                spent.append(time.perf_counter() - start)
    return sorted(times[0])[rounds // 2], sorted(times[1])[rounds // 2]
