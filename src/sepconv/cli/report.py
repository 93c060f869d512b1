"""``sepconv analyze`` and ``sepconv cost``: the library's numbers as a dict (``--json``) and as text."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _plan, cost
from ..decompose import LowRankKernel, SeparableKernel, decompose, factorize, rank
from .spec import Kernel, KernelSpec, axis_names


def auto_method(kernel: Kernel, shape: Sequence[int], dtype: Any,
                axes: Sequence[int] | None = None) -> str:
    """The plan ``method='auto'`` picks for an image of ``shape`` and ``dtype`` (filtered ``axes``)."""
    return _plan.make_plan(kernel, "auto", np.dtype(dtype), shape=tuple(shape), axes=axes).method


def number(value: float) -> int | float:
    """An int when the value is one (to rounding), else the float."""
    v = float(value)
    if abs(v) < 2**53 and abs(v - round(v)) <= 1e-12 * max(1.0, abs(v)):
        return round(v)
    return v


def _terms(spec: KernelSpec) -> tuple[list[tuple[np.ndarray, ...]], float]:
    """The kernel's separable terms (one if it is separable) and the residual of that form."""
    k = spec.kernel
    if isinstance(k, SeparableKernel):
        return [k.factors], 0.0
    if isinstance(k, LowRankKernel):
        return [t.factors for t in k.terms], float(k.residual)
    if rank(k) <= 1:
        return [factorize(k).factors], 0.0
    lk = decompose(k)
    return [t.factors for t in lk.terms], float(lk.residual)


def _singular_values(dense: np.ndarray) -> list[int | float]:
    values = (np.linalg.svd(dense.astype(np.float64), compute_uv=False) if dense.ndim == 2
              else decompose(dense).singular_values)
    top = float(values[0]) if len(values) else 0.0
    return [number(s) if s > 1e-12 * top else 0 for s in values]


def analyze(spec: KernelSpec, image_shape: tuple[int, ...], dtype: str) -> dict[str, Any]:
    """Everything ``sepconv analyze`` reports, JSON-ready."""
    dense = spec.dense()
    terms, residual = _terms(spec)
    mults = cost.filter_mults(spec.kernel)
    axes = tuple(range(len(spec.shape))) if len(image_shape) > len(spec.shape) else None
    method = auto_method(spec.kernel, image_shape, dtype, axes)
    chosen = {"direct": math.prod(spec.shape), "fft": None}.get(method, len(terms) * sum(spec.shape))
    return {
        "kernel": spec.text,
        "shape": list(spec.shape),
        "values": [number(v) for v in dense.ravel()],
        "rank": rank(dense),
        "singular_values": _singular_values(dense),
        "terms": [[[number(v) for v in f] for f in term] for term in terms],
        "residual": float(f"{residual:.3g}"),
        "mults": mults,
        "auto": {"image_shape": list(image_shape), "dtype": dtype, "method": method, "mults": chosen},
    }


def _vector(values: Sequence[int | float]) -> str:
    return "[" + ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values) + "]"


def _size(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape))


def _matrix_lines(info: dict[str, Any]) -> list[str]:
    shape = info["shape"]
    if len(shape) != 2 or shape[0] > 7 or shape[1] > 7:
        return []
    rows = np.array(info["values"], dtype=object).reshape(shape).tolist()
    return [f"  {_vector(row)}" for row in rows]


def analysis_lines(info: dict[str, Any]) -> list[str]:
    """The text report of :func:`analyze`."""
    names = axis_names(len(info["shape"]))
    lines = [f"kernel {info['kernel']}: {_size(info['shape'])}", *_matrix_lines(info)]
    r, terms = info["rank"], info["terms"]
    if r <= 1:
        lines.append(f"rank {r}: separable, the outer product of")
        lines += [f"  {name}: {_vector(f)}" for name, f in zip(names, terms[0])]
    else:
        lines.append(f"rank {r}: not separable; exactly a sum of {len(terms)} separable terms "
                     f"(residual {info['residual']:.2g})")
        lines += [f"  term {i + 1}: " + " ⊗ ".join(_vector(f) for f in term)
                  for i, term in enumerate(terms)]
    values = [v for v in info["singular_values"] if v]
    zeros = len(info["singular_values"]) - len(values)
    lines.append(f"singular values: {_vector(values)[1:-1]}" + (f" and {zeros} zero(s)" if zeros else ""))
    lines.append("multiplications per output: "
                 + ", ".join(f"{plan} {m}" for plan, m in info["mults"].items()))
    auto = info["auto"]
    per_output = ("FFT: not counted per output" if auto["mults"] is None
                  else f"{auto['mults']} multiplications per output")
    lines.append(f"auto picks {auto['method']} for a {_size(auto['image_shape'])} {auto['dtype']} "
                 f"image ({per_output})")
    return lines


def to_json(value: Any, indent: int = 0) -> str:
    """Indented JSON with every list of plain values on one line."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {to_json(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
        items = [f"{inner}{to_json(v, indent + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def _cost_row(c: cost.ConvCost | cost.SeparableCost, normal: int | None) -> dict[str, Any]:
    row: dict[str, Any] = {"mults": c.mults, "params": c.params, "output_shape": list(c.output_shape)}
    if normal is not None:
        row["ratio"] = float(f"{c.mults / normal:.6g}")
    return row


def _two_step(c: cost.SeparableCost, normal: int, first: str, second: str) -> dict[str, Any]:
    row = _cost_row(c, normal)
    row[first] = _cost_row(c.depthwise, None)
    row[second] = _cost_row(c.pointwise, None)
    return row


def layer_costs(input_shape: tuple[int, ...], kernel_size: tuple[int, ...], filters: int, *,
                depth_multiplier: int = 1, padding: str = "valid", stride: tuple[int, ...] = (1,)
                ) -> dict[str, Any]:
    """Normal vs depthwise separable vs spatially separable, by ``sepconv.cost`` (JSON-ready)."""
    n = len(input_shape) - 1
    ks = kernel_size * n if len(kernel_size) == 1 else kernel_size
    ss = stride * n if len(stride) == 1 else stride
    common = {"stride": ss, "padding": padding}
    normal = cost.conv(input_shape, ks, filters, **common)  # type: ignore[arg-type]
    sep = cost.depthwise_separable(input_shape, ks, filters, depth_multiplier=depth_multiplier,
                                   **common)  # type: ignore[arg-type]
    info: dict[str, Any] = {
        "input_shape": list(input_shape), "kernel_size": list(ks), "filters": filters,
        "depth_multiplier": depth_multiplier, "padding": padding, "stride": list(ss),
        "normal": _cost_row(normal, normal.mults),
        "depthwise_separable": _two_step(sep, normal.mults, "depthwise", "pointwise"),
    }
    if n == 2:
        spatial = cost.spatial_separable(input_shape, ks, filters, **common)  # type: ignore[arg-type]
        info["spatially_separable"] = _two_step(spatial, normal.mults, "vertical", "horizontal")
    return info


def _ratio(r: float) -> str:
    if r == 1:
        return "1"
    return f"{r:.4g} ({1 / r:.4g}× fewer)" if r < 1 else f"{r:.4g} ({r:.4g}× more)"


def _line(name: str, row: dict[str, Any], width: int) -> str:
    ratio = _ratio(row["ratio"]) if "ratio" in row else ""
    return (f"{name:<28}{row['mults']:>12,}{row['params']:>11,}  {_size(row['output_shape']):<{width}}"
            f"{ratio}").rstrip()


def cost_lines(info: dict[str, Any]) -> list[str]:
    """The text table of :func:`layer_costs`."""
    ks, c, n = info["kernel_size"], info["input_shape"][-1], info["filters"]
    mid = c * info["depth_multiplier"]
    stride, ones = "×".join(map(str, info["stride"])), _size([1] * len(ks))
    width = max(11, len(_size(info["depthwise_separable"]["depthwise"]["output_shape"])) + 2)
    sep = info["depthwise_separable"]
    rows = [("normal", info["normal"]), ("depthwise separable", sep),
            (f"  depthwise {_size(ks)}, {c} → {mid}", sep["depthwise"]),
            (f"  pointwise {ones}, {mid} → {n}", sep["pointwise"])]
    if "spatially_separable" in info:
        sp = info["spatially_separable"]
        rows += [("spatially separable", sp), (f"  vertical {ks[0]}×1, {c} → {n}", sp["vertical"]),
                 (f"  horizontal 1×{ks[1]}, {n} → {n}", sp["horizontal"])]
    header = [f"{_size(info['input_shape'])} input, {_size(ks)} kernels, {n} filters, "
              f"padding '{info['padding']}', stride {stride}",
              f"{'':<28}{'mults':>12}{'params':>11}  {'output':<{width}}mults vs normal"]
    return header + [_line(name, row, width) for name, row in rows]
