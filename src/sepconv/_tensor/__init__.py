"""Filters on ``torch.Tensor`` inputs: detection here (never imports torch), the work below.

:func:`is_tensor` recognises a tensor without importing torch: a program that never imported
torch cannot hold one. The public filters call it first and hand tensors to
:func:`sepconv._tensor.dispatch.filter_tensor` (imported only then), which validates with the
NumPy path's rules and runs CPU tensors without grad on the numba engine and everything else
(grad, CUDA, MPS, tracing) as torch operations (:mod:`sepconv._tensor.ops`).
"""

from __future__ import annotations

import sys
from typing import Any


def is_tensor(obj: object) -> bool:
    """A ``torch.Tensor`` (or subclass such as ``nn.Parameter``), recognised without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def as_array(input: Any) -> Any:
    """``numpy.asarray(input)``, except that a tensor stays a tensor (for the ndimage drop-ins)."""
    import numpy as np

    if type(input) is np.ndarray:  # the common case, decided first (a call on a small image)
        return input
    return input if is_tensor(input) else np.asarray(input)


def flip_1d(weights: Any) -> Any:
    """Reversed 1-D weights: ``torch.flip`` for a tensor (keeps its grad), a NumPy view otherwise."""
    if is_tensor(weights):
        return weights.flip(-1)
    import numpy as np

    return np.asarray(weights)[::-1]


__all__ = ["as_array", "flip_1d", "is_tensor"]
