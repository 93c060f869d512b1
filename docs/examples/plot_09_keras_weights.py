"""
Keras weights in and out
========================

A Keras ``SeparableConv2D`` and a :class:`sepconv.nn.SeparableConv2d` built with the same
arguments compute the same function. :func:`sepconv.nn.load_keras_weights` copies the Keras
weights in (checking every shape), :func:`sepconv.nn.keras_weights` hands them back in Keras's
layout. Keras runs on its PyTorch backend here.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import matplotlib.pyplot as plt
import numpy as np
import torch

from sepconv.nn import SeparableConv2d, keras_weights, load_keras_weights

keras.utils.set_random_seed(0)
keras_layer = keras.layers.SeparableConv2D(8, 3, strides=2, padding="same", depth_multiplier=2)
keras_layer.build((None, 32, 32, 3))
layer = SeparableConv2d(3, 8, 3, depth_multiplier=2, stride=2, padding="same")
load_keras_weights(layer, keras_layer.get_weights())  # Keras -> PyTorch

x_nhwc = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
from_keras = keras.ops.convert_to_numpy(keras_layer(x_nhwc))
with torch.no_grad():
    ours = layer(torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
print("output shape (NHWC):", ours.shape)
print(f"max |Keras - sepconv| = {np.abs(from_keras - ours).max():.1e}")

back = keras_weights(layer)  # PyTorch -> Keras
print("shapes handed back:", [w.shape for w in back])
print("round trip exact:", all(np.array_equal(a, b) for a, b in zip(back, keras_layer.get_weights())))

depthwise = back[0]  # (kh, kw, C, m)
fig, axes = plt.subplots(3, 2, figsize=(4, 6))
for c in range(3):
    for j in range(2):
        axes[c, j].imshow(depthwise[:, :, c, j], cmap="RdBu_r")
        axes[c, j].set_title(f"channel {c}, j = {j}", fontsize=9)
        axes[c, j].axis("off")
fig.suptitle("depthwise kernels, from Keras")
fig.tight_layout()
plt.show()
