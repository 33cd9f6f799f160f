"""cnnlab.apps.segmentation: padding to the model's multiple and cropping back, the colours, the blend,
the PNG with its legend, and the errors."""
import numpy as np
import pytest
from helpers import requires

import cnnlab
from cnnlab import nn
from cnnlab.apps import segmentation as S
from cnnlab.data import MNISTSegmentation


class Threshold(nn.Module):
    """Class 1 + (x > 0) where the normalised input is positive, 0 elsewhere: scores (N, 3, H, W)."""

    size_multiple = 8

    def __init__(self):
        super().__init__()
        self.shapes = []

    def forward(self, x):
        self.shapes.append(x.shape)
        return nn.functional.cat([cnnlab.zeros(*x.shape), x * 10, x * 20 - 15], dim=1)


def test_segment_pads_to_the_multiple_and_crops_back():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (10, 13), dtype=np.uint8)
    model = Threshold()
    labels = S.segment(model, image, (0.5,), (0.25,))
    assert model.shapes == [(1, 1, 16, 16)] and labels.shape == (10, 13) and labels.dtype == np.int64
    x = (image / np.float32(255) - np.float32(0.5)) / np.float32(0.25)
    want = np.argmax(np.stack([np.zeros_like(x), 10 * x, 20 * x - 15]), axis=0)
    np.testing.assert_array_equal(labels, want)


def test_colours_and_blend_by_hand():
    labels = np.array([[0, 1], [10, 3]])
    np.testing.assert_array_equal(S.colorize(labels), [[(0, 0, 0), (31, 119, 180)], [(23, 190, 207), (44, 160, 44)]])
    image = np.array([[100, 200], [0, 50]], np.uint8)
    got = S.overlay(image, labels, alpha=0.5)
    np.testing.assert_array_equal(got[0, 0], (100, 100, 100))                    # background: the image
    np.testing.assert_array_equal(got[0, 1], np.round(0.5 * 200 + 0.5 * np.array([31, 119, 180])))
    np.testing.assert_array_equal(got[1, 0], np.round(0.5 * np.array([23, 190, 207])))
    assert len(S.PALETTE) == len(MNISTSegmentation.classes) == len({tuple(c) for c in S.PALETTE})


@requires("PIL", "viz")
def test_save_mask_writes_the_overlay_and_a_legend(tmp_path):
    from PIL import Image

    image = np.zeros((64, 64), np.uint8)
    image[10:20, 30:40] = 255
    labels = np.where(image > 0, 4, 0)
    path = tmp_path / "mask.png"
    S.save_mask(path, image, labels, MNISTSegmentation.classes)
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.shape == (256, 256 + 120, 3)                            # 64 × 4, and the legend
    np.testing.assert_array_equal(pixels[15 * 4, 35 * 4], S.overlay(image, labels)[15, 35])
    np.testing.assert_array_equal(pixels[0, 0], (0, 0, 0))
    swatches = [tuple(pixels[4 + i * 16 + 6, 256 + 8 + 6]) for i in range(11)]
    assert swatches == [tuple(int(v) for v in c) for c in S.PALETTE]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.png"]     # no temporary file left


@pytest.mark.parametrize("call, match", [
    (lambda: S.segment(Threshold(), np.zeros((5, 40), np.uint8), (0.5,), (0.25,)),
     "segment: the image is 40×5 pixels, smaller than the 8×8 that the model takes"),
    (lambda: S.segment(Threshold(), np.zeros((8, 8, 3), np.uint8), (0.5,), (0.25,)),
     r"segment: image must be uint8 \(H, W\) gray levels, got uint8 \(8, 8, 3\)"),
    (lambda: S.colorize(np.array([11])), r"colorize: labels must be class indices in \[0, 11\)"),
    (lambda: S.overlay(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.int64)),
     r"overlay: image and labels must both be \(H, W\), got \(2, 2\) and \(2, 3\)"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
