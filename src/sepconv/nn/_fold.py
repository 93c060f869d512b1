"""One module for a depthwise → [BN] → [act] → pointwise → [BN] → [act] chain (issue 14).

In eval mode the BatchNorms are folded into the convolutions' weights and biases (refolded when a
parameter or statistic changes), so the chain runs as two convolutions and two activations; in
training mode the original modules run in order, exactly as before (their statistics update).
When nothing sits between the steps, the eval path calls :func:`sepconv.nn.functional.separable_conv2d`
(the fused CPU operator where :func:`sepconv.nn.fast.usable` accepts the call).
"""

from __future__ import annotations

from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor, nn

from sepconv.nn import _onednn, fast
from sepconv.nn import functional as SF
from sepconv.nn._folding import bn_activation, cached, fold, hooked


class Folded(NamedTuple):
    """The chain's convolutions with their BatchNorms folded in."""

    w1: Tensor
    b1: Tensor | None
    w2: Tensor
    b2: Tensor | None


def fold_chain(chain: FusedSeparable2d) -> tuple[Folded, _onednn.Plan | None]:
    """The folded weights, and the oneDNN path's plan where that path applies."""
    folded = Folded(*fold(chain.depthwise, chain.bn1), *fold(chain.pointwise, chain.bn2))
    return folded, _onednn.chain_plan(chain, *folded)


class FusedSeparable2d(nn.Module):
    """``act2(bn2(pointwise(act1(bn1(depthwise(x))))))`` with the BatchNorms folded in eval mode.

    Built by :func:`sepconv.nn.accelerate`; each of ``bn1``, ``act1``, ``bn2``, ``act2`` may be
    None. A BatchNorm holding an ``.act`` (timm's ``BatchNormAct2d``) keeps it: it is applied
    after the folded convolution, before the separate activation if there is one.
    """

    def __init__(self, depthwise: nn.Conv2d, bn1: nn.Module | None, act1: nn.Module | None,
                 pointwise: nn.Conv2d, bn2: nn.Module | None, act2: nn.Module | None) -> None:
        super().__init__()  # registered in chain order; parts() lists those present
        self.depthwise, self.bn1, self.act1 = depthwise, bn1, act1
        self.pointwise, self.bn2, self.act2 = pointwise, bn2, act2

    def parts(self) -> list[nn.Module]:
        """The chain's modules in order. Read from ``_modules``: ``self.depthwise`` goes through
        ``nn.Module.__getattr__`` at ~0.8 µs an attribute."""
        return _present(self._modules, ("depthwise", "bn1", "act1", "pointwise", "bn2", "act2"))

    def forward(self, x: Tensor) -> Tensor:
        parts = self.parts()
        if self.training or hooked(parts):  # a part's hooks run only when it is called
            for step in parts:
                x = step(x)
            return x
        dw = self.depthwise
        onednn = _onednn.fits(x, dw)
        (w1, b1, w2, b2), plan = self._folded(plain=onednn)
        if self._nothing_between() and fast.usable(x, dw.stride, [w1, w2], b2):
            bias = b2 if b1 is None else F.conv2d(b1.reshape(1, -1, 1, 1), w2, b2).flatten()
            x = SF.separable_conv2d(x, w1, w2, bias, dw.stride, dw.padding, dw.dilation,
                                    dw.padding_mode)
        elif onednn and plan is not None:
            return _onednn.run(x, *plan)
        else:
            x = dw._conv_forward(x, w1, b1)
            x = self._activate(self.bn1, self.act1, x)
            x = F.conv2d(x, w2, b2)
        return self._activate(self.bn2, self.act2, x)

    def _nothing_between(self) -> bool:
        return (self.act1 is None and (self.bn1 is None or bn_activation(self.bn1) is None)
                and self.depthwise.groups == self.depthwise.in_channels)

    @staticmethod
    def _activate(bn: nn.Module | None, act: nn.Module | None, x: Tensor) -> Tensor:
        for module in (bn_activation(bn) if bn is not None else None, act):
            if module is not None:
                x = module(x)
        return x

    def _folded(self, plain: bool = False) -> tuple[Folded, _onednn.Plan | None]:
        """:func:`fold_chain`, cached while no parameter, statistic, submodule, mode or geometry
        changes (calls without grad; ``plain``: the caller checked that)."""
        dw = self.depthwise
        return cached(self, lambda: fold_chain(self), plain=plain,
                      extra=(dw.padding, dw.stride, dw.dilation, dw.padding_mode,
                             *_approximations(self.parts())))


class FusedConv2d(nn.Module):
    """``act(bn(conv(x)))`` with the BatchNorm folded in eval mode (a stem or an expansion conv).

    Built by :func:`sepconv.nn.accelerate` for an ``nn.Conv2d`` followed by a BatchNorm2d (and an
    activation) that is not part of a separable chain. Training mode runs the original modules.
    """

    def __init__(self, conv: nn.Conv2d, bn: nn.Module, act: nn.Module | None) -> None:
        super().__init__()
        self.conv, self.bn, self.act = conv, bn, act

    def parts(self) -> list[nn.Module]:
        """The conv, BatchNorm and activation in order."""
        return _present(self._modules, ("conv", "bn", "act"))

    def forward(self, x: Tensor) -> Tensor:
        parts = self.parts()
        if self.training or hooked(parts):  # a part's hooks run only when it is called
            for step in parts:
                x = step(x)
            return x
        c = self.conv
        onednn = _onednn.fits(x, c)
        weight, bias, act = cached(self, self._plan, plain=onednn,
                                   extra=(c.padding, c.padding_mode, *_approximations(parts)))
        if onednn and act is not None:
            return _onednn.conv(c, x, weight, bias, act)
        return FusedSeparable2d._activate(self.bn, self.act, c._conv_forward(x, weight, bias))

    def _plan(self) -> tuple[Tensor, Tensor | None, _onednn.Activation | None]:
        """Folded weight and bias, and the activation as oneDNN names it (None: not that path)."""
        return (*fold(self.conv, self.bn), _onednn.conv_activation(self))


def _present(modules: dict[str, nn.Module | None], names: tuple[str, ...]) -> list[nn.Module]:
    """The registered submodules of these names, in this order (absent or None ones skipped)."""
    found = (modules.get(name) for name in names)
    return [m for m in found if m is not None]


def _approximations(parts: list[nn.Module]) -> tuple[str | None, ...]:
    """GELU's ``approximate`` of each part and of a BatchNorm part's own ``.act``: read by the
    cached plans and changeable in place, so part of their key."""
    return tuple(getattr(m, "approximate", None) for part in parts
                 for m in (part, bn_activation(part)))
