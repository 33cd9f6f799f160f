"""SRCNN and ESPCN: the papers' sizes, PyTorch twins with the same keys and outputs, and argument errors."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
from cnnlab import models
from zoo_twins import torch_espcn, torch_srcnn


def weights(model):
    return sum(p.numel() for name, p in model.named_parameters() if name.endswith("weight"))


def test_srcnn_has_the_papers_weight_counts():
    # Dong et al.: 9-1-5 has 8,032 parameters (weights) with n1 = 64, n2 = 32; 9-3-5 24,416; 9-5-5 57,184
    assert weights(models.srcnn()) == 64 * 81 + 32 * 64 + 25 * 32 == 8_032
    assert weights(models.srcnn(kernel_sizes=(9, 3, 5))) == 24_416
    assert weights(models.srcnn(kernel_sizes=(9, 5, 5))) == 57_184
    assert sum(p.numel() for p in models.srcnn().parameters()) == 8_032 + 64 + 32 + 1


@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("name", ["srcnn", "espcn"])
def test_equal_torch_twins_in_keys_and_outputs(torch, name, scale):
    twin = (torch_srcnn if name == "srcnn" else torch_espcn)(torch, scale)
    ours = models.MODELS[name](in_channels=1, scale=scale)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in twin.state_dict().items()]
    ours.load_state_dict({k: v.detach().numpy() for k, v in twin.state_dict().items()})
    x = np.random.default_rng(scale).random((2, 1, 9, 11)).astype(np.float32)
    with cnnlab.no_grad(), torch.no_grad():
        got, want = ours(cnnlab.tensor(x)).numpy(), twin(torch.tensor(x)).numpy()
    assert got.shape == (2, 1, 9 * scale, 11 * scale)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert ours.scale == scale


def test_espcn_shuffles_scale_squared_channels_and_takes_relu():
    net = models.espcn(scale=3, activation="relu")
    assert net[4].out_channels == 9 and isinstance(net[5], cnnlab.nn.PixelShuffle) and net[5].upscale_factor == 3
    assert isinstance(net[1], cnnlab.nn.ReLU)
    assert models.espcn(in_channels=3, scale=2)(cnnlab.zeros(1, 3, 4, 4)).shape == (1, 3, 8, 8)


@pytest.mark.parametrize("build,message", [
    (lambda: models.srcnn(scale=1), "srcnn: scale must be an int >= 2, got 1"),
    (lambda: models.espcn(scale=2.0), "espcn: scale must be an int >= 2, got 2.0"),
    (lambda: models.srcnn(kernel_sizes=(9, 2, 5)), r"srcnn: kernel_sizes must be three odd ints >= 1"),
    (lambda: models.espcn(widths=(64,)), r"espcn: widths must be two ints >= 1 \(n1, n2\), got \(64,\)"),
    (lambda: models.srcnn(activation="sigmoid"), "srcnn: activation must be 'relu' or 'tanh', got 'sigmoid'"),
    (lambda: models.espcn(in_channels=0), "espcn: in_channels must be an int >= 1, got 0"),
])
def test_bad_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()
