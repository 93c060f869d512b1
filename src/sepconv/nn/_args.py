"""Argument checks and padding arithmetic shared by :mod:`sepconv.nn.functional` and the layers.

Every bad input raises a :class:`~sepconv.SepconvError` naming the argument and the fix.
"""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeGuard, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor

from sepconv._errors import bad_argument, unknown_choice

Padding = str | int | Sequence[int]
P = ParamSpec("P")
R = TypeVar("R")

PADDINGS = ("same", "valid")
# padding_mode speaks nn.Conv2d's language; the value is F.pad's mode.
PADDING_MODES = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "replicate",
    "circular": "circular",
}
# The core's border names (scipy's) that have a PyTorch padding mode.
CORE_MODES = {
    "mirror": "reflect",
    "nearest": "replicate",
    "edge": "replicate",
    "wrap": "circular",
    "constant": "zeros",
}
SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}


def is_int(value: object) -> TypeGuard[int]:
    """True for Python and NumPy integers; False for bool, which is not a count."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(name: str, value: object) -> int:
    """``value`` as an int >= 1, else a SepconvError naming ``name``."""
    if not is_int(value) or int(value) < 1:
        raise bad_argument(name, "a positive int", value, f"pass {name} as an int >= 1")
    return int(value)


def int_tuple(name: str, value: object, ndim: int, minimum: int = 1) -> tuple[int, ...]:
    """An int or a sequence of ``ndim`` ints, each >= ``minimum``, as a tuple of ``ndim`` ints."""
    items = (value,) * ndim if is_int(value) else value
    if (
        isinstance(items, Sequence)
        and not isinstance(items, str)
        and len(items) == ndim
        and all(is_int(v) and v >= minimum for v in items)
    ):
        return tuple(int(v) for v in items)
    raise bad_argument(
        name,
        f"an int >= {minimum} or a tuple of {ndim} such ints",
        value,
        f"pass {name} as one int or {ndim} ints, each >= {minimum}",
    )


def check_padding(padding: object, ndim: int) -> str | tuple[int, ...]:
    """'valid', 'same', or a tuple of ``ndim`` non-negative ints (an int is repeated)."""
    if isinstance(padding, str):
        if padding.lower() in PADDINGS:
            return padding.lower()
        raise unknown_choice("padding", padding, PADDINGS)
    if is_int(padding) or isinstance(padding, Sequence):
        return int_tuple("padding", padding, ndim, minimum=0)
    raise bad_argument(
        "padding",
        f"'valid', 'same', an int >= 0 or a tuple of {ndim} such ints",
        padding,
        "pass padding='same' to keep the size (stride 1) or padding='valid' for no padding",
    )


def check_padding_mode(padding_mode: object) -> str:
    """One of nn.Conv2d's padding modes: zeros, reflect, replicate, circular."""
    if padding_mode in CORE_MODES:
        raise bad_argument(
            "padding_mode",
            f"one of {tuple(sorted(PADDING_MODES))} (PyTorch's names)",
            padding_mode,
            f"sepconv.nn speaks nn.Conv2d's language: use {CORE_MODES[padding_mode]!r}",
        )
    if padding_mode not in PADDING_MODES:
        raise unknown_choice("padding_mode", padding_mode, PADDING_MODES)
    return str(padding_mode)


def same_pads(length: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding of one axis: output ceil(length/stride), odd pixel at the end."""
    out = -(-length // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - length, 0)
    return total // 2, total - total // 2


def pad_amounts(
    spatial: Sequence[int],
    padding: str | tuple[int, ...],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> list[tuple[int, int]]:
    """(before, after) padding of every spatial axis."""
    if not isinstance(padding, str):
        return [(p, p) for p in padding]
    if padding == "same":
        if torch.jit.is_tracing() and any(s > 1 for s in stride):
            warnings.warn("padding='same' with stride > 1 depends on the input size: this trace "
                          "is valid for inputs of the traced size only", torch.jit.TracerWarning,
                          stacklevel=3)
        return [same_pads(*args) for args in zip(spatial, kernel, stride, dilation, strict=True)]
    return [(0, 0)] * len(spatial)


def constant_sizes(function: Callable[P, R]) -> Callable[P, R]:
    """Under ``torch.jit.trace``, ``function`` (a layer's own checks) reads sizes quietly.

    A trace records every size that Python code reads as a constant and warns each time
    ("Converting a tensor to a Python integer/boolean ..."). The checks of channel counts and
    weight shapes, and the fused-or-PyTorch decision, are constants of a traced layer (as in
    ``nn.Conv2d``) and right for every input size; only ``padding='same'`` with stride > 1 is
    not, and :func:`pad_amounts` warns about that itself. Functions that run user code
    (``between``) are not wrapped, so its warnings stay.
    """

    @functools.wraps(function)
    def quiet(*args: P.args, **kwargs: P.kwargs) -> R:
        if not torch.jit.is_tracing():
            return function(*args, **kwargs)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Converting a tensor to a Python",
                                    torch.jit.TracerWarning)
            return function(*args, **kwargs)

    return quiet


def sizes(t: Tensor) -> tuple[int, ...]:
    """``t.shape`` for the layers' size arithmetic, as Python ints also under ``torch.jit.trace``.

    A trace records sizes as traced values; padding computed from them would reach the custom
    operators' ``int[]`` arguments as such and break the trace (issue 12). The arithmetic is
    baked into the trace as constants instead, as ``nn.Conv2d`` bakes its padding: correct for
    every input size except ``padding='same'`` with stride > 1, which :func:`pad_amounts` warns
    about. Elsewhere (eager, ``torch.compile``'s symbolic sizes) the shape is returned as it is.
    """
    if not torch.jit.is_tracing():
        return tuple(t.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return tuple(int(s) for s in t.shape)


def as_batched(input: object, ndim: int) -> tuple[Tensor, bool]:
    """The input as (N, C, *spatial) and whether it came without the batch axis."""
    if not isinstance(input, Tensor):
        raise bad_argument(
            "input", "a torch.Tensor", type(input).__name__, "convert it with torch.as_tensor"
        )
    if input.ndim == ndim + 2:
        return input, False
    if input.ndim == ndim + 1:
        return input.unsqueeze(0), True
    names = SPATIAL_NAMES[ndim]
    other = input.ndim - 2
    hint = f" or use the {other}-D layer" if other in SPATIAL_NAMES else ""
    raise bad_argument(
        "input",
        f"a {ndim + 2}-D (N, C, {names}) or {ndim + 1}-D (C, {names}) tensor",
        tuple(input.shape),
        f"this is a {ndim}-D convolution; reshape the input{hint}",
    )


def _check_padded(axis: int, length: int, pads: tuple[int, int], extent: int, mode: str) -> None:
    """Raise when a pad is too wide for its mode or the kernel exceeds the padded input."""
    widest = max(pads)
    if (mode == "reflect" and widest >= length) or (mode == "circular" and widest > length):
        limit = "smaller than" if mode == "reflect" else "at most"
        raise bad_argument(
            "padding",
            f"pads {limit} the input length {length} of spatial axis {axis} "
            f"for padding_mode={mode!r}",
            pads,
            "use a larger input, a smaller kernel or padding, or padding_mode='zeros'",
        )
    if length + sum(pads) < extent:
        raise bad_argument(
            "kernel_size",
            f"a kernel extent (dilation * (k - 1) + 1) of at most the padded length "
            f"{length + sum(pads)} of spatial axis {axis}",
            extent,
            "use a larger input, more padding (e.g. padding='same') or a smaller kernel/dilation",
        )


def check_padded(
    x: Tensor,
    pads: Sequence[tuple[int, int]],
    kernel: Sequence[int],
    dilation: Sequence[int],
    padding_mode: str,
) -> None:
    """Raise when a pad is too wide for its mode or a kernel exceeds the padded input."""
    spatial = sizes(x)[2:]
    for axis, (length, pad, k, d) in enumerate(zip(spatial, pads, kernel, dilation, strict=True)):
        _check_padded(axis, length, pad, d * (k - 1) + 1, padding_mode)  # no int(): symbolic sizes stay


def pad_input(
    x: Tensor,
    pads: Sequence[tuple[int, int]],
    kernel: Sequence[int],
    dilation: Sequence[int],
    padding_mode: str,
) -> tuple[Tensor, tuple[int, ...]]:
    """Pad ``x`` (N, C, *spatial) and return it with the padding left to the convolution.

    Symmetric zero padding is left to the convolution; anything else (asymmetric 'same',
    reflect, replicate, circular) is done here with F.pad, and the convolution pads nothing.
    """
    check_padded(x, pads, kernel, dilation, padding_mode)
    if padding_mode == "zeros" and all(before == after for before, after in pads):
        return x, tuple(before for before, _ in pads)
    flat = [amount for pad in reversed(pads) for amount in pad]
    if any(flat):
        x = F.pad(x, flat, mode=PADDING_MODES[padding_mode])
    return x, (0,) * len(pads)


def conv_function(ndim: int) -> Callable[..., Tensor]:
    """F.conv1d, F.conv2d or F.conv3d."""
    return (F.conv1d, F.conv2d, F.conv3d)[ndim - 1]


def check_tensor(name: str, value: object) -> Tensor:
    """``value`` if it is a tensor, else a SepconvError naming ``name``."""
    if not isinstance(value, Tensor):
        raise bad_argument(
            name, "a torch.Tensor", type(value).__name__, "convert it with torch.as_tensor"
        )
    return value


def shape_text(shape: Sequence[int | str]) -> str:
    """A shape as (a, b, c) with a trailing comma only for one entry, like torch.Size."""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
