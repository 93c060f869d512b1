"""Lazy, chunked filtering of dask arrays: identical to the in-memory result, at in-memory speed.

``sepconv.correlate``, ``convolve``, ``correlate_separable`` and ``convolve_separable`` call
:func:`filter_array` when given a ``dask.array.Array`` and return a lazy dask array; arguments
are checked at once, nothing is computed until asked. :func:`filter_tiff` filters a TIFF image
or stack larger than memory, reading and writing it piece by piece.

Two ways to build the graph, both exact at the seams for every mode, origin, axes, method and
dtype (per filtered axis the kernel reaches ``before = k//2 + origin`` samples back and
``k - 1 - before`` forward):

* the array comes straight from ``da.from_array`` of a NumPy array, or from a zarr array
  (``da.from_zarr``, :func:`filter_tiff`): one task per output chunk reads the chunk's region
  with its halo from the source (a view of the NumPy array, one read of the zarr array) and the
  engine filters it with the call's own border mode, writing the chunk (``_regions``);
* any other dask array: ``map_overlap`` hands each chunk its neighbours' samples (``_overlap``).

Chunks shorter than the reach are merged with their neighbours; otherwise output chunks equal
the input's (in ``valid`` mode the first is ``before`` shorter and the last ``after`` shorter).
The engine's threads per task are the CPUs shared among the tasks running at once: many
chunks run serially side by side, a few large ones split the cores.

>>> import dask.array as da
>>> import sepconv
>>> x = da.arange(12.0, chunks=5)
>>> y = sepconv.correlate(x, [1.0, 1.0, 1.0], mode="wrap")
>>> y.chunks
((5, 5, 2),)
>>> y.compute()
array([12.,  3.,  6.,  9., 12., 15., 18., 21., 24., 27., 30., 21.])
"""

from __future__ import annotations

import dask.array as da
import numpy as np

from .. import _checks, _plan, _request
from .._errors import bad_argument
from . import _overlap, _regions
from ._overlap import merged_chunks
from ._tiff import filter_tiff


def filter_array(x: da.Array, kernel: _plan.Kernel, *, mode: object, cval: object, origin: object,
                 axes: object, output: object, method: object, flip: bool) -> da.Array:
    """The lazy counterpart of the NumPy path: validate and plan now, compute chunk by chunk later."""
    _check_input(x, output)
    request = _request.validate(x.shape, x.dtype, kernel, mode=mode, cval=cval, origin=origin,
                                axes=axes, output=output, method=method, flip=flip)
    if x.size == 0 or 0 in request.out_shape:
        return da.zeros(request.out_shape, dtype=request.final)
    source = _regions.source_of(x)
    if source is None:
        return _overlap.apply(x, request)
    reach = {axis: _plan.pad_widths(k, o) for axis, k, o in zip(request.axes, request.kernel.shape,
                                                                 request.origins)}
    chunks = tuple(merged_chunks(c, max(reach[axis]) + 1) if axis in reach else c
                   for axis, c in enumerate(x.chunks))
    return _regions.apply(x, source, request, chunks)


def _check_input(x: da.Array, output: object) -> None:
    if any(np.isnan(c) for chunks in x.chunks for c in chunks):
        raise bad_argument("input", "a dask array with known chunk sizes", "unknown (NaN) chunk sizes",
                           "call x.compute_chunk_sizes() first")
    _checks.as_input(np.empty((0,) * x.ndim, dtype=x.dtype))  # dtype and ndim, as for NumPy input
    if isinstance(output, np.ndarray) or _request.is_dask_array(output):
        raise bad_argument(
            "output", "None or a dtype for a dask input (the result is lazy)",
            f"an array of shape {getattr(output, 'shape', '?')}",
            "pass output=<dtype>, then write the result with dask.array.store(result, target)",
        )


__all__ = ["filter_array", "filter_tiff", "merged_chunks"]
