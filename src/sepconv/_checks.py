"""Validation shared by the public functions: modes, kernels, axes, origins and dtypes.

Every check raises a :class:`~sepconv.SepconvError` that names the argument, what was expected,
what was received and how to fix it.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._errors import SepconvError, bad_argument, unknown_choice

#: Canonical border modes (scipy.ndimage's names) plus 'valid' (no padding, smaller output).
MODES = ("constant", "mirror", "nearest", "reflect", "valid", "wrap")

#: Accepted aliases, exactly those of DESIGN.md's table.
MODE_ALIASES = {
    "symmetric": "reflect",
    "reflect101": "mirror",
    "reflect_101": "mirror",
    "replicate": "nearest",
    "edge": "nearest",
    "circular": "wrap",
    "zeros": "constant",
}

METHODS = ("auto", "direct", "fft", "lowrank", "separable")


def canonical_mode(mode: object, *, name: str = "mode") -> str:
    """Return the canonical name of a border mode, accepting DESIGN.md's aliases.

    >>> canonical_mode("replicate")
    'nearest'
    """
    if isinstance(mode, str):
        key = mode.lower()
        if key in MODES:
            return key
        if key in MODE_ALIASES:
            return MODE_ALIASES[key]
    raise unknown_choice(name, mode, MODES + tuple(MODE_ALIASES))


def cval_for(mode: object, cval: object) -> float:
    """The constant used beyond the edge: ``zeros`` forces 0."""
    value = as_float(cval, "cval")
    return 0.0 if isinstance(mode, str) and mode.lower() == "zeros" else value


def as_float(value: object, name: str) -> float:
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise bad_argument(name, "a real number", value, f"pass a float as {name}=") from None
    return result


def check_method(method: object) -> str:
    if isinstance(method, str) and method.lower() in METHODS:
        return method.lower()
    raise unknown_choice("method", method, METHODS)


def as_input(input: object, name: str = "input") -> np.ndarray:
    """The input as an ndarray of a real numeric (or bool) dtype."""
    try:
        arr = np.asarray(input)
    except (TypeError, ValueError) as exc:
        raise bad_argument(name, "a rectangular numeric array", type(input).__name__,
                           f"give rows of equal length holding numbers only ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise bad_argument(
            name,
            "a real numeric array (bool, int, uint or float)",
            f"an array of dtype {arr.dtype}",
            "convert it with np.asarray(x, dtype=np.float32)",
        )
    if arr.ndim == 0:
        raise bad_argument(name, "an array with at least 1 dimension", "a scalar", "pass an array")
    return arr


def as_kernel(kernel: object, name: str = "kernel") -> np.ndarray:
    """A kernel as a float array: non-empty, finite, real."""
    if getattr(kernel, "requires_grad", False) is True:  # a torch tensor (torch is not imported)
        raise bad_argument(name, "weights without a gradient (the input is not a tensor)",
                           "a tensor that requires grad",
                           "pass the input as a tensor too (torch.as_tensor(x)) for a "
                           "differentiable result, or kernel.detach()")
    try:
        arr = np.asarray(kernel)
    except (TypeError, ValueError) as exc:
        raise bad_argument(name, "a rectangular numeric array", type(kernel).__name__,
                           f"give rows of equal length holding numbers only, e.g. [[1, 2, 1], "
                           f"[2, 4, 2]] ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise bad_argument(
            name, "a real numeric array", f"dtype {arr.dtype}", "pass real numbers as the kernel"
        )
    if arr.ndim == 0:
        raise bad_argument(name, "an array with at least 1 dimension", "a scalar", "wrap it: [k]")
    if arr.size == 0:
        raise bad_argument(
            name, "a non-empty kernel", f"shape {arr.shape}", "give at least one weight per axis"
        )
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise bad_argument(
            name, "finite weights", f"{bad} NaN or Inf value(s)", "replace them with numbers"
        )
    if arr.dtype.kind != "f" or arr.dtype.itemsize < 4:
        arr = arr.astype(np.float64)
    return arr


def normalize_axes(axes: object, ndim: int, count: int | None, *, what: str) -> tuple[int, ...]:
    """Axes as non-negative ints; ``None`` means all ``ndim`` axes, which must equal ``count``.

    ``what`` describes the kernel for the error message (e.g. "a 2-D kernel").
    """
    if axes is None:
        if count is not None and count != ndim:
            raise bad_argument(
                "axes",
                f"{what} to have one dimension per input axis ({ndim})",
                f"{count} kernel dimension(s) and axes=None",
                f"pass axes= naming the {count} input axes to filter, e.g. axes="
                f"{tuple(range(ndim - count, ndim))}",
            )
        return tuple(range(ndim))
    seq = (axes,) if not isinstance(axes, (Sequence, np.ndarray)) else tuple(axes)
    try:
        result = tuple(operator.index(a) for a in seq)
    except TypeError:
        raise bad_argument("axes", "an int or a sequence of ints", axes, "e.g. axes=(0, 1)") from None
    for a in result:
        if not -ndim <= a < ndim:
            raise bad_argument(
                "axes", f"axes in range [-{ndim}, {ndim})", axes, "name existing input axes"
            )
    result = tuple(a % ndim for a in result)
    if len(set(result)) != len(result):
        raise bad_argument("axes", "distinct axes", axes, "name each axis once")
    if count is not None and count != len(result):
        raise bad_argument(
            "axes",
            f"one axis per kernel dimension ({count} for {what})",
            axes,
            f"give exactly {count} axes",
        )
    return result


def normalize_origins(origin: object, sizes: Sequence[int], mode: str) -> tuple[int, ...]:
    """Per-axis origins, each within the kernel: -(k//2) <= origin <= (k-1)//2 (scipy's rule)."""
    if isinstance(origin, (Sequence, np.ndarray)):
        seq = tuple(origin)
        if len(seq) != len(sizes):
            raise bad_argument(
                "origin", f"an int or {len(sizes)} ints (one per filtered axis)", origin,
                "give one origin per kernel axis",
            )
    else:
        seq = (origin,) * len(sizes)
    try:
        origins = tuple(operator.index(o) for o in seq)
    except TypeError:
        raise bad_argument("origin", "integers", origin, "pass whole numbers") from None
    for o, k in zip(origins, sizes):
        if not -(k // 2) <= o <= (k - 1) // 2:
            raise bad_argument(
                "origin",
                f"a value in [{-(k // 2)}, {(k - 1) // 2}] for a kernel of size {k}",
                o,
                "keep the anchor inside the kernel",
            )
    if mode == "valid" and any(origins):
        raise bad_argument(
            "origin", "0 with mode='valid' (there is no padding to shift)", origin,
            "drop origin= or use a padding mode",
        )
    return origins


def compute_dtype(input_dtype: np.dtype, output_dtype: np.dtype | None) -> np.dtype:
    """float64 if the input or the requested output is float64 or the input a 32- or 64-bit
    integer, else float32 (DESIGN.md)."""
    if input_dtype == np.float64 or (output_dtype is not None and output_dtype == np.float64):
        return np.dtype(np.float64)
    if input_dtype.kind in "iu" and input_dtype.itemsize >= 4:  # float32 cannot hold 2**31 - 1
        return np.dtype(np.float64)
    if input_dtype.kind == "f" and input_dtype.itemsize > 8:
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def result_dtype(input_dtype: np.dtype) -> np.dtype:
    """The dtype returned when ``output`` is not given: float16 stays float16, ints give float32."""
    if input_dtype.kind == "f":
        return input_dtype
    return np.dtype(np.float32)


def output_spec(output: object, shape: tuple[int, ...]) -> tuple[np.dtype | None, Any]:
    """Interpret ``output=``: None, a dtype, or an array of the result's shape to fill."""
    if output is None:
        return None, None
    if isinstance(output, np.ndarray):
        if output.shape != shape:
            raise bad_argument(
                "output", f"an array of shape {shape}", f"shape {output.shape}",
                "allocate it with the result's shape, or pass a dtype",
            )
        if output.dtype.kind not in "iuf":
            raise bad_argument("output", "a real numeric array", output.dtype, "use a float array")
        return output.dtype, output
    try:
        dtype = np.dtype(output)  # type: ignore[call-overload]
    except TypeError:
        raise bad_argument("output", "None, a dtype or an array", output, "e.g. output=np.uint8") from None
    if dtype.kind not in "iuf":
        raise bad_argument(
            "output", "a real numeric dtype", str(dtype), "use e.g. np.float32 or np.uint8"
        )
    return dtype, None


def store(result: np.ndarray, dtype: np.dtype | None, target: np.ndarray | None) -> np.ndarray:
    """Cast the float result: integers round half to even and saturate (OpenCV's rule).

    A result already in ``dtype`` (the engine rounds integer outputs in its last pass) is
    returned as is, or copied into ``target``.
    """
    dtype = dtype if dtype is not None else result.dtype
    if dtype.kind in "iu" and result.dtype != dtype:
        info = np.iinfo(dtype)
        result = np.clip(np.rint(result), info.min, info.max)
        result = np.nan_to_num(result, nan=0.0)
    if target is not None:
        target[...] = result
        return target
    return result.astype(dtype, copy=False)


def require_int(value: object, name: str, *, minimum: int = 1) -> int:
    """A whole number >= minimum (bool is refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise bad_argument(name, f"an integer >= {minimum}", value, f"pass a whole number as {name}=")
    if value < minimum:
        raise bad_argument(name, f"an integer >= {minimum}", value, f"use {name}={minimum} or more")
    return int(value)


__all__ = ["MODES", "SepconvError"]
