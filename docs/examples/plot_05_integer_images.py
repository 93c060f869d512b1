"""
Integer images
==============

uint8, uint16 and int16 images are read directly, without a float copy. By default the result is
float32; ``output='uint8'`` (or any dtype) gives integers, rounded half to even and saturated like
OpenCV, where scipy.ndimage would truncate and wrap around.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy import ndimage as scipy_ndimage
from skimage import data

import sepconv
from sepconv import kernels

image = data.camera()  # uint8
sharpen = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
as_float = sepconv.correlate(image, sharpen)
as_uint8 = sepconv.correlate(image, sharpen, output="uint8")
scipy_uint8 = scipy_ndimage.correlate(image, sharpen)  # wraps around in uint8
print("dtypes:", image.dtype, "->", as_float.dtype, "and", as_uint8.dtype)
print(f"float range {as_float.min():.0f} .. {as_float.max():.0f}; uint8 saturates to "
      f"{as_uint8.min()} .. {as_uint8.max()}")
print("pixels where scipy wrapped around:", int(np.count_nonzero(
    scipy_uint8 != np.clip(np.round(as_float), 0, 255).astype(np.uint8))))
smooth16 = sepconv.correlate(image.astype(np.uint16) * 257, kernels.gaussian(2.0), output="uint16")
print("uint16 smoothing:", smooth16.dtype, smooth16.max())

fig, axes = plt.subplots(1, 3, figsize=(14, 4.5))
crop = np.s_[60:260, 180:380]
for ax, (picture, title) in zip(axes, [(as_uint8, "sepconv, output='uint8' (saturates)"),
                                       (scipy_uint8, "scipy.ndimage, uint8 (wraps around)")]):
    ax.imshow(picture[crop], cmap="gray", vmin=0, vmax=255)
    ax.set_title(title)
    ax.axis("off")
axes[2].hist(as_float.ravel(), bins=200, color="gray")
axes[2].axvline(0, color="r")
axes[2].axvline(255, color="r")
axes[2].set_title("float32 result: values beyond 0..255")
fig.tight_layout()
plt.show()
