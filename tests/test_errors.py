"""Bad input: a SepconvError naming the argument, what was expected and received, and the fix."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import sepconv

X = np.ones((6, 6))


@pytest.mark.parametrize("call, pattern", [
    (lambda: sepconv.correlate(X, np.ones((3, 3)), mode="reflekt"),
     r"mode: expected one of \(.*\), received 'reflekt'; did you mean 'reflect'"),
    (lambda: sepconv.correlate(X, np.ones((3, 3, 3))), r"kernel: expected at most 2 dimensions"),
    (lambda: sepconv.correlate(X, np.ones(3)), r"axes: .* pass axes="),
    (lambda: sepconv.correlate(np.ones((4, 6, 6)), np.ones((3, 3))), r"axes=\(1, 2\)"),
    (lambda: sepconv.correlate(X, np.ones((3, 3)), axes=(0, 5)), r"axes: expected axes in range"),
    (lambda: sepconv.correlate(X, np.ones((3, 3)), axes=(0, 0)), r"axes: expected distinct"),
    (lambda: sepconv.correlate(X, [[1.0, np.nan]]), r"kernel: expected finite weights"),
    (lambda: sepconv.correlate(X, [[1.0, np.inf]]), r"NaN or Inf"),
    (lambda: sepconv.correlate(X, np.ones((0, 3))), r"kernel: expected a non-empty kernel"),
    (lambda: sepconv.correlate(np.array([["a"]]), [[1.0]]), r"input: expected a real numeric"),
    (lambda: sepconv.correlate(X, [["a"]]), r"kernel: expected a real numeric"),
    (lambda: sepconv.correlate(X, [[1, 2], [3]]), r"kernel: expected a rectangular .* equal length"),
    (lambda: sepconv.correlate(X, np.ones((3, 3)), origin=2), r"origin: expected a value in"),
    (lambda: sepconv.correlate(X, np.ones((3, 3)), origin=(0, 0, 0)), r"origin: expected"),
    (lambda: sepconv.correlate(X, np.ones((3, 3)), method="magic"), r"method: expected one of"),
    (lambda: sepconv.correlate(X, np.ones((9, 3)), mode="valid"), r"mode: expected a kernel no"),
    (lambda: sepconv.correlate(X, np.ones((3, 3)), output="text"), r"output: expected"),
    (lambda: sepconv.correlate(X, np.ones((3, 3)), output=np.empty((2, 2))), r"output: expected"),
    (lambda: sepconv.correlate(X, np.ones((3, 3)), cval="x"), r"cval: expected a real number"),
    (lambda: sepconv.correlate_separable(X, [[1.0]]), r"axes: expected .* one dimension per"),
    (lambda: sepconv.correlate_separable(X, [[1.0], [[1.0]]]), r"kernels_1d\[1\]: expected a 1-D"),
    (lambda: sepconv.correlate_separable(X, []), r"kernels_1d: expected at least one"),
    (lambda: sepconv.decompose(np.eye(3), rank=9), r"rank: expected at most 3"),
    (lambda: sepconv.rank(np.eye(3), tol=-1), r"tol: expected"),
    (lambda: sepconv.correlate(X, np.ones((3, 3)), origin=1, mode="valid"), r"origin: expected 0"),
])
def test_bad_input_messages(call, pattern):
    with pytest.raises(sepconv.SepconvError, match=pattern) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert "expected" in str(info.value) and "received" in str(info.value)


def test_import_sepconv_loads_no_heavy_frameworks():
    code = (
        "import sys, sepconv, numpy as np;"
        "sepconv.correlate(np.ones((5, 5)), np.ones((3, 3)));"
        "bad = [m for m in ('torch', 'dask', 'matplotlib') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
