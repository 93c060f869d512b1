"""Weight layout interop with Keras's ``DepthwiseConv1D/2D`` and ``SeparableConv1D/2D``.

Keras stores channels last; the arrays ``layer.get_weights()`` returns are

========================  ==============================================================
Keras layer               list
========================  ==============================================================
DepthwiseConv2D           kernel (kh, kw, C, m) [, bias (C·m,)]
SeparableConv2D           depthwise (kh, kw, C, m), pointwise (1, 1, C·m, N) [, bias (N,)]
Conv2D with a 1×1 kernel  kernel (1, 1, C, N) [, bias (N,)]
========================  ==============================================================

(1-D: drop one spatial axis; 3-D: add one.) Keras and PyTorch agree on the channel order of a
depth multiplier (output channel ``c·m + j``), so the conversion is a transpose and reshape:
PyTorch's depthwise weight ``w[c·m + j, 0, y, x] = kernel[y, x, c, j]`` and pointwise weight
``p[o, i, 0, 0] = pointwise[0, 0, i, o]``. Both libraries correlate (no kernel flip) and
Keras's ``padding='same'`` is the TensorFlow rule sepconv uses, so a module built with the same
kernel size, strides, dilation, padding and depth multiplier computes what the Keras layer
computes, on the input permuted from (N, H, W, C) to (N, C, H, W).

>>> import numpy as np
>>> from sepconv.nn import SeparableConv2d, keras_weights, load_keras_weights
>>> layer = SeparableConv2d(3, 8, 5, depth_multiplier=2)
>>> [w.shape for w in keras_weights(layer)]
[(5, 5, 3, 2), (1, 1, 6, 8), (8,)]
>>> load_keras_weights(layer, [np.ones((5, 5, 3, 2)), np.ones((1, 1, 6, 8)), np.zeros(8)])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from sepconv._errors import SepconvError, bad_argument
from sepconv.nn._args import shape_text
from sepconv.nn.layers import _DepthwiseConvNd, _PointwiseConvNd, _SeparableConvNd

__all__ = ["keras_weights", "load_keras_weights"]

Supported = _DepthwiseConvNd | _PointwiseConvNd | _SeparableConvNd


def depthwise_to_keras(weight: Tensor, in_channels: int) -> Tensor:
    """(C·m, 1, *k) → (*k, C, m)."""
    spatial = tuple(weight.shape[2:])
    grouped = weight.reshape(in_channels, -1, *spatial)
    n = len(spatial)
    return grouped.permute(*range(2, n + 2), 0, 1)


def depthwise_from_keras(kernel: Tensor) -> Tensor:
    """(*k, C, m) → (C·m, 1, *k)."""
    n = kernel.ndim - 2
    grouped = kernel.permute(n, n + 1, *range(n))
    return grouped.reshape(-1, 1, *grouped.shape[2:])


def pointwise_to_keras(weight: Tensor) -> Tensor:
    """(N, C, 1, ...) → (1, ..., C, N)."""
    n = weight.ndim - 2
    return weight.reshape(weight.shape[0], weight.shape[1]).T.reshape(
        *(1,) * n, -1, weight.shape[0]
    )


def pointwise_from_keras(kernel: Tensor) -> Tensor:
    """(1, ..., C, N) → (N, C, 1, ...)."""
    n = kernel.ndim - 2
    matrix = kernel.reshape(kernel.shape[-2], kernel.shape[-1]).T
    return matrix.reshape(*matrix.shape, *(1,) * n)


def _check_module(module: object) -> Supported:
    if isinstance(module, _DepthwiseConvNd | _PointwiseConvNd | _SeparableConvNd):
        if isinstance(module, _SeparableConvNd) and module.between is not None:
            raise bad_argument(
                "module",
                "a SeparableConv with between=None (Keras has nothing between the steps)",
                module,
                "load the Keras DepthwiseConv and 1×1 Conv weights into module.depthwise and "
                "module.pointwise separately",
            )
        return module
    raise bad_argument(
        "module",
        "a sepconv.nn DepthwiseConv, PointwiseConv or SeparableConv module",
        type(module).__name__,
        "build the matching sepconv.nn layer (SpatialSeparableConv2d has no Keras counterpart)",
    )


def _parts(module: Supported) -> list[tuple[str, nn.Parameter]]:
    """The module's parameters in Keras's order, with their kind."""
    if isinstance(module, _SeparableConvNd):
        parts = [("depthwise", module.depthwise.weight), ("pointwise", module.pointwise.weight)]
        bias = module.pointwise.bias
    else:
        kind = "depthwise" if isinstance(module, _DepthwiseConvNd) else "pointwise"
        parts = [(kind, module.weight)]
        bias = module.bias
    return parts + ([("bias", bias)] if bias is not None else [])


def _to_keras(kind: str, weight: Tensor, in_channels: int) -> Tensor:
    if kind == "depthwise":
        return depthwise_to_keras(weight, in_channels)
    return pointwise_to_keras(weight) if kind == "pointwise" else weight


def _from_keras(kind: str, array: Tensor) -> Tensor:
    if kind == "depthwise":
        return depthwise_from_keras(array)
    return pointwise_from_keras(array) if kind == "pointwise" else array


def keras_weights(module: nn.Module) -> list[np.ndarray]:
    """The list Keras's ``layer.set_weights`` takes for the equivalent Keras layer.

    ``module`` is a DepthwiseConv1d/2d/3d (Keras ``DepthwiseConv*D``), a SeparableConv1d/2d/3d
    (``SeparableConv*D``) or a PointwiseConv1d/2d/3d (``Conv*D`` with kernel size 1). Arrays
    are NumPy copies in the module's dtype.
    """
    checked = _check_module(module)
    channels = checked.in_channels
    return [
        _to_keras(kind, weight.detach(), channels).cpu().numpy().copy()
        for kind, weight in _parts(checked)
    ]


def _as_tensor(index: int, array: object) -> Tensor:
    try:
        return torch.as_tensor(np.asarray(array))
    except (TypeError, ValueError, RuntimeError) as error:
        raise bad_argument(
            f"weights[{index}]", "an array", type(array).__name__, f"pass NumPy arrays ({error})"
        ) from None


def _check_count(weights: object, parts: list[tuple[str, nn.Parameter]]) -> Sequence[object]:
    if isinstance(weights, Sequence) and not isinstance(weights, str):
        if len(weights) == len(parts):
            return weights
    names = ", ".join(kind for kind, _ in parts)
    received = len(weights) if isinstance(weights, Sequence) else type(weights).__name__
    raise bad_argument(
        "weights",
        f"a list of {len(parts)} arrays ({names}), as Keras's layer.get_weights() returns",
        received,
        "build the module with bias=True/False to match the Keras layer's use_bias",
    )


def load_keras_weights(module: nn.Module, weights: Sequence[object]) -> None:
    """Copy Keras weights (the list ``layer.get_weights()`` returns) into ``module`` in place.

    Shapes are checked against the module; a mismatch raises a SepconvError naming the array.
    The module's stride, padding, dilation and depth multiplier must match the Keras layer's
    for the outputs to agree (they are not part of the weights).
    """
    checked = _check_module(module)
    parts = _parts(checked)
    arrays = _check_count(weights, parts)
    converted = []
    for index, ((kind, param), array) in enumerate(zip(parts, arrays, strict=True)):
        value = _as_tensor(index, array)
        expected = tuple(_to_keras(kind, param.detach(), checked.in_channels).shape)
        if tuple(value.shape) != expected:
            raise SepconvError(
                f"weights[{index}] ({kind}): expected shape {shape_text(expected)}, received "
                f"{shape_text(tuple(value.shape))}; build the module with the Keras layer's "
                f"kernel size, channels and depth multiplier: {checked!r}"
            )
        converted.append((param, _from_keras(kind, value)))
    with torch.no_grad():
        for param, value in converted:
            param.copy_(value)
