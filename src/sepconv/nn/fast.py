"""The fast CPU path of DepthwiseConv2d and SeparableConv2d as PyTorch custom operators (issue 9).

``torch.ops.sepconv.separable_conv2d`` computes exactly the plain composition
``conv2d(conv2d(x, depthwise, groups=C), pointwise) + bias`` (stride 1, zero padding given as
``[top, bottom, left, right]``, any dilation and depth multiplier) without ever storing the
depthwise result: each band of output rows is computed by a numba kernel and fed to one matrix
product (:mod:`sepconv.nn._fused`). ``torch.ops.sepconv.depthwise_conv2d`` is the depthwise step
alone. Both have fake (meta) implementations and autograd formulas, so ``torch.compile``,
``torch.export`` and ``gradcheck`` see them as ordinary operators; their backward passes are the
custom operators ``*_backward``.

:mod:`sepconv.nn.functional` calls them when :func:`usable` says so (CPU, float32/float64, stride
1, not channels_last, nothing between the steps) and the plain PyTorch composition otherwise.
Called directly on other devices or dtypes, the operators compute that composition themselves.

>>> import torch
>>> x = torch.randn(2, 3, 10, 10)
>>> depthwise, pointwise = torch.randn(6, 1, 3, 3), torch.randn(8, 6, 1, 1)
>>> y = torch.ops.sepconv.separable_conv2d(x, depthwise, pointwise, None, [1, 1, 1, 1], [1, 1])
>>> plain = torch.conv2d(torch.conv2d(x, depthwise, padding=1, groups=3), pointwise)
>>> torch.allclose(y, plain, atol=1e-5)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from sepconv._errors import bad_argument
from sepconv.nn import _fused
from sepconv.nn._args import sizes

__all__ = ["usable"]

FAST_DTYPES = (torch.float32, torch.float64)
# Below these sizes PyTorch's own convolutions win: the fast path costs ~70 µs per call more, and
# its per-channel overhead dominates on small images (benchmarks/layers.py: the depthwise step
# alone on 8×512×14×14 ran at 0.5-0.7x PyTorch's speed, the separable layer at 1.1-1.4x).
MIN_MACS = {"depthwise": 1 << 21, "separable": 1 << 24}
MIN_AREA = {"depthwise": 28 * 28, "separable": 14 * 14}


def usable(x: Tensor, stride: Sequence[int], weights: Sequence[Tensor], bias: Tensor | None) -> bool:
    """Whether the fast path handles this call; otherwise the plain PyTorch composition runs.

    ``weights``: the (checked) depthwise weight and, for a separable layer, the pointwise one;
    ``bias`` belongs to the last of them (a bias of another shape is left to PyTorch's error).
    channels_last inputs stay on PyTorch's path, which returns channels_last outputs (what such
    a caller expects); converting to NCHW and back would cost two copies. Small layers (see
    ``MIN_MACS`` and ``MIN_AREA``) also stay on PyTorch's path, and so does a ``torch.jit.trace``:
    a TorchScript file must load where sepconv is not installed (libtorch, C++), as a script does.
    """
    tensors = [x, *weights] + ([bias] if bias is not None else [])
    return (
        not torch.jit.is_tracing()
        and _large(x, weights)
        and (bias is None or sizes(bias) == (sizes(weights[-1])[0],))
        and x.dtype in FAST_DTYPES
        and all(t.device.type == "cpu" and t.dtype == x.dtype and t.layout == torch.strided
                for t in tensors)
        and all(s == 1 for s in stride)
        and x.numel() > 0
        and (x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last))
    )


def _large(x: Tensor, weights: Sequence[Tensor]) -> bool:
    """Whether the layer is big enough for the fast path to pay (multiply-adds, image area)."""
    if x.ndim != 4:
        return False
    n, _, h, w = sizes(x)
    if any(isinstance(s, torch.SymInt) for s in (n, h, w)):
        # symbolic sizes (torch.export or torch.compile with dynamic shapes): the size rule would
        # guard on them, and an export would fix the sizes; PyTorch's composition holds for all
        return False
    out, _, kh, kw = sizes(weights[0])
    pointwise = sizes(weights[1])[0] if len(weights) > 1 else 0
    macs = n * h * w * out * (kh * kw + pointwise)
    area = h * w
    kind = "separable" if pointwise else "depthwise"
    return area >= MIN_AREA[kind] and macs >= MIN_MACS[kind]


def _runs_fast(*tensors: Tensor) -> bool:
    """CPU tensors of one fast dtype (anything else gets PyTorch's composition, or its error)."""
    dtype = tensors[0].dtype
    return dtype in FAST_DTYPES and all(t.device.type == "cpu" and t.dtype == dtype for t in tensors)


def _out_size(x: Tensor, weight: Tensor, padding: Sequence[int], dilation: Sequence[int]
              ) -> tuple[Any, Any]:
    top, bottom, left, right = padding
    height = x.shape[2] + top + bottom - (weight.shape[2] - 1) * dilation[0]
    width = x.shape[3] + left + right - (weight.shape[3] - 1) * dilation[1]
    return height, width


def _check(x: Tensor, weight: Tensor, bias: Tensor | None, padding: Sequence[int],
           dilation: Sequence[int], pointwise: Tensor | None = None, grad: Tensor | None = None
           ) -> None:
    """The operators are public and the kernels do not check bounds: refuse inconsistent shapes."""
    ok = (x.ndim == 4 and weight.ndim == 4 and weight.shape[1] == 1 and x.shape[1] > 0
          and weight.shape[0] % x.shape[1] == 0 and len(padding) == 4 and len(dilation) == 2
          and min(dilation) >= 1 and min(_out_size(x, weight, padding, dilation)) >= 1)
    last = weight if pointwise is None else pointwise
    if ok and pointwise is not None:
        ok = tuple(pointwise.shape) == (pointwise.shape[0], weight.shape[0], 1, 1)
    if ok and bias is not None:
        ok = tuple(bias.shape) == (last.shape[0],)
    if ok and grad is not None:
        ok = tuple(grad.shape) == (x.shape[0], last.shape[0], *_out_size(x, weight, padding, dilation))
    if not ok:
        shapes = {name: tuple(t.shape) for name, t in (("x", x), ("weight", weight), ("bias", bias),
                  ("pointwise", pointwise), ("grad", grad)) if t is not None}
        raise bad_argument("shapes", "x (N, C, H, W), weight (C·m, 1, kh, kw), pointwise "
                           "(N_out, C·m, 1, 1), bias of the last step's channels, 4 pads, 2 "
                           "dilations >= 1 and an output of at least 1×1",
                           {**shapes, "padding": list(padding), "dilation": list(dilation)},
                           "call sepconv.nn.functional, which checks and explains each argument")


def _plain_depthwise(x: Tensor, weight: Tensor, bias: Tensor | None, padding: Sequence[int],
                     dilation: Sequence[int]) -> Tensor:
    top, bottom, left, right = padding
    return F.conv2d(F.pad(x, [left, right, top, bottom]), weight, bias, 1, 0, list(dilation),
                    int(x.shape[1]))


def _plain_backward(grad: Tensor, x: Tensor, weight: Tensor, padding: Sequence[int],
                    dilation: Sequence[int], mask: Sequence[bool]) -> list[Tensor | None]:
    """Gradients of (input, weight, bias) of the plain depthwise step, by PyTorch's own formulas."""
    top, bottom, left, right = padding
    grads = torch.ops.aten.convolution_backward(
        grad, F.pad(x, [left, right, top, bottom]), weight, [int(weight.shape[0])], [1, 1], [0, 0],
        list(dilation), False, [0, 0], int(x.shape[1]), list(mask))
    if grads[0] is not None:  # undo the padding: crop what was padded, zero-fill what was cropped
        grads = (F.pad(grads[0], [-left, -right, -top, -bottom]), *grads[1:])
    return [g if m else None for g, m in zip(grads, mask)]


def _present(grads: Sequence[Tensor | None], like: Tensor) -> list[Tensor]:
    """Custom operators return tensors only: an empty tensor stands for "not asked for"."""
    return [g if g is not None else like.new_empty(0) for g in grads]


# -- depthwise ---------------------------------------------------------------------------------

@torch.library.custom_op("sepconv::depthwise_conv2d", mutates_args=())
def _depthwise(x: Tensor, weight: Tensor, bias: Tensor | None, padding: list[int],
               dilation: list[int]) -> Tensor:
    if not _runs_fast(x, weight):
        return _plain_depthwise(x, weight, bias, padding, dilation)
    _check(x, weight, bias, padding, dilation)
    return _fused.depthwise_forward(x, weight, bias, padding, dilation)


@_depthwise.register_fake
def _depthwise_fake(x: Tensor, weight: Tensor, bias: Tensor | None, padding: list[int],
                    dilation: list[int]) -> Tensor:
    return x.new_empty((x.shape[0], weight.shape[0], *_out_size(x, weight, padding, dilation)))


@torch.library.custom_op("sepconv::depthwise_conv2d_backward", mutates_args=())
def _depthwise_backward(grad: Tensor, x: Tensor, weight: Tensor, padding: list[int],
                        dilation: list[int], mask: list[bool]) -> list[Tensor]:
    if not _runs_fast(grad, x, weight):
        return _present(_plain_backward(grad, x, weight, padding, dilation, mask), x)
    _check(x, weight, None, padding, dilation, grad=grad)
    return _present(_fused.depthwise_backward(grad, x, weight, padding, dilation, mask), x)


@_depthwise_backward.register_fake
def _depthwise_backward_fake(grad: Tensor, x: Tensor, weight: Tensor, padding: list[int],
                             dilation: list[int], mask: list[bool]) -> list[Tensor]:
    shapes = [x.shape, weight.shape, weight.shape[:1]]
    return [x.new_empty(shape if m else (0,)) for shape, m in zip(shapes, mask)]


def _depthwise_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    x, weight, _, padding, dilation = inputs
    ctx.save_for_backward(x, weight)
    ctx.padding, ctx.dilation = padding, dilation


def _depthwise_grads(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
    x, weight = ctx.saved_tensors
    mask = list(ctx.needs_input_grad[:3])
    grads = torch.ops.sepconv.depthwise_conv2d_backward(grad, x, weight, ctx.padding,
                                                         ctx.dilation, mask)
    return (*(g if m else None for g, m in zip(grads, mask)), None, None)


_depthwise.register_autograd(_depthwise_grads, setup_context=_depthwise_setup)


# -- separable ---------------------------------------------------------------------------------

def _plain_separable(x: Tensor, depthwise: Tensor, pointwise: Tensor, bias: Tensor | None,
                     padding: Sequence[int], dilation: Sequence[int]) -> Tensor:
    return F.conv2d(_plain_depthwise(x, depthwise, None, padding, dilation), pointwise, bias)


@torch.library.custom_op("sepconv::separable_conv2d", mutates_args=())
def _separable(x: Tensor, depthwise_weight: Tensor, pointwise_weight: Tensor, bias: Tensor | None,
               padding: list[int], dilation: list[int]) -> Tensor:
    if not _runs_fast(x, depthwise_weight, pointwise_weight):
        return _plain_separable(x, depthwise_weight, pointwise_weight, bias, padding, dilation)
    _check(x, depthwise_weight, bias, padding, dilation, pointwise_weight)
    return _fused.separable_forward(x, depthwise_weight, pointwise_weight, bias, padding, dilation)


@_separable.register_fake
def _separable_fake(x: Tensor, depthwise_weight: Tensor, pointwise_weight: Tensor,
                    bias: Tensor | None, padding: list[int], dilation: list[int]) -> Tensor:
    size = _out_size(x, depthwise_weight, padding, dilation)
    return x.new_empty((x.shape[0], pointwise_weight.shape[0], *size))


@torch.library.custom_op("sepconv::separable_conv2d_backward", mutates_args=())
def _separable_backward(grad: Tensor, x: Tensor, depthwise_weight: Tensor, pointwise_weight: Tensor,
                        padding: list[int], dilation: list[int], mask: list[bool]) -> list[Tensor]:
    weights = (depthwise_weight, pointwise_weight)
    if not _runs_fast(grad, x, *weights):
        mid = _plain_depthwise(x, depthwise_weight, None, padding, dilation)
        grad_mid, grad_pw, grad_bias = torch.ops.aten.convolution_backward(
            grad, mid, pointwise_weight, [int(pointwise_weight.shape[0])], [1, 1], [0, 0], [1, 1],
            False, [0, 0], 1, [mask[0] or mask[1], mask[2], mask[3]])
        grad_x, grad_dw = (_plain_backward(grad_mid, x, depthwise_weight, padding, dilation,
                                           [mask[0], mask[1], False])[:2]
                           if grad_mid is not None else (None, None))
        return _present([grad_x, grad_dw, grad_pw, grad_bias], x)
    _check(x, depthwise_weight, None, padding, dilation, pointwise_weight, grad)
    return _present(_fused.separable_backward(grad, x, *weights, padding, dilation, mask), x)


@_separable_backward.register_fake
def _separable_backward_fake(grad: Tensor, x: Tensor, depthwise_weight: Tensor,
                             pointwise_weight: Tensor, padding: list[int], dilation: list[int],
                             mask: list[bool]) -> list[Tensor]:
    shapes = [x.shape, depthwise_weight.shape, pointwise_weight.shape, pointwise_weight.shape[:1]]
    return [x.new_empty(shape if m else (0,)) for shape, m in zip(shapes, mask)]


def _separable_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    x, depthwise, pointwise, _, padding, dilation = inputs
    ctx.save_for_backward(x, depthwise, pointwise)
    ctx.padding, ctx.dilation = padding, dilation


def _separable_grads(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
    x, depthwise, pointwise = ctx.saved_tensors
    mask = list(ctx.needs_input_grad[:4])
    grads = torch.ops.sepconv.separable_conv2d_backward(grad, x, depthwise, pointwise, ctx.padding,
                                                         ctx.dilation, mask)
    return (*(g if m else None for g, m in zip(grads, mask)), None, None)


_separable.register_autograd(_separable_grads, setup_context=_separable_setup)


def depthwise_conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, padding: Sequence[int],
                     dilation: Sequence[int]) -> Tensor:
    """``torch.ops.sepconv.depthwise_conv2d``; ``padding`` is ``[top, bottom, left, right]``."""
    return torch.ops.sepconv.depthwise_conv2d(x, weight, bias, list(padding), list(dilation))


def separable_conv2d(x: Tensor, depthwise: Tensor, pointwise: Tensor, bias: Tensor | None,
                     padding: Sequence[int], dilation: Sequence[int]) -> Tensor:
    """``torch.ops.sepconv.separable_conv2d``; ``padding`` is ``[top, bottom, left, right]``."""
    return torch.ops.sepconv.separable_conv2d(x, depthwise, pointwise, bias, list(padding),
                                              list(dilation))
