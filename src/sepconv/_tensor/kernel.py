"""Kernels that hold tensors: checked as the NumPy path checks arrays, validated through a proxy.

``_request.validate`` flips and permutes kernels made of NumPy arrays. A kernel that holds tensors
(possibly requiring grad, possibly on a GPU) is validated through a *proxy*: the same kernel
object with every weight replaced by its position in one flat tensor of all weights
(``Parsed.leaves``). After validation the proxy's values say where each weight went, and indexing
the leaves with them
gives the flipped, permuted weights as differentiable tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .. import _checks, _request
from .._errors import bad_argument
from ..decompose import LowRankKernel, SeparableKernel

Terms = list[list[torch.Tensor]]


@dataclass(frozen=True)
class Parsed:
    """What ``validate`` sees (``validated``) and, for tensor weights, the tensors as given."""

    validated: object
    parts: tuple[torch.Tensor, ...] | None

    @property
    def requires_grad(self) -> bool:
        return self.parts is not None and any(p.requires_grad for p in self.parts)

    def leaves(self, *, detach: bool = False) -> torch.Tensor:
        """All weights in one flat tensor, in the order of the proxy's positions."""
        assert self.parts is not None
        parts = [p.detach() if detach else p for p in self.parts]
        if len(parts) == 1:
            return parts[0].reshape(-1)
        dtype = parts[0].dtype
        for p in parts[1:]:
            dtype = torch.promote_types(dtype, p.dtype)
        return torch.cat([p.reshape(-1).to(dtype) for p in parts])


def check_tensor(k: torch.Tensor, name: str, device: torch.device, *,
                 check_finite: bool) -> torch.Tensor:
    """The NumPy path's kernel rules for a tensor: on the input's device, real, 1-D+, non-empty, finite."""
    if k.device != device:
        raise bad_argument(name, f"a tensor on {device} (the input's device)", f"a tensor on {k.device}",
                           "move the kernel with .to(x.device)")
    if k.is_complex():
        raise bad_argument(name, "a real numeric tensor", f"dtype {k.dtype}", "pass real weights")
    if k.ndim == 0:
        raise bad_argument(name, "a tensor with at least 1 dimension", "a scalar", "wrap it: [k]")
    if k.numel() == 0:
        raise bad_argument(name, "a non-empty kernel", f"shape {tuple(k.shape)}",
                           "give at least one weight per axis")
    if check_finite and k.is_floating_point() and not bool(torch.isfinite(k).all()):
        bad = int((~torch.isfinite(k)).sum())
        raise bad_argument(name, "finite weights", f"{bad} NaN or Inf value(s)", "replace them with numbers")
    return k if k.is_floating_point() else k.to(torch.float64)


def _one_dim(shape: tuple[int, ...], name: str) -> None:
    if len(shape) != 1:
        raise bad_argument(name, "a 1-D kernel", f"shape {shape}",
                           "use correlate() for N-D kernels, or pass 1-D factors")


def _array_factor(f: object, name: str) -> np.ndarray:
    arr = _checks.as_kernel(f, name=name)
    _one_dim(arr.shape, name)
    return arr


def _factor(f: object, name: str, device: torch.device, check_finite: bool) -> torch.Tensor:
    if not isinstance(f, torch.Tensor):
        return torch.as_tensor(_array_factor(f, name), device=device)
    t = check_tensor(f, name, device, check_finite=check_finite)
    _one_dim(tuple(t.shape), name)
    return t


def _factor_list(kernels_1d: object) -> list[object]:
    """The 1-D factors of ``correlate_separable``'s argument (filtering's rules)."""
    if isinstance(kernels_1d, SeparableKernel):
        return list(kernels_1d.factors)
    if isinstance(kernels_1d, (np.ndarray, torch.Tensor)) and kernels_1d.ndim == 1:
        return [kernels_1d]
    if not isinstance(kernels_1d, (Sequence, np.ndarray, torch.Tensor)) or isinstance(kernels_1d, str):
        raise bad_argument("kernels_1d", "a sequence of 1-D kernels", kernels_1d,
                           "pass e.g. [[1, 2, 1], [-1, 0, 1]]")
    if len(kernels_1d) == 0:
        raise bad_argument("kernels_1d", "at least one 1-D kernel", "an empty sequence",
                           "pass one 1-D kernel per filtered axis")
    return list(kernels_1d)


def _terms_proxy(terms: Terms) -> Parsed:
    """A Separable/LowRankKernel of positions into the concatenated factors."""
    start, proxies = 0, []
    for t in terms:
        factors = []
        for f in t:
            factors.append(np.arange(start, start + f.shape[0], dtype=np.float64))
            start += f.shape[0]
        proxies.append(SeparableKernel(tuple(factors)))
    flat = tuple(f for t in terms for f in t)
    if len(proxies) == 1:
        return Parsed(proxies[0], flat)
    return Parsed(LowRankKernel(tuple(proxies)), flat)


def parse(kernel: object, *, form: str, device: torch.device, check_finite: bool) -> Parsed:
    """``form``: 'dense' (correlate's kernel), 'separable' (1-D factors) or 'terms' (list of lists)."""
    if form == "terms":
        given: list[list[object]] = list(kernel)  # type: ignore[call-overload]
        terms = [[_factor(f, f"kernel term {i} factor {j}", device, check_finite)
                  for j, f in enumerate(t)] for i, t in enumerate(given)]
        return _terms_proxy(terms)
    if form == "separable":
        factors = _factor_list(kernel)
        if not any(isinstance(f, torch.Tensor) for f in factors):
            return Parsed(SeparableKernel(tuple(_array_factor(f, f"kernels_1d[{i}]")
                                                for i, f in enumerate(factors))), None)
        return _terms_proxy([[_factor(f, f"kernels_1d[{i}]", device, check_finite)
                              for i, f in enumerate(factors)]])
    if isinstance(kernel, torch.Tensor):
        k = check_tensor(kernel, "kernel", device, check_finite=check_finite)
        proxy = np.arange(k.numel(), dtype=np.float64).reshape(tuple(k.shape))
        return Parsed(proxy, (k,))
    return Parsed(_request.kernel_object(kernel), None)


def unproxy(parsed: Parsed, validated: object, *, detach: bool = False,
            ) -> tuple[torch.Tensor | None, Terms]:
    """The validated (flipped, permuted) weights: a dense tensor, or separable terms."""
    leaves = parsed.leaves(detach=detach)

    def take(positions: np.ndarray) -> torch.Tensor:
        index = torch.as_tensor(positions.astype(np.int64), device=leaves.device)
        return leaves[index.reshape(-1)].reshape(positions.shape)

    if isinstance(validated, np.ndarray):
        return take(validated), []
    if isinstance(validated, SeparableKernel):
        return None, [[take(f) for f in validated.factors]]
    assert isinstance(validated, LowRankKernel)
    return None, [[take(f) for f in t.factors] for t in validated.terms]


__all__ = ["Parsed", "check_tensor", "parse", "unproxy"]
