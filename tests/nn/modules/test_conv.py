"""Conv and ConvTranspose layers against torch.nn: every padding mode, the default init,
state-dict layout, repr and constructor checks."""
from __future__ import annotations

import math

import numpy as np
import pytest

import cnnlab
from cnnlab import nn
from oracle import against_torch

TOL = {np.float64: dict(rtol=1e-9, atol=1e-10), np.float32: dict(rtol=1e-4, atol=1e-4)}


def copy_weights(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def compare_layers(torch, ours, theirs, x, dtype, **call):
    """Torch's weights loaded into ours; the oracle compares output, input and every parameter gradient."""
    copy_weights(ours, theirs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    against_torch(torch, lambda t: ours(t, **call), lambda t: theirs(t, **call), [x], dtype, tol=TOL,
                  params=list(zip(ours.parameters(), theirs.parameters())), require_grads=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("D", [1, 2, 3])
def test_every_padding_mode_matches_torch(torch, kernel, D, padding_mode, dtype):
    rng = np.random.default_rng(D)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    configs = [dict(kernel_size=3, padding=1), dict(kernel_size=(3, 2, 2)[:D], stride=(2, 1, 1)[:D],
                                                    padding=(2, 1, 1)[:D], dilation=(1, 2, 1)[:D], groups=2),
               dict(kernel_size=(2, 3, 2)[:D], padding="same", dilation=(2, 1, 1)[:D]),
               dict(kernel_size=2, padding="valid", bias=False)]
    for cfg in configs:
        ours = getattr(nn, f"Conv{D}d")(4, 6, padding_mode=padding_mode, dtype=dtype, **cfg)
        theirs = getattr(torch.nn, f"Conv{D}d")(4, 6, padding_mode=padding_mode, dtype=tdt, **cfg)
        for batch in ((2,), ()):
            x = rng.standard_normal(batch + (4,) + (5, 6, 4)[:D])
            with __import__("warnings").catch_warnings():
                __import__("warnings").simplefilter("ignore")
                compare_layers(torch, ours, theirs, x, dtype)


@pytest.mark.parametrize("D", [1, 2, 3])
def test_conv_transpose_layers_match_torch(torch, kernel, D):
    rng = np.random.default_rng(10 + D)
    cfg = dict(kernel_size=(3, 2, 2)[:D], stride=2, padding=1, output_padding=1, groups=2, dilation=(1, 2, 1)[:D])
    ours = getattr(nn, f"ConvTranspose{D}d")(4, 6, dtype=np.float64, **cfg)
    theirs = getattr(torch.nn, f"ConvTranspose{D}d")(4, 6, dtype=torch.float64, **cfg)
    x = rng.standard_normal((2, 4) + (4, 3, 3)[:D])
    compare_layers(torch, ours, theirs, x, np.float64)
    plain_o, plain_t = getattr(nn, f"ConvTranspose{D}d")(4, 2, 3, stride=3, dtype=np.float64), \
        getattr(torch.nn, f"ConvTranspose{D}d")(4, 2, 3, stride=3, dtype=torch.float64)
    size = tuple(3 * (n - 1) + 3 + 2 for n in (4, 3, 3)[:D])  # the largest reachable size
    compare_layers(torch, plain_o, plain_t, x, np.float64, output_size=size)


def test_state_dict_layout_and_repr_match_torch(torch):
    pairs = [
        (nn.Conv2d(3, 6, 5), torch.nn.Conv2d(3, 6, 5)),
        (nn.Conv1d(4, 8, 3, stride=2, padding="same" if False else 1, dilation=2, groups=4, bias=False),
         torch.nn.Conv1d(4, 8, 3, stride=2, padding=1, dilation=2, groups=4, bias=False)),
        (nn.Conv3d(2, 4, (1, 2, 3), padding="same", padding_mode="circular"),
         torch.nn.Conv3d(2, 4, (1, 2, 3), padding="same", padding_mode="circular")),
        (nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, groups=2),
         torch.nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, groups=2)),
        (nn.ConvTranspose1d(3, 5, 4, padding=1, dilation=2, bias=False),
         torch.nn.ConvTranspose1d(3, 5, 4, padding=1, dilation=2, bias=False)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        assert {k: v.shape for k, v in ours.state_dict().items()} == \
            {k: tuple(v.shape) for k, v in theirs.state_dict().items()}


def test_default_init_bounds_follow_pytorch():
    cnnlab.manual_seed(0)
    m = nn.Conv2d(16, 32, 3, groups=2)
    bound = 1 / math.sqrt(16 // 2 * 9)  # kaiming_uniform_(a=√5) gives U(−1/√fan_in, 1/√fan_in)
    w, b = m.weight.data, m.bias.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert m.weight.dtype == np.float32


def test_layer_argument_checks():
    with pytest.raises(ValueError, match="Conv2d: in_channels=3 must be divisible by groups=2"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="Conv2d: out_channels=5 must be divisible by groups=2"):
        nn.Conv2d(4, 5, 3, groups=2)
    with pytest.raises(ValueError, match="Conv2d: padding='same' is not supported for strided convolutions"):
        nn.Conv2d(4, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"Conv2d: padding must be an int, a tuple of 2 ints, 'valid' or 'same', got 'full'"):
        nn.Conv2d(4, 4, 3, padding="full")
    with pytest.raises(ValueError, match="Conv1d: padding_mode must be one of"):
        nn.Conv1d(4, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="ConvTranspose2d: only 'zeros' padding mode is supported"):
        nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="Conv2d: kernel_size must be positive"):
        nn.Conv2d(4, 4, (3, 0))
    with pytest.raises(ValueError, match="Conv3d: stride must be an int or a tuple of 3 ints"):
        nn.Conv3d(4, 4, 3, stride=(1, 2))
    with pytest.raises(ValueError, match=r"Conv2d: in_channels must be positive, got in_channels=0"):
        nn.Conv2d(0, 4, 3)
    m = nn.ConvTranspose2d(2, 2, 3, stride=2)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested an output size of \(12, 12\), but valid sizes "
                                         r"range from \(9, 9\) to \(10, 10\) \(for an input of \(4, 4\)\)"):
        m(cnnlab.randn(1, 2, 4, 4), output_size=(12, 12))
    with pytest.raises(ValueError, match=r"conv2d: input has 3 channels, but weight expects 4"):
        nn.Conv2d(4, 4, 3)(cnnlab.randn(1, 3, 8, 8))
