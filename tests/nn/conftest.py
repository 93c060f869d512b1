"""Shared pieces of the sepconv.nn tests: the one per-dtype tolerance table."""

from __future__ import annotations

import pytest

try:
    import torch
except ImportError:  # the tests in this folder all start with importorskip("torch")
    torch = None

# rtol, atol per dtype; every comparison in tests/nn goes through `assert_close`.
TOLERANCES = (
    {}
    if torch is None
    else {
        torch.float16: (1e-2, 1e-2),
        torch.bfloat16: (2e-2, 2e-2),
        torch.float32: (1e-4, 1e-5),
        torch.float64: (1e-10, 1e-12),
    }
)


@pytest.fixture
def assert_close():
    """Compare two tensors with the tolerance of the expected tensor's dtype."""

    def check(actual, expected):
        expected = torch.as_tensor(expected)
        rtol, atol = TOLERANCES[expected.dtype]
        torch.testing.assert_close(actual, expected.to(actual.device), rtol=rtol, atol=atol)

    return check
