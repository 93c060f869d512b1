"""Depthwise, pointwise and separable convolutions as functions (the layers call these).

Shapes speak PyTorch's language: input ``(N, C, *spatial)`` (or ``(C, *spatial)`` without the
batch axis), depthwise weight ``(C·m, 1, *k)``, pointwise weight ``(N_out, C·m, 1, ...)``.
Output channel ``c·m + j`` comes from input channel ``c`` and multiplier index ``j`` (as in
Keras and in PyTorch's grouped convolution with ``groups=C``).

``padding`` is ``'valid'`` (none), ``'same'`` (TensorFlow's rule: output length
``ceil(L / stride)``, total padding ``max((out - 1)·s + (k - 1)·d + 1 - L, 0)``, the odd extra
pixel at the end, also for stride > 1 and even kernels), an int, or a tuple of ints per axis.
``padding_mode`` is ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'`` exactly as in
``nn.Conv2d``; PyTorch's ``'reflect'`` is scipy.ndimage's (and sepconv core's) ``'mirror'``.

>>> import torch
>>> from sepconv.nn import functional as SF
>>> x = torch.randn(1, 3, 12, 12)
>>> depthwise = torch.randn(3 * 2, 1, 5, 5)
>>> pointwise = torch.randn(256, 3 * 2, 1, 1)
>>> SF.separable_conv2d(x, depthwise, pointwise).shape
torch.Size([1, 256, 8, 8])
>>> SF.depthwise_conv2d(x, depthwise, stride=2, padding="same").shape
torch.Size([1, 6, 6, 6])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor

from sepconv._errors import bad_argument
from sepconv.nn import fast
from sepconv.nn._args import (
    Padding,
    as_batched,
    check_padded,
    check_padding,
    check_padding_mode,
    check_tensor,
    constant_sizes,
    conv_function,
    int_tuple,
    pad_amounts,
    pad_input,
    shape_text,
    sizes,
)

Between = Callable[[Tensor], Tensor] | None

__all__ = [
    "depthwise_conv1d",
    "depthwise_conv2d",
    "depthwise_conv3d",
    "pointwise_conv1d",
    "pointwise_conv2d",
    "pointwise_conv3d",
    "separable_conv1d",
    "separable_conv2d",
    "separable_conv3d",
    "spatial_separable_conv2d",
]


def _weight_error(name: str, expected: str, weight: Tensor, fix: str) -> Exception:
    return bad_argument(name, f"shape {expected}", tuple(weight.shape), fix)


def _check_depthwise_weight(name: str, weight: object, channels: int, ndim: int) -> Tensor:
    weight = check_tensor(name, weight)
    spatial = ("k",) * ndim
    if weight.ndim != ndim + 2 or weight.shape[1] != 1 or weight.shape[0] % channels != 0:
        raise _weight_error(
            name,
            f"{shape_text((f'{channels}·m', 1, *spatial))} for an input with {channels} channels",
            weight,
            "give one (1, *k) kernel per input channel and multiplier index (c·m + j)",
        )
    return weight


def _check_pointwise_weight(name: str, weight: object, channels: int, ndim: int) -> Tensor:
    weight = check_tensor(name, weight)
    ones = (1,) * ndim
    if (
        weight.ndim != ndim + 2
        or weight.shape[1] != channels
        or any(s != 1 for s in weight.shape[2:])
    ):
        raise _weight_error(
            name,
            f"{shape_text(('N', channels, *ones))} for an input with {channels} channels",
            weight,
            "a pointwise weight is a 1×…×1 kernel over all input channels",
        )
    return weight


@constant_sizes
def _depthwise(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: object,
    padding: Padding,
    dilation: object,
    padding_mode: str,
    ndim: int,
    name: str = "weight",
    fast_with: tuple[Tensor, Tensor | None] | tuple[()] = (),
) -> Tensor:
    """The depthwise step; with ``fast_with = (pointwise_weight, bias)`` the whole separable layer.

    2-D calls that :func:`sepconv.nn.fast.usable` accepts run the fused CPU operators (issue 9,
    benchmarks/layers.py); everything else runs PyTorch's convolutions.
    """
    x, unbatched = as_batched(input, ndim)
    channels = int(x.shape[1])
    if channels < 1:
        raise bad_argument("input", "at least one channel", tuple(input.shape), "pass C >= 1")
    weight = _check_depthwise_weight(name, weight, channels, ndim)
    strides = int_tuple("stride", stride, ndim)
    dilations = int_tuple("dilation", dilation, ndim)
    kernel = tuple(int(k) for k in weight.shape[2:])
    pads = pad_amounts(sizes(x)[2:], check_padding(padding, ndim), kernel, strides, dilations)
    mode = check_padding_mode(padding_mode)
    weights = [weight]
    if fast_with:
        mid = int(weight.shape[0])
        weights.append(_check_pointwise_weight("pointwise_weight", fast_with[0], mid, ndim))
        bias = fast_with[1]
    if ndim == 2 and fast.usable(x, strides, weights, bias):
        x, zero_pads = _zero_padded(x, pads, kernel, dilations, mode)
        if fast_with:
            out = fast.separable_conv2d(x, weight, weights[1], bias, zero_pads, dilations)
        else:
            out = fast.depthwise_conv2d(x, weight, bias, zero_pads, dilations)
    else:
        x, conv_pad = pad_input(x, pads, kernel, dilations, mode)
        conv = conv_function(ndim)
        if fast_with:
            out = conv(conv(x, weight, None, strides, conv_pad, dilations, channels), weights[1], bias)
        else:
            out = conv(x, weight, bias, strides, conv_pad, dilations, channels)
    return out.squeeze(0) if unbatched else out


def _zero_padded(
    x: Tensor,
    pads: list[tuple[int, int]],
    kernel: tuple[int, ...],
    dilation: tuple[int, ...],
    mode: str,
) -> tuple[Tensor, list[int]]:
    """The fast path pads with zeros itself (also asymmetric 'same'); other modes pad here."""
    check_padded(x, pads, kernel, dilation, mode)
    if mode != "zeros":
        x, _ = pad_input(x, pads, kernel, dilation, mode)
        pads = [(0, 0)] * len(pads)
    (top, bottom), (left, right) = pads
    return x, [top, bottom, left, right]


@constant_sizes
def _pointwise(
    input: Tensor, weight: Tensor, bias: Tensor | None, ndim: int, name: str = "weight"
) -> Tensor:
    x, unbatched = as_batched(input, ndim)
    weight = _check_pointwise_weight(name, weight, int(x.shape[1]), ndim)
    out = conv_function(ndim)(x, weight, bias)
    return out.squeeze(0) if unbatched else out


def _separable(
    input: Tensor,
    depthwise_weight: Tensor,
    pointwise_weight: Tensor,
    bias: Tensor | None,
    stride: object,
    padding: Padding,
    dilation: object,
    padding_mode: str,
    between: Between,
    ndim: int,
) -> Tensor:
    if between is None:
        return _depthwise(
            input,
            depthwise_weight,
            None,
            stride,
            padding,
            dilation,
            padding_mode,
            ndim,
            name="depthwise_weight",
            fast_with=(pointwise_weight, bias),
        )
    mid = _depthwise(
        input,
        depthwise_weight,
        None,
        stride,
        padding,
        dilation,
        padding_mode,
        ndim,
        name="depthwise_weight",
    )
    return _pointwise(between(mid), pointwise_weight, bias, ndim, name="pointwise_weight")


def depthwise_conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: Padding = "valid",
    dilation: int | Sequence[int] = 1,
    padding_mode: str = "zeros",
) -> Tensor:
    """1-D depthwise convolution: input (N, C, L), weight (C·m, 1, k); see depthwise_conv2d."""
    return _depthwise(input, weight, bias, stride, padding, dilation, padding_mode, 1)


def depthwise_conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: Padding = "valid",
    dilation: int | Sequence[int] = 1,
    padding_mode: str = "zeros",
) -> Tensor:
    """2-D depthwise convolution (cross-correlation, as every PyTorch conv).

    ``input`` (N, C, H, W) or (C, H, W); ``weight`` (C·m, 1, kh, kw): channel ``c·m + j`` of
    the output is input channel ``c`` correlated with kernel ``weight[c·m + j, 0]``; ``bias``
    (C·m,) or None. ``padding`` and ``padding_mode``: see the module docstring.
    """
    return _depthwise(input, weight, bias, stride, padding, dilation, padding_mode, 2)


def depthwise_conv3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: Padding = "valid",
    dilation: int | Sequence[int] = 1,
    padding_mode: str = "zeros",
) -> Tensor:
    """3-D depthwise convolution: input (N, C, D, H, W), weight (C·m, 1, kd, kh, kw)."""
    return _depthwise(input, weight, bias, stride, padding, dilation, padding_mode, 3)


def pointwise_conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """1-D pointwise (1-wide) convolution: input (N, C, L), weight (N_out, C, 1)."""
    return _pointwise(input, weight, bias, 1)


def pointwise_conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """2-D pointwise (1×1) convolution: input (N, C, H, W), weight (N_out, C, 1, 1)."""
    return _pointwise(input, weight, bias, 2)


def pointwise_conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """3-D pointwise (1×1×1) convolution: input (N, C, D, H, W), weight (N_out, C, 1, 1, 1)."""
    return _pointwise(input, weight, bias, 3)


def separable_conv1d(
    input: Tensor,
    depthwise_weight: Tensor,
    pointwise_weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: Padding = "valid",
    dilation: int | Sequence[int] = 1,
    padding_mode: str = "zeros",
    between: Between = None,
) -> Tensor:
    """1-D depthwise separable convolution; see separable_conv2d."""
    return _separable(
        input,
        depthwise_weight,
        pointwise_weight,
        bias,
        stride,
        padding,
        dilation,
        padding_mode,
        between,
        1,
    )


def separable_conv2d(
    input: Tensor,
    depthwise_weight: Tensor,
    pointwise_weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: Padding = "valid",
    dilation: int | Sequence[int] = 1,
    padding_mode: str = "zeros",
    between: Between = None,
) -> Tensor:
    """2-D depthwise separable convolution with Keras's semantics.

    The depthwise step (``depthwise_weight`` (C·m, 1, kh, kw), with ``stride``, ``padding``,
    ``dilation`` and ``padding_mode``) has no bias; then ``between`` (None: nothing, as in
    Keras; e.g. BatchNorm + ReLU for a MobileNet block); then the pointwise step
    (``pointwise_weight`` (N_out, C·m, 1, 1)) with the one ``bias`` (N_out,).
    """
    return _separable(
        input,
        depthwise_weight,
        pointwise_weight,
        bias,
        stride,
        padding,
        dilation,
        padding_mode,
        between,
        2,
    )


def separable_conv3d(
    input: Tensor,
    depthwise_weight: Tensor,
    pointwise_weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: Padding = "valid",
    dilation: int | Sequence[int] = 1,
    padding_mode: str = "zeros",
    between: Between = None,
) -> Tensor:
    """3-D depthwise separable convolution; see separable_conv2d."""
    return _separable(
        input,
        depthwise_weight,
        pointwise_weight,
        bias,
        stride,
        padding,
        dilation,
        padding_mode,
        between,
        3,
    )


def _check_spatial_weights(vertical: object, horizontal: object, channels: int) -> None:
    vertical = check_tensor("vertical_weight", vertical)
    horizontal = check_tensor("horizontal_weight", horizontal)
    if vertical.ndim != 4 or vertical.shape[1] != channels or vertical.shape[3] != 1:
        raise _weight_error(
            "vertical_weight",
            f"(mid, {channels}, kh, 1)",
            vertical,
            "the vertical step is a kh×1 convolution from the input channels",
        )
    mid = int(vertical.shape[0])
    if horizontal.ndim != 4 or horizontal.shape[1] != mid or horizontal.shape[2] != 1:
        raise _weight_error(
            "horizontal_weight",
            f"(N, {mid}, 1, kw)",
            horizontal,
            "the horizontal step is a 1×kw convolution from the vertical step's channels",
        )


def spatial_separable_conv2d(
    input: Tensor,
    vertical_weight: Tensor,
    horizontal_weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: Padding = "valid",
    dilation: int | Sequence[int] = 1,
    padding_mode: str = "zeros",
    between: Between = None,
) -> Tensor:
    """A kh×1 convolution C → mid, then a 1×kw convolution mid → N (Inception's factorization).

    ``vertical_weight`` (mid, C, kh, 1) has no bias; ``horizontal_weight`` (N, mid, 1, kw) is
    followed by ``bias`` (N,). Stride, padding and dilation are split per axis: the vertical
    step pads, strides and dilates along H, the horizontal step along W ('same' pads are
    computed from the input size). With ``between=None`` this equals one dense convolution
    with weight ``W[o, c, y, x] = Σ_mid horizontal[o, mid, 0, x] · vertical[mid, c, y, 0]``.
    """
    x, unbatched = as_batched(input, 2)
    (kh, kw), strides, dilations, mode, pads = _spatial_options(
        x, vertical_weight, horizontal_weight, stride, padding, dilation, padding_mode)
    x = _conv_step(x, vertical_weight, None, [pads[0], (0, 0)], (kh, 1), (strides[0], 1),
                   (dilations[0], 1), mode)
    if between is not None:
        x = between(x)
    x = _conv_step(x, horizontal_weight, bias, [(0, 0), pads[1]], (1, kw), (1, strides[1]),
                   (1, dilations[1]), mode)
    return x.squeeze(0) if unbatched else x


@constant_sizes
def _spatial_options(x: Tensor, vertical: Tensor, horizontal: Tensor, stride: object,
                     padding: Padding, dilation: object, padding_mode: str
                     ) -> tuple[tuple[int, int], tuple[int, ...], tuple[int, ...], str,
                                list[tuple[int, int]]]:
    """Kernel size, checked strides, dilations, padding mode and (before, after) pads per axis."""
    _check_spatial_weights(vertical, horizontal, int(x.shape[1]))
    strides = int_tuple("stride", stride, 2)
    dilations = int_tuple("dilation", dilation, 2)
    kernel = (int(vertical.shape[2]), int(horizontal.shape[3]))
    mode = check_padding_mode(padding_mode)
    pads = pad_amounts(sizes(x)[2:], check_padding(padding, 2), kernel, strides, dilations)
    return kernel, strides, dilations, mode, pads


@constant_sizes
def _conv_step(x: Tensor, weight: Tensor, bias: Tensor | None, pads: list[tuple[int, int]],
               kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
               mode: str) -> Tensor:
    """One step of the spatially separable convolution: pad as ``mode`` says, then convolve."""
    x, conv_pad = pad_input(x, pads, kernel, dilation, mode)
    return conv_function(2)(x, weight, bias, stride, conv_pad, dilation)
