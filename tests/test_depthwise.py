"""NumPy depthwise / pointwise / separable against reference.py loops and scipy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

import sepconv
from sepconv import reference


def test_seeds_shapes_without_torch(rng):
    x = rng.random((12, 12, 3))
    assert sepconv.depthwise(x, rng.random((5, 5, 3, 1))).shape == (8, 8, 3)
    assert sepconv.depthwise(x, rng.random((5, 5, 3, 2))).shape == (8, 8, 6)
    assert sepconv.depthwise_separable(x, rng.random((5, 5, 3, 1)),
                                       rng.random((3, 256))).shape == (8, 8, 256)
    same = sepconv.depthwise_separable(x, rng.random((5, 5, 3, 1)), rng.random((3, 256)),
                                       mode="same")
    assert same.shape == (12, 12, 256)


@pytest.mark.parametrize("m, stride", [(1, 1), (2, 1), (3, 2)])
def test_depthwise_matches_reference_and_channel_order(rng, m, stride):
    x = rng.standard_normal((9, 10, 3))
    k = rng.standard_normal((3, 4, 3, m))
    got = sepconv.depthwise(x, k, stride=stride)
    np.testing.assert_allclose(got, reference.depthwise(x, k, stride), atol=1e-10)
    # channel c·m + j comes from input channel c and kernel j
    c, j = 2, m - 1
    want = ndi.correlate(x[:, :, c], k[:, :, c, j], mode="constant")[1:-1, 2:-1][::stride, ::stride]
    np.testing.assert_allclose(got[:, :, c * m + j], want, atol=1e-10)


def test_separable_equals_dense_conv_with_product_weights(rng):
    x = rng.standard_normal((8, 7, 3))
    dw = rng.standard_normal((3, 3, 3, 2))
    pw = rng.standard_normal((6, 5))
    dense = np.einsum("yxcj,cjn->yxcn", dw, pw.reshape(3, 2, 5))
    want = reference.conv2d(x, dense)
    np.testing.assert_allclose(sepconv.depthwise_separable(x, dw, pw), want, atol=1e-10)
    np.testing.assert_allclose(
        reference.pointwise(reference.depthwise(x, dw), pw), want, atol=1e-10
    )
    keras_pw = pw.reshape(1, 1, 6, 5)
    b = rng.standard_normal(5)
    np.testing.assert_allclose(sepconv.depthwise_separable(x, dw, keras_pw, bias=b), want + b,
                               atol=1e-10)


def test_same_padding_puts_odd_pixel_at_the_end(rng):
    x = rng.standard_normal((6, 6, 1))
    k = rng.standard_normal((2, 2, 1, 1))
    got = sepconv.depthwise(x, k, mode="same")
    padded = np.pad(x, ((0, 1), (0, 1), (0, 0)))  # TF: total 1, before 0, after 1
    np.testing.assert_allclose(got, reference.depthwise(padded, k), atol=1e-10)
    strided = sepconv.depthwise(rng.standard_normal((7, 7, 1)), rng.standard_normal((3, 3, 1)),
                                mode="same", stride=2)
    assert strided.shape == (4, 4, 1)


def test_border_modes_match_correlate(rng):
    x = rng.standard_normal((7, 8, 2))
    k = rng.standard_normal((3, 3, 2, 1))
    got = sepconv.depthwise(x, k, mode="mirror")
    for c in range(2):
        np.testing.assert_allclose(got[:, :, c], ndi.correlate(x[:, :, c], k[:, :, c, 0],
                                                                mode="mirror"), atol=1e-10)


def test_dtypes_and_errors(rng):
    x = rng.random((6, 6, 2)).astype(np.float32)
    assert sepconv.depthwise(x, rng.random((3, 3, 2))).dtype == np.float32
    assert sepconv.pointwise(x, rng.random((2, 4))).dtype == np.float32
    with pytest.raises(sepconv.SepconvError, match="depth_multiplier"):
        sepconv.depthwise(x, rng.random((3, 3, 2, 2)), depth_multiplier=1)
    with pytest.raises(sepconv.SepconvError, match="channels"):
        sepconv.depthwise(x, rng.random((3, 3, 3, 1)))
    with pytest.raises(sepconv.SepconvError, match="weights"):
        sepconv.pointwise(x, rng.random((3, 4)))
    with pytest.raises(sepconv.SepconvError, match="kernel no larger"):
        sepconv.depthwise(x, rng.random((7, 7, 2, 1)))
    with pytest.raises(sepconv.SepconvError, match="did you mean 'same'"):
        sepconv.depthwise(x, rng.random((3, 3, 2, 1)), mode="sam")


@pytest.mark.parametrize("fn", ["depthwise", "depthwise_separable"])
def test_depth_multiplier_is_the_same_keyword_everywhere(rng, fn):
    x = rng.standard_normal((9, 8, 3))
    dw = rng.standard_normal((3, 3, 3, 2))
    pw = rng.standard_normal((6, 4))
    args = (x, dw) if fn == "depthwise" else (x, dw, pw)
    call = getattr(sepconv, fn)
    np.testing.assert_array_equal(call(*args, depth_multiplier=2), call(*args))
    with pytest.raises(sepconv.SepconvError, match=r"depth_multiplier.*\b2\b.*depth_multiplier=3"):
        call(*args, depth_multiplier=3)
    with pytest.raises(sepconv.SepconvError, match="depth_multiplier"):
        call(*args, depth_multiplier=0)
    # the cost model takes the same keyword and agrees with the computed shape
    cost = sepconv.cost.depthwise_separable((9, 8, 3), 3, 4, depth_multiplier=2)
    assert cost.depthwise.output_shape == sepconv.depthwise(x, dw).shape
    assert cost.output_shape == sepconv.depthwise_separable(x, dw, pw).shape
