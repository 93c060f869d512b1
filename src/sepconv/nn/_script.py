"""What ``torch.jit.script`` compiles in place of a sepconv layer (issue 12).

The layers' Python ``forward`` (argument checks with readable errors, the fused-path decision)
is not TorchScript. Each layer's ``__prepare_scriptable__``, the hook ``torch.jit.script`` calls
first, returns the same computation on PyTorch's path instead: ``F.pad`` + ``F.conv{1,2,3}d``
steps that share the layer's parameters (a trained scripted copy stays the layer's). TensorFlow's
``'same'`` rule is computed in TorchScript from the input's size, so a scripted layer takes any
input size, as ``nn.Conv2d`` does.

>>> import warnings
>>> import torch
>>> from sepconv.nn import SeparableConv2d
>>> layer = SeparableConv2d(4, 8, 3, stride=2, padding="same")
>>> with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript, still supports it
...     warnings.simplefilter("ignore", DeprecationWarning)
...     scripted = torch.jit.script(layer)
>>> x = torch.randn(2, 4, 9, 9)
>>> torch.allclose(scripted(x), layer(x), atol=1e-6)
True
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from sepconv.nn._args import PADDING_MODES


class ScriptedConv(nn.Module):
    """One convolution step: pad (``'same'`` or explicit per-axis pads), then ``F.convNd``.

    ``pads`` lists ``(before, after)`` per spatial axis, ignored when ``same``; ``weight`` and
    ``bias`` are the layer's own parameters.
    """

    def __init__(self, weight: nn.Parameter, bias: nn.Parameter | None, stride: tuple[int, ...],
                 same: bool, pads: list[tuple[int, int]], dilation: tuple[int, ...],
                 padding_mode: str, groups: int) -> None:
        super().__init__()
        self.weight = weight
        self.bias = bias
        self.ndim = weight.dim() - 2
        self.kernel = [int(k) for k in weight.shape[2:]]
        self.stride = list(stride)
        self.dilation = list(dilation)
        self.same = same
        self.pads = [amount for pad in pads for amount in pad]
        self.mode = PADDING_MODES[padding_mode]
        self.groups = groups

    def _amounts(self, x: Tensor) -> list[int]:
        """F.pad's list (last axis first) for this input."""
        amounts: list[int] = []
        for i in range(self.ndim):
            axis = self.ndim - 1 - i
            before, after = self.pads[2 * axis], self.pads[2 * axis + 1]
            if self.same:  # TensorFlow's rule, as sepconv.nn._args.same_pads
                length, s = x.shape[2 + axis], self.stride[axis]
                out = (length + s - 1) // s
                span = (self.kernel[axis] - 1) * self.dilation[axis] + 1
                total = max((out - 1) * s + span - length, 0)
                before, after = total // 2, total - total // 2
            amounts += [before, after]
        return amounts

    def forward(self, x: Tensor) -> Tensor:
        unbatched = x.dim() == self.ndim + 1
        if unbatched:
            x = x.unsqueeze(0)
        amounts = self._amounts(x)
        if max(amounts) > 0:
            x = F.pad(x, amounts, mode=self.mode)
        if self.ndim == 1:
            y = F.conv1d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        elif self.ndim == 2:
            y = F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        else:
            y = F.conv3d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return y.squeeze(0) if unbatched else y


def step(weight: nn.Parameter, bias: nn.Parameter | None, stride: tuple[int, ...],
         padding: str | tuple[int, ...], dilation: tuple[int, ...], padding_mode: str,
         groups: int) -> ScriptedConv:
    """A :class:`ScriptedConv` from a layer's options (``padding`` as the layers store it)."""
    ndim = weight.dim() - 2
    pads = [(0, 0)] * ndim if isinstance(padding, str) else [(p, p) for p in padding]
    return ScriptedConv(weight, bias, stride, padding == "same", pads, dilation, padding_mode,
                        groups)


def chain(*steps: nn.Module | None) -> nn.Module:
    """The steps that are present, in order."""
    return nn.Sequential(*(s for s in steps if s is not None))


__all__ = ["ScriptedConv", "chain", "step"]
