"""Constants shared by the tests."""

from __future__ import annotations

import numpy as np

MODES = ("reflect", "mirror", "nearest", "constant", "wrap")

# float tolerances per dtype, used by every comparison against a float64 reference
TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 2e-5, np.dtype(np.float16): 2e-2}
