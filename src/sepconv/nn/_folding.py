"""BatchNorm folding for the eval paths: a BatchNorm's affine map folded into a convolution's
weight and bias, the activation a BatchNorm subclass holds (timm's ``BatchNormAct2d``), and a cache
of folded weights per module (refolded when a parameter or statistic changes).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import Tensor, nn


def traced() -> bool:
    """Whether the call is being traced, scripted, exported or compiled."""
    return (torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()
            or torch.compiler.is_compiling())


T = TypeVar("T")
# Folded weights per module (outside the module, so that copies and pickles never carry them).
_CACHE: weakref.WeakKeyDictionary[nn.Module, tuple[Any, Any]] = weakref.WeakKeyDictionary()
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.GELU, nn.Identity)


def bn_activation(bn: nn.Module) -> nn.Module | None:
    """The activation a BatchNorm subclass applies itself (timm's ``BatchNormAct2d.act``)."""
    act = getattr(bn, "act", None)
    return act if isinstance(act, nn.Module) else None


def foldable_bn(module: nn.Module, channels: int) -> str | None:
    """Why ``module`` cannot be folded as a BatchNorm over ``channels`` (None: it can)."""
    if not isinstance(module, nn.BatchNorm2d):
        return "not a BatchNorm2d"
    if module.num_features != channels or module.running_mean is None:
        return "BatchNorm without running statistics or of another width"
    if type(module) is not nn.BatchNorm2d and not isinstance(bn_activation(module), ACTIVATIONS):
        return f"BatchNorm subclass {type(module).__name__} without a known .act"
    return None


def _bn_affine(bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    assert bn.running_mean is not None and bn.running_var is not None
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    return scale, shift


def fold(conv: nn.Conv2d, bn: nn.Module | None) -> tuple[Tensor, Tensor | None]:
    """``conv``'s weight and bias with ``bn`` (eval statistics) folded in."""
    return fold_weights(conv.weight, conv.bias, bn)


def fold_weights(weight: Tensor, bias: Tensor | None, bn: nn.Module | None
                 ) -> tuple[Tensor, Tensor | None]:
    """A convolution's weight and bias with ``bn`` (eval statistics) folded in."""
    if bn is None:
        return weight, bias
    assert isinstance(bn, nn.BatchNorm2d)
    scale, shift = _bn_affine(bn)
    bias = shift if bias is None else bias * scale + shift
    return weight * scale.reshape(-1, 1, 1, 1), bias


def cached(module: nn.Module, compute: Callable[[], T]) -> T:
    """``compute()``, kept on ``module`` while no parameter or buffer changes (without grad)."""
    tensors = [*module.parameters(), *module.buffers()]
    if torch.is_grad_enabled() or traced() or any(t.is_inference() for t in tensors):
        return compute()  # (a trace records the folding; inference tensors have no version)
    key = (*(id(t) for t in tensors), *(t._version for t in tensors))
    cache = _CACHE.get(module)
    if cache is None or cache[0] != key:
        with torch.inference_mode(False), torch.no_grad():  # plain tensors: usable everywhere
            cache = (key, _detached(compute()))
        _CACHE[module] = cache
    return cache[1]


def _detached(folded: T) -> T:
    """A tuple of folded weights with the unfolded ones (a step without BatchNorm returns its
    own Parameter) detached: ``_onednn.packed`` keeps oneDNN's layout only of weights that
    need no gradient, and an unpacked weight is reordered on every call (MobileNetV1 written
    with SeparableConv2d, whose pointwise step has no BatchNorm inside the layer: 1.25x slower
    at batch 1)."""
    if not isinstance(folded, tuple):
        return folded
    parts = [t.detach() if isinstance(t, Tensor) and t.requires_grad else t for t in folded]
    return type(folded)(*parts) if hasattr(folded, "_fields") else type(folded)(parts)
