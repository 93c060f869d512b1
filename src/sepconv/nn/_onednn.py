"""Eval path of :class:`sepconv.nn._fold.FusedSeparable2d` on oneDNN's fused conv + activation.

``torch.ops.mkldnn._convolution_pointwise`` (what inductor emits for conv + activation on CPU)
runs a convolution with its bias and activation in one pass; with the BatchNorms folded, a
depthwise → BN → act → pointwise → BN → act chain is two such calls. Each chain also picks its
memory format (:func:`prefers_nchw`): channels_last except for small deep layers, where oneDNN's
channels_last 1×1 convolution is slower. The output may therefore come back in the other memory
format than the input's (same values).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

# Chains whose output has at most NCHW_PIXELS pixels (N·Ho·Wo) and at least NCHW_CHANNELS
# channels run in NCHW, all others in channels_last. Measured on this 2-core machine, 2 threads,
# dw 3×3 + ReLU then 1×1 + ReLU through this op, MobileNetV1's chains at batch 1 and 8 (NCHW time
# ÷ channels_last time): 2.6-3.2 at 112², 1.2-3.0 at 56², 1.1-1.2 at 28², 1.06-1.09 at 14² with
# 512 channels; 0.35 (1×1024×7²), 0.55 (1×512→1024, 14² stride 2), 0.82 (8×1024×7²), 0.96
# (8×512→1024, 14² stride 2). Whole network: benchmarks/networks.py, column accelerate(twin).
NCHW_PIXELS = 512
NCHW_CHANNELS = 1024
_NAMES: dict[type, tuple[str, list[Any], str]] = {
    nn.ReLU: ("relu", [], ""),
    nn.ReLU6: ("hardtanh", [0.0, 6.0], ""),
    nn.SiLU: ("swish", [], ""),
    nn.Hardswish: ("hardswish", [], ""),
    nn.Identity: ("none", [], ""),
}


def _op() -> Any:
    mkldnn = getattr(torch.ops, "mkldnn", None)
    return getattr(mkldnn, "_convolution_pointwise", None) if mkldnn is not None else None


def _activation(bn: nn.Module | None, act: nn.Module | None) -> tuple[str, list[Any], str] | None:
    """oneDNN's name for what follows a step (BatchNorm's own .act, then act), None if none fits."""
    from sepconv.nn._fold import bn_activation

    found = [m for m in (bn_activation(bn) if bn is not None else None, act)
             if m is not None and type(m) is not nn.Identity]
    if not found:
        return _NAMES[nn.Identity]
    if len(found) > 1:
        return None
    module = found[0]
    if type(module) is nn.GELU:
        return ("gelu", [], module.approximate)
    return _NAMES.get(type(module))


def usable(chain: Any, x: Tensor) -> bool:
    """No gradient wanted; float32 CPU, 4-D; zero padding as ints; activations oneDNN fuses."""
    dw = chain.depthwise
    return (not torch.is_grad_enabled() and x.dtype == torch.float32 and x.device.type == "cpu"
            and x.ndim == 4 and dw.padding_mode == "zeros" and not isinstance(dw.padding, str)
            and _op() is not None and _activation(chain.bn1, chain.act1) is not None
            and _activation(chain.bn2, chain.act2) is not None)


def prefers_nchw(pixels: int, channels: int) -> bool:
    """Whether a chain with this output (N·Ho·Wo pixels, channels) runs faster in NCHW."""
    return pixels <= NCHW_PIXELS and channels >= NCHW_CHANNELS


def forward(chain: Any, x: Tensor, folded: Any) -> Tensor:
    """Two fused oneDNN convolutions, in the memory format this chain's size prefers."""
    w1, b1, w2, b2 = folded
    dw = chain.depthwise
    n, _, h, w = (int(s) for s in x.shape)
    kh, kw = w1.shape[2:]
    (ph, pw), (sh, sw), (dh, dwl) = dw.padding, dw.stride, dw.dilation
    pixels = n * ((h + 2 * ph - dh * (kh - 1) - 1) // sh + 1) * ((w + 2 * pw - dwl * (kw - 1) - 1) // sw + 1)
    nchw = prefers_nchw(pixels, int(w2.shape[0]))
    x = x.contiguous(memory_format=torch.contiguous_format if nchw else torch.channels_last)
    op = _op()
    name, scalars, algorithm = _activation(chain.bn1, chain.act1)  # type: ignore[misc]
    y = op(x, w1, b1, list(dw.padding), list(dw.stride), list(dw.dilation), dw.groups, name,
           scalars, algorithm)
    name, scalars, algorithm = _activation(chain.bn2, chain.act2)  # type: ignore[misc]
    return op(y, w2, b2, [0, 0], [1, 1], [1, 1], 1, name, scalars, algorithm)
