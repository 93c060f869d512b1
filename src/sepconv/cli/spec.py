"""The command line's little languages: kernel SPECs and shapes such as ``12x12x3``.

A kernel SPEC is one of

- a name with optional parameters after a colon: ``sobel-x``, ``sobel-y:5``, ``gaussian:2.0``,
  ``gaussian-x:2.0,1`` (first derivative along x), ``box:5``, ``log:1.4`` ... (see ``NAMES``);
- a path to a ``.npy`` file, or to a text file read with ``numpy.loadtxt`` (``.txt``, ``.csv``);
- an inline matrix, ``[[1,2,1],[2,4,2],[1,2,1]]`` (read as JSON or a Python literal, never run).

>>> parse_kernel("sobel-x").kernel.dense().astype(int).tolist()
[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
>>> parse_shape("12x12x3", "input")
(12, 12, 3)
"""

from __future__ import annotations

import ast
import difflib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import kernels
from .._checks import as_kernel
from .._errors import SepconvError, bad_argument
from ..decompose import LowRankKernel, SeparableKernel

Kernel = np.ndarray | SeparableKernel | LowRankKernel


@dataclass(frozen=True, eq=False)
class KernelSpec:
    """A parsed SPEC: the text it came from and the kernel it names."""

    text: str
    kernel: Kernel

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.kernel.shape)

    def dense(self) -> np.ndarray:
        k = self.kernel
        return k if isinstance(k, np.ndarray) else k.dense()


def _gaussian(axis: str | None) -> Callable[..., Kernel]:
    def make(sigma: float = 1.0, order: int | None = None) -> Kernel:
        if axis is None:
            return kernels.gaussian(sigma, order=0 if order is None else order)
        along = 1 if order is None else order
        return kernels.gaussian(sigma, order=(0, along) if axis == "x" else (along, 0))

    return make


# name -> (builder, parameter names with their types); parameters are optional
NAMES: dict[str, tuple[Callable[..., Kernel], tuple[tuple[str, type], ...]]] = {
    "sobel-x": (lambda size=3: kernels.sobel("x", size), (("size", int),)),
    "sobel-y": (lambda size=3: kernels.sobel("y", size), (("size", int),)),
    "scharr-x": (lambda: kernels.scharr("x"), ()),
    "scharr-y": (lambda: kernels.scharr("y"), ()),
    "prewitt-x": (lambda: kernels.prewitt("x"), ()),
    "prewitt-y": (lambda: kernels.prewitt("y"), ()),
    "gaussian": (_gaussian(None), (("sigma", float), ("order", int))),
    "gaussian-x": (_gaussian("x"), (("sigma", float), ("order", int))),
    "gaussian-y": (_gaussian("y"), (("sigma", float), ("order", int))),
    "box": (lambda size=3: kernels.box(size), (("size", int),)),
    "binomial": (lambda size=3: kernels.binomial(size), (("size", int),)),
    "laplacian": (lambda: kernels.laplacian(), ()),
    "log": (lambda sigma=1.0: kernels.log(sigma), (("sigma", float),)),
}

EXAMPLE = "[[1,2,1],[2,4,2],[1,2,1]]"


def _number(text: str, kind: type, spec: str, param: str) -> float | int:
    try:
        return int(text) if kind is int else float(text)
    except ValueError:
        raise bad_argument("kernel", f"{'an integer' if kind is int else 'a number'} for {param}",
                           spec, f"e.g. {spec.split(':')[0]}:{5 if kind is int else 1.5}") from None


def _named(spec: str) -> Kernel:
    name, _, params = spec.partition(":")
    key = name.strip().lower()
    if key not in NAMES:
        close = difflib.get_close_matches(key, NAMES, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise bad_argument("kernel", "a kernel name, a .npy/.txt file or an inline matrix", spec,
                           f"{hint}names: {', '.join(sorted(NAMES))}; or a matrix like {EXAMPLE}")
    build, signature = NAMES[key]
    values = [v.strip() for v in params.split(",")] if params.strip() else []
    if len(values) > len(signature):
        usage = f"{key}:{','.join(p for p, _ in signature)}" if signature else key
        raise bad_argument("kernel", f"at most {len(signature)} parameter(s) for {key!r}", spec,
                           f"write {usage}")
    args = [_number(v, kind, spec, p) for v, (p, kind) in zip(values, signature)]
    return build(*args)


def _inline(spec: str) -> np.ndarray:
    try:
        value = json.loads(spec)
    except ValueError:
        try:
            value = ast.literal_eval(spec)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise bad_argument("kernel", f"a matrix of numbers like {EXAMPLE}", spec,
                               "check the brackets and commas") from None
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad_argument("kernel", f"a rectangular matrix of numbers like {EXAMPLE}", spec,
                           "give every row the same length") from None
    return as_kernel(array)


def _from_file(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise bad_argument("kernel", "an existing .npy or .txt file", path, "check the path")
    try:
        if path.lower().endswith(".npy"):
            array = np.load(path, allow_pickle=False)
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            array = np.loadtxt(text.splitlines(), delimiter="," if "," in text else None, ndmin=2)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise bad_argument("kernel", "a readable .npy file or a text file of numbers", path,
                           f"({exc})") from None
    return as_kernel(array)


def parse_kernel(spec: str) -> KernelSpec:
    """Turn a SPEC into a kernel (see the module docstring); errors suggest the closest name."""
    text = spec.strip()
    if not text:
        raise bad_argument("kernel", "a kernel name, a file or a matrix", spec, "e.g. sobel-x")
    if text.startswith("["):
        return KernelSpec(spec, _inline(text))
    if text.lower().endswith((".npy", ".txt", ".csv")) or os.sep in text or os.path.isfile(text):
        return KernelSpec(spec, _from_file(text))
    return KernelSpec(spec, _named(text))


def parse_shape(text: str, name: str, *, dims: tuple[int, ...] = ()) -> tuple[int, ...]:
    """``"12x12x3"`` (or ``12×12×3``, ``12,12,3``) → ``(12, 12, 3)``; ``dims`` lists allowed lengths."""
    parts = re.split(r"\s*[x×,*]\s*", text.strip().lower())
    if not all(p.isdigit() and int(p) > 0 for p in parts) or (dims and len(parts) not in dims):
        count = " or ".join(str(d) for d in dims) if dims else "one or more"
        raise bad_argument(f"--{name}", f"{count} positive integers joined by 'x'", text,
                           "e.g. 12x12x3" if 3 in dims or not dims else "e.g. 5 or 5x5")
    return tuple(int(p) for p in parts)


def axis_names(ndim: int) -> tuple[str, ...]:
    """Names of a kernel's axes: ('y', 'x') in 2-D, ('z', 'y', 'x') in 3-D, else 'axis i'."""
    if ndim <= 3:
        return ("z", "y", "x")[3 - ndim:]
    return tuple(f"axis {i}" for i in range(ndim))


__all__ = ["NAMES", "KernelSpec", "SepconvError", "axis_names", "parse_kernel", "parse_shape"]
