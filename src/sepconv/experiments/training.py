"""Training and evaluation with a fixed budget, deterministic given a seed and a thread count.

The budget is a number of epochs over the training set in mini-batches, so both families take
exactly the same number of optimizer steps. The recipe is the same for every model: Adam with a
one-cycle learning-rate schedule (warm-up, then annealing to almost zero), cross-entropy loss.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import Tensor, nn

T = TypeVar("T")


@dataclass(frozen=True)
class Recipe:
    """How a model is trained: ``epochs`` over the data, ``batch_size``, peak learning rate ``lr``."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-2


@contextmanager
def reproducible(threads: int) -> Iterator[None]:
    """Fix torch's thread count and ask for deterministic kernels; restore both afterwards.

    Results are reproducible for a given seed *and* thread count (a different count can change the
    order of floating-point sums). One thread is the default of the studies: these models are tiny,
    and one thread per process is also the fastest and steadiest on a shared machine.
    """
    old_threads = torch.get_num_threads()
    old_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_deterministic)


def train(model: nn.Module, x: Tensor, y: Tensor, recipe: Recipe, seed: int) -> float:
    """Train ``model`` in place; the seed fixes the batch order. Returns the seconds it took."""
    order = torch.Generator().manual_seed(seed)
    steps_per_epoch = -(-len(y) // recipe.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr,
                                                   total_steps=recipe.epochs * steps_per_epoch)
    start = time.perf_counter()
    model.train()
    for _ in range(recipe.epochs):
        batches = torch.randperm(len(y), generator=order).split(recipe.batch_size)
        for batch in batches:
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    return time.perf_counter() - start


def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1024) -> float:
    """The fraction of ``x`` that ``model`` (in eval mode) labels right."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
            correct += int((model(xb).argmax(dim=1) == yb).sum())
    return correct / max(len(y), 1)


def seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``build()`` with torch's global generator seeded first, so the initial weights are fixed."""
    torch.manual_seed(seed)
    return build()


def progress(items: Sequence[T], description: str, enabled: bool) -> Iterable[T]:
    """``items`` with a tqdm progress bar on stderr when ``enabled`` (tqdm is imported only then)."""
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=description, file=sys.stderr, unit="run", leave=True)


def environment() -> dict[str, object]:
    """What the numbers depend on: versions, threads, processor count."""
    import os
    import platform

    from sepconv import __version__

    return {"sepconv": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
            "deterministic": torch.are_deterministic_algorithms_enabled()}
