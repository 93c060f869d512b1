"""The general path: ``map_overlap`` around any dask array (sources without a readable region).

Per filtered axis (kernel size ``k``, ``origin`` ``o``) the kernel reaches ``before = k//2 + o``
samples back and ``after = k - 1 - before`` forward; chunks shorter than ``max(before, after) + 1``
are merged with their neighbours; ``map_overlap`` with depth ``(before, after)`` hands each chunk
its neighbours' samples; ``wrap`` pads the whole array once beforehand. Each extended block is
correlated with the call's own mode and origin (at the array's edges that is the border mode;
inside, the outputs it spoils are dropped), ``wrap`` and ``valid`` ones in ``valid`` mode.
"""

from __future__ import annotations

import functools

import dask.array as da
import numpy as np

from .. import _checks, _plan, _request
from .._engine import _threads
from . import _budget

Reach = dict[int, tuple[int, int]]


def apply(x: da.Array, request: _request.Request) -> da.Array:
    """The lazy result by ``map_overlap``: exact seams, serial kernels in each chunk."""
    kshape = tuple(request.kernel.shape)
    reach = {axis: _plan.pad_widths(k, o) for axis, k, o in zip(request.axes, kshape, request.origins)}
    x = _merge_small_chunks(x, reach)
    block_shape = tuple(max(c) + sum(reach.get(axis, (0, 0))) for axis, c in enumerate(x.chunks))
    plan = _plan.make_plan(request.kernel, request.method, request.dtype, shape=block_shape,
                           axes=request.axes, integer_output=request.final.kind in "iu")
    if request.mode == "wrap":  # the far end of the array lives in other chunks: pad it globally
        x = _pad_wrap(x, reach)
    own_mode = request.mode not in ("wrap", "valid")  # else valid on the extended blocks
    block = functools.partial(
        _filter_block, plan=plan, axes=request.axes, reach=reach,
        mode=request.mode if own_mode else "valid", cval=request.cval,
        origins=request.origins if own_mode else (0,) * len(request.axes), dtype=request.dtype,
        final=request.final, budget=_budget.Budget(x.npartitions))
    depth = {axis: r for axis, r in reach.items() if len(x.chunks[axis]) > 1}  # else no neighbours
    return da.map_overlap(
        block, x, depth=depth, boundary="none", trim=False, allow_rechunk=False,
        chunks=_out_chunks(x.chunks, reach, padded=own_mode), dtype=request.final,
        meta=np.empty((0,) * x.ndim, dtype=request.final), token="sepconv-filter",
    )


def _filter_block(block: np.ndarray, *, plan: _plan.Plan, axes: tuple[int, ...], reach: Reach,
                  mode: str, cval: float, origins: tuple[int, ...], dtype: np.dtype, final: np.dtype,
                  budget: _budget.Budget, block_info: dict | None = None) -> np.ndarray:
    """One chunk with its neighbours' samples around it, filtered with the call's own mode.

    At the array's edges that mode is the border's, as in memory; inside, the outputs it
    touches lie in the neighbours' samples, which are dropped (chunks hold at least reach + 1).
    """
    with budget.share() as threads, _threads.at_most(threads):
        result = _plan.execute(block, plan, axes, mode, cval, origins, dtype, parallel=True,
                               final=final)
    if mode != "valid" and block_info is not None:
        result = result[_interior(block_info[0], reach, result.ndim)]
    return _checks.store(result, final, None)


def _interior(info: dict, reach: Reach, ndim: int) -> tuple[slice, ...]:
    """The chunk's own part of an extended block (no neighbour's samples beyond the array's edges)."""
    where, count = info["chunk-location"], info["num-chunks"]
    keep = [slice(None)] * ndim
    for axis, (before, after) in reach.items():
        if count[axis] > 1:
            last = where[axis] == count[axis] - 1
            keep[axis] = slice(before if where[axis] > 0 else 0, -after if after and not last else None)
    return tuple(keep)


def merged_chunks(chunks: tuple[int, ...], need: int) -> tuple[int, ...]:
    """Merge chunks shorter than ``need`` into their neighbours (a short tail joins the last one).

    >>> merged_chunks((5, 5, 5, 2), 3)
    (5, 5, 7)
    >>> merged_chunks((1, 1, 1, 1, 1), 3)
    (5,)
    >>> merged_chunks((4, 4), 3)
    (4, 4)
    """
    if len(chunks) == 1 or min(chunks) >= need:
        return chunks
    out: list[int] = []
    run = 0
    for c in chunks:
        run += c
        if run >= need:
            out.append(run)
            run = 0
    if run and out:
        out[-1] += run
    elif run:
        out.append(run)
    return tuple(out)


def _merge_small_chunks(x: da.Array, reach: Reach) -> da.Array:
    new = {}
    for axis, (before, after) in reach.items():
        merged = merged_chunks(x.chunks[axis], max(before, after) + 1)
        if merged != x.chunks[axis]:
            new[axis] = merged
    return x.rechunk(new) if new else x


def _out_chunks(chunks: tuple[tuple[int, ...], ...], reach: Reach, *, padded: bool
                ) -> tuple[tuple[int, ...], ...]:
    """Output chunks: the input's when the edge blocks are padded, else the ends lose the reach."""
    out = []
    for axis, sizes in enumerate(chunks):
        before, after = reach.get(axis, (0, 0)) if not padded else (0, 0)
        new = list(sizes)
        new[0] -= before
        new[-1] -= after
        out.append(tuple(new))
    return tuple(out)


def _pad_wrap(x: da.Array, reach: Reach) -> da.Array:
    """Pad the whole array periodically; the pads join the first and last chunks."""
    for axis, (before, after) in reach.items():
        if before == after == 0:
            continue
        parts = [_wrapped(x, axis, before, start=True), x, _wrapped(x, axis, after, start=False)]
        padded = da.concatenate([p for p in parts if p.shape[axis] > 0], axis=axis)
        sizes = list(x.chunks[axis])
        sizes[0] += before
        sizes[-1] += after
        x = padded.rechunk({axis: tuple(sizes)})
    return x


def _wrapped(x: da.Array, axis: int, width: int, *, start: bool) -> da.Array:
    """The ``width`` samples beyond one end of ``axis`` in 'wrap' mode (any width)."""
    n = x.shape[axis]
    sources = np.pad(np.arange(n), (width, 0) if start else (0, width), mode="wrap")
    sources = sources[:width] if start else sources[n:]
    if width == 0:
        return _take(x, axis, slice(0, 0))
    lo, hi = int(sources.min()), int(sources.max()) + 1
    region = _take(x, axis, slice(lo, hi)).rechunk({axis: -1})  # small: at most the reach
    return _take(region, axis, sources - lo)


def _take(x: da.Array, axis: int, index: slice | np.ndarray) -> da.Array:
    return x[(slice(None),) * axis + (index,)]
