"""cnnlab.train.psnr: PSNR by hand, against scikit-image's, with the papers' rounding and border."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import requires

from cnnlab.train.psnr import psnr


def test_psnr_by_hand():
    ref = np.full((4, 4), 100 / 255)
    out = ref.copy()
    out[1, 2] = 110 / 255                       # one pixel 10 levels off: MSE 100 / 16 = 6.25
    assert float(psnr(out, ref)) == pytest.approx(10 * np.log10(255 ** 2 / 6.25))     # 40.17 dB
    assert float(psnr(out, ref, border=1)) == pytest.approx(10 * np.log10(255 ** 2 / 25))   # 2×2 left: 34.15 dB
    out[1, 2], out[0, 0] = ref[1, 2], 0.0       # a difference in the border only
    assert float(psnr(out, ref, border=1)) == np.inf


def test_psnr_rounds_to_8_bits_as_matlab_and_saturates():
    ref = np.full((2, 2), 100 / 255)
    # 100.49 rounds to 100 (no error); 100.5 rounds half up to 101 (error 1); 2.0 saturates at 255
    assert float(psnr(np.full((2, 2), 100.49 / 255), ref)) == np.inf
    assert float(psnr(np.full((2, 2), 100.5 / 255), ref)) == pytest.approx(10 * np.log10(255 ** 2 / 1))
    assert float(psnr(np.full((2, 2), 2.0), ref)) == pytest.approx(10 * np.log10(255 ** 2 / 155 ** 2))


@requires("skimage", "apps")
def test_psnr_equals_scikit_image_per_image():
    from skimage.metrics import peak_signal_noise_ratio

    rng = np.random.default_rng(0)
    ref = rng.random((3, 1, 20, 17))
    out = np.clip(ref + rng.normal(0, 0.03, ref.shape), 0, 1)
    got = psnr(out, ref, border=3)
    assert got.shape == (3, 1)
    for k in range(3):
        a, b = (np.floor(x[k, 0, 3:-3, 3:-3] * 255 + 0.5).astype(np.uint8) for x in (ref, out))
        assert got[k, 0] == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), rel=1e-12)


def test_psnr_errors():
    with pytest.raises(ValueError, match=r"psnr: output and reference must be images \(\.\.\., H, W\) of the same "
                                         r"shape, got \(4, 4\) and \(4, 5\)"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="psnr: border must be an int >= 0 that leaves pixels of the 4×6 images, "
                                         "got 2"):
        psnr(np.zeros((4, 6)), np.zeros((4, 6)), border=2)
