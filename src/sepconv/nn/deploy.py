"""Deployment: a model as ONNX bytes, and how closely ONNX Runtime reproduces PyTorch.

Plain ``torch.onnx.export`` works on models built from sepconv layers (both exporters, no extra
arguments: :mod:`sepconv.nn._export` teaches them sepconv's operators when ``sepconv.nn`` is
imported). These two functions are what ``sepconv convert ... --onnx FILE`` runs.

>>> import torch
>>> from sepconv.nn import SeparableConv2d, export_onnx, onnxruntime_error
>>> model = SeparableConv2d(3, 8, 3, padding="same").eval()
>>> x = torch.randn(1, 3, 32, 32)
>>> data = export_onnx(model, x)
>>> onnxruntime_error(data, model, x) < 1e-5
True
"""

from __future__ import annotations

import io
import logging
import warnings

import torch
from torch import Tensor, nn

from sepconv._errors import bad_argument

__all__ = ["export_onnx", "onnxruntime_error"]


def export_onnx(model: nn.Module, example: Tensor, *, dynamo: bool = True) -> bytes:
    """The ONNX model (standard operators only) of ``model`` called on ``example``, as bytes.

    ``dynamo=True`` uses PyTorch's torch.export-based exporter, ``False`` the TorchScript-based
    one. The model is exported as it is: call ``model.eval()`` first for inference (BatchNorm).
    """
    if not isinstance(example, Tensor):
        raise bad_argument("example", "a torch.Tensor input for the model", type(example).__name__,
                           "pass e.g. torch.randn(1, 3, 224, 224)")
    quiet = logging.getLogger("torch.onnx")  # "torchvision is not installed. Skipping ..." notes
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter's notice
            warnings.simplefilter("ignore", FutureWarning)  # pytree notices inside torch.export
            if dynamo:
                program = torch.onnx.export(model, (example,), dynamo=True, verbose=False)
                if program is None:  # pragma: no cover - the dynamo exporter always returns one
                    raise RuntimeError("torch.onnx.export(dynamo=True) returned no program")
                return bytes(program.model_proto.SerializeToString())
            buffer = io.BytesIO()
            torch.onnx.export(model, (example,), buffer, dynamo=False)  # type: ignore[arg-type]
            return buffer.getvalue()
    finally:
        quiet.setLevel(level)


def onnxruntime_error(data: bytes, model: nn.Module, example: Tensor) -> float:
    """``max(abs(onnxruntime - torch)) / max(abs(torch))`` on ``example`` (0 when both are zero)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: example.detach().cpu().numpy()}
    got = torch.from_numpy(session.run(None, feed)[0])
    with torch.no_grad():
        want = model(example).detach().cpu()
    scale = float(want.abs().max()) if want.numel() else 0.0
    difference = float((got - want).abs().max()) if want.numel() else 0.0
    return difference / scale if scale > 0 else difference
