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
hooks on ``example_input`` (or a made-up image batch): the chain must be called in order, each
step fed exactly the previous step's output; the replaced block must then reproduce the original
block's output on that input (this catches a residual or any other use of an intermediate).
Sequential subclasses that keep ``nn.Sequential.forward`` count as Sequentials (a chain never
crosses from one container into another), and ``nn.Identity`` modules between the steps join
the chain. Everything else is left as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from sepconv.nn._fold import FusedConv2d, FusedSeparable2d
from sepconv.nn._match import (
    FusionReport,
    absorb_after,
    build,
    is_depthwise,
    match_any,
    sequential_like,
)
from sepconv.nn._trace import fuse_traced

__all__ = ["AccelerationReport", "FusionReport", "accelerate"]


@dataclass(frozen=True)
class AccelerationReport:
    replaced: tuple[FusionReport, ...]
    left: tuple[FusionReport, ...]

    def __str__(self) -> str:
        lines = [f"accelerate: {len(self.replaced)} chain(s) fused, {len(self.left)} left"]
        lines += [f"  fused {r.name}: {' -> '.join(r.modules)}" for r in self.replaced]
        lines += [f"  left  {r.name}: {r.reason}" for r in self.left]
        return "\n".join(lines)


def _fuse_sequential(seq: nn.Sequential, prefix: str, replaced: list[FusionReport],
                     left: list[FusionReport]) -> None:
    """Fuse the chains among ``seq``'s direct children. A chain never crosses into a nested
    container: a parent may iterate the outer one and use each inner one's output."""
    children = [(key, child) for key, child in seq._modules.items() if child is not None]
    keys = [key for key, _ in children]
    mods = [child for _, child in children]
    names = [prefix + key for key in keys]

    def put(k: int, module: nn.Module) -> None:
        seq._modules[keys[k]] = module

    i = 0
    while i < len(mods):
        taken = absorb_after(mods[i:])
        if taken:
            for k in range(i + 1, i + taken + 1):
                put(k, nn.Identity())
            replaced.append(FusionReport(names[i], tuple(names[i:i + taken + 1]),
                                         "BatchNorm/activation moved into SeparableConv2d.after"))
            i += taken + 1
            continue
        length, slots, separable = match_any(mods[i:])
        if isinstance(slots, str):
            if separable:
                left.append(FusionReport(names[i], (), slots))
            i += 1
            continue
        put(i, build(mods[i:i + length], slots, separable))
        for k in range(i + 1, i + length):
            put(k, nn.Identity())
        replaced.append(FusionReport(names[i], tuple(names[i:i + length]),
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
        Chains outside ``nn.Sequential`` containers (model-zoo blocks) are fused from the call
        order traced on it, and each fused block must reproduce its output within ``rtol``.
        Without it, a random batch of one image is made up (a timm model's declared
        ``input_size``, else 224×224 with its convolutions' input channels tried in turn); a
        model that does not run on it has its blocks left alone, and the report says why.
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
        if sequential_like(module):
            _fuse_sequential(module, name + "." if name else "", replaced, left)
    why = ""
    if example_input is None and _unfused(model, left):
        example_input, why = _made_up_input(model)
    if example_input is not None:
        fuse_traced(model, example_input, rtol, replaced, left)
    else:
        for name in _unfused(model, left):
            left.append(FusionReport(name, (), f"outside an nn.Sequential, and {why}: pass "
                                                "example_input to trace its block's call order"))
    return model, AccelerationReport(tuple(replaced), tuple(left))


def _unfused(model: nn.Module, left: list[FusionReport]) -> list[str]:
    """Depthwise convolutions neither fused nor already reported."""
    done = {entry.name for entry in left}
    fused = tuple(name + "." for name, m in model.named_modules()
                  if isinstance(m, (FusedSeparable2d, FusedConv2d)))
    return [name for name, module in model.named_modules()
            if is_depthwise(module) and name not in done and not name.startswith(fused)]


def _made_up_input(model: nn.Module) -> tuple[torch.Tensor | None, str]:
    """A random image batch to trace ``model`` on when the caller gave none, or (None, why not).

    One image of the size a timm model declares (``pretrained_cfg`` / ``default_cfg``
    ``input_size``, channels included), else 224×224 with the input channels of the model's
    convolutions in turn (the first three distinct counts: the first registered convolution is
    not always the first called), in the model's dtype and on its device; it must run through
    the model (eval mode, no gradient).
    """
    param = next(model.parameters(), None)
    if any(isinstance(p, nn.parameter.UninitializedParameter) for p in model.parameters()):
        return None, "it has lazy modules that a made-up input would initialize"
    channels = list(dict.fromkeys(m.in_channels for m in model.modules()
                                  if isinstance(m, nn.Conv2d) and m.in_channels > 0))[:3]
    if not channels or param is None:
        return None, "the model has no nn.Conv2d to size an input from"
    size = (224, 224)
    for attribute in ("pretrained_cfg", "default_cfg"):
        config = getattr(model, attribute, None)
        declared = config.get("input_size") if isinstance(config, dict) else None
        if isinstance(declared, (tuple, list)) and len(declared) == 3:
            channels, size = [int(declared[0])], (int(declared[1]), int(declared[2]))
            break
    failures = []
    modes = {m: m.training for m in model.modules()}
    try:
        for count in channels:
            x = torch.randn(1, count, *size, dtype=param.dtype, device=param.device)
            try:
                with torch.no_grad():
                    model.eval()(x)
                return x, ""
            except Exception as error:  # any model-specific failure: try the next, then say it
                shape = "×".join(str(s) for s in x.shape)
                failures.append(f"{shape} ({type(error).__name__}: {error})")
    finally:
        for m, training in modes.items():
            m.training = training
    return None, "it did not run on a made-up input: " + "; ".join(failures)
