"""The two studies of the depthwise separable drawback, as small readable examples of sepconv.nn.

- :mod:`~sepconv.experiments.capacity`: normal vs depthwise separable CNNs of several widths,
  trained with the same budget (``sepconv experiment capacity``).
- :mod:`~sepconv.experiments.conversion`: a trained CNN converted with
  :func:`sepconv.nn.convert_model` at several multipliers and ranks, before / after / fine-tuned,
  MACs and CPU time (``sepconv experiment convert``).

Both use data that ships inside installed packages (:mod:`~sepconv.experiments.data`) and are
deterministic for a given seed and thread count. Like ``sepconv.nn`` this package imports torch.
"""

from __future__ import annotations

import sepconv.nn  # noqa: F401  (the ImportError that names the torch extra)

__all__ = ["capacity", "conversion", "data", "figures", "models", "training"]
