"""The fast path: one task per output chunk, reading the chunk's region with its halo from the source.

A dask array made by ``da.from_array`` of a NumPy array or by ``da.from_array``/``da.from_zarr``
of a zarr array has a *source* that can be sliced: the region of an output chunk, extended by the
kernel's reach, is a view of the NumPy array (no copy) or one read of the zarr array. The engine
filters that region with the call's own mode and origin, and the task keeps the chunk's interior:

* a side of the region that is the array's edge gets the border mode there, as in memory;
* a side inside the array holds the ``reach`` samples the interior needs, so the outputs the
  engine computes from its (wrong) border there lie in the halo, which is dropped;
* ``wrap`` regions that cross an edge are read piece by piece from the other end (a copy, edge
  chunks only); ``valid`` regions lie inside the array and the engine computes exactly the chunk.

So every output is computed by the same kernel from the same samples as in memory: the result
is identical. Each task gets its share of the CPUs for the engine's threads (``_budget``).
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from .. import _checks, _plan, _request
from .._engine import _threads
from . import _budget

Span = tuple[int, int]  # [start, stop) along one axis


def source_of(x: da.Array) -> Any | None:
    """The NumPy or zarr array behind ``x`` when ``x`` is exactly ``da.from_array``/``from_zarr`` of it."""
    graph = x.__dask_graph__()
    keys = [(x.name, *index) for index in np.ndindex(*x.numblocks)]
    original = graph.get("original-" + x.name)  # graph_from_arraylike's name for the source
    if original is not None:
        zarr_like = type(original).__module__.split(".")[0] == "zarr"
        fits = tuple(original.shape) == x.shape and np.dtype(original.dtype) == x.dtype
        return original if zarr_like and fits and len(graph) == len(keys) + 1 else None
    if len(graph) != len(keys):
        return None
    return _numpy_source(x, [graph.get(k) for k in keys])


def _numpy_source(x: da.Array, blocks: list[Any]) -> np.ndarray | None:
    """The whole array as one read-only view, if the blocks are views of one array at their places."""
    if not blocks or not all(type(b) is np.ndarray and b.dtype == x.dtype for b in blocks):
        return None
    first = blocks[0]
    root = _root(first)
    origin = first.__array_interface__["data"][0]
    starts = [np.cumsum((0, *c[:-1])) for c in x.chunks]
    for block, index in zip(blocks, np.ndindex(*x.numblocks)):
        shape = tuple(c[i] for c, i in zip(x.chunks, index))
        offset = sum(int(s[i]) * stride for s, i, stride in zip(starts, index, first.strides))
        if (block.shape != shape or block.strides != first.strides or _root(block) is not root
                or block.__array_interface__["data"][0] != origin + offset):
            return None
    return np.lib.stride_tricks.as_strided(first, x.shape, first.strides, writeable=False)


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def apply(x: da.Array, source: Any, request: _request.Request,
          chunks: tuple[tuple[int, ...], ...]) -> da.Array:
    """One task per chunk of ``chunks`` (the input's, short ones merged), reading ``source``."""
    reach = {axis: _plan.pad_widths(k, o) for axis, k, o in zip(request.axes, request.kernel.shape,
                                                                 request.origins)}
    spans = [_spans(sizes, reach.get(axis), request.mode) for axis, sizes in enumerate(chunks)]
    region_shape = tuple(max(r[1] - r[0] for _, r, _ in axis) for axis in spans)
    plan = _plan.make_plan(request.kernel, request.method, request.dtype, shape=region_shape,
                           axes=request.axes, integer_output=request.final.kind in "iu")
    origins = request.origins if request.mode != "valid" else (0,) * len(request.axes)
    task = functools.partial(_filter_region, plan=plan, axes=request.axes, mode=request.mode,
                             cval=request.cval, origins=origins, dtype=request.dtype,
                             final=request.final, budget=_budget.Budget(math.prod(len(c) for c in chunks)))
    token = tokenize(x.name, chunks, plan.method, plan.dense, request.axes, request.origins,
                     request.mode, request.cval, request.dtype, request.final)
    name, source_key = "sepconv-region-" + token, "sepconv-source-" + token
    graph: dict[Any, Any] = {source_key: source}
    for index in itertools.product(*(range(len(axis)) for axis in spans)):
        parts = [axis[i] for axis, i in zip(spans, index)]
        region = tuple(r for _, r, _ in parts)
        keep = tuple(slice(k[0], k[1]) for _, _, k in parts)
        graph[(name, *index)] = (task, source_key, region, keep)
    out_chunks = tuple(tuple(o[1] - o[0] for o, _, _ in axis) for axis in spans)
    return da.Array(HighLevelGraph.from_collections(name, graph, dependencies=()), name, out_chunks,
                    dtype=request.final, meta=np.empty((0,) * x.ndim, dtype=request.final))


def _spans(sizes: tuple[int, ...], reach: Span | None, mode: str) -> list[tuple[Span, Span, Span]]:
    """Per chunk along one axis: (output span, source region, the region's kept part).

    Regions are clipped to the axis except in ``wrap`` (read around the end); in ``valid`` the
    outputs are the centres whose whole reach lies inside the axis.
    """
    n = sum(sizes)
    before, after = reach or (0, 0)
    edges = np.cumsum((0, *sizes)).tolist()
    result = []
    for start, stop in itertools.pairwise(edges):
        if mode == "valid" and reach is not None:
            lo, hi = max(start, before), min(stop, n - after)
            result.append(((lo - before, hi - before), (lo - before, hi + after), (0, hi - lo)))
            continue
        lo, hi = start - before, stop + after
        if mode != "wrap":
            lo, hi = max(lo, 0), min(hi, n)
        result.append(((start, stop), (lo, hi), (start - lo, stop - lo)))
    return result


def _filter_region(source: Any, region: tuple[Span, ...], keep: tuple[slice, ...], *,
                   plan: _plan.Plan, axes: tuple[int, ...], mode: str, cval: float,
                   origins: tuple[int, ...], dtype: np.dtype, final: np.dtype,
                   budget: _budget.Budget) -> np.ndarray:
    """Read the region (a view of a NumPy source), filter it with the call's mode, keep the chunk."""
    block = read(source, region)
    with budget.share() as threads, _threads.at_most(threads):
        result = _plan.execute(block, plan, axes, mode, cval, origins, dtype, parallel=True,
                               final=final)
    return _checks.store(result[keep], final, None)


def read(source: Any, region: tuple[Span, ...]) -> np.ndarray:
    """``source[region]``: a view of a NumPy source, one read of a zarr one; wrapped past the ends."""
    shape = source.shape
    if all(0 <= lo and hi <= n for (lo, hi), n in zip(region, shape)):
        return np.asarray(source[tuple(slice(lo, hi) for lo, hi in region)])
    block = np.empty(tuple(hi - lo for lo, hi in region), dtype=source.dtype)
    pieces = [_wrapped_runs(lo, hi, n) for (lo, hi), n in zip(region, shape)]
    for combo in itertools.product(*pieces):
        src = tuple(slice(s, s + length) for s, _, length in combo)
        dst = tuple(slice(d, d + length) for _, d, length in combo)
        block[dst] = source[src]
    return block


def _wrapped_runs(lo: int, hi: int, n: int) -> list[tuple[int, int, int]]:
    """[lo, hi) taken modulo n as contiguous runs: (source start, position in the region, length)."""
    runs = []
    position = lo
    while position < hi:
        start = position % n
        length = min(n - start, hi - position)
        runs.append((start, position - lo, length))
        position += length
    return runs
