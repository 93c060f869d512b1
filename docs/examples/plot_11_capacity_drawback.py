"""
The capacity drawback, a short run
==================================

Depthwise separable convolutions have far fewer parameters; a network that is already small may
learn worse. A short version of the capacity study (see :doc:`/experiments`): normal and separable
CNNs of a few widths, trained with the same recipe on scikit-learn's 8×8 digits, one seed, a few
epochs. Accuracy against width and against the number of parameters.
"""

import matplotlib.pyplot as plt
import torch

from sepconv.experiments.data import digits
from sepconv.experiments.models import small_cnn
from sepconv.experiments.training import Recipe, accuracy, seeded, train
from sepconv.nn import profile

torch.set_num_threads(1)
task = digits()
recipe = Recipe(epochs=4)
widths = [2, 4, 8, 16]
results = {"normal": [], "separable": []}
for family in results:
    for width in widths:
        model = seeded(lambda f=family, w=width: small_cnn(f, w, len(task.classes)), 0)
        train(model, task.x_train, task.y_train, recipe, seed=0)
        params = profile(model, (1, *task.image_shape)).params
        score = accuracy(model, task.x_test, task.y_test)
        results[family].append((params, score))
        print(f"{family:9s} width {width:2d}: {params:6,} params, {score:.1%}")

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for family, rows in results.items():
    axes[0].plot(widths, [100 * a for _, a in rows], "o-", label=family)
    axes[1].plot([p for p, _ in rows], [100 * a for _, a in rows], "o-", label=family)
axes[0].set_xlabel("width (channels of the first layer)")
axes[1].set_xlabel("parameters")
for ax in axes:
    ax.set_xscale("log", base=2)
    ax.set_ylabel("test accuracy %")
    ax.legend()
axes[0].set_title("same width: separable learns worse")
axes[1].set_title("same size: separable is as good or better")
fig.tight_layout()
plt.show()
