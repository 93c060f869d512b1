"""Eval path of :class:`sepconv.nn._fold.FusedSeparable2d` on oneDNN's fused conv + activation.

``torch.ops.mkldnn._convolution_pointwise`` (what inductor emits for conv + activation on CPU)
runs a convolution with its bias and activation in one pass; with the BatchNorms folded, a
depthwise → BN → act → pointwise → BN → act chain is two such calls. Each chain also picks its
input's memory format (:func:`prefers_nchw`): channels_last except for small deep layers, where
oneDNN's channels_last 1×1 convolution is slower. The op returns channels_last outputs. A
``SeparableConv2d`` with nothing between or after (a drop-in for a convolution, as
``convert_model`` makes) gives an NCHW input's output back in NCHW (one copy: a later ``.view``
needs it); network blocks (``between``/``after``, ``accelerate``'s modules) return channels_last,
which the next block reads without a copy (returning NCHW there made MobileNets 0.6× as fast).
"""

from __future__ import annotations

import weakref
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from sepconv.nn._folding import bn_activation, cached, fold_weights, foldable_bn, traced

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


def activation(bn: nn.Module | None, act: nn.Module | None) -> tuple[str, list[Any], str] | None:
    """oneDNN's name for what follows a step (BatchNorm's own .act, then act), None if none fits."""
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


def plain_call() -> bool:
    """Whether this call may take the oneDNN path: no gradient, not traced, exported or compiled."""
    return not (torch.is_grad_enabled() or traced())


def prefers_nchw(pixels: int, channels: int) -> bool:
    """Whether a chain with this output (N·Ho·Wo pixels, channels) runs faster in NCHW."""
    return pixels <= NCHW_PIXELS and channels >= NCHW_CHANNELS


Activation = tuple[str, list[Any], str]


def run(x: Tensor, w1: Tensor, b1: Tensor | None, geometry: tuple[Any, Any, Any],
        act1: Activation, w2: Tensor, b2: Tensor | None, act2: Activation,
        keep_format: bool = False) -> Tensor:
    """Depthwise conv + act1 then 1×1 conv + act2, each one oneDNN call, in the preferred format.

    ``geometry``: the depthwise step's (padding, stride, dilation) pairs, padding as ints.
    """
    (ph, pw), (sh, sw), (dh, dw) = geometry
    n, channels, h, w = (int(s) for s in x.shape)
    nchw = keep_format and not _channels_last(x)
    x, (ho, wo) = _in_preferred_format(x, w1, geometry, int(w2.shape[0]))
    op = _op()
    w1 = packed(w1, [ph, pw], [sh, sw], [dh, dw], channels, [n, channels, h, w])
    y = op(x, w1, b1, [ph, pw], [sh, sw], [dh, dw], channels, *act1)
    w2 = packed(w2, [0, 0], [1, 1], [1, 1], 1, [n, int(y.shape[1]), ho, wo])
    out = op(y, w2, b2, [0, 0], [1, 1], [1, 1], 1, *act2)
    return out.contiguous() if nchw else out  # keep_format: a later .view needs NCHW


def _channels_last(x: Tensor) -> bool:
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def _in_preferred_format(x: Tensor, weight: Tensor, geometry: tuple[Any, Any, Any],
                         out_channels: int) -> tuple[Tensor, tuple[int, int]]:
    """``x`` in the memory format a chain ending in ``out_channels`` prefers at this output size
    (``prefers_nchw``), and the convolution's output height and width."""
    (ph, pw), (sh, sw), (dh, dw) = geometry
    n, _, h, w = (int(s) for s in x.shape)
    kh, kw = int(weight.shape[2]), int(weight.shape[3])
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    nchw = prefers_nchw(n * ho * wo, out_channels)
    return x.contiguous(memory_format=torch.contiguous_format if nchw else torch.channels_last), (ho, wo)


# oneDNN's own layout of a (cached, folded) weight for one input size: computing it on every
# call cost 8-29 % of a chain's time (this machine, 2 threads: 1×1024×7² 0.79 -> 0.61 ms,
# 1×512×14² 0.63 -> 0.56 ms, 8×128×56² 7.8 -> 6.1 ms).
# Keyed by id (tensors compare elementwise); an entry goes when its weight is collected.
_PACKED: dict[int, tuple[weakref.ref[Tensor], list[int], Tensor]] = {}


def packed(weight: Tensor, padding: list[int], stride: list[int], dilation: list[int],
           groups: int, input_size: list[int]) -> Tensor:
    """``weight`` reordered for oneDNN, kept while ``weight`` lives (cached weights only)."""
    reorder = getattr(torch._C._nn, "mkldnn_reorder_conv2d_weight", None)
    if reorder is None or weight.is_inference() or weight.requires_grad:
        return weight
    key = id(weight)
    entry = _PACKED.get(key)
    state = [*input_size, weight._version, weight.data_ptr()]  # in-place changes of a frozen weight
    if entry is None or entry[0]() is not weight or entry[1] != state:
        if entry is None or entry[0]() is not weight:
            weakref.finalize(weight, _PACKED.pop, key, None)
        entry = (weakref.ref(weight), state,
                 reorder(weight.to_mkldnn(), padding, stride, dilation, groups, input_size))
        _PACKED[key] = entry
    return entry[2]


class Plan(NamedTuple):
    """What :func:`run` needs besides the input: folded weights, geometry, activations."""

    w1: Tensor
    b1: Tensor | None
    geometry: tuple[Any, Any, Any]
    act1: Activation
    w2: Tensor
    b2: Tensor | None
    act2: Activation


def fits(x: Tensor, conv: nn.Conv2d) -> bool:
    """A call this path takes (the per-call part; the module's part is in its cached plan)."""
    return (plain_call() and x.dtype == torch.float32 and x.device.type == "cpu" and x.ndim == 4
            and int(x.shape[1]) == conv.in_channels)


def chain_plan(chain: Any, w1: Tensor, b1: Tensor | None, w2: Tensor, b2: Tensor | None
               ) -> Plan | None:
    """The plan of :class:`sepconv.nn._fold.FusedSeparable2d` (folded weights given), or None
    where this path does not apply (padding or activations it does not take, float64)."""
    dw = chain.depthwise
    act1 = activation(chain.bn1, chain.act1)
    act2 = activation(chain.bn2, chain.act2)
    if (act1 is None or act2 is None or dw.padding_mode != "zeros" or isinstance(dw.padding, str)
            or _op() is None or w1.dtype != torch.float32):
        return None
    return Plan(w1, b1, (dw.padding, dw.stride, dw.dilation), act1, w2, b2, act2)


def _between_parts(between: nn.Module | None, channels: int) -> tuple[Any, Any] | None:
    """(BatchNorm or None, activation or None) when ``between`` is one of those, else None."""
    parts = list(between) if type(between) is nn.Sequential else [between]
    parts = [p for p in parts if p is not None and type(p) is not nn.Identity]
    bn = parts.pop(0) if parts and type(parts[0]) is nn.BatchNorm2d else None
    if bn is not None and (foldable_bn(bn, channels) is not None or bn.training):
        return None
    act = parts.pop(0) if parts else None
    if parts or (act is not None and activation(None, act) is None):
        return None
    return bn, act


def separable_layer(layer: Any, x: Tensor) -> Tensor | None:
    """SeparableConv2d's eval path (BatchNorm in ``between`` folded), or None where it does not apply.

    Applies to float32 CPU calls without gradient, outside tracing, export and compilation, with
    zero padding given as ints (or 'valid') and ``between`` and ``after`` each None, a BatchNorm2d
    in eval mode, an activation oneDNN fuses, or an ``nn.Sequential`` of a BatchNorm2d then such
    an activation. What depends on the layer alone (folded weights, activations, geometry) is a
    plan cached until a parameter, statistic, submodule, mode or geometry changes: a call costs
    ~15 µs of Python besides the two oneDNN calls.
    """
    dw = layer.depthwise
    if not fits(x, dw):
        return None
    plan = cached(layer, lambda: _layer_plan(layer), plain=True,
                  extra=(dw.padding, dw.stride, dw.dilation, dw.padding_mode))
    if plan is None:
        return None
    # a layer with nothing between or after is a drop-in for a convolution (convert_model's):
    # its output keeps the caller's format; a network block returns channels_last (faster)
    return run(x, *plan, keep_format=layer.between is None and layer.after is None)


def _layer_plan(layer: Any) -> Plan | None:
    dw, pw = layer.depthwise, layer.pointwise
    if not (dw.padding_mode == "zeros" and dw.padding != "same" and _op() is not None
            and dw.weight.dtype == torch.float32):
        return None
    parts = _between_parts(layer.between, dw.out_channels)
    after = _between_parts(layer.after, pw.out_channels)
    if parts is None or after is None:
        return None
    act1, act2 = activation(None, parts[1]), activation(None, after[1])
    assert act1 is not None and act2 is not None
    w1, b1 = fold_weights(dw.weight, dw.bias, parts[0])
    w2, b2 = fold_weights(pw.weight, pw.bias, after[0])
    padding = (0, 0) if dw.padding == "valid" else dw.padding
    return Plan(w1, b1, (padding, dw.stride, dw.dilation), act1, w2, b2, act2)


def conv_activation(fused: Any) -> Activation | None:
    """What :class:`sepconv.nn._fold.FusedConv2d` applies after its folded convolution, as
    oneDNN names it; None where this path does not apply (padding, activation, dtype)."""
    c = fused.conv
    if (c.padding_mode != "zeros" or isinstance(c.padding, str) or _op() is None
            or c.weight.dtype != torch.float32):
        return None
    return activation(fused.bn, fused.act)


def conv(c: Any, x: Tensor, weight: Tensor, bias: Tensor | None, act: Activation) -> Tensor:
    """One convolution (an ``nn.Conv2d``'s geometry) + bias + activation, in the memory format
    its size prefers.

    Tried and dropped (2026-11-25): PyTorch's own conv2d on the folded weights with the
    activation applied in place. Layer by layer it was faster at most EfficientNet-B0 and
    MobileNetV2 shapes, but not in whole networks (2 threads, one process, time of this op's
    network ÷ that one's, batch 1 / 8: EfficientNet-B0 0.91 / 0.92, torchvision
    MobileNetV3-Large 0.82 / 0.75, timm MobileNetV2 0.89 / 0.92; two identical copies of one
    network read 0.90-1.0 in that harness, so only MobileNetV3's difference is beyond noise).
    """
    (ph, pw), (sh, sw), (dh, dw) = c.padding, c.stride, c.dilation
    n, _, h, w = (int(s) for s in x.shape)
    x, _ = _in_preferred_format(x, weight, (c.padding, c.stride, c.dilation), int(weight.shape[0]))
    weight = packed(weight, [ph, pw], [sh, sw], [dh, dw], c.groups, [n, int(x.shape[1]), h, w])
    return _op()(x, weight, bias, [ph, pw], [sh, sw], [dh, dw], c.groups, *act)
