"""Upsample, UpsamplingNearest2d, UpsamplingBilinear2d, PixelShuffle, PixelUnshuffle: PyTorch's layers as the
oracle of values, gradients and repr strings; constructor checks."""
import numpy as np
import pytest
from oracle import against_torch

import cnnlab
from cnnlab import nn

LAYERS = [
    ("Upsample", dict(scale_factor=2)), ("Upsample", dict(size=(5, 7), mode="bilinear")),
    ("Upsample", dict(scale_factor=(1.5, 2.0), mode="bicubic", align_corners=True)),
    ("Upsample", dict(size=4, mode="nearest-exact")), ("Upsample", dict(scale_factor=0.5, mode="area")),
    ("UpsamplingNearest2d", dict(scale_factor=3)), ("UpsamplingBilinear2d", dict(size=(6, 6))),
    ("PixelShuffle", dict(upscale_factor=2)), ("PixelUnshuffle", dict(downscale_factor=2)),
]


@pytest.mark.parametrize("name, kwargs", LAYERS)
def test_layers_match_torch(torch, name, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 6))
    for dtype in (np.float64, np.float32):
        against_torch(torch, ours, theirs, [x], dtype, tol={np.float64: dict(rtol=1e-10, atol=1e-12),
                                                           np.float32: dict(rtol=1e-5, atol=1e-5)},
                      require_grads=True, label=name)


def test_upsample_in_a_model_and_1d_3d_inputs():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Upsample(scale_factor=2), nn.PixelUnshuffle(2))
    assert model(cnnlab.zeros(1, 1, 5, 5)).shape == (1, 16, 5, 5)
    assert nn.Upsample(scale_factor=2, mode="linear")(cnnlab.zeros(1, 2, 3)).shape == (1, 2, 6)
    assert nn.Upsample(size=(2, 3, 4), mode="trilinear")(cnnlab.zeros(1, 1, 1, 1, 1)).shape == (1, 1, 2, 3, 4)


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"^Upsample: mode must be one of 'nearest', .*, got 'cubic'$"):
        nn.Upsample(scale_factor=2, mode="cubic")
    with pytest.raises(ValueError, match=r"^Upsample: give exactly one of size and scale_factor, got size=None and "
                                         r"scale_factor=None$"):
        nn.Upsample()
    with pytest.raises(ValueError, match=r"^Upsample: give exactly one of size and scale_factor"):
        nn.Upsample(size=3, scale_factor=2)
    with pytest.raises(TypeError, match=r"^Upsample: align_corners must be True or False, got align_corners=1"):
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=1)
    with pytest.raises(ValueError, match=r"^PixelShuffle: upscale_factor must be positive, got upscale_factor=0$"):
        nn.PixelShuffle(0)
    with pytest.raises(TypeError, match=r"^PixelUnshuffle: downscale_factor must be an int, got downscale_factor=2.0"):
        nn.PixelUnshuffle(2.0)
    with pytest.raises(ValueError, match=r"^interpolate: align_corners can only be set with the interpolating modes"):
        nn.Upsample(scale_factor=2, align_corners=False)(cnnlab.zeros(1, 1, 2, 2))
