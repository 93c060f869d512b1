"""A small thread-safe LRU cache and the byte keys of kernels (the per-call caches' parts).

The plan cache (:func:`sepconv._plan.make_plan`) and the call cache of the public filters
(:mod:`sepconv.filtering`) key on a kernel's bytes, never on its identity: a kernel array that
the caller changes in place gets a new key, and a cached value never holds the caller's array.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import numpy as np

from .decompose import LowRankKernel, SeparableKernel

_MISSING = object()
_SCALARS = frozenset((str, int, float, bool, type(None)))


class LRU:
    """At most ``size`` entries; the least recently used goes first. Safe under threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        """The cached value, or None (values are never None)."""
        with self._lock:
            value = self._data.get(key, _MISSING)
            if value is _MISSING:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


def _array_key(a: np.ndarray) -> tuple:
    return (a.dtype.str, a.shape, a.tobytes())


#: keys of kernels that never change: sepconv.ndimage's own cached Gaussian and box kernels,
#: whose factors nobody else holds (registered by ``remember_key``); computed once
_FROZEN_KEYS: weakref.WeakKeyDictionary[SeparableKernel, tuple] = weakref.WeakKeyDictionary()


def remember_key(kernel: SeparableKernel) -> None:
    """Compute ``kernel``'s key once from now on: only for kernels that sepconv alone holds."""
    _FROZEN_KEYS[kernel] = ("separable", *(_array_key(f) for f in kernel.factors))


def kernel_key(kernel: object) -> tuple:
    """A hashable key equal for kernels with the same kind, dtypes, shapes and values."""
    if isinstance(kernel, SeparableKernel):
        key = _FROZEN_KEYS.get(kernel)
        if key is None:
            key = ("separable", *(_array_key(f) for f in kernel.factors))
        return key
    if isinstance(kernel, LowRankKernel):
        return ("lowrank", *(kernel_key(t) for t in kernel.terms))
    return ("dense", _array_key(np.asarray(kernel)))


def plain_key(*args: object) -> Hashable | None:
    """``args`` as a key when each is a plain value (a number, string or None, or a list or tuple
    of them), else None: an array or tensor argument may change in place."""
    key: list[Hashable] = []
    for a in args:
        if type(a) in _SCALARS:
            key.append(a)
        elif isinstance(a, (list, tuple)) and all(type(v) in _SCALARS for v in a):
            key.append(tuple(a))
        else:
            return None
    return tuple(key)


def freeze(value: object) -> Hashable:
    """``value`` as a hashable key part (lists and arrays become tuples); raises TypeError if not."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, (list, tuple)):
        if all(type(v) in _SCALARS for v in value):
            return tuple(value)
        return tuple(freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        return ("array", _array_key(value))
    hash(value)
    return value
