"""Filters on CUDA tensors: the torch passes on the GPU equal the NumPy path, keep the device, train.

Marked ``gpu`` and skipped where CUDA is absent (CI, the build machines): run with
``pytest tests/gpu -m gpu`` on a machine with an NVIDIA GPU.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sepconv  # noqa: E402
from sepconv import kernels, ndimage  # noqa: E402
from sepconv.nn import Filter  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

MODES = ("reflect", "mirror", "nearest", "constant", "wrap", "valid")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16,
                                   torch.uint8])
def test_cuda_tensors_equal_the_numpy_path_and_stay_on_the_device(rng, mode, dtype):
    x = torch.as_tensor(rng.uniform(0, 50, (2, 3, 37, 29))).to(dtype)
    reference = x.float().numpy() if dtype == torch.bfloat16 else x.numpy()
    for k in (kernels.gaussian(1.5), kernels.laplacian(), rng.standard_normal((4, 3))):
        want = sepconv.correlate(reference, k, mode=mode, cval=2.0, axes=(-2, -1))
        got = sepconv.correlate(x.cuda(), k, mode=mode, cval=2.0, axes=(-2, -1))
        assert got.device.type == "cuda"
        tol = {torch.float16: 2e-2, torch.bfloat16: 5e-2}.get(dtype, 1e-4)
        np.testing.assert_allclose(got.float().cpu().numpy(), want.astype(np.float32),
                                   rtol=tol, atol=tol * max(1.0, float(np.abs(want).max())))


def test_cuda_integer_output_and_ndimage(rng):
    x = torch.as_tensor(rng.uniform(0, 255, (40, 50))).to(torch.uint8)
    want = sepconv.correlate(x.numpy(), kernels.sobel("x"), output=np.uint8)
    got = sepconv.correlate(x.cuda(), kernels.sobel("x"), output=torch.uint8)
    assert np.abs(got.cpu().numpy().astype(int) - want.astype(int)).max() <= 1
    np.testing.assert_allclose(ndimage.gaussian_filter(x.double().cuda(), 2.0).cpu().numpy(),
                               ndimage.gaussian_filter(x.double().numpy(), 2.0), atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_cuda_gradcheck_input_and_factors(rng, mode):
    x = torch.tensor(rng.standard_normal((2, 7, 6)), device="cuda", requires_grad=True)
    f0 = torch.tensor(rng.standard_normal(3), device="cuda", requires_grad=True)
    f1 = torch.tensor(rng.standard_normal(4), device="cuda", requires_grad=True)

    def fn(x, f0, f1):
        return sepconv.correlate_separable(x, [f0, f1], axes=(1, 2), mode=mode, cval=0.3)

    assert torch.autograd.gradcheck(fn, (x, f0, f1))


def test_cuda_filter_module_and_compile():
    layer = Filter(kernels.gaussian(1.5), mode="mirror", axes=(-2, -1)).cuda()
    x = torch.rand(8, 3, 128, 128, device="cuda")
    want = sepconv.correlate(x.cpu(), kernels.gaussian(1.5), mode="mirror", axes=(-2, -1))
    torch.testing.assert_close(layer(x).cpu(), want, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.compile(layer, backend="aot_eager")(x), layer(x))
