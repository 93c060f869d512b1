"""Tiles, threads and matrix products of the fast CPU path of the 2-D depthwise (separable) layers.

A *tile* is a band of output rows of one image (the whole image unless it is large, or there are
fewer images than threads). For a separable layer, each tile's depthwise result (``C·m`` rows of
about ``_TILE_ELEMENTS`` numbers in all, so it stays in the core's caches) goes straight into one
matrix product with the pointwise weight, whose result is copied (bias added) into the output's
rows: NCHW in, NCHW out, no layout conversion, no full-size intermediate. The numba kernels are
in :mod:`sepconv._engine.layer`, imported on first use.

Threads: a tile is handled start to finish by one worker: the kernel on one core, then a
single-threaded matrix product. Interleaving numba work with torch's own OpenMP threads instead
(threaded depthwise, then threaded product, per tile) was 2-3x slower on a loaded 2-core machine
(benchmarks/layers.py): the threads of one pool spin while the other works. The number of workers
follows ``torch.get_num_threads()``; workers take the next tile when done (see :func:`run`).
Smaller tiles (64K numbers, L2-sized) were 1.5x slower for 8×128×56×56: per-call overheads and
matrix products with fewer columns outweigh the cache misses.
"""
from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import Tensor

_TILE_ELEMENTS = 1 << 19  # 2 MB of float32: about one image (benchmarks/layers.py)
_MIN_WORK = 1 << 20  # multiply-adds per thread below which waking a worker does not pay

Tile = tuple[int, int, int]  # (image, first row, end row)

_pool: ThreadPoolExecutor | None = None
_pool_pid = -1
_pool_lock = threading.Lock()


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _single_threaded(barrier: threading.Barrier) -> None:
    torch.set_num_threads(1)  # this worker's matrix products run on this core only
    barrier.wait()


def _workers() -> ThreadPoolExecutor:
    """One worker per CPU, each with single-threaded torch; recreated after a fork.

    ``torch.set_num_threads`` also sets the count that threads started later inherit, so the
    caller's count is put back once every worker has set its own.
    """
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            cpus = _cpus()
            callers = torch.get_num_threads()
            pool = ThreadPoolExecutor(cpus, thread_name_prefix="sepconv-nn")
            barrier = threading.Barrier(cpus)
            for future in [pool.submit(_single_threaded, barrier) for _ in range(cpus)]:
                future.result()
            torch.set_num_threads(callers)
            _pool, _pool_pid = pool, os.getpid()
        return _pool


def tiles(images: int, rows: int, band: int) -> list[Tile]:
    """Bands of ``band`` rows (the last may be shorter) of every image."""
    return [(b, r, min(rows, r + band)) for b in range(images) for r in range(0, rows, band)]


def band_rows(channels: int, width: int, rows: int, threads: int, images: int) -> int:
    """Rows per tile: about ``_TILE_ELEMENTS`` numbers, and at least one tile per thread."""
    band = max(1, min(rows, _TILE_ELEMENTS // max(1, channels * width)))
    if images < threads:
        band = min(band, -(-rows * images // threads))
    return band


def thread_count(work: int) -> int:
    """Workers for ``work`` multiply-adds: torch's thread count, capped by the CPUs and the work."""
    return max(1, min(torch.get_num_threads(), _cpus(), work // _MIN_WORK))


def run(handle: Callable[[Tile, Tensor | None], Any], items: Sequence[Tile], threads: int,
        scratch: Callable[[], Tensor] | None = None) -> list[Any]:
    """``handle(tile, buffer)`` for every tile; the results in tile order.

    ``threads`` workers each make ``buffer = scratch()`` once, then take the next tile whenever
    they finish one, so a worker the OS pauses (a shared machine) does not hold up the others.
    Sums over the results run in tile order, so they do not depend on timing.
    """
    results: list[Any] = [None] * len(items)
    order = iter(range(len(items)))
    lock = threading.Lock()
    # Inference mode is per thread: tensors made by a caller under torch.inference_mode() may
    # only be written by workers that are in it too (issue 12).
    inference = torch.is_inference_mode_enabled()

    def drain() -> None:
        with torch.inference_mode(inference):
            buffer = scratch() if scratch is not None else None
            while True:
                with lock:
                    index = next(order, None)
                if index is None:
                    return
                results[index] = handle(items[index], buffer)

    threads = max(1, min(threads, len(items)))
    if threads == 1:
        drain()
    else:
        for future in [_workers().submit(drain) for _ in range(threads)]:
            future.result()
    return results


@functools.cache
def _has_onednn_matmul() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _onednn(dtype: torch.dtype) -> bool:
    """oneDNN for float32 unless it is missing or switched off (``torch.backends.mkldnn``)."""
    return dtype == torch.float32 and bool(torch.backends.mkldnn.enabled) and _has_onednn_matmul()


def product(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` as a new tensor.

    float32 goes through oneDNN's matmul (the operator torch.compile's CPU backend uses): with
    the pointwise shapes (K = C·m = 128) it runs at ~2x the speed of ``torch.mm``'s MKL sgemm,
    which uses no AVX-512 on AMD CPUs (benchmarks/layers.py). Both are plain float32 arithmetic.
    """
    if _onednn(a.dtype):
        # oneDNN's fast kernels want plain layouts: a band of rows with a longer row pitch
        # (``b``) sends it to a reference kernel ~1000x slower, a transposed ``a`` costs 2x
        a = a if a.is_contiguous() else a.contiguous()
        b = b if b.is_contiguous() or b.T.is_contiguous() else b.contiguous()
        return torch.ops.mkldnn._linear_pointwise(a, b.T, None, "none", [], "")
    return torch.mm(a, b)


def numpy(t: Tensor) -> np.ndarray:
    """The NumPy view of a contiguous CPU tensor (no copy)."""
    return t.detach().numpy()


class Geometry:
    """Sizes of one 2-D depthwise step: input (N, C, H, W), weight (C·m, 1, kh, kw), zero pads."""

    def __init__(self, x: Tensor, weight: Tensor, pads: Sequence[int], dilation: Sequence[int]):
        self.n, self.c, self.h, self.w = (int(s) for s in x.shape)
        self.cm, _, self.kh, self.kw = (int(s) for s in weight.shape)
        self.mult = self.cm // self.c
        self.top, self.bottom, self.left, self.right = (int(p) for p in pads)
        self.dh, self.dw = (int(d) for d in dilation)
        self.ho = self.h + self.top + self.bottom - (self.kh - 1) * self.dh
        self.wo = self.w + self.left + self.right - (self.kw - 1) * self.dw

    def kernel_args(self) -> tuple[int, ...]:
        """``mult, pt, pl, dh, dw`` as the kernels take them."""
        return self.mult, self.top, self.left, self.dh, self.dw

    def transposed_args(self) -> tuple[int, ...]:
        """The same for the input gradient: pads ``(k - 1)·d - pad`` (see depthwise_transpose_band)."""
        return (self.mult, (self.kh - 1) * self.dh - self.top, (self.kw - 1) * self.dw - self.left,
                self.dh, self.dw)


def _kernels() -> Any:
    from sepconv._engine import layer  # numba is loaded on the first fast-path call

    return layer


def _plain(t: Tensor) -> Tensor:
    """Contiguous and detached: workers run without autograd (grad mode is per thread)."""
    return t.detach().contiguous()


def depthwise_forward(x: Tensor, weight: Tensor, bias: Tensor | None, pads: Sequence[int],
                      dilation: Sequence[int]) -> Tensor:
    """The depthwise step alone (DepthwiseConv2d), bands written straight into the output."""
    layer, geo = _kernels(), Geometry(x, weight, pads, dilation)
    x = _plain(x)
    out = x.new_empty((geo.n, geo.cm, geo.ho, geo.wo))
    xn, wn, outn = numpy(x), numpy(_plain(weight)).reshape(geo.cm, geo.kh, geo.kw), numpy(out)
    bn = numpy(_plain(bias)) if bias is not None else np.zeros(geo.cm, xn.dtype)

    def task(tile: Tile, _: Tensor | None) -> None:
        b, r0, r1 = tile
        layer.depthwise_band(xn, wn, bn, outn, b, r0, r1, b, r0, *geo.kernel_args())

    threads = thread_count(out.numel() * geo.kh * geo.kw)
    band = band_rows(geo.cm, geo.wo, geo.ho, threads, geo.n)
    run(task, tiles(geo.n, geo.ho, band), threads)
    return out


def separable_forward(x: Tensor, depthwise: Tensor, pointwise: Tensor, bias: Tensor | None,
                      pads: Sequence[int], dilation: Sequence[int]) -> Tensor:
    """Depthwise band by band, each band fed to one matrix product into the output (no intermediate)."""
    layer, geo = _kernels(), Geometry(x, depthwise, pads, dilation)
    x, out_channels = _plain(x), int(pointwise.shape[0])
    out = x.new_empty((geo.n, out_channels, geo.ho, geo.wo))
    xn, wn = numpy(x), numpy(_plain(depthwise)).reshape(geo.cm, geo.kh, geo.kw)
    pw = _plain(pointwise).view(out_channels, geo.cm)
    column = _plain(bias).view(out_channels, 1, 1) if bias is not None else None
    threads = thread_count(out.numel() * geo.cm + geo.n * geo.ho * geo.wo * geo.cm * geo.kh * geo.kw)
    band = band_rows(geo.cm, geo.wo, geo.ho, threads, geo.n)
    pitch = geo.wo + (geo.kw - 1) * geo.dw

    def task(tile: Tile, scratch: Tensor | None) -> None:
        b, r0, r1 = tile
        assert scratch is not None
        mid = scratch[:geo.cm * (r1 - r0) * pitch].view(geo.cm, -1)
        layer.depthwise_pitched_band(xn, wn, numpy(mid), b, r0, r1, *geo.kernel_args())
        rows = product(pw, mid).view(out_channels, r1 - r0, pitch)[:, :, :geo.wo]
        if column is None:
            out[b, :, r0:r1].copy_(rows)
        else:
            torch.add(rows, column, out=out[b, :, r0:r1])

    run(task, tiles(geo.n, geo.ho, band), threads, lambda: x.new_empty(geo.cm * band * pitch))
    return out


def _flipped(weight: Tensor, geo: Geometry) -> np.ndarray:
    return numpy(_plain(weight).flip(2, 3).contiguous()).reshape(geo.cm, geo.kh, geo.kw)


def depthwise_input_grad(grad: Tensor, weight: Tensor, geo: Geometry) -> Tensor:
    """Gradient of the depthwise step's input: a depthwise correlation with the flipped kernel."""
    layer, grad = _kernels(), _plain(grad)
    gx = grad.new_empty((geo.n, geo.c, geo.h, geo.w))
    flipped, gn, gxn = _flipped(weight, geo), numpy(grad), numpy(gx)

    def task(tile: Tile, _: Tensor | None) -> None:
        b, r0, r1 = tile
        layer.depthwise_transpose_band(gn, flipped, gxn, b, b, r0, r1, *geo.transposed_args())

    threads = thread_count(grad.numel() * geo.kh * geo.kw)
    band = band_rows(geo.cm, geo.w, geo.h, threads, geo.n)
    run(task, tiles(geo.n, geo.h, band), threads)
    return gx


def depthwise_weight_grad(x: Tensor, grad: Tensor, geo: Geometry) -> Tensor:
    """Gradient of the depthwise weight, (C·m, 1, kh, kw): per-tile partial sums, then added."""
    layer, x, grad = _kernels(), _plain(x), _plain(grad)
    xn, gn = numpy(x), numpy(grad)

    def task(tile: Tile, _: Tensor | None) -> np.ndarray:
        partial = np.zeros((geo.cm, geo.kh, geo.kw), xn.dtype)
        b, r0, r1 = tile
        layer.depthwise_weight_grad_band(xn, gn, partial, b, b, r0, r1, *geo.kernel_args())
        return partial

    threads = thread_count(grad.numel() * geo.kh * geo.kw)
    band = band_rows(geo.cm, geo.wo, geo.ho, threads, geo.n)
    total = sum(run(task, tiles(geo.n, geo.ho, band), threads))
    return torch.from_numpy(np.ascontiguousarray(total)).view(geo.cm, 1, geo.kh, geo.kw)


def depthwise_backward(grad: Tensor, x: Tensor, weight: Tensor, pads: Sequence[int],
                       dilation: Sequence[int], mask: Sequence[bool]) -> list[Tensor | None]:
    """Gradients of (input, weight, bias) of the depthwise step; None where ``mask`` is False."""
    geo = Geometry(x, weight, pads, dilation)
    return [depthwise_input_grad(grad, weight, geo) if mask[0] else None,
            depthwise_weight_grad(x, grad, geo) if mask[1] else None,
            grad.sum((0, 2, 3)) if mask[2] else None]


def separable_backward(grad: Tensor, x: Tensor, depthwise: Tensor, pointwise: Tensor,
                       pads: Sequence[int], dilation: Sequence[int], mask: Sequence[bool]
                       ) -> list[Tensor | None]:
    """Gradients of (input, depthwise, pointwise, bias); None where ``mask`` is False.

    Per tile: the depthwise result is recomputed (it was never stored) for the pointwise weight's
    gradient, and the gradient of the depthwise result is one matrix product. When tiles are
    whole images, that gradient goes straight on to the input and depthwise weight gradients
    while in cache (no full-size intermediate); bands need their neighbours' rows, so they are
    collected in one tensor first.
    """
    geo = Geometry(x, depthwise, pads, dilation)
    x, grad = _plain(x), _plain(grad)
    threads = thread_count(2 * grad.numel() * geo.cm)
    band = band_rows(geo.cm, geo.wo, geo.ho, threads, geo.n)
    step = _BackwardStep(x, grad, depthwise, pointwise, geo, mask, band)
    scratch = (lambda: x.new_empty(geo.cm * band * geo.wo)) if mask[2] else None
    results = run(step, tiles(geo.n, geo.ho, band), threads, scratch)
    grads: list[Tensor | None] = [step.gx, None, None, None]
    if mask[2]:
        grads[2] = torch.stack([r[0] for r in results]).sum(0).view_as(pointwise)
    if mask[1] and step.whole:
        total = sum(r[1] for r in results)
        grads[1] = torch.from_numpy(np.ascontiguousarray(total)).view_as(depthwise)
    if step.grad_mid is not None:
        grads[0], grads[1], _ = depthwise_backward(step.grad_mid, x, depthwise, pads, dilation,
                                                   [mask[0], mask[1], False])
    if mask[3]:
        grads[3] = grad.sum((0, 2, 3))
    return grads


class _BackwardStep:
    """One tile of :func:`separable_backward` (the state shared by all tiles of one call)."""

    def __init__(self, x: Tensor, grad: Tensor, depthwise: Tensor, pointwise: Tensor,
                 geo: Geometry, mask: Sequence[bool], band: int):
        self.layer, self.geo, self.mask, self.grad = _kernels(), geo, mask, grad
        self.xn, self.wn = numpy(x), numpy(_plain(depthwise)).reshape(geo.cm, geo.kh, geo.kw)
        self.pw = _plain(pointwise).view(-1, geo.cm)
        self.pw_t = self.pw.T.contiguous()
        self.whole = band >= geo.ho
        wanted = mask[0] or mask[1]
        self.grad_mid = x.new_empty((geo.n, geo.cm, geo.ho, geo.wo)) if wanted and not self.whole else None
        self.gx = x.new_empty((geo.n, geo.c, geo.h, geo.w)) if mask[0] and self.whole else None
        self.flipped = _flipped(depthwise, geo) if self.gx is not None else None

    def __call__(self, tile: Tile, scratch: Tensor | None) -> tuple[Tensor | None, np.ndarray | None]:
        b, r0, r1 = tile
        geo, layer = self.geo, self.layer
        size = (r1 - r0) * geo.wo
        g = self.grad[b, :, r0:r1].reshape(-1, size)
        grad_pw = None
        if scratch is not None:  # the pointwise weight's gradient: g @ depthwise result^T
            mid = scratch[:geo.cm * size]
            layer.depthwise_band(self.xn, self.wn, np.zeros(geo.cm, self.xn.dtype),
                                 numpy(mid).reshape(1, geo.cm, r1 - r0, geo.wo), b, r0, r1, 0, 0,
                                 *geo.kernel_args())
            grad_pw = product(g, mid.view(geo.cm, size).T)
        if not (self.mask[0] or self.mask[1]):
            return grad_pw, None
        grad_mid = product(self.pw_t, g)
        if self.grad_mid is not None:
            self.grad_mid[b, :, r0:r1].view(geo.cm, size).copy_(grad_mid)
            return grad_pw, None
        gm = numpy(grad_mid).reshape(1, geo.cm, geo.ho, geo.wo)
        grad_dw = None
        if self.mask[1]:
            grad_dw = np.zeros((geo.cm, geo.kh, geo.kw), self.xn.dtype)
            layer.depthwise_weight_grad_band(self.xn, gm, grad_dw, b, 0, 0, geo.ho, *geo.kernel_args())
        if self.gx is not None:
            layer.depthwise_transpose_band(gm, self.flipped, numpy(self.gx), 0, b, 0, geo.h,
                                           *geo.transposed_args())
        return grad_pw, grad_dw
