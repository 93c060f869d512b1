"""PyTorch layers: depthwise, pointwise and separable convolutions with Keras's semantics.

>>> import torch
>>> from torch import nn
>>> from sepconv.nn import SeparableConv2d
>>> block = SeparableConv2d(
...     32, 64, 3, padding="same", between=nn.Sequential(nn.BatchNorm2d(32), nn.ReLU())
... )
>>> block(torch.randn(2, 32, 16, 16)).shape
torch.Size([2, 64, 16, 16])
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError:  # pragma: no cover - exercised without torch installed
    raise ImportError("sepconv.nn needs PyTorch: pip install 'sepconv[torch]'") from None

from sepconv.nn import (
    _export,  # noqa: F401 - teaches both ONNX exporters sepconv's operators
    functional,
)
from sepconv.nn.accelerate import AccelerationReport, FusionReport, accelerate
from sepconv.nn.convert import to_depthwise_separable, to_spatial_separable
from sepconv.nn.convert_model import ConversionReport, LayerReport, convert_model
from sepconv.nn.deploy import export_onnx, onnxruntime_error
from sepconv.nn.filter import Filter
from sepconv.nn.keras import keras_weights, load_keras_weights
from sepconv.nn.layers import (
    DepthwiseConv1d,
    DepthwiseConv2d,
    DepthwiseConv3d,
    PointwiseConv1d,
    PointwiseConv2d,
    PointwiseConv3d,
    SeparableConv1d,
    SeparableConv2d,
    SeparableConv3d,
)
from sepconv.nn.profiling import LayerProfile, Profile, profile
from sepconv.nn.spatial import SpatialSeparableConv2d

__all__ = [
    "AccelerationReport",
    "ConversionReport",
    "DepthwiseConv1d",
    "DepthwiseConv2d",
    "DepthwiseConv3d",
    "Filter",
    "FusionReport",
    "LayerProfile",
    "LayerReport",
    "PointwiseConv1d",
    "PointwiseConv2d",
    "PointwiseConv3d",
    "Profile",
    "SeparableConv1d",
    "SeparableConv2d",
    "SeparableConv3d",
    "SpatialSeparableConv2d",
    "accelerate",
    "convert_model",
    "export_onnx",
    "functional",
    "keras_weights",
    "load_keras_weights",
    "onnxruntime_error",
    "profile",
    "to_depthwise_separable",
    "to_spatial_separable",
]
