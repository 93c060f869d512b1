"""Two small image-classification tasks made from data that ships inside installed packages.

Nothing is downloaded: ``digits`` is scikit-learn's bundled 8×8 digits (1,797 images, 10 classes)
and ``textures`` cuts patches out of scikit-image's bundled photographs of brick, grass and gravel.

``textures`` is the harder task. Each 12×12 patch is standardized (zero mean, unit variance, so
brightness and contrast say nothing), rotated by a random multiple of 90° and maybe flipped, so
only the texture itself tells the classes apart. Training patches come from the top three quarters
of each photograph and test patches from the bottom quarter: no test pixel is ever seen in training.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from sepconv._errors import unknown_choice

TASKS = ("digits", "textures")
TEXTURES = ("brick", "grass", "gravel")


@dataclass(frozen=True)
class Task:
    """Train and test tensors: images ``(N, 1, H, W)`` float32, labels ``(N,)`` int64."""

    name: str
    classes: tuple[str, ...]
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)

    def __repr__(self) -> str:
        return (f"Task({self.name!r}, {len(self.classes)} classes, {tuple(self.x_train.shape[2:])} "
                f"images, {len(self.y_train)} train, {len(self.y_test)} test)")


def _tensors(images: np.ndarray, labels: np.ndarray) -> tuple[Tensor, Tensor]:
    return (torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)[:, None]),
            torch.from_numpy(np.asarray(labels, dtype=np.int64)))


def digits(*, test_fraction: float = 0.25, seed: int = 0) -> Task:
    """scikit-learn's 8×8 digits scaled to [0, 1], split at random (fixed by ``seed``)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("the digits task needs scikit-learn: pip install scikit-learn") from None
    bunch = load_digits()
    images, labels = bunch.images / 16.0, bunch.target
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = round(test_fraction * len(labels))
    test, train = order[:n_test], order[n_test:]
    return Task("digits", tuple(str(d) for d in range(10)),
                *_tensors(images[train], labels[train]), *_tensors(images[test], labels[test]))


def _patches(image: np.ndarray, count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random standardized, rotated and maybe flipped ``size``×``size`` patches."""
    rows = rng.integers(0, image.shape[0] - size + 1, count)
    cols = rng.integers(0, image.shape[1] - size + 1, count)
    out = np.empty((count, size, size))
    for i, (r, c) in enumerate(zip(rows, cols)):
        patch = np.rot90(image[r:r + size, c:c + size], k=int(rng.integers(4)))
        if rng.integers(2):
            patch = patch[:, ::-1]
        out[i] = (patch - patch.mean()) / (patch.std() + 1e-3)
    return out


def textures(*, size: int = 12, train_per_class: int = 1000, test_per_class: int = 400,
             seed: int = 0) -> Task:
    """Patches of scikit-image's brick, grass and gravel photographs (see the module docstring)."""
    from skimage import data as skdata

    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"xtr": [], "ytr": [], "xte": [], "yte": []}
    for label, name in enumerate(TEXTURES):
        image = getattr(skdata, name)().astype(np.float64)
        cut = image.shape[0] * 3 // 4
        parts["xtr"].append(_patches(image[:cut], train_per_class, size, rng))
        parts["xte"].append(_patches(image[cut:], test_per_class, size, rng))
        parts["ytr"].append(np.full(train_per_class, label))
        parts["yte"].append(np.full(test_per_class, label))
    joined = {key: np.concatenate(value) for key, value in parts.items()}
    return Task("textures", TEXTURES, *_tensors(joined["xtr"], joined["ytr"]),
                *_tensors(joined["xte"], joined["yte"]))


@functools.cache
def _default(name: str) -> Task:
    """Each task is made once per process: the studies reuse it for every model."""
    return digits() if name == "digits" else textures()


def load_task(name: str, *, train_limit: int | None = None) -> Task:
    """The task called ``name`` (one of ``TASKS``); ``train_limit`` keeps that many training images.

    The test set is kept whole unless ``train_limit`` is given, then it is cut to the same size
    (tiny runs for tests). The data never depends on the training seed.
    """
    if name not in TASKS:
        raise unknown_choice("task", name, TASKS)
    task = _default(name)
    if train_limit is None:
        return task
    # the order of both sets is mixed at creation for digits, by class for textures: take a
    # fixed spread of indices so every class is present
    keep_train = torch.linspace(0, len(task.y_train) - 1, train_limit).round().long()
    keep_test = torch.linspace(0, len(task.y_test) - 1, train_limit).round().long()
    return Task(task.name, task.classes, task.x_train[keep_train], task.y_train[keep_train],
                task.x_test[keep_test], task.y_test[keep_test])
