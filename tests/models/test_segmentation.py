"""FCN and U-Net: PyTorch's keys, shapes and outputs with the same weights, FCN's bilinear upsampling, errors."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional as F
from cnnlab import models
from cnnlab.models.segmentation import bilinear_kernel
from zoo_twins import torch_fcn, torch_unet


def same_weights_same_scores(torch, ours, theirs, shape):
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.eval(), theirs.eval()
    x = np.random.default_rng(0).standard_normal(shape)
    with cnnlab.no_grad():
        got = ours.to(cnnlab.float64)(cnnlab.tensor(x)).data
    want = theirs.double()(torch.tensor(x)).detach().numpy()
    assert got.shape == shape[:1] + (11,) + shape[2:]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("shape", [(2, 1, 64, 64), (1, 1, 32, 48)])
def test_unet_equals_torch(torch, shape):
    same_weights_same_scores(torch, models.unet(), torch_unet(torch), shape)


def test_unet_with_other_widths_and_channels(torch):
    ours, theirs = models.unet(3, 11, widths=(4, 8)), torch_unet(torch, 3, 11, (4, 8))
    same_weights_same_scores(torch, ours, theirs, (2, 3, 10, 6))
    assert ours.size_multiple == 2 and models.unet().size_multiple == 8


def test_fcn_equals_torch_and_starts_with_bilinear_upsampling(torch):
    ours = models.fcn()
    np.testing.assert_array_equal(ours.up4.weight.data, bilinear_kernel(11, 8))
    same_weights_same_scores(torch, ours, torch_fcn(torch), (2, 1, 64, 64))
    assert ours.size_multiple == 16


@pytest.mark.parametrize("size, stride, padding", [(4, 2, 1), (8, 4, 2)])
def test_bilinear_kernel_upsamples_as_bilinear_interpolation(torch, size, stride, padding):
    """Away from the border, a transposed conv with the kernel is bilinear interpolation (align_corners=False)."""
    x = np.random.default_rng(1).standard_normal((1, 3, 6, 6))
    got = F.conv_transpose2d(cnnlab.tensor(x), cnnlab.tensor(bilinear_kernel(3, size).astype(np.float64)),
                             stride=stride, padding=padding).data
    want = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=stride, mode="bilinear",
                                           align_corners=False).numpy()
    assert got.shape == want.shape == (1, 3, 6 * stride, 6 * stride)
    inner = slice(stride, -stride)
    np.testing.assert_allclose(got[..., inner, inner], want[..., inner, inner], atol=1e-12)


def test_segmentation_models_are_in_the_zoo():
    for name in ("fcn", "unet"):
        assert models.INPUT_SIZES[name] == (1, 64, 64)
        with cnnlab.no_grad():
            assert models.MODELS[name]().eval()(cnnlab.zeros(1, 1, 64, 64)).shape == (1, 11, 64, 64)


def test_bad_widths_and_sizes_are_refused():
    with pytest.raises(ValueError, match=r"unet: widths must be at least 2 ints >= 1 \(one per level\), got \(8,\)"):
        models.unet(widths=(8,))
    with pytest.raises(ValueError, match=r"fcn: widths must be 5 ints >= 1 \(one per block\), got \(8, 8, 8\)"):
        models.fcn(widths=(8, 8, 8))
    with pytest.raises(ValueError, match="unet: the input's height and width must be multiples of 8 "
                                         r"\(its downsampling\), got 28×28; pad the image to 32×32"):
        models.unet()(cnnlab.zeros(1, 1, 28, 28))
