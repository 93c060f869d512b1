"""BatchNorm folding for the eval paths: a BatchNorm's affine map folded into a convolution's
weight and bias, the activation a BatchNorm subclass holds (timm's ``BatchNormAct2d``), and a cache
of folded weights per module (refolded when a parameter or statistic changes).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

import torch
from torch import Tensor, nn


def traced() -> bool:
    """Whether the call is being traced, scripted, exported or compiled."""
    return (torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()
            or torch.compiler.is_compiling())


def hooked(parts: Iterable[nn.Module | None]) -> bool:
    """Whether one of ``parts`` (a layer's or fused module's steps) or a module inside one has
    forward or backward hooks of its own (``nn.utils.prune``'s pre-hook that recomputes a pruned
    weight, a user's hook). The fast paths read the steps' weights without calling them and
    would skip those hooks; a caller seeing True calls its steps as modules instead. Global
    hooks (``register_module_forward_hook``) are not looked at: they see the layer, not its
    steps, on every path. 2-3 µs for a layer with a BatchNorm + ReLU between and after."""
    stack = list(parts)
    while stack:
        m = stack.pop()
        if m is None:
            continue
        if (m._forward_pre_hooks or m._forward_hooks or m._backward_hooks
                or m._backward_pre_hooks):
            return True
        stack.extend(m._modules.values())
    return False


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


def cached(module: nn.Module, compute: Callable[[], T], extra: Hashable = None,
           plain: bool = False) -> T:
    """``compute()``, kept on ``module`` while none of its submodules, parameters or buffers is
    replaced or changed in place, no submodule changes mode, and ``extra`` (attributes that
    ``compute`` reads) stays equal. Calls with grad, traced or compiled compute every time;
    ``plain=True``: the caller checked that this call is neither."""
    if not plain and (torch.is_grad_enabled() or traced()):
        return compute()  # (a trace records the folding)
    state = _state(module)
    if state is None:
        return compute()  # inference tensors have no version counter
    key = (state, extra)
    cache = _CACHE.get(module)
    if cache is None or cache[0] != key:
        with torch.inference_mode(False), torch.no_grad():  # plain tensors: usable everywhere
            cache = (key, _detached(compute()))
        _CACHE[module] = cache
    return cache[1]


def _state(module: nn.Module) -> tuple[int, ...] | None:
    """ids, modes and BatchNorm eps of ``module`` and its submodules, ids, versions and data
    pointers of their tensors; None if one is an inference tensor (no version counter). A direct
    walk: ``parameters()`` and ``buffers()`` cost 15 µs a call, this ~5 µs for a layer with a
    BatchNorm inside."""
    key: list[int] = []
    stack = [module]
    try:
        while stack:
            m = stack.pop()
            key += (id(m), m.training, hash(m.__dict__.get("eps")))  # a BatchNorm's eps
            for tensors in (m._parameters, m._buffers):
                for t in tensors.values():
                    if t is not None:  # data_ptr: a ``.data =`` assignment keeps id and version
                        key += (id(t), t._version, t.data_ptr())
            for child in m._modules.values():
                if child is not None:
                    stack.append(child)
    except (RuntimeError, TypeError, ValueError):  # inference tensors have no version counter;
        return None  # an unhashable eps, a lazy parameter: no caching, compute every call
    return tuple(key)


def _detached(folded: T) -> T:
    """Folded weights (a tensor or nested tuples of them) with the unfolded ones (a step without
    BatchNorm returns its own Parameter) detached: ``_onednn.packed`` keeps oneDNN's layout only
    of weights that need no gradient, and an unpacked weight is reordered on every call
    (MobileNetV1 written with SeparableConv2d, whose pointwise step has no BatchNorm inside the
    layer: 1.25x slower at batch 1)."""
    if isinstance(folded, Tensor):
        return folded.detach() if folded.requires_grad else folded  # type: ignore[return-value]
    if not isinstance(folded, tuple):
        return folded
    parts = [_detached(part) for part in folded]
    return type(folded)(*parts) if hasattr(folded, "_fields") else type(folded)(parts)
