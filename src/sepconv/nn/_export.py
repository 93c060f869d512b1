"""ONNX export of sepconv's custom operators, in standard ONNX operators only (issue 12).

The fused CPU operators of :mod:`sepconv.nn.fast` are opaque to the exporters; each one is
taught to them here, once, when :mod:`sepconv.nn` is imported, so that a plain
``torch.onnx.export(model, (x,), f)`` works with either exporter and no extra arguments:

- the TorchScript-based exporter (``dynamo=False``) gets a symbolic function per operator
  (``torch.onnx.register_custom_op_symbolic``): the depthwise step becomes ``Conv`` with
  ``group = in_channels`` and the pointwise step a 1×1 ``Conv``;
- the dynamo exporter (``dynamo=True``) runs PyTorch's decomposition table before translating:
  each operator is registered there as its plain PyTorch composition (``F.pad`` and
  ``F.conv2d``), which the exporter translates to the same ``Conv`` nodes.

Padding modes other than zeros are applied before the operators by ``F.pad`` and export as ONNX
``Pad`` (or Slice/Concat for circular padding in the TorchScript exporter). Nothing here runs
outside an export: the operators keep their fused CPU kernels in eager mode, under
``torch.inference_mode``, ``torch.no_grad`` and in a ``torch.jit.trace``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from sepconv.nn import fast

try:  # the TorchScript-based exporter (deprecated since torch 2.9, present in 2.13 and 2.14)
    from torch.onnx import register_custom_op_symbolic, symbolic_helper

    parse_args = symbolic_helper.parse_args
except ImportError:  # pragma: no cover - a torch without it: only the dynamo exporter is taught
    register_custom_op_symbolic = None  # type: ignore[assignment]

    def parse_args(*_: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return lambda function: function

OPSET = 9  # the first opset with everything used here (Conv with group and dilations)


def _conv(g: Any, x: Any, weight: Any, bias: Any | None, padding: list[int],
          dilation: list[int], group: int) -> Any:
    top, bottom, left, right = padding
    inputs = [x, weight] if bias is None or bias.node().mustBeNone() else [x, weight, bias]
    return g.op("Conv", *inputs, pads_i=[top, left, bottom, right], dilations_i=dilation,
                strides_i=[1, 1], group_i=group)


def _channels(x: Any) -> int:
    """The input's channel count, which ONNX ``Conv`` needs as its ``group``.

    A padding mode other than zeros reaches the operator through an ONNX ``Pad`` whose output
    shape the TorchScript exporter leaves unknown; padding keeps the channels, so the count is
    read from the padded tensor then.
    """
    while True:
        sizes = x.type().varyingSizes() if x.type().kind() == "TensorType" else None
        if sizes and len(sizes) == 4 and sizes[1] is not None:
            return int(sizes[1])
        if x.node().kind() != "onnx::Pad":
            raise RuntimeError("sepconv: ONNX export needs the input's channel count; export "
                               "with an input of known shape")
        x = x.node().inputsAt(0)


@parse_args("v", "v", "v", "is", "is")
def _depthwise_symbolic(g: Any, x: Any, weight: Any, bias: Any, padding: list[int],
                        dilation: list[int]) -> Any:
    return _conv(g, x, weight, bias, padding, dilation, _channels(x))


@parse_args("v", "v", "v", "v", "is", "is")
def _separable_symbolic(g: Any, x: Any, depthwise: Any, pointwise: Any, bias: Any,
                        padding: list[int], dilation: list[int]) -> Any:
    mid = _conv(g, x, depthwise, None, padding, dilation, _channels(x))
    return _conv(g, mid, pointwise, bias, [0, 0, 0, 0], [1, 1], 1)


# operator name -> (TorchScript symbolic, plain PyTorch composition with the operator's signature)
OPERATORS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "sepconv::depthwise_conv2d": (_depthwise_symbolic, fast._plain_depthwise),
    "sepconv::separable_conv2d": (_separable_symbolic, fast._plain_separable),
}


def _register_decomposition(name: str, plain: Callable[..., Any]) -> None:
    """Put ``plain`` into the table the dynamo exporter decomposes with before translating.

    ``torch._decomp`` is the table both torch 2.13 and 2.14 consult there; an operator already
    in it is left alone (a second import of this module, or another registration).
    """
    from torch import _decomp

    namespace, op = name.split("::")
    overload = getattr(getattr(torch.ops, namespace), op).default
    if overload not in _decomp.decomposition_table:
        _decomp.register_decomposition(overload)(plain)


def register() -> None:
    """Teach both ONNX exporters every sepconv operator (idempotent)."""
    for name, (symbolic, plain) in OPERATORS.items():
        if register_custom_op_symbolic is not None:
            register_custom_op_symbolic(name, symbolic, OPSET)
        _register_decomposition(name, plain)


register()
