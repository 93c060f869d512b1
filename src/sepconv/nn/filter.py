"""Filter: sepconv's correlate as an ``nn.Module`` (fixed or learnable kernel), for pipelines.

``mode`` speaks the core's language (scipy.ndimage's names, as :func:`sepconv.correlate`:
``'reflect'`` is scipy's reflect, ``'mirror'`` is PyTorch's ``reflect``), unlike the layers'
``padding_mode``. The forward calls the same function as :func:`sepconv.correlate` on a tensor,
so module and function give the same numbers.

>>> import torch
>>> from torch import nn
>>> from sepconv import kernels
>>> from sepconv.nn import Filter
>>> blur = Filter(kernels.gaussian(1.5, ndim=2), mode="mirror", axes=(-2, -1))
>>> pipeline = nn.Sequential(blur, nn.ReLU())
>>> pipeline(torch.randn(8, 3, 64, 64)).shape
torch.Size([8, 3, 64, 64])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from sepconv import _checks, _plan
from sepconv._errors import bad_argument
from sepconv._tensor import ops
from sepconv._tensor.dispatch import filter_tensor
from sepconv.decompose import LowRankKernel, SeparableKernel

__all__ = ["Filter"]


def _terms(kernel: object, method: str, learnable: bool) -> list[list[np.ndarray]] | np.ndarray:
    """The kernel as separable terms (planned once here, not per call), or dense weights."""
    if isinstance(kernel, SeparableKernel):
        return [list(kernel.factors)]
    if isinstance(kernel, LowRankKernel):
        return [list(t.factors) for t in kernel.terms]
    dense = _checks.as_kernel(kernel.detach().cpu().numpy() if isinstance(kernel, Tensor) else kernel)
    if learnable or method in ("direct", "fft"):
        return dense
    plan = _plan.make_plan(dense, method, np.dtype(np.float64))
    return [list(t) for t in plan.terms] if plan.terms else dense


class Filter(nn.Module):
    """Correlate (or convolve) the input with a fixed or learnable kernel along ``axes``.

    Parameters
    ----------
    kernel : array-like, Tensor, SeparableKernel or LowRankKernel
        The weights. A dense kernel is planned once (``method``): a separable one is stored as its
        1-D factors and runs as one pass per axis; a :class:`~sepconv.LowRankKernel` as its terms.
    mode, cval, origin, axes
        As in :func:`sepconv.correlate` (the core's mode names; ``axes`` counts from the end for
        batched input, e.g. ``axes=(-2, -1)`` for N×C×H×W).
    method : str
        ``'auto'``, ``'separable'``, ``'lowrank'`` or ``'direct'`` (dense weights).
    convolve : bool
        Flip the kernel (:func:`sepconv.convolve`) instead of correlating.
    learnable : bool
        Weights as ``nn.Parameter`` (trained with the model; a dense learnable kernel stays dense);
        otherwise buffers (saved in the ``state_dict``, moved by ``.to()``).
    dtype : torch.dtype, optional
        The weights' dtype (default: torch's default dtype). Compute follows the input's dtype.
    """

    def __init__(self, kernel: object, *, mode: str = "reflect", cval: float = 0.0,
                 origin: int | Sequence[int] = 0, axes: int | Sequence[int] | None = None,
                 method: str = "auto", convolve: bool = False, learnable: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.mode, self.cval = _checks.canonical_mode(mode), _checks.cval_for(mode, cval)
        self.origin, self.axes = origin, axes
        self.method, self.convolve, self.learnable = _checks.check_method(method), convolve, learnable
        weights = _terms(kernel, self.method, learnable)
        self._names: list[list[str]] = []
        if isinstance(weights, np.ndarray):
            self._store("weight", weights, device, dtype)
        else:
            for i, term in enumerate(weights):
                self._names.append([f"term{i}_axis{j}" for j in range(len(term))])
                for name, f in zip(self._names[-1], term):
                    self._store(name, f, device, dtype)
        self._origins = _checks.normalize_origins(origin, self._kernel_shape(), self.mode)

    def _store(self, name: str, values: np.ndarray, device: object, dtype: torch.dtype | None) -> None:
        tensor = torch.as_tensor(np.ascontiguousarray(values), dtype=dtype or torch.get_default_dtype(),
                                 device=device)  # type: ignore[arg-type]
        if self.learnable:
            self.register_parameter(name, nn.Parameter(tensor))
        else:
            self.register_buffer(name, tensor)

    def kernel_terms(self) -> list[list[Tensor]]:
        """The stored 1-D factors of each separable term (empty for a dense kernel)."""
        return [[getattr(self, name) for name in term] for term in self._names]

    def dense_kernel(self) -> Tensor:
        """The dense kernel (a buffer, or a parameter when learnable)."""
        weight = self.weight
        assert isinstance(weight, Tensor)
        return weight

    def _kernel_shape(self) -> tuple[int, ...]:
        terms = self.kernel_terms()
        return tuple(f.shape[0] for f in terms[0]) if terms else tuple(self.dense_kernel().shape)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise bad_argument("input", "a torch.Tensor", type(input).__name__,
                               "use sepconv.correlate for NumPy arrays, or torch.as_tensor(x)")
        if torch.compiler.is_compiling():
            return self._graph_forward(input)
        terms = self.kernel_terms()
        kernel: object = terms if terms else self.dense_kernel()
        form = "dense" if not terms else ("separable" if len(terms) == 1 else "terms")
        if form == "separable":
            kernel = terms[0]
        return filter_tensor(input, kernel, form=form, mode=self.mode, cval=self.cval,
                             origin=self.origin, axes=self.axes, output=None,
                             method="separable" if form == "separable" else self.method,
                             flip=self.convolve)

    def _graph_forward(self, x: Tensor) -> Tensor:
        """Under ``torch.compile`` and ``torch.export``: the torch route of :meth:`forward`, in torch
        and Python arithmetic only (the NumPy validation would break the graph; the weights were
        checked at construction). The same operations, so the same numbers."""
        kshape, ndim = self._kernel_shape(), x.dim()
        given = self.axes if isinstance(self.axes, Sequence) else (
            range(ndim) if self.axes is None else (self.axes,))
        axes = [int(a) % ndim for a in given]
        if len(axes) != len(kshape) or len(set(axes)) != len(axes):
            raise bad_argument("axes", f"{len(kshape)} distinct axes of a {ndim}-D input",
                               self.axes, "give one axis per kernel dimension")
        origins = list(self._origins)
        if self.convolve:  # scipy's convolve: flip, negate the origin, shift even sizes by one
            origins = [-o - (1 - k % 2) for o, k in zip(origins, kshape)]
        order = sorted(range(len(axes)), key=axes.__getitem__)
        axes, origins = [axes[i] for i in order], [origins[i] for i in order]
        compute = torch.float64 if x.dtype == torch.float64 else torch.float32
        cval = float(self.cval) if self.mode == "constant" else 0.0
        terms = self.kernel_terms()
        if terms:
            factors = [[(t[i].flip(0) if self.convolve else t[i]).to(compute) for i in order]
                       for t in terms]
            y = ops.correlate_terms(x.to(compute), factors, axes, self.mode, origins, cval)
        else:
            w = self.dense_kernel()
            w = (w.flip(list(range(w.dim()))) if self.convolve else w).permute(order).to(compute)
            y = ops.correlate_dense(x.to(compute), w, axes, self.mode, origins, cval)
        floats = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
        return ops.store(y, x.dtype if x.dtype in floats else torch.float32)

    def extra_repr(self) -> str:
        terms = self.kernel_terms()
        shape = tuple(f.shape[0] for f in terms[0]) if terms else tuple(self.dense_kernel().shape)
        form = "dense" if not self._names else f"{len(self._names)} separable term(s)"
        return (f"kernel={shape} ({form}), mode={self.mode!r}, axes={self.axes}, "
                f"convolve={self.convolve}, learnable={self.learnable}")
