"""sepconv: separable convolutions made real.

Spatially separable filtering (a kernel applied as one 1-D pass per axis, or exactly as a sum of
separable terms) and depthwise separable convolution (NumPy here, PyTorch layers in
``sepconv.nn``). ``import sepconv`` loads NumPy only: never torch, dask or matplotlib.
"""

from . import cost, kernels, ndimage
from ._errors import NotSeparableError, SepconvError
from .decompose import LowRankKernel, SeparableKernel, decompose, factorize, rank
from .depthwise import depthwise, depthwise_separable, pointwise
from .filtering import convolve, convolve_separable, correlate, correlate_separable

__version__ = "0.1.0"

__all__ = [
    "LowRankKernel",
    "NotSeparableError",
    "SeparableKernel",
    "SepconvError",
    "__version__",
    "convolve",
    "convolve_separable",
    "correlate",
    "correlate_separable",
    "cost",
    "decompose",
    "depthwise",
    "depthwise_separable",
    "factorize",
    "kernels",
    "ndimage",
    "pointwise",
    "rank",
]
