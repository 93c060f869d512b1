"""Turn trained convolutions into separable ones with the smallest possible weight error.

Depthwise separable (``to_depthwise_separable``): for every input channel ``c`` the slice
``W[:, c]`` (out_channels × k·k) is replaced by its best rank-m approximation (SVD, optimal in the
Frobenius norm, Eckart-Young). Its right singular vectors become the m depthwise kernels of
channel ``c``, its left ones (times the singular values) the pointwise weights; the singular
values are split evenly (√s on each side) so both steps have comparable scales for fine-tuning.
Exact when m ≥ min(out_channels, k·k).

Spatially separable (``to_spatial_separable``): W[o, c, y, x] ≈ Σ_r V[r, c, y] · H[o, r, x] from
the SVD of the (C·kh) × (O·kw) unfolding (Jaderberg et al. 2014, scheme 2, in closed form):
optimal for the rank, exact at full rank min(C·kh, O·kw).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from sepconv._errors import bad_argument
from sepconv.nn._args import is_int
from sepconv.nn.layers import SeparableConv1d, SeparableConv2d, SeparableConv3d, _SeparableConvNd
from sepconv.nn.spatial import SpatialSeparableConv2d

_CONVS = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}
_SEPARABLE = {1: SeparableConv1d, 2: SeparableConv2d, 3: SeparableConv3d}


def check_convertible(conv: object, *, spatial: bool = False) -> int:
    """The conv's number of spatial dims, or a SepconvError saying why it can't be converted."""
    kinds = (nn.Conv2d,) if spatial else tuple(_CONVS)
    if type(conv) not in kinds:
        names = " or ".join(k.__name__ for k in kinds)
        raise bad_argument("conv", f"an nn.{names}", type(conv).__name__,
                           "pass a plain convolution layer (subclasses and transposed convs are refused)")
    assert isinstance(conv, nn.modules.conv._ConvNd)
    if conv.groups != 1:
        raise bad_argument("conv", "a convolution with groups=1", f"groups={conv.groups}",
                           "grouped and depthwise convolutions are already cheap; convert dense ones")
    if math.prod(conv.kernel_size) == 1:
        raise bad_argument("conv", "a kernel larger than 1×1", f"kernel_size={conv.kernel_size}",
                           "a 1×1 convolution is already pointwise: leave it as it is")
    return _CONVS[type(conv)]


def _check_rank(name: str, value: object, limit: int) -> int:
    if not is_int(value) or not 1 <= int(value) <= limit:
        raise bad_argument(name, f"an int in [1, {limit}]", value,
                           f"choose {name} between 1 and {limit} (that maximum is exact)")
    return int(value)


def depthwise_factors(weight: Tensor, m: int) -> tuple[Tensor, Tensor, Tensor]:
    """(depthwise (C·m, 1, *k), pointwise (O, C·m), singular values (C, min(O, K))), in float64."""
    o, c = weight.shape[:2]
    k = weight.shape[2:]
    slices = weight.detach().to(torch.float64).permute(1, 0, *range(2, weight.ndim)).reshape(c, o, -1)
    u, s, vh = torch.linalg.svd(slices, full_matrices=False)  # (C, O, r), (C, r), (C, r, K)
    r = s.shape[1]
    keep = min(m, r)
    root = s[:, :keep].sqrt()
    dw = torch.zeros(c, m, math.prod(k), dtype=torch.float64)
    pw = torch.zeros(o, c, m, dtype=torch.float64)
    dw[:, :keep] = vh[:, :keep] * root[..., None]
    pw[:, :, :keep] = (u[:, :, :keep] * root[:, None, :]).permute(1, 0, 2)
    return dw.reshape(c * m, 1, *k), pw.reshape(o, c * m), s


def to_depthwise_separable(conv: nn.Module, depth_multiplier: int = 1) -> _SeparableConvNd:
    """The SVD-optimal depthwise separable layer for a trained ``nn.Conv{1,2,3}d``.

    Stride, padding, dilation, padding_mode, bias, dtype and device are carried over.

    >>> conv = nn.Conv2d(3, 8, 3, padding=1)
    >>> sep = to_depthwise_separable(conv, depth_multiplier=8)   # 8 >= min(8, 9): exact
    >>> x = torch.randn(1, 3, 10, 10)
    >>> bool(torch.allclose(sep(x), conv(x), atol=1e-5))
    True
    """
    ndim = check_convertible(conv)
    assert isinstance(conv, nn.modules.conv._ConvNd)
    o, c = conv.weight.shape[:2]
    m = _check_rank("depth_multiplier", depth_multiplier, min(o, math.prod(conv.kernel_size)))
    w = conv.weight
    layer = _SEPARABLE[ndim](
        c, o, conv.kernel_size, depth_multiplier=m, stride=conv.stride, padding=conv.padding,
        dilation=conv.dilation, bias=conv.bias is not None, padding_mode=conv.padding_mode,
        device=w.device, dtype=w.dtype,
    )
    dw, pw, _ = depthwise_factors(w, m)
    with torch.no_grad():
        layer.depthwise.weight.copy_(dw.to(w.dtype))
        layer.pointwise.weight.copy_(pw.reshape(layer.pointwise.weight.shape).to(w.dtype))
        if conv.bias is not None and layer.pointwise.bias is not None:
            layer.pointwise.bias.copy_(conv.bias)
    return layer


def spatial_factors(weight: Tensor, rank: int) -> tuple[Tensor, Tensor, Tensor]:
    """(vertical (R, C, kh, 1), horizontal (O, R, 1, kw), singular values) in float64."""
    o, c, kh, kw = weight.shape
    unfolded = weight.detach().to(torch.float64).permute(1, 2, 0, 3).reshape(c * kh, o * kw)
    u, s, vh = torch.linalg.svd(unfolded, full_matrices=False)
    keep = min(rank, s.numel())
    root = s[:keep].sqrt()
    vertical = torch.zeros(rank, c, kh, 1, dtype=torch.float64)
    horizontal = torch.zeros(o, rank, 1, kw, dtype=torch.float64)
    vertical[:keep] = (u[:, :keep] * root).T.reshape(keep, c, kh, 1)
    horizontal[:, :keep] = (vh[:keep] * root[:, None]).reshape(keep, o, kw).permute(1, 0, 2)[:, :, None]
    return vertical, horizontal, s


def to_spatial_separable(conv: nn.Module, rank: int) -> SpatialSeparableConv2d:
    """The rank-R kh×1 then 1×kw factorization of a trained ``nn.Conv2d`` (optimal for R).

    >>> conv = nn.Conv2d(2, 4, 3)
    >>> sep = to_spatial_separable(conv, rank=6)   # min(C·kh, O·kw) = 6: exact
    >>> x = torch.randn(1, 2, 8, 8)
    >>> bool(torch.allclose(sep(x), conv(x), atol=1e-5))
    True
    """
    check_convertible(conv, spatial=True)
    assert isinstance(conv, nn.Conv2d)
    o, c, kh, kw = conv.weight.shape
    r = _check_rank("rank", rank, min(c * kh, o * kw))
    w = conv.weight
    padding = conv.padding if isinstance(conv.padding, str) else tuple(conv.padding)
    layer = SpatialSeparableConv2d(
        c, o, (kh, kw), mid_channels=r, stride=(conv.stride[0], conv.stride[1]),
        padding=padding, dilation=(conv.dilation[0], conv.dilation[1]), bias=conv.bias is not None,
        padding_mode=conv.padding_mode, device=w.device, dtype=w.dtype,
    )
    vertical, horizontal, _ = spatial_factors(w, r)
    with torch.no_grad():
        layer.vertical.weight.copy_(vertical.to(w.dtype))
        layer.horizontal.weight.copy_(horizontal.to(w.dtype))
        if conv.bias is not None and layer.horizontal.bias is not None:
            layer.horizontal.bias.copy_(conv.bias)
    return layer


def singular_values(conv: nn.Module, form: str) -> Tensor:
    """The spectrum the conversion truncates: (C, r) per channel for 'depthwise', (r,) for 'spatial'."""
    assert isinstance(conv, nn.modules.conv._ConvNd)
    if form == "depthwise":
        return depthwise_factors(conv.weight, 1)[2]
    return spatial_factors(conv.weight, 1)[2]
