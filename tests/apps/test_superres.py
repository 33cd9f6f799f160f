"""cnnlab.apps.superres: enlarging RGB and gray images (Y by the model, chroma by bicubic), band by band as
one pass, shrinking, per-image PSNR, the comparison picture, files, and the errors."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import requires

import cnnlab
from cnnlab import models, nn
from cnnlab.apps import superres as app
from cnnlab.data import superres as data
from cnnlab.train.psnr import psnr

pytestmark = requires("PIL", "apps")


class Nearest(nn.Module):
    """A stand-in model: nearest-neighbour enlargement."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return cnnlab.nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest")


def photo(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_upscale_enlarges_y_by_the_model_and_chroma_by_bicubic():
    rgb = photo((9, 12, 3))
    big = app.upscale(Nearest(2), rgb, scale=2)
    assert big.shape == (18, 24, 3) and big.dtype == np.uint8
    y = np.repeat(np.repeat(data.luminance(rgb), 2, axis=0), 2, axis=1)
    cb, cr = data.bicubic_resize(data.rgb_to_ycbcr(rgb)[..., 1:].transpose(2, 0, 1), (18, 24))
    want = data.ycbcr_to_rgb(np.stack([y, cb, cr], axis=-1)).astype(int)
    assert np.abs(big.astype(int) - want).max() <= 1          # float32 rounding of Y / 255 · 255 at most


def test_upscale_keeps_gray_images_gray():
    gray = photo((10, 8), seed=1)
    big = app.upscale(Nearest(3), gray)
    assert big.shape == (30, 24) and big.dtype == np.uint8
    # Y = round(16 + 219 g / 255) has 220 levels for g's 256: back to gray is within one level
    assert np.abs(big.astype(int) - np.repeat(np.repeat(gray, 3, axis=0), 3, axis=1)).max() <= 1


@pytest.mark.parametrize("name", ["srcnn", "espcn"])
def test_bands_give_the_pass_over_the_whole_image(monkeypatch, name):
    cnnlab.manual_seed(0)
    model = models.MODELS[name](scale=2).eval()
    y = np.random.default_rng(2).random((23, 16)).astype(np.float32)
    with cnnlab.no_grad():
        whole = model(cnnlab.tensor(y[None, None])).numpy()[0, 0]
    monkeypatch.setattr(app, "_BAND_PIXELS", 16 * 3)         # bands of 3 rows
    np.testing.assert_allclose(app.upscale_y(model, y), whole, rtol=1e-5, atol=1e-6)
    assert model.training is False


def test_shrink_evaluate_and_comparison():
    cnnlab.manual_seed(0)
    model = models.espcn(scale=2)
    rgb = photo((21, 30, 3), seed=3)
    small = app.shrink(rgb, 2)
    assert small.shape == (10, 15, 3) and app.shrink(rgb[..., 0], 2).shape == (10, 15)
    images = data.SRImages([rgb, rgb[..., 1]], scale=2, names=["rgb", "gray"])
    rows = app.evaluate(model, images)
    assert [r["name"] for r in rows] == ["rgb", "gray"]
    hr, lr = images.hr[0], images.lr[0]
    assert rows[0]["bicubic"] == pytest.approx(float(psnr(data.bicubic_baseline(lr, 2), hr, 2)))
    assert rows[0]["model"] == pytest.approx(float(psnr(app.upscale_y(model, lr), hr, 2)))
    picture = app.comparison(model, rgb, box=(2, 4, 10, 12), zoom=3)
    assert picture.dtype == np.uint8 and picture.shape == (10 * 3 + 18, 3 * 12 * 3 + 2 * 6, 3)
    np.testing.assert_array_equal(picture[18:, :36], np.repeat(np.repeat(rgb[2:12, 4:16], 3, 0), 3, 1))
    with pytest.raises(ValueError, match=r"comparison: box \(15, 0, 10, 10\) is not inside the 20×30 image"):
        app.comparison(model, rgb, box=(15, 0, 10, 10))
    with pytest.raises(ValueError, match="evaluate: the images are shrunk ×2, but the model enlarges ×3"):
        app.evaluate(models.espcn(scale=3), images)


def test_files_round_trip(tmp_path):
    rgb, gray = photo((8, 9, 3), seed=4), photo((9, 8), seed=5)
    app.save_png(rgb, tmp_path / "rgb.png")
    app.save_png(gray, tmp_path / "gray.png")
    np.testing.assert_array_equal(app.read_image(tmp_path / "rgb.png"), rgb)
    np.testing.assert_array_equal(app.read_image(tmp_path / "gray.png"), gray)
    with pytest.raises(FileNotFoundError, match="no such image file"):
        app.read_image(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"not a picture")
    with pytest.raises(ValueError, match="can't read .*junk.png as an image"):
        app.read_image(tmp_path / "junk.png")


def test_errors():
    with pytest.raises(ValueError, match=r"upscale: the image is 7×20 pixels, too small to enlarge: it needs at least "
                                         r"8×8"):
        app.upscale(Nearest(2), photo((7, 20)))
    with pytest.raises(ValueError, match="upscale: scale 3 is not the model's: it was trained to enlarge ×2"):
        app.upscale(Nearest(2), photo((8, 8)), scale=3)
    with pytest.raises(TypeError, match="upscale: model must be a super-resolution model with an int scale"):
        app.upscale(models.lenet5(), photo((8, 8)))
    with pytest.raises(ValueError, match=r"upscale: image must be uint8 \(H, W\) gray or \(H, W, 3\) RGB"):
        app.upscale(Nearest(2), np.zeros((8, 8, 4), np.uint8))
