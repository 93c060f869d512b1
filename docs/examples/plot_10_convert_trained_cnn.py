"""
Converting a trained CNN
========================

A small CNN is trained for a few epochs on scikit-learn's bundled 8×8 digits; then
:func:`sepconv.nn.convert_model` replaces its convolutions by depthwise separable ones (SVD, the
smallest weight error for each depth multiplier m). Accuracy right after conversion, and after one
epoch of fine-tuning, against the multiply-adds that remain. The full study is on the
:doc:`/experiments` page.
"""

import matplotlib.pyplot as plt
import torch

from sepconv.experiments.data import digits
from sepconv.experiments.models import small_cnn
from sepconv.experiments.training import Recipe, accuracy, train
from sepconv.nn import convert_model, profile

torch.manual_seed(0)
torch.set_num_threads(1)
task = digits()
model = small_cnn("normal", 16, len(task.classes))
train(model, task.x_train, task.y_train, Recipe(epochs=4), seed=0)
shape = (1, *task.image_shape)
base_macs, base_accuracy = profile(model, shape).macs, accuracy(model, task.x_test, task.y_test)
print(f"original: {base_accuracy:.1%} test accuracy, {base_macs:,} MACs")

rows = []
for m in (1, 2, 4, 9):
    converted, report = convert_model(model, depth_multiplier=m)
    right_after = accuracy(converted, task.x_test, task.y_test)
    train(converted, task.x_train, task.y_train, Recipe(epochs=1, lr=2e-3), seed=1)
    tuned = accuracy(converted, task.x_test, task.y_test)
    macs = profile(converted, shape).macs
    rows.append((m, macs, right_after, tuned))
    print(f"m = {m}: {macs:,} MACs, {right_after:.1%} right after, {tuned:.1%} after 1 epoch")

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot([r[1] for r in rows], [100 * r[2] for r in rows], "o-", label="right after conversion")
ax.plot([r[1] for r in rows], [100 * r[3] for r in rows], "s-", label="after 1 epoch fine-tune")
ax.scatter([base_macs], [100 * base_accuracy], color="k", marker="*", s=150, label="original", zorder=3)
for m, macs, _, tuned in rows:
    ax.annotate(f"m={m}", (macs, 100 * tuned), textcoords="offset points", xytext=(4, -12))
ax.set_xlabel("multiply-adds per image")
ax.set_ylabel("test accuracy %")
ax.legend()
fig.tight_layout()
plt.show()
