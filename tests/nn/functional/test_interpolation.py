"""interpolate (every mode, 1-3 spatial dims, size or scale_factor, align_corners, recompute_scale_factor),
upsample, pixel_shuffle and pixel_unshuffle: PyTorch as the oracle of values and gradients over seeded random
sweeps, float64 finite differences, a naive loop of the formulas, and the error messages."""
import math

import numpy as np
import pytest
from helpers import gradcheck
from oracle import against_torch

import cnnlab
import cnnlab.nn.functional as F

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}
MODES_BY_DIM = {1: ["nearest", "nearest-exact", "linear", "area"], 2: ["nearest", "nearest-exact", "bilinear",
                                                                        "bicubic", "area"],
                3: ["nearest", "nearest-exact", "trilinear", "area"]}


def random_call(rng, D, mode):
    """Input shape and interpolate's keyword arguments: size or scale factors (per axis different), and the
    flags the mode takes."""
    n = tuple(int(v) for v in rng.integers(1, 9 if D < 3 else 5, size=D))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) + n
    kwargs = {"mode": mode}
    if rng.random() < 0.5:
        size = tuple(int(v) for v in rng.integers(1, 13 if D < 3 else 7, size=D))
        kwargs["size"] = size[0] if D == 1 and rng.random() < 0.5 else size
    else:
        factors = tuple(float(np.round(rng.uniform(0.3, 3.2), 2)) for _ in range(D))
        factors = tuple(f if math.floor(m * f) >= 1 else 1.0 / m + 1.0 for f, m in zip(factors, n))
        kwargs["scale_factor"] = factors
        if rng.random() < 0.3:                                  # one factor for every axis: >= 1/n of each
            kwargs["scale_factor"] = max(factors[0], 1.0 / min(n) + 0.01)
        if factors[0] == int(factors[0]) or rng.random() < 0.3:
            kwargs["scale_factor"] = float(int(rng.integers(1, 4)))
        if mode != "area" and rng.random() < 0.3:
            kwargs["recompute_scale_factor"] = True
    if mode in ("linear", "bilinear", "bicubic", "trilinear") and rng.random() < 0.5:
        kwargs["align_corners"] = bool(rng.random() < 0.5)
    return shape, kwargs


def torch_nearest_disagrees_with_itself(shape, kwargs):
    """Where an output axis keeps its size or doubles it, torch 2.13's nearest backward (all dims) and its
    2-d forward copy the axis or take ⌊o/2⌋ (its nearest_idx shortcuts), but its 1-d and 3-d forwards take
    ⌊o·s⌋ with s = 1/scale_factor, which differs when the scale factor is not exactly 1 or 2 (e.g. 1.01 on
    4 pixels, 2.01 on 2). cnnlab takes the shortcuts both ways, in every dim, so that its gradient is its
    forward's (tested below); such 1-d and 3-d calls are left out of the sweep."""
    factor = kwargs.get("scale_factor")
    if kwargs["mode"] != "nearest" or factor is None or kwargs.get("recompute_scale_factor") or len(shape) == 4:
        return False
    factors = factor if isinstance(factor, tuple) else (factor,) * (len(shape) - 2)
    return any(math.floor(n * float(f)) == k * n and float(f) != k for n, f in zip(shape[2:], factors) for k in (1, 2))


def test_kept_and_doubled_sizes_copy_or_take_half_the_index_both_ways(torch):
    x = np.arange(2.0).reshape(1, 1, 1, 2)
    assert F.interpolate(cnnlab.tensor(x[0]), scale_factor=2.01).numpy().tolist() == [[[0.0, 0.0, 1.0, 1.0]]]
    assert F.interpolate(cnnlab.tensor(np.arange(4.0).reshape(1, 1, 4)), scale_factor=1.01).numpy().tolist() == \
        [[[0.0, 1.0, 2.0, 3.0]]]
    against_torch(torch, lambda t: F.interpolate(t, scale_factor=(1, 2.01)),
                  lambda t: torch.nn.functional.interpolate(t, scale_factor=(1, 2.01)), [x], np.float64)
    gradcheck(lambda t: F.interpolate(t, scale_factor=2.01), x[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("D", [1, 2, 3])
def test_interpolate_matches_torch_over_random_calls(torch, D, dtype):
    rng = np.random.default_rng(500 + D)
    for i in range(60):
        mode = MODES_BY_DIM[D][i % len(MODES_BY_DIM[D])]
        shape, kwargs = random_call(rng, D, mode)
        if torch_nearest_disagrees_with_itself(shape, kwargs):
            continue
        x = rng.standard_normal(shape)
        against_torch(torch, lambda t: F.interpolate(t, **kwargs), lambda t: torch.nn.functional.interpolate(t, **kwargs),
                      [x], dtype, tol=TOL, seed=i, require_grads=True, label=f"{shape} {kwargs}")


@pytest.mark.parametrize("mode, n, m, align", [("nearest", 7, 10, None), ("nearest", 10, 7, None),
                                               ("nearest-exact", 5, 13, None), ("linear", 4, 9, False),
                                               ("linear", 4, 9, True), ("linear", 9, 4, False)])
def test_one_axis_follows_the_formulas(mode, n, m, align):
    """A naive loop of the module docstring's rules (in float64) against the op."""
    x = np.random.default_rng(n * m).standard_normal((1, 1, n))
    y = F.interpolate(cnnlab.tensor(x), size=m, mode=mode, align_corners=align).numpy()[0, 0]
    s = n / m
    for o in range(m):
        if mode == "nearest":
            want = x[0, 0, min(math.floor(o * s), n - 1)]
        elif mode == "nearest-exact":
            want = x[0, 0, min(math.floor((o + 0.5) * s), n - 1)]
        else:
            src = o * (n - 1) / (m - 1) if align else max((o + 0.5) * s - 0.5, 0.0)
            i = min(math.floor(src), n - 1)
            lam = src - i
            want = (1 - lam) * x[0, 0, i] + lam * x[0, 0, min(i + 1, n - 1)]
        assert y[o] == pytest.approx(want, rel=1e-6, abs=1e-9), o


def test_pinned_values():
    x = cnnlab.tensor([[[1.0, 2.0]]], dtype=cnnlab.float64)
    assert F.interpolate(x, scale_factor=2, mode="linear").numpy().tolist() == [[[1.0, 1.25, 1.75, 2.0]]]
    np.testing.assert_allclose(F.interpolate(x, scale_factor=2, mode="linear", align_corners=True).numpy(),
                               [[[1.0, 4 / 3, 5 / 3, 2.0]]], rtol=1e-15)
    assert F.interpolate(x, size=3).numpy().tolist() == [[[1.0, 1.0, 2.0]]]
    assert F.interpolate(x, size=3, mode="nearest-exact").numpy().tolist() == [[[1.0, 2.0, 2.0]]]
    img = cnnlab.tensor(np.arange(4.0).reshape(1, 1, 2, 2))                  # float64, as NumPy's
    np.testing.assert_allclose(F.interpolate(img, size=(3, 3), mode="bilinear", align_corners=True).numpy()[0, 0],
                               [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]])


@pytest.mark.parametrize("mode, D", [("nearest", 1), ("linear", 1), ("bilinear", 2), ("bicubic", 2),
                                     ("trilinear", 3), ("nearest-exact", 2), ("area", 2)])
def test_finite_differences(mode, D):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 2) + (3, 4, 2)[:D])
    size = (5, 3, 3)[:D]
    kwargs = {} if mode in ("nearest", "nearest-exact", "area") else {"align_corners": D == 2}
    gradcheck(lambda t: F.interpolate(t, size=size, mode=mode, **kwargs), x)


def test_float32_stays_float32_and_inf_stays_put():
    x = cnnlab.tensor(np.ones((1, 1, 4, 4), np.float32))
    assert F.interpolate(x, scale_factor=1.5, mode="bicubic").dtype == np.float32
    y = np.zeros((1, 1, 3)); y[0, 0, 1] = np.inf
    assert np.isinf(F.interpolate(cnnlab.tensor(y), size=6).numpy()).sum() == 2      # nearest copies it twice


def test_upsample_is_interpolate():
    x = cnnlab.tensor(np.random.default_rng(0).standard_normal((1, 2, 3, 3)))
    np.testing.assert_array_equal(F.upsample(x, scale_factor=2, mode="bilinear").numpy(),
                                  F.interpolate(x, scale_factor=2, mode="bilinear").numpy())


@pytest.mark.parametrize("call, error, match", [
    (dict(size=4, scale_factor=2), ValueError, r"^interpolate: only one of size or scale_factor should be defined"),
    (dict(), ValueError, r"^interpolate: either size or scale_factor should be defined$"),
    (dict(size=4, mode="cubic"), ValueError, r"^interpolate: mode must be one of 'nearest', .*, got 'cubic'$"),
    (dict(size=4, mode="linear"), ValueError, r"^interpolate: got a 4-d input, but mode 'linear' needs a 3-d input$"),
    (dict(size=4, mode="trilinear"), ValueError, r"mode 'trilinear' needs a 5-d input"),
    (dict(size=4, align_corners=True), ValueError,
     r"^interpolate: align_corners can only be set with the interpolating modes linear, bilinear, bicubic and "
     r"trilinear, got align_corners=True with mode 'nearest'$"),
    (dict(size=(4, 4, 4)), ValueError, r"^interpolate: size must be an int or a tuple of 2 ints, got \(4, 4, 4\)$"),
    (dict(size=0), ValueError, r"^interpolate: size must be positive, got size=0$"),
    (dict(scale_factor=-1.0), ValueError, r"^interpolate: scale_factor must be positive and finite"),
    (dict(scale_factor=0.1), ValueError, r"^interpolate: scale_factor=0.1 makes an empty output from the input's "
                                         r"spatial size \(3, 5\): output size \(0, 0\)$"),
    (dict(scale_factor=(2, 2, 2)), ValueError, r"scale_factor must be a number or a tuple of 2 numbers for a 4-d"),
    (dict(size=4, recompute_scale_factor=True), ValueError,
     r"^interpolate: recompute_scale_factor is not meaningful with an explicit size$"),
    (dict(size=4, mode="bilinear", antialias=True), ValueError, r"^interpolate: antialias=True is not supported$"),
    (dict(size="4"), TypeError, r"^interpolate: size must be an int or a tuple of 2 ints"),
])
def test_errors_name_the_rule(call, error, match):
    with pytest.raises(error, match=match):
        F.interpolate(cnnlab.zeros(1, 1, 3, 5), **call)
    with pytest.raises(ValueError, match=r"^interpolate: expected a 3-d, 4-d or 5-d input \(N, C, \*spatial\), got "
                                         r"a 2-d input of shape \(3, 5\)$"):
        F.interpolate(cnnlab.zeros(3, 5), size=4)
    with pytest.raises(TypeError, match=r"^interpolate: expected a floating point tensor, got dtype int64$"):
        F.interpolate(cnnlab.tensor(np.zeros((1, 1, 3), np.int64)), size=4)


# ---------------------------------------------------------------- pixel shuffle
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pixel_shuffle_and_unshuffle_match_torch(torch, dtype):
    rng = np.random.default_rng(11)
    for i, (lead, C, H, W, r) in enumerate([((2,), 4, 3, 5, 2), ((), 9, 2, 2, 3), ((2, 3), 8, 1, 4, 2),
                                            ((1,), 3, 4, 4, 1)]):
        x = rng.standard_normal(lead + (C, H, W))
        against_torch(torch, lambda t: F.pixel_shuffle(t, r), lambda t: torch.nn.functional.pixel_shuffle(t, r),
                      [x], dtype, seed=i, require_grads=True)
        y = rng.standard_normal(lead + (C, H * r, W * r))
        against_torch(torch, lambda t: F.pixel_unshuffle(t, r), lambda t: torch.nn.functional.pixel_unshuffle(t, r),
                      [y], dtype, seed=i, require_grads=True)


def test_pixel_shuffle_moves_channels_into_space_and_back():
    x = np.arange(2 * 8 * 2 * 3.0).reshape(2, 8, 2, 3)                      # C·r² = 2·4
    y = F.pixel_shuffle(cnnlab.tensor(x), 2).numpy()                       # (2, 2, 4, 6)
    for c, h, w, i, j in [(1, 1, 2, 1, 0), (0, 0, 0, 0, 1), (1, 1, 1, 1, 1)]:
        assert y[1, c, h * 2 + i, w * 2 + j] == x[1, c * 4 + i * 2 + j, h, w]
    np.testing.assert_array_equal(F.pixel_unshuffle(cnnlab.tensor(y), 2).numpy(), x)
    gradcheck(lambda t: F.pixel_shuffle(t, 2), x[:1, :, :1, :2])


def test_pixel_shuffle_errors():
    with pytest.raises(ValueError, match=r"^pixel_shuffle: the input's 6 channels must be divisible by "
                                         r"upscale_factor² = 4$"):
        F.pixel_shuffle(cnnlab.zeros(1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match=r"^pixel_unshuffle: the input's height 3 and width 4 must be divisible by "
                                         r"downscale_factor = 2$"):
        F.pixel_unshuffle(cnnlab.zeros(1, 1, 3, 4), 2)
    with pytest.raises(ValueError, match=r"^pixel_shuffle: upscale_factor must be positive, got upscale_factor=0$"):
        F.pixel_shuffle(cnnlab.zeros(1, 4, 2, 2), 0)
    with pytest.raises(ValueError, match=r"^pixel_unshuffle: expected an input of at least 3 dims"):
        F.pixel_unshuffle(cnnlab.zeros(4, 4), 2)
