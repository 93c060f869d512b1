"""A filter call on a tensor: validate with the NumPy path's rules, then pick engine or torch.

Route (one rule, per call):

* a CPU tensor, no grad needed, not being traced/compiled/exported: the numba engine, zero-copy
  through ``Tensor.numpy()`` and back with ``torch.from_numpy`` (``benchmarks/torch_filters.py``:
  several times faster than kornia's two ``conv2d`` calls on CPU);
* anything else (grad, CUDA, MPS, tracing): torch operations (:mod:`sepconv._tensor.ops`).

Dtypes are the NumPy path's: the request is validated with the tensor's shape and the NumPy dtype
of its dtype (bfloat16 is validated as float16: computed in float32, returned as bfloat16).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .. import _plan, _request
from .._errors import bad_argument
from . import kernel as _kernel
from . import ops

_NUMPY_DTYPES = {
    torch.bool: np.bool_, torch.uint8: np.uint8, torch.int8: np.int8, torch.int16: np.int16,
    torch.int32: np.int32, torch.int64: np.int64, torch.float16: np.float16,
    torch.bfloat16: np.float16, torch.float32: np.float32, torch.float64: np.float64,
    torch.uint16: np.uint16, torch.uint32: np.uint32, torch.uint64: np.uint64,
}
_TORCH_DTYPES = {np.dtype(v): k for k, v in _NUMPY_DTYPES.items() if k != torch.bfloat16}


def numpy_dtype(dtype: torch.dtype, name: str = "input") -> np.dtype:
    """The NumPy dtype whose rules a tensor of ``dtype`` follows (bfloat16: float16's)."""
    if dtype not in _NUMPY_DTYPES:
        raise bad_argument(name, "a real numeric tensor (bool, int, uint or float)",
                           f"a tensor of dtype {dtype}", "convert it with x.float()")
    return np.dtype(_NUMPY_DTYPES[dtype])


def tracing() -> bool:
    """True under torch.jit.trace/script, torch.compile, torch.export and ONNX export."""
    return bool(torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling()
                or torch.compiler.is_exporting() or torch.onnx.is_in_onnx_export())


def _output(output: object, x: torch.Tensor) -> tuple[object, torch.Tensor | None]:
    """``output=`` for validate (a NumPy dtype or None) and the tensor to fill, if any."""
    if isinstance(output, torch.Tensor):
        if output.device != x.device:
            raise bad_argument("output", f"a tensor on {x.device} (the input's device)",
                               f"a tensor on {output.device}", "allocate it on the input's device")
        return numpy_dtype(output.dtype, "output"), output
    if isinstance(output, torch.dtype):
        return numpy_dtype(output, "output"), None
    if isinstance(output, np.ndarray):
        raise bad_argument("output", "None, a dtype or a tensor (the input is a tensor)",
                           "a NumPy array", "pass a preallocated tensor or a dtype")
    return output, None


def _final_dtype(x: torch.Tensor, output: object, target: torch.Tensor | None,
                 request: _request.Request) -> torch.dtype:
    if target is not None:
        return target.dtype
    if isinstance(output, torch.dtype):
        return output
    if output is None and x.dtype == torch.bfloat16:
        return torch.bfloat16
    return _TORCH_DTYPES[request.final]


def filter_tensor(input: torch.Tensor, kernel: object, *, form: str, mode: object, cval: object,
                  origin: object, axes: object, output: object, method: object,
                  flip: bool) -> torch.Tensor:
    """Correlate a tensor (``form``: 'dense', 'separable' or 'terms', see ``kernel.parse``)."""
    parsed, request, final, target = _validated(input, kernel, form, mode, cval, origin, axes, output,
                                                method, flip)
    if input.numel() == 0 or 0 in request.out_shape:
        return _store(input.new_zeros(request.out_shape, dtype=final), target)
    grad = torch.is_grad_enabled() and (input.requires_grad or parsed.requires_grad)
    if input.device.type == "cpu" and not grad and not tracing():
        return _on_engine(input, parsed, request, final, target)
    dense, terms = _weights(parsed, request, _planned(parsed, request), input.device)
    return _store(_on_torch(input, dense, terms, request, final), target)


# Validation and planning read shapes and weights with NumPy: torch.compile runs them outside the
# graph (graph breaks) and compiles the filter's torch operations, weight indexing included.
@torch.compiler.disable
def _validated(input: torch.Tensor, kernel: object, form: str, mode: object, cval: object,
               origin: object, axes: object, output: object, method: object, flip: bool,
               ) -> tuple[_kernel.Parsed, _request.Request, torch.dtype, torch.Tensor | None]:
    if input.layout != torch.strided:
        raise bad_argument("input", "a dense (strided) tensor", f"a tensor with layout {input.layout}",
                           "convert it with x.to_dense()")
    parsed = _kernel.parse(kernel, form=form, device=input.device, check_finite=not tracing())
    out_spec, target = _output(output, input)
    request = _request.validate(tuple(input.shape), numpy_dtype(input.dtype), parsed.validated,  # type: ignore[arg-type]
                                mode=mode, cval=cval, origin=origin, axes=axes, output=out_spec,
                                method=method, flip=flip)
    if target is not None and tuple(target.shape) != request.out_shape:
        raise bad_argument("output", f"a tensor of shape {request.out_shape}",
                           f"shape {tuple(target.shape)}", "allocate it with the result's shape")
    return parsed, request, _final_dtype(input, output, target, request), target


def _store(result: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    if target is None:
        return result
    return target.copy_(result)


def _numpy_kernel(parsed: _kernel.Parsed, validated: object) -> object:
    """The validated kernel with NumPy weights (for the engine)."""
    if parsed.parts is None:
        return validated
    dense, terms = _kernel.unproxy(parsed, validated, detach=True)
    if dense is not None:
        return dense.numpy()
    kernels = [_kernel.SeparableKernel(tuple(f.numpy() for f in t)) for t in terms]
    return kernels[0] if len(kernels) == 1 else _kernel.LowRankKernel(tuple(kernels))


def _on_engine(x: torch.Tensor, parsed: _kernel.Parsed, request: _request.Request,
               final: torch.dtype, target: torch.Tensor | None) -> torch.Tensor:
    """The NumPy path itself, on views of the tensors' memory."""
    array = x.detach()
    changes: dict[str, object] = {"kernel": _numpy_kernel(parsed, request.kernel)}
    if x.dtype == torch.bfloat16:  # NumPy has no bfloat16: compute from a float32 copy
        array = array.float()
    if final == torch.bfloat16:  # ... and the engine writes float32, which torch rounds once
        changes["final"] = np.dtype(np.float32)
    if target is not None and target.dtype != torch.bfloat16:
        changes["target"] = target.detach().numpy()
    result = _request.run(array.numpy(), dataclasses.replace(request, **changes))  # type: ignore[arg-type]
    if target is not None and "target" in changes:
        return target
    return _store(torch.from_numpy(result).to(final), target)


@torch.compiler.disable
def _planned(parsed: _kernel.Parsed, request: _request.Request) -> _plan.Plan | None:
    """The NumPy path's plan, or None where the tensor weights run as given (grad, tracing)."""
    if parsed.parts is not None:
        if not isinstance(request.kernel, np.ndarray):
            return None  # 1-D factors: already one pass per axis
        dense = _kernel.unproxy(parsed, request.kernel, detach=True)[0]
        assert dense is not None
        if request.method in ("separable", "lowrank"):  # the NumPy path's errors for these methods
            _plan.make_plan(dense.cpu().numpy(), request.method, request.dtype)
        if tracing() or request.method in ("direct", "fft") or (
                parsed.requires_grad and torch.is_grad_enabled()):
            return None
        return _plan.make_plan(dense.cpu().numpy(), request.method, request.dtype)
    return _plan.make_plan(request.kernel, request.method, request.dtype)


def _weights(parsed: _kernel.Parsed, request: _request.Request, plan: _plan.Plan | None,
             device: torch.device) -> tuple[torch.Tensor | None, _kernel.Terms]:
    """Dense weights or separable terms for the torch passes (grad flows from tensor weights)."""
    if plan is None:
        return _kernel.unproxy(parsed, request.kernel)
    if plan.method in ("direct", "fft") or not plan.terms:  # FFT plans run as direct passes here
        return torch.as_tensor(plan.dense, device=device), []
    return None, [[torch.as_tensor(f, device=device) for f in t] for t in plan.terms]


def _on_torch(x: torch.Tensor, dense: torch.Tensor | None, terms: _kernel.Terms,
              request: _request.Request, final: torch.dtype) -> torch.Tensor:
    compute = _TORCH_DTYPES[request.dtype]
    xc = x.to(compute)
    cval = float(request.cval) if request.mode == "constant" else 0.0
    if dense is not None:
        dense = dense.to(compute)
        y = ops.correlate_dense(xc, dense, request.axes, request.mode, request.origins, cval)
    else:
        terms = [[f.to(compute) for f in t] for t in terms]
        y = ops.correlate_terms(xc, terms, request.axes, request.mode, request.origins, cval)
    return ops.store(y, final)


__all__ = ["filter_tensor", "numpy_dtype", "tracing"]
