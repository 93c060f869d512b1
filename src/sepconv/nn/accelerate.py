"""``accelerate``: fuse a model's depthwise → [BN] → [act] → pointwise → [BN] → [act] chains.

>>> import torch
>>> from torch import nn
>>> import sepconv.nn
>>> model = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU(),
...                       nn.Conv2d(8, 16, 1), nn.BatchNorm2d(16), nn.ReLU()).eval()
>>> fast, report = sepconv.nn.accelerate(model)
>>> [entry.name for entry in report.replaced]
['0']
>>> x = torch.randn(2, 8, 12, 12)
>>> bool(torch.allclose(fast(x), model(x), atol=1e-5))
True

Chains are found in ``nn.Sequential`` containers from their structure alone, and in any other
module (model-zoo blocks) from the order its forward calls its children, traced with forward
hooks on ``example_input``: the chain must be called in order, each step fed exactly the previous
step's output; the replaced block must then reproduce the original block's output on that input
(this catches a residual or any other use of an intermediate). Everything else is left as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from sepconv.nn._fold import ACTIVATIONS, FusedConv2d, FusedSeparable2d, foldable_bn

__all__ = ["AccelerationReport", "FusionReport", "accelerate"]


@dataclass(frozen=True)
class FusionReport:
    """One depthwise convolution: the modules fused with it, or why it was left alone."""

    name: str
    modules: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class AccelerationReport:
    replaced: tuple[FusionReport, ...]
    left: tuple[FusionReport, ...]

    def __str__(self) -> str:
        lines = [f"accelerate: {len(self.replaced)} chain(s) fused, {len(self.left)} left"]
        lines += [f"  fused {r.name}: {' -> '.join(r.modules)}" for r in self.replaced]
        lines += [f"  left  {r.name}: {r.reason}" for r in self.left]
        return "\n".join(lines)


def _is_depthwise(m: nn.Module) -> bool:
    return (type(m) is nn.Conv2d and m.groups == m.in_channels and m.groups > 1
            and m.out_channels % m.in_channels == 0)


def _is_pointwise(m: nn.Module, channels: int) -> bool:
    return (type(m) is nn.Conv2d and m.kernel_size == (1, 1) and m.stride == (1, 1)
            and m.groups == 1 and m.in_channels == channels
            and m.padding in ((0, 0), "valid", "same"))


def _is_activation(m: nn.Module) -> bool:
    return type(m) in ACTIVATIONS


def match(chain: Sequence[nn.Module]) -> tuple[int, list[int] | str]:
    """Match a chain starting at a depthwise conv: (length, slots) or (0, reason).

    Slots index ``chain`` for (depthwise, bn1, act1, pointwise, bn2, act2), -1 where absent.
    """
    slots, i = [0], 1

    def optional(ok: bool) -> None:
        nonlocal i
        slots.append(i if ok else -1)
        i += ok

    channels = int(chain[0].out_channels)  # type: ignore[arg-type]
    optional(i < len(chain) and foldable_bn(chain[i], channels) is None)
    optional(i < len(chain) and _is_activation(chain[i]))
    if i >= len(chain) or not _is_pointwise(chain[i], channels):
        found = type(chain[i]).__name__ if i < len(chain) else "nothing"
        return 0, f"no 1×1 pointwise convolution after it (found {found})"
    slots.append(i)
    i += 1
    out = int(chain[slots[3]].out_channels)  # type: ignore[arg-type]
    optional(i < len(chain) and foldable_bn(chain[i], out) is None)
    optional(i < len(chain) and _is_activation(chain[i]))
    return i, slots


def _match_conv(chain: Sequence[nn.Module]) -> tuple[int, list[int] | str]:
    """A plain ``nn.Conv2d`` → BatchNorm2d → [activation] chain (a stem or expansion conv)."""
    conv = chain[0]
    if not (type(conv) is nn.Conv2d and conv.padding_mode == "zeros"
            and not isinstance(conv.padding, str)):
        return 0, "not a plain zero-padded nn.Conv2d"
    if len(chain) < 2 or foldable_bn(chain[1], conv.out_channels) is not None:
        return 0, "no BatchNorm2d after it"
    act = len(chain) > 2 and _is_activation(chain[2])
    return 2 + act, [0, 1, 2 if act else -1]


def _absorb_after(chain: Sequence[nn.Module]) -> int:
    """Move a BatchNorm2d/activation following a SeparableConv2d into its ``after``; the count."""
    from sepconv.nn.layers import SeparableConv2d

    layer = chain[0]
    if type(layer) is not SeparableConv2d or layer.after is not None:
        return 0
    channels = layer.out_channels
    taken: list[nn.Module] = []
    if len(chain) > 1 and type(chain[1]) is nn.BatchNorm2d and foldable_bn(chain[1], channels) is None:
        taken.append(chain[1])
    if len(chain) > len(taken) + 1 and _is_activation(chain[len(taken) + 1]):
        taken.append(chain[len(taken) + 1])
    if taken:
        layer.after = nn.Sequential(*taken).train(layer.training)
    return len(taken)


def match_any(chain: Sequence[nn.Module]) -> tuple[int, list[int] | str, bool]:
    """(length, slots or reason, is_separable) of the chain starting at ``chain[0]``."""
    if _is_depthwise(chain[0]):
        length, slots = match(chain)
        if not isinstance(slots, str):
            return length, slots, True
        conv_length, conv_slots = _match_conv(chain)
        if isinstance(conv_slots, str):
            return 0, slots, True
        return conv_length, conv_slots, False
    length, slots = _match_conv(chain)
    return length, slots, False


def _build(chain: Sequence[nn.Module], slots: list[int], separable: bool = True) -> nn.Module:
    parts = [chain[s] if s >= 0 else None for s in slots]
    fused = FusedSeparable2d(*parts) if separable else FusedConv2d(*parts)  # type: ignore[arg-type]
    return fused.train(chain[0].training)


def _fuse_sequential(seq: nn.Sequential, prefix: str, replaced: list[FusionReport],
                     left: list[FusionReport]) -> None:
    names = list(seq._modules)
    mods = [seq._modules[n] for n in names]
    i = 0
    while i < len(mods):
        taken = _absorb_after(mods[i:])
        if taken:
            used = names[i:i + taken + 1]
            for k in range(i + 1, i + taken + 1):
                seq._modules[names[k]] = nn.Identity()
            replaced.append(FusionReport(prefix + names[i], tuple(prefix + n for n in used),
                                         "BatchNorm/activation moved into SeparableConv2d.after"))
            i += taken + 1
            continue
        length, slots, separable = match_any(mods[i:])
        if isinstance(slots, str):
            if separable:
                left.append(FusionReport(prefix + names[i], (), slots))
            i += 1
            continue
        used = [names[i + s] for s in slots if s >= 0]
        seq._modules[names[i]] = _build(mods[i:i + length], slots, separable)
        for k in range(i + 1, i + length):
            seq._modules[names[k]] = nn.Identity()
        replaced.append(FusionReport(prefix + names[i], tuple(prefix + n for n in used),
                                     "fused" if separable else "fused conv + BatchNorm"))
        i += length


def accelerate(model: nn.Module, example_input: torch.Tensor | Sequence[Any] | None = None,
               *, rtol: float = 1e-4) -> tuple[nn.Module, AccelerationReport]:
    """A copy of ``model`` whose depthwise-separable chains run as one fused module each.

    Parameters
    ----------
    model : nn.Module
        Any model; it is not modified (the copy shares nothing with it).
    example_input : Tensor or sequence of positional arguments, optional
        Needed to fuse chains outside ``nn.Sequential`` containers (model-zoo blocks): the call
        order is traced on it, and each fused block must reproduce its output within ``rtol``.
    rtol : float
        Largest relative difference (``max(abs(new - old)) / max(abs(old))``) a fused block may show.

    Returns
    -------
    (nn.Module, AccelerationReport)
        The copy (in the mode ``model`` was in) and what was fused or left, and why. In eval mode
        the BatchNorms are folded into the convolutions; in training mode the fused modules run
        the original steps (their speed is PyTorch's).
    """
    model = copy.deepcopy(model)
    replaced: list[FusionReport] = []
    left: list[FusionReport] = []
    for name, module in list(model.named_modules()):
        if type(module) is nn.Sequential:
            _fuse_sequential(module, name + "." if name else "", replaced, left)
    if example_input is not None:
        from sepconv.nn._trace import fuse_traced

        fuse_traced(model, example_input, rtol, replaced, left)
    else:
        _report_untraced(model, left)
    return model, AccelerationReport(tuple(replaced), tuple(left))


def _report_untraced(model: nn.Module, left: list[FusionReport]) -> None:
    done = {entry.name for entry in left}
    fused = [name + "." for name, m in model.named_modules()
             if isinstance(m, (FusedSeparable2d, FusedConv2d))]
    for name, module in model.named_modules():
        if _is_depthwise(module) and name not in done and not name.startswith(tuple(fused)):
            left.append(FusionReport(name, (), "outside an nn.Sequential: pass example_input "
                                                "to trace its block's call order"))

