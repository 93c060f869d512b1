"""Depthwise, pointwise and depthwise separable convolution layers (Keras semantics).

Each layer's ``forward`` calls its function in :mod:`sepconv.nn.functional`. Weights have
PyTorch's shapes: depthwise ``(C·m, 1, *k)``, pointwise ``(N, C·m, 1, ...)``. Initialization is
PyTorch's default scheme with the true fans (see :mod:`sepconv.nn._init`): a depthwise weight
and bias are drawn from U(-b, b) with ``b = 1/sqrt(prod(k))``, a pointwise weight and bias with
``b = 1/sqrt(C·m)``.

>>> import torch
>>> from sepconv.nn import SeparableConv2d
>>> layer = SeparableConv2d(3, 256, 5, bias=False)
>>> layer(torch.randn(1, 3, 12, 12)).shape
torch.Size([1, 256, 8, 8])
>>> [p.numel() for p in layer.parameters()]  # 3·25 + 3·256 weights
[75, 768]
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import torch
from torch import Tensor, nn

from sepconv.nn import _folding, _onednn, _script, fast
from sepconv.nn import functional as SF
from sepconv.nn._args import Padding, check_padding, check_padding_mode, int_tuple, positive_int
from sepconv.nn._init import depthwise_fans, uniform_fan_in_
from sepconv.nn._modules import (
    Device,
    channels_last,
    check_between,
    check_channels,
    new_parameters,
    options_repr,
)

__all__ = [
    "DepthwiseConv1d",
    "DepthwiseConv2d",
    "DepthwiseConv3d",
    "PointwiseConv1d",
    "PointwiseConv2d",
    "PointwiseConv3d",
    "SeparableConv1d",
    "SeparableConv2d",
    "SeparableConv3d",
]


class _DepthwiseConvNd(nn.Module):
    ndim: ClassVar[int]
    bias: nn.Parameter | None

    def __init__(
        self,
        in_channels: int,
        kernel_size: int | tuple[int, ...],
        depth_multiplier: int = 1,
        stride: int | tuple[int, ...] = 1,
        padding: Padding = "valid",
        dilation: int | tuple[int, ...] = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Device = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        n = self.ndim
        self._in_channels = positive_int("in_channels", in_channels)
        self.depth_multiplier = positive_int("depth_multiplier", depth_multiplier)
        self.kernel_size = int_tuple("kernel_size", kernel_size, n)
        self.stride = int_tuple("stride", stride, n)
        self.padding = check_padding(padding, n)
        self.dilation = int_tuple("dilation", dilation, n)
        self.padding_mode = check_padding_mode(padding_mode)
        shape = (self.out_channels, 1, *self.kernel_size)
        self.weight, bias_parameter = new_parameters(shape, bias, device, dtype)
        self.register_parameter("bias", bias_parameter)
        self.reset_parameters()

    @property
    def in_channels(self) -> int:
        return self._in_channels

    @property
    def out_channels(self) -> int:
        return self._in_channels * self.depth_multiplier

    def reset_parameters(self) -> None:
        """U(-b, b) with b = 1/sqrt(prod(kernel_size)) for weight and bias (true fan in)."""
        uniform_fan_in_(self.weight, self.bias, depthwise_fans(self.kernel_size)[0])

    def extra_repr(self) -> str:
        return f"{self.in_channels}, kernel_size={self.kernel_size}" + (
            f", depth_multiplier={self.depth_multiplier}"
            + options_repr(
                self.stride, self.padding, self.dilation, self.padding_mode, self.bias is not None
            )
        )

    def __prepare_scriptable__(self) -> nn.Module:
        """What ``torch.jit.script`` compiles instead: PyTorch's path (see sepconv.nn._script)."""
        return _script.step(self.weight, self.bias, self.stride, self.padding, self.dilation,
                            self.padding_mode, self.in_channels)

    def forward(self, input: Tensor) -> Tensor:
        check_channels(self, input, self.in_channels, self.ndim)
        function = (SF.depthwise_conv1d, SF.depthwise_conv2d, SF.depthwise_conv3d)[self.ndim - 1]
        return function(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.padding_mode)


class DepthwiseConv1d(_DepthwiseConvNd):
    """1-D depthwise convolution, Keras's ``DepthwiseConv1D``; see :class:`DepthwiseConv2d`."""

    ndim = 1


class DepthwiseConv2d(_DepthwiseConvNd):
    """2-D depthwise convolution, Keras's ``DepthwiseConv2D``.

    One kh×kw kernel per input channel and multiplier index: output channel ``c·m + j``
    (``m = depth_multiplier``) is input channel ``c`` correlated with ``weight[c·m + j, 0]``.
    ``weight`` has shape (C·m, 1, kh, kw), ``bias`` (C·m,). ``padding``: 'valid', 'same'
    (TensorFlow's rule, also for stride > 1), an int or a tuple; ``padding_mode`` as in
    ``nn.Conv2d``. Init: U(-b, b), ``b = 1/sqrt(kh·kw)`` (fan in = fan out = kh·kw).

    >>> layer = DepthwiseConv2d(3, 5, depth_multiplier=2)
    >>> layer
    DepthwiseConv2d(3, kernel_size=(5, 5), depth_multiplier=2)
    >>> layer(torch.randn(1, 3, 12, 12)).shape
    torch.Size([1, 6, 8, 8])
    """

    ndim = 2


class DepthwiseConv3d(_DepthwiseConvNd):
    """3-D depthwise convolution; see :class:`DepthwiseConv2d`."""

    ndim = 3


class _PointwiseConvNd(nn.Module):
    ndim: ClassVar[int]
    bias: nn.Parameter | None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bias: bool = True,
        device: Device = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self._in_channels = positive_int("in_channels", in_channels)
        self._out_channels = positive_int("out_channels", out_channels)
        shape = (self._out_channels, self._in_channels) + (1,) * self.ndim
        self.weight, bias_parameter = new_parameters(shape, bias, device, dtype)
        self.register_parameter("bias", bias_parameter)
        self.reset_parameters()

    @property
    def in_channels(self) -> int:
        return self._in_channels

    @property
    def out_channels(self) -> int:
        return self._out_channels

    def reset_parameters(self) -> None:
        """U(-b, b) with b = 1/sqrt(in_channels) for weight and bias (true fan in)."""
        uniform_fan_in_(self.weight, self.bias, self._in_channels)

    def extra_repr(self) -> str:
        bias = "" if self.bias is not None else ", bias=False"
        return f"{self.in_channels}, {self.out_channels}{bias}"

    def __prepare_scriptable__(self) -> nn.Module:
        """What ``torch.jit.script`` compiles instead: PyTorch's path (see sepconv.nn._script)."""
        ones = (1,) * self.ndim
        return _script.step(self.weight, self.bias, ones, "valid", ones, "zeros", 1)

    def forward(self, input: Tensor) -> Tensor:
        check_channels(self, input, self.in_channels, self.ndim)
        function = (SF.pointwise_conv1d, SF.pointwise_conv2d, SF.pointwise_conv3d)[self.ndim - 1]
        return function(input, self.weight, self.bias)


class PointwiseConv1d(_PointwiseConvNd):
    """1-D pointwise convolution (kernel size 1); see :class:`PointwiseConv2d`."""

    ndim = 1


class PointwiseConv2d(_PointwiseConvNd):
    """2-D pointwise (1×1) convolution: weight (N, C, 1, 1), bias (N,).

    Init: U(-b, b), ``b = 1/sqrt(C)`` for weight and bias.

    >>> PointwiseConv2d(6, 256)(torch.randn(1, 6, 8, 8)).shape
    torch.Size([1, 256, 8, 8])
    """

    ndim = 2


class PointwiseConv3d(_PointwiseConvNd):
    """3-D pointwise (1×1×1) convolution; see :class:`PointwiseConv2d`."""

    ndim = 3


DEPTHWISE: dict[int, type[_DepthwiseConvNd]] = {
    1: DepthwiseConv1d,
    2: DepthwiseConv2d,
    3: DepthwiseConv3d,
}
POINTWISE: dict[int, type[_PointwiseConvNd]] = {
    1: PointwiseConv1d,
    2: PointwiseConv2d,
    3: PointwiseConv3d,
}


class _SeparableConvNd(nn.Module):
    ndim: ClassVar[int]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        depth_multiplier: int = 1,
        stride: int | tuple[int, ...] = 1,
        padding: Padding = "valid",
        dilation: int | tuple[int, ...] = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Device = None,
        dtype: torch.dtype | None = None,
        between: nn.Module | None = None,
        after: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.depthwise = DEPTHWISE[self.ndim](
            in_channels,
            kernel_size,
            depth_multiplier,
            stride,
            padding,
            dilation,
            bias=False,
            padding_mode=padding_mode,
            device=device,
            dtype=dtype,
        )
        mid = self.depthwise.out_channels
        self.between = check_between(between, mid)
        self.pointwise = POINTWISE[self.ndim](mid, out_channels, bias, device, dtype)
        self.after = check_between(after, out_channels, "after")

    in_channels = property(lambda self: self.depthwise.in_channels)
    out_channels = property(lambda self: self.pointwise.out_channels)
    depth_multiplier = property(lambda self: self.depthwise.depth_multiplier)
    kernel_size = property(lambda self: self.depthwise.kernel_size)
    stride = property(lambda self: self.depthwise.stride)
    padding = property(lambda self: self.depthwise.padding)
    dilation = property(lambda self: self.depthwise.dilation)
    padding_mode = property(lambda self: self.depthwise.padding_mode)

    def reset_parameters(self) -> None:
        """Re-draw both weights and the bias (see the module docstring for the bounds)."""
        self.depthwise.reset_parameters()
        self.pointwise.reset_parameters()

    def extra_repr(self) -> str:
        dw = self.depthwise
        return f"{self.in_channels}, {self.out_channels}, kernel_size={dw.kernel_size}" + (
            f", depth_multiplier={dw.depth_multiplier}"
            + options_repr(
                dw.stride, dw.padding, dw.dilation, dw.padding_mode, self.pointwise.bias is not None
            )
        )

    def __prepare_scriptable__(self) -> nn.Module:
        """What ``torch.jit.script`` compiles instead: PyTorch's path (see sepconv.nn._script).
        Hooks on the depthwise or pointwise step are not part of it (a warning says so)."""
        if _folding.hooked((self.depthwise, self.pointwise)):
            warnings.warn(f"{type(self).__name__}: torch.jit.script compiles the depthwise and "
                          "pointwise steps without their hooks (e.g. nn.utils.prune's); call "
                          "nn.utils.prune.remove (or remove the hooks) before scripting, or use "
                          "torch.jit.trace, which runs them", UserWarning, stacklevel=2)
        return _script.chain(self.depthwise.__prepare_scriptable__(), self.between,
                             self.pointwise.__prepare_scriptable__(), self.after)

    def forward(self, input: Tensor) -> Tensor:
        check_channels(self, input, self.in_channels, self.ndim)
        dw, pw = self.depthwise, self.pointwise
        if _folding.hooked(self._modules.values()):  # depthwise, pointwise, between, after
            # a step's hooks (nn.utils.prune recomputes a pruned weight in one) run only when
            # the step is called: call the steps in order, as the layer is defined
            out = dw(input)
            out = pw(out if self.between is None else self.between(out))
            return out if self.after is None else self.after(out)
        if self.ndim == 2 and not self.training and (
                self.between is not None or self.after is not None
                or not fast.usable(input, dw.stride, [dw.weight, pw.weight], pw.bias)):
            # eval: BatchNorms folded (issue 14); None with gradients, traced, or not float32 CPU
            out = _onednn.separable_layer(self, input)
            if out is not None:
                return out
        if (self.ndim == 2 and self.training and self.between is not None and input.ndim == 4
                and input.device.type == "cpu" and not _folding.traced()):
            # Training with modules between the steps: PyTorch's convolutions in channels_last
            # beat the fused depthwise operator + NCHW BatchNorm (benchmarks/networks.py, train
            # step of MobileNetV1 at 8×160²: 0.75× -> 0.91× the faster plain twin, 2 threads);
            # the gradient goes back in the input's format (see channels_last).
            input = channels_last(input)
        function = (SF.separable_conv1d, SF.separable_conv2d, SF.separable_conv3d)[self.ndim - 1]
        out = function(input, dw.weight, pw.weight, pw.bias, dw.stride, dw.padding, dw.dilation,
                       dw.padding_mode, self.between)
        return out if self.after is None else self.after(out)


class SeparableConv1d(_SeparableConvNd):
    """1-D depthwise separable convolution, Keras's ``SeparableConv1D``; see SeparableConv2d."""

    ndim = 1


class SeparableConv2d(_SeparableConvNd):
    """2-D depthwise separable convolution, Keras's ``SeparableConv2D``.

    ``.depthwise`` (a :class:`DepthwiseConv2d` without bias, weight (C·m, 1, kh, kw)) holds
    stride, padding, dilation and padding_mode; ``.pointwise`` (a :class:`PointwiseConv2d`,
    weight (N, C·m, 1, 1)) holds the one bias. Nothing happens between the steps unless
    ``between`` is given (e.g. ``nn.Sequential(nn.BatchNorm2d(C·m), nn.ReLU())``, MobileNet
    style); ``after`` (e.g. ``nn.Sequential(nn.BatchNorm2d(N), nn.ReLU())``) runs after the
    pointwise step: ``layer(x)`` equals ``after(pointwise(between(depthwise(x))))``. In eval mode
    without gradients a BatchNorm2d and a ReLU/ReLU6/SiLU/Hardswish/GELU in ``between`` and
    ``after`` are folded into the steps (docs/guide/networks.md).
    Init: U(-b, b) with ``b = 1/sqrt(kh·kw)`` (depthwise) and ``b = 1/sqrt(C·m)`` (pointwise
    weight and bias).

    >>> SeparableConv2d(3, 8, 3, depth_multiplier=2, padding="same")
    SeparableConv2d(
      3, 8, kernel_size=(3, 3), depth_multiplier=2, padding='same'
      (depthwise): DepthwiseConv2d(3, kernel_size=(3, 3), depth_multiplier=2, padding='same',
                                   bias=False)
      (pointwise): PointwiseConv2d(6, 8)
    )
    """

    ndim = 2


class SeparableConv3d(_SeparableConvNd):
    """3-D depthwise separable convolution; see :class:`SeparableConv2d`."""

    ndim = 3

