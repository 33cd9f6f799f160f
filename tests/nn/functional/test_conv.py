"""Convolution and transposed convolution, 1-3d, against PyTorch over seeded random sweeps,
a naive loop implementation, float64 finite differences, and the error messages."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional as F
from helpers import gradcheck
from oracle import against_torch

TOL = {np.float64: dict(rtol=1e-9, atol=1e-10), np.float32: dict(rtol=1e-4, atol=1e-4)}
N_CONFIGS = 300  # per dimension count, as the issue asks


def conv_config(rng, D):
    """A random valid conv configuration with per-axis different kernel, stride, padding, dilation."""
    groups = int(rng.choice([1, 1, 2, 3]))
    depthwise = rng.random() < 0.15
    Cg = 1 if depthwise else int(rng.integers(1, 4))
    if groups == 1 and rng.random() < 0.4:
        Cg = int(rng.integers(8, 12))  # enough channels for the channels-last kernels
    C, O = groups * Cg, groups * (int(rng.integers(1, 3)) if depthwise else int(rng.integers(1, 4)))
    k = tuple(int(v) for v in rng.integers(1, 5 if D < 3 else 4, size=D))
    s = tuple(int(v) for v in rng.integers(1, 4, size=D))
    d = tuple(int(v) for v in rng.integers(1, 4, size=D))
    mode = rng.choice(["int", "tuple", "tuple", "same", "valid"])
    if mode == "same":
        s = (1,) * D
        padding = "same"
        pad = tuple((dd * (kk - 1) + 1) // 2 for kk, dd in zip(k, d))
    elif mode == "valid":
        padding, pad = "valid", (0,) * D
    elif mode == "int":
        padding = int(rng.integers(0, 4))
        pad = (padding,) * D
    else:
        pad = tuple(int(v) for v in rng.integers(0, 4, size=D))
        padding = pad
    n = tuple(max(dd * (kk - 1) + 1 - 2 * pp, 1) + int(rng.integers(0, 5 if D < 3 else 3))
              for kk, dd, pp in zip(k, d, pad))
    batch = None if rng.random() < 0.2 else int(rng.integers(1, 3))
    shape = ((C,) if batch is None else (batch, C)) + n
    kwargs = dict(stride=s if rng.random() < 0.8 else s[0], padding=padding, dilation=d, groups=groups)
    if all(v == s[0] for v in s):
        kwargs["stride"] = s[0]
    return shape, (O, Cg) + k, rng.random() < 0.7, kwargs


def kernel_runs(kernel, ws, kwargs):
    """Whether `kernel` (the fixture's) runs a conv or transposed conv of weight shape ws: a forced kernel
    that does not apply runs the reference, which 'reference' covers already."""
    if kernel in ("auto", "reference"):
        return True
    groups, s = kwargs.get("groups", 1), kwargs["stride"]
    s = tuple(s) if isinstance(s, tuple) else (s,) * (len(ws) - 2)
    return cnnlab.kernels.CONV_KERNELS[kernel].applies(ws[1] * groups, ws[0], groups, ws[2:], s)


def run_pair(torch, ours, theirs, x, w, b, dtype, kwargs, seed):
    """ours and theirs on (x, w, b): output and every gradient (and, under a forced kernel, the reference's)."""
    arrays = (x, w) + ((b,) if b is not None else ())
    against_torch(torch, lambda *t: ours(*t, **kwargs), lambda *t: theirs(*t, **kwargs), arrays, dtype, tol=TOL,
                  seed=seed, label=str(kwargs))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("D", [1, 2, 3])
def test_conv_matches_torch_over_random_configs(torch, kernel, D, dtype):
    rng = np.random.default_rng(100 + D)
    ours, theirs = getattr(F, f"conv{D}d"), getattr(torch.nn.functional, f"conv{D}d")
    for i in range(N_CONFIGS):
        xs, ws, bias, kwargs = conv_config(rng, D)
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        b = rng.standard_normal(ws[0]) if bias else None
        if not kernel_runs(kernel, ws, kwargs):
            continue
        if kwargs["padding"] == "same":
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch warns about even kernels with 'same'
                run_pair(torch, ours, theirs, x, w, b, dtype, kwargs, i)
        else:
            run_pair(torch, ours, theirs, x, w, b, dtype, kwargs, i)


def conv_transpose_config(rng, D):
    groups = int(rng.choice([1, 1, 2, 3]))
    Cin, Cout_g = groups * int(rng.integers(1, 4)), int(rng.integers(1, 4))
    if groups == 1 and rng.random() < 0.4:  # enough channels for the channels-last kernels
        Cin, Cout_g = int(rng.integers(8, 12)), int(rng.integers(8, 12))
    while True:
        k = tuple(int(v) for v in rng.integers(1, 5 if D < 3 else 4, size=D))
        s = tuple(int(v) for v in rng.integers(1, 4, size=D))
        d = tuple(int(v) for v in rng.integers(1, 4, size=D))
        p = tuple(int(v) for v in rng.integers(0, 3, size=D))
        op = tuple(int(rng.integers(0, max(ss, dd))) for ss, dd in zip(s, d))
        n = tuple(int(v) for v in rng.integers(1, 6 if D < 3 else 4, size=D))
        out = [(nn - 1) * ss - 2 * pp + dd * (kk - 1) + oo + 1 for nn, kk, ss, pp, oo, dd in zip(n, k, s, p, op, d)]
        if min(out) >= 1:
            break
    batch = None if rng.random() < 0.2 else int(rng.integers(1, 3))
    shape = ((Cin,) if batch is None else (batch, Cin)) + n
    kwargs = dict(stride=s, padding=p, output_padding=op, groups=groups, dilation=d)
    return shape, (Cin, Cout_g) + k, rng.random() < 0.7, kwargs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("D", [1, 2, 3])
def test_conv_transpose_matches_torch_over_random_configs(torch, kernel, D, dtype):
    rng = np.random.default_rng(200 + D)
    ours = getattr(F, f"conv_transpose{D}d")
    theirs = getattr(torch.nn.functional, f"conv_transpose{D}d")
    for i in range(N_CONFIGS):
        xs, ws, bias, kwargs = conv_transpose_config(rng, D)
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        b = rng.standard_normal(ws[1] * kwargs["groups"]) if bias else None
        if not kernel_runs(kernel, ws, kwargs):
            continue
        run_pair(torch, ours, theirs, x, w, b, dtype, kwargs, i)


def naive_conv2d(x, w, b, stride, padding, dilation, groups):
    """The lecture's definition, one output element at a time."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    xp[:, :, ph:ph + H, pw:pw + W] = x
    oh, ow = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((N, O, oh, ow))
    Og = O // groups
    for n, o, i, j in itertools.product(range(N), range(O), range(oh), range(ow)):
        g = o // Og
        total = 0.0 if b is None else b[o]
        for c, m, q in itertools.product(range(Cg), range(kh), range(kw)):
            total += xp[n, g * Cg + c, i * sh + m * dh, j * sw + q * dw] * w[o, c, m, q]
        out[n, o, i, j] = total
    return out


@pytest.mark.parametrize("case", [
    dict(x=(2, 2, 7, 6), w=(4, 2, 3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=1),
    dict(x=(1, 4, 6, 6), w=(6, 2, 2, 3), stride=(1, 2), padding=(0, 1), dilation=(2, 1), groups=2),
    dict(x=(1, 3, 5, 5), w=(3, 1, 3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=3),
    dict(x=(1, 1, 32, 32), w=(6, 1, 5, 5), stride=(1, 1), padding=(2, 2), dilation=(1, 1), groups=1),
])
def test_conv2d_matches_naive_loops(case):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal(case["x"]), rng.standard_normal(case["w"]), rng.standard_normal(case["w"][0])
    got = F.conv2d(cnnlab.tensor(x), cnnlab.tensor(w), cnnlab.tensor(b), case["stride"], case["padding"],
                   case["dilation"], case["groups"])
    np.testing.assert_allclose(got.data, naive_conv2d(x, w, b, case["stride"], case["padding"], case["dilation"],
                                                      case["groups"]), rtol=1e-12, atol=1e-12)


def test_lecture_example_by_hand():
    """S[i,j] = Σ_m Σ_n I[i+m, j+n]·K[m,n] on a 3×3 image and a 2×2 kernel."""
    image = cnnlab.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]])
    kernel = cnnlab.tensor([[[[1.0, 0.0], [0.0, -1.0]]]])
    assert F.conv2d(image, kernel).tolist() == [[[[1 - 5, 2 - 6], [4 - 8, 5 - 9]]]]


@pytest.mark.parametrize("D,stride,padding,dilation,groups,C", [
    (1, 2, 1, 2, 1, 8), (2, (1, 2), (1, 0), (2, 1), 2, 2), (2, 1, "same", (1, 2), 1, 8), (3, (2, 1, 1), 1, 1, 2, 2),
    (2, 1, (2, 0), 1, 1, 8), (2, 1, (3, 3), 1, 1, 8),  # padding larger than the kernel reach (input-grad crops g)
    (2, (2, 1), (1, 2), (1, 2), 1, 16), (3, (1, 2, 1), (0, 1, 2), (2, 1, 2), 1, 16),   # the row bands
])
def test_conv_finite_differences(D, stride, padding, dilation, groups, C):
    """C = 8 with groups=1 runs the channels-last kernels (im2row), 16 in 2 or 3 dims the row bands."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, C * groups) + (5, 5, 4)[:D])
    w = rng.standard_normal((2 * groups, C) + (2, 3, 2)[:D])
    b = rng.standard_normal(2 * groups)
    fn = getattr(F, f"conv{D}d")
    # the weight gradient of 16 channels sums ~1000 products: central differences carry ~1e-8 of error
    gradcheck(lambda x_, w_, b_: fn(x_, w_, b_, stride, padding, dilation, groups), x, w, b, atol=1e-8 * C)


@pytest.mark.parametrize("D,stride,padding,output_padding,dilation,groups", [
    (1, 2, 1, 1, 1, 1), (2, (2, 3), (1, 0), (1, 2), (1, 1), 2), (3, 2, 0, 1, (1, 2, 1), 1), (2, 1, 1, 0, 2, 1),
])
def test_conv_transpose_finite_differences(D, stride, padding, output_padding, dilation, groups):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2 * groups) + (3,) * D)
    w = rng.standard_normal((2 * groups, 2) + (2, 3, 2)[:D])
    b = rng.standard_normal(2 * groups)
    fn = getattr(F, f"conv_transpose{D}d")
    gradcheck(lambda x_, w_, b_: fn(x_, w_, b_, stride, padding, output_padding, groups, dilation), x, w, b)


def test_transposed_conv_is_the_gradient_of_conv():
    rng = np.random.default_rng(6)
    x = cnnlab.tensor(rng.standard_normal((1, 3, 7, 8)), requires_grad=True)
    w = cnnlab.tensor(rng.standard_normal((4, 3, 3, 2)))
    g = rng.standard_normal(F.conv2d(x, w, stride=2, padding=1).shape)
    F.conv2d(x, w, stride=2, padding=1).backward(cnnlab.tensor(g))
    y = F.conv_transpose2d(cnnlab.tensor(g), w, stride=2, padding=1)
    np.testing.assert_allclose(y.data, x.grad.data, rtol=1e-12)


def test_large_batches_are_processed_in_bounded_chunks(torch, kernel):
    rng = np.random.default_rng(7)
    with cnnlab.tuning.override(COLUMN_BUFFER_BYTES=1):  # one sample per chunk
        for C in (3, 9):  # the channels-first and the channels-last kernels
            x, w = rng.standard_normal((5, C, 6, 6)), rng.standard_normal((C, C, 3, 3))
            run_pair(torch, F.conv2d, torch.nn.functional.conv2d, x, w, None, np.float64, dict(stride=2, padding=1), 0)
            run_pair(torch, F.conv2d, torch.nn.functional.conv2d, x, w, None, np.float64, dict(padding=1), 0)
            run_pair(torch, F.conv_transpose2d, torch.nn.functional.conv_transpose2d, x, w, None, np.float64,
                     dict(stride=2), 0)


@pytest.mark.parametrize("C, k, kwargs", [
    (6, (5, 5), {}),                                   # LeNet's C3: few channels, many taps -> channels-last
    (4, (4, 8), dict(stride=(2, 1), padding=(1, 3))),  # 4 channels x 32 taps: channels-last
    (6, (3, 3), dict(padding=1, dilation=(1, 2))),     # 6 channels x 9 taps: channels-first
    (5, (26,), dict(stride=3, padding=2)),             # 1-d, 130 values a row: channels-last
])
@pytest.mark.parametrize("chunk_bytes", [None, 1])
def test_few_channel_layout_choice_matches_torch(torch, kernel, C, k, kwargs, chunk_bytes):
    """Both sides of `Im2row.pays` for 4-7 channels, conv and transposed conv, whole batch and
    one sample per chunk."""
    with cnnlab.tuning.override(**({} if chunk_bytes is None else dict(COLUMN_BUFFER_BYTES=chunk_bytes))):
        few_channel_convs(torch, C, k, kwargs)


def few_channel_convs(torch, C, k, kwargs):
    rng = np.random.default_rng(C)
    D = len(k)
    x = rng.standard_normal((3, C, 12, 17) if D == 2 else (3, C, 40))
    w, b = rng.standard_normal((7, C) + k), rng.standard_normal(7)
    xt = rng.standard_normal((3, 7, 4, 5) if D == 2 else (3, 7, 6))    # input of the transposed conv: 7 -> C
    for dtype in (np.float64, np.float32):
        run_pair(torch, getattr(F, f"conv{D}d"), getattr(torch.nn.functional, f"conv{D}d"), x, w, b, dtype, kwargs, 0)
        run_pair(torch, getattr(F, f"conv_transpose{D}d"), getattr(torch.nn.functional, f"conv_transpose{D}d"),
                 xt, w, b[:C], dtype, dict(stride=2), 1)


def band_config(rng, D, transposed):
    """A random config that runs the row-band kernels: 2 or 3 dims, at least 16 channels on the side the
    bands lower, stride 1 along the last axis; leading strides, every dilation and padding random."""
    k = tuple(int(v) for v in rng.integers(1, 5 if D < 3 else 4, size=D))
    s = tuple(int(v) for v in rng.integers(1, 4, size=D - 1)) + (1,)
    d = tuple(int(v) for v in rng.integers(1, 4, size=D))
    p = tuple(int(v) for v in rng.integers(0, 4, size=D))
    if transposed:
        op = tuple(int(rng.integers(0, max(ss, dd))) for ss, dd in zip(s, d))
        n = tuple(int(v) for v in rng.integers(1, 6 if D < 3 else 4, size=D))
        # keep every output size >= 1: padding at most what the full output has to spare
        p = tuple(min(pp, ((nn - 1) * ss + dd * (kk - 1) + oo) // 2)
                  for pp, nn, ss, dd, kk, oo in zip(p, n, s, d, k, op))
        kwargs = dict(stride=s, padding=p, output_padding=op, dilation=d)
    else:
        n = tuple(max(dd * (kk - 1) + 1 - 2 * pp, 1) + int(rng.integers(0, 6 if D < 3 else 3))
                  for kk, dd, pp in zip(k, d, p))
        kwargs = dict(stride=s, padding="same" if rng.random() < 0.2 else p, dilation=d)
        if kwargs["padding"] == "same":
            kwargs["stride"] = 1
    C, O = int(rng.integers(16, 19)), int(rng.integers(1, 19))
    if transposed:
        C, O = O, C        # the transposed conv's output channels are the conv's input channels
    batch = None if rng.random() < 0.2 else int(rng.integers(1, 4))
    shape = ((C,) if batch is None else (batch, C)) + n
    return shape, ((C, O) if transposed else (O, C)) + k, kwargs


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("D", [2, 3])
def test_row_bands_match_torch(torch, kernel, D, transposed):
    """Random configs that the row bands apply to (and auto selects), under each kernel, against torch and
    the reference: float64 and float32, whole batches, one sample per chunk and one lane per sample, every
    gradient wanted or not."""
    import warnings

    rng = np.random.default_rng(300 + D + 10 * transposed)
    name = f"conv_transpose{D}d" if transposed else f"conv{D}d"
    ours, theirs = getattr(F, name), getattr(torch.nn.functional, name)
    for i in range(40):
        xs, ws, kwargs = band_config(rng, D, transposed)
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        b = rng.standard_normal(ws[1] if transposed else ws[0]) if rng.random() < 0.7 else None
        C = ws[1]    # the input channels of the conv proper (of a transposed conv: its output channels)
        if kernel in ("auto", "bands"):   # (auto picks im2row where the output is narrower than 8: see below)
            s = kwargs["stride"] if isinstance(kwargs["stride"], tuple) else (kwargs["stride"],) * D
            assert cnnlab.kernels.select_conv(C, ws[0], 1, ws[2:], s, 8) is cnnlab.kernels.Bands, kwargs
        chunks = [{}, dict(COLUMN_BUFFER_BYTES=1), dict(MIN_PART_ELEMENTS=1)][i % 3]   # one sample a chunk or a lane
        with warnings.catch_warnings(), cnnlab.tuning.override(**chunks):
            warnings.simplefilter("ignore")  # torch warns about even kernels with 'same'
            run_pair(torch, ours, theirs, x, w, b, (np.float64, np.float32)[i % 2], kwargs, i)
    # one gradient at a time: the input's only, the weight's only, the bias' only
    xs, ws, kwargs = band_config(np.random.default_rng(5), D, transposed)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[1] if transposed else ws[0])
    for wanted in range(3):
        mine = [cnnlab.Tensor(a, requires_grad=j == wanted) for j, a in enumerate((x, w, b))]
        ref = [torch.tensor(a, requires_grad=j == wanted) for j, a in enumerate((x, w, b))]
        g = rng.standard_normal(ours(*mine, **kwargs).shape)
        ours(*mine, **kwargs).backward(cnnlab.Tensor(g))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs(*ref, **kwargs).backward(torch.tensor(g))
        np.testing.assert_allclose(mine[wanted].grad.data, ref[wanted].grad.numpy(), **TOL[np.float64])
        assert all(m.grad is None for j, m in enumerate(mine) if j != wanted)


def test_padded_channels_last_copy_zeroes_its_borders():
    """The padded copy zeroes only its borders (the inside is written over): check them on memory that
    held NaNs just before (malloc hands the freed block back)."""
    from cnnlab.kernels.layout import channels_last

    x = np.ones((2, 3, 4, 5), dtype=np.float32)
    for _ in range(3):
        junk = np.full((2, 7, 9, 3), np.nan, dtype=np.float32)
        del junk
        xp = channels_last(x, [(2, 1), (1, 3)])
        assert xp.shape == (2, 3, 7, 9) and np.isfinite(xp).all() and xp.sum() == x.sum()
        np.testing.assert_array_equal(xp[:, :, 2:6, 1:6], x)


def test_float32_has_no_float64_temporaries():
    x = cnnlab.randn(2, 3, 8, 8, requires_grad=True)
    w = cnnlab.randn(4, 3, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, stride=2, padding=1) + F.conv_transpose2d(F.conv2d(x, w), w, padding=0).sum()
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_conv_errors_name_the_rule():
    x, w = cnnlab.ones(1, 3, 8, 8), cnnlab.ones(16, 16, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: input has 3 channels, but weight expects 16 "
                                         r"\(in_channels=16, groups=1"):
        F.conv2d(x, w)
    with pytest.raises(ValueError, match=r"conv2d: input has 3 channels, but weight expects 4 \(in_channels=4, groups=2"):
        F.conv2d(x, cnnlab.ones(4, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"conv2d: out_channels=5 \(weight.shape\[0\]\) must be divisible by groups=3"):
        F.conv2d(x, cnnlab.ones(5, 1, 3, 3), groups=3)
    with pytest.raises(ValueError, match="conv2d: groups must be positive, got groups=0"):
        F.conv2d(x, cnnlab.ones(4, 3, 3, 3), groups=0)
    with pytest.raises(ValueError, match=r"conv2d: kernel size \(after dilation\) 9 is larger than the padded input size 8"):
        F.conv2d(x, cnnlab.ones(4, 3, 9, 3))
    with pytest.raises(ValueError, match="conv2d: padding='same' is not supported for strided convolutions"):
        F.conv2d(x, cnnlab.ones(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="conv2d: padding must be non-negative"):
        F.conv2d(x, cnnlab.ones(4, 3, 3, 3), padding=-1)
    with pytest.raises(ValueError, match="conv2d: stride must be positive"):
        F.conv2d(x, cnnlab.ones(4, 3, 3, 3), stride=(1, 0))
    with pytest.raises(ValueError, match="conv2d: dilation must be positive"):
        F.conv2d(x, cnnlab.ones(4, 3, 3, 3), dilation=-1)
    with pytest.raises(ValueError, match="conv2d: padding must be an int, a tuple of 2 ints, 'valid' or 'same'"):
        F.conv2d(x, cnnlab.ones(4, 3, 3, 3), padding="full")
    with pytest.raises(ValueError, match=r"conv2d: kernel_size must be an int or a tuple of 2 ints|conv2d: stride must be"):
        F.conv2d(x, cnnlab.ones(4, 3, 3, 3), stride=(1, 1, 1))
    with pytest.raises(ValueError, match=r"conv2d: expected a 3-d \(unbatched\) or 4-d \(batched\) input, got a 5-d"):
        F.conv2d(cnnlab.ones(1, 1, 3, 8, 8), cnnlab.ones(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: weight must be 4-d"):
        F.conv2d(x, cnnlab.ones(4, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(4,\)"):
        F.conv2d(x, cnnlab.ones(4, 3, 3, 3), cnnlab.ones(3))
    with pytest.raises(TypeError, match="conv2d: input, weight and bias must have the same dtype"):
        F.conv2d(x, cnnlab.ones(4, 3, 3, 3, dtype=cnnlab.float64))
    with pytest.raises(TypeError, match="conv2d: input must be a floating point tensor, got dtype int64"):
        F.conv2d(cnnlab.tensor(np.ones((1, 3, 8, 8), np.int64)), cnnlab.ones(4, 3, 3, 3))


def test_conv_transpose_errors_name_the_rule():
    x = cnnlab.ones(1, 4, 5, 5)
    with pytest.raises(ValueError, match="conv_transpose2d: output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(x, cnnlab.ones(4, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"conv_transpose2d: input has 4 channels, but weight expects 3"):
        F.conv_transpose2d(x, cnnlab.ones(3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"conv_transpose2d: in_channels=4 \(weight.shape\[0\]\) must be divisible by groups=3"):
        F.conv_transpose2d(x, cnnlab.ones(4, 2, 3, 3), groups=3)
    with pytest.raises(ValueError, match="conv_transpose1d: padding must be an int or a tuple of 1 ints"):
        F.conv_transpose1d(cnnlab.ones(1, 4, 5), cnnlab.ones(4, 2, 3), padding="same")
    with pytest.raises(ValueError, match="conv_transpose2d: padding must be non-negative"):
        F.conv_transpose2d(x, cnnlab.ones(4, 2, 3, 3), padding=(-1, 0))
    with pytest.raises(ValueError, match="conv_transpose1d: .*output size"):
        F.conv_transpose1d(cnnlab.ones(1, 4, 1), cnnlab.ones(4, 2, 1), padding=1)


def test_copy_runs_matches_copyto_for_any_strides():
    """`copy_runs` (trailing runs copied as opaque blocks) against np.copyto: sliced, reversed, transposed
    and broadcast sources, float32 and float64, runs of one value to whole arrays."""
    from cnnlab.nn.functional._windows import copy_runs

    rng = np.random.default_rng(11)
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((4, 5, 6, 7)).astype(dtype)
        sources = [a, a[:, ::2], a[..., 1:], a[..., ::2], a[::-1], a[..., ::-1], a.transpose(0, 2, 1, 3),
                   np.broadcast_to(a[:, :1], a.shape), a[:, :, 2:5, :]]
        for src in sources:
            for dst in (np.empty(src.shape, dtype), np.zeros((2 * src.shape[0],) + src.shape[1:], dtype)[::2],
                        np.zeros(src.shape[:-1] + (src.shape[-1] + 3,), dtype)[..., 3:]):
                copy_runs(dst, src)
                np.testing.assert_array_equal(dst, src)


def test_backward_runs_the_kernel_of_its_forward(monkeypatch):
    """The kernel chosen for a forward is kept for its backward, whatever `use` says when backward runs.
    (64 -> 64 channels, 3×3, stride 1: once im2row's forward with the bands' backward.)"""
    from cnnlab.kernels import Bands, Im2row, use

    calls = []
    for cls in (Bands, Im2row):
        for method in ("conv", "grads"):
            real = getattr(cls, method)
            spy = (lambda *a, _real=real, _tag=(cls.name, method): calls.append(_tag) or _real(*a))
            monkeypatch.setattr(cls, method, staticmethod(spy))    # spies only: the switch picks the kernel
    rng = np.random.default_rng(0)
    x = cnnlab.Tensor(rng.standard_normal((2, 64, 8, 8)), requires_grad=True)      # 8 wide: bands under auto
    w = cnnlab.Tensor(rng.standard_normal((64, 64, 3, 3)) * 0.1, requires_grad=True)
    xt = cnnlab.Tensor(rng.standard_normal((2, 64, 8, 8)), requires_grad=True)
    for forward, backward, ran in [("auto", "auto", "bands"), ("im2row", "bands", "im2row"),
                                   ("bands", "reference", "bands"), ("reference", "im2row", None)]:
        for op, inp in ((F.conv2d, x), (F.conv_transpose2d, xt)):
            del calls[:]
            with use(forward):
                y = op(inp, w, padding=1)
            with use(backward):
                y.sum().backward()
            assert {name for name, _ in calls} == ({ran} if ran else set()), (forward, backward, op, calls)
            assert {m for _, m in calls} == ({"conv", "grads"} if ran else set()), calls


def test_kernel_switch_names_and_errors():
    import cnnlab.kernels as kernels

    assert kernels.available() == ("auto", "reference", "depthwise", "bands", "im2row")
    assert kernels.active() == "auto"
    with kernels.use("reference"):
        assert kernels.active() == "reference"
        assert kernels.select_conv(64, 64, 1, (3, 3), (1, 1)) is None
        with kernels.use("im2row"):
            assert kernels.select_conv(64, 64, 1, (3, 3), (1, 1)) is kernels.Im2row
            assert kernels.select_conv(64, 64, 2, (3, 3), (1, 1)) is None     # grouped: im2row does not apply
        assert kernels.active() == "reference"
    assert kernels.select_conv(64, 64, 1, (3, 3), (1, 1)) is kernels.Bands
    assert kernels.select_conv(64, 64, 1, (3, 3), (1, 1), 8) is kernels.Bands
    assert kernels.select_conv(64, 64, 1, (3, 3), (1, 1), 7) is kernels.Im2row     # narrow: one GEMM is better
    assert kernels.select_conv(64, 64, 1, (3, 3), (1, 2)) is kernels.Im2row
    assert kernels.select_conv(3, 8, 1, (3, 3), (1, 1)) is None
    depthwise = kernels.Depthwise if cnnlab.kernels.jit.enabled() else None      # compiled loops only
    assert kernels.select_conv(32, 32, 32, (3, 3), (2, 1)) is depthwise
    assert kernels.select_conv(32, 64, 32, (3, 3), (1, 1)) is None                 # a channel multiplier of 2
    with kernels.use("reference"):
        assert kernels.select_conv(32, 32, 32, (3, 3), (1, 1)) is None
    with pytest.raises(ValueError, match=r"kernels.use: name must be one of 'auto', 'reference', .*got 'fft'"):
        with kernels.use("fft"):
            pass


def test_conv_args_are_the_checks_the_op_runs():
    from cnnlab.nn.functional.conv import conv_args, conv_transpose_args

    x, w = cnnlab.randn(1, 4, 5, 6), cnnlab.randn(6, 2, 3, 2)
    assert conv_args("conv2d", 2, x, w, None, (2, 1), (1, 0), (1, 2), 2) == (2, (2, 1), (1, 2), ((1, 1), (0, 0)))
    assert conv_args("conv2d", 2, x, w, None, 1, "same", (1, 2), 2)[3] == ((1, 1), (1, 1))
    with pytest.raises(ValueError, match=r"mine: kernel size \(after dilation\) 7 is larger than the padded input "
                                         r"size 5"):
        conv_args("mine", 2, x, cnnlab.randn(6, 2, 7, 1), None, 1, 0, 1, 2)
    with pytest.raises(ValueError, match=r"mine: input has 4 channels, but weight expects 2"):
        conv_args("mine", 2, x, w, None, 1, 0, 1, 1)
    xt, wt = cnnlab.randn(1, 4, 3, 3), cnnlab.randn(4, 3, 3, 2)
    assert conv_transpose_args("conv_transpose2d", 2, xt, wt, None, 2, (1, 0), 1, 2, (1, 2)) == \
        (2, (2, 2), (1, 0), (1, 2), (6, 8))
    with pytest.raises(ValueError, match=r"mine: output padding must be smaller than either stride or dilation"):
        conv_transpose_args("mine", 2, xt, wt, None, 1, 0, 1, 2, 1)


def depthwise_config(rng, D, transposed):
    """A random depthwise conv (groups = in = out channels) or transposed conv, per-axis different kernel,
    stride, padding and dilation, for the depthwise kernel."""
    C = int(rng.integers(1, 9))
    k = tuple(int(v) for v in rng.integers(1, 5 if D < 3 else 4, size=D))
    s = tuple(int(v) for v in rng.integers(1, 4, size=D))
    d = tuple(int(v) for v in rng.integers(1, 3, size=D))
    p = tuple(int(rng.integers(0, (dd * (kk - 1)) // 2 + 2)) for kk, dd in zip(k, d))
    if transposed:
        op = tuple(int(rng.integers(0, max(ss, dd))) for ss, dd in zip(s, d))
        n = tuple(int(v) for v in rng.integers(1, 7 if D < 3 else 4, size=D))
        p = tuple(min(pp, ((nn - 1) * ss + dd * (kk - 1) + oo) // 2) for pp, nn, ss, dd, kk, oo in zip(p, n, s, d, k, op))
        kwargs = dict(stride=s, padding=p, output_padding=op, dilation=d, groups=C)
    else:
        n = tuple(max(dd * (kk - 1) + 1 - 2 * pp, 1) + int(rng.integers(0, 9 if D < 3 else 4))
                  for kk, dd, pp in zip(k, d, p))
        kwargs = dict(stride=s, padding=p, dilation=d, groups=C)
    batch = None if rng.random() < 0.2 else int(rng.integers(1, 4))
    return ((C,) if batch is None else (batch, C)) + n, (C, 1) + k, kwargs


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("D", [1, 2, 3])
def test_depthwise_kernel_matches_torch(torch, kernel, D, transposed):
    """Random depthwise configs (which the depthwise kernel applies to, and auto selects where compiled
    loops run), under each kernel, against torch and the reference: float64 and float32, every gradient
    wanted or not."""
    rng = np.random.default_rng(500 + D + 10 * transposed)
    name = f"conv_transpose{D}d" if transposed else f"conv{D}d"
    ours, theirs = getattr(F, name), getattr(torch.nn.functional, name)
    for i in range(30):
        xs, ws, kwargs = depthwise_config(rng, D, transposed)
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        b = rng.standard_normal(ws[0]) if rng.random() < 0.7 else None
        if kernel in ("auto", "depthwise"):
            expected = cnnlab.kernels.Depthwise if cnnlab.kernels.jit.enabled() else None
            assert cnnlab.kernels.select_conv(ws[0], ws[0], ws[0], ws[2:], kwargs["stride"]) is expected
        run_pair(torch, ours, theirs, x, w, b, (np.float64, np.float32)[i % 2], kwargs, i)


def test_depthwise_kernel_gradients_match_finite_differences():
    """The depthwise kernel's gradients (forced) against float64 central differences, no oracle."""
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((3, 1, 3, 2)), rng.standard_normal(3)
    with cnnlab.kernels.use("depthwise"):
        gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=3), x, w, b)
        gradcheck(lambda x, w: F.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1, groups=3),
                  x[:, :, 0], w[:, :, :, 0])


def test_im2row_weight_gradient_in_one_gemm_or_in_lanes_agree(torch):
    """im2row's weight gradient over the whole batch in one GEMM (few output positions:
    `tuning.IM2ROW_WHOLE_WEIGHT_ROWS`) and summed over lanes and chunks give torch's numbers."""
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((3, 16, 2, 3)), rng.standard_normal((8, 16, 3, 3)), rng.standard_normal(8)
    kwargs = dict(padding=1)
    with cnnlab.kernels.use("im2row"):
        for rows, chunk in [(128, None), (1, None), (1, 1)]:         # one GEMM; lanes; one sample a chunk
            with cnnlab.tuning.override(IM2ROW_WHOLE_WEIGHT_ROWS=rows, **({"COLUMN_BUFFER_BYTES": chunk} if chunk else {})):
                for dtype in (np.float64, np.float32):
                    run_pair(torch, F.conv2d, torch.nn.functional.conv2d, x, w, b, dtype, kwargs, rows)


@pytest.mark.parametrize("D", [1, 2, 3])
def test_gradients_are_contiguous_under_every_kernel(kernel, D):
    """Every kernel hands back C-contiguous weight, bias and input gradients, as torch does: a strided
    weight gradient would cost every later pass over it (an optimizer's step)."""
    rng = np.random.default_rng(12 + D)
    x = cnnlab.tensor(rng.standard_normal((2, 16) + (9,) * D).astype(np.float32), requires_grad=True)
    for C_out, groups in ((24, 1), (16, 16)):
        w = cnnlab.tensor(rng.standard_normal((C_out, 16 // groups) + (3,) * D).astype(np.float32), requires_grad=True)
        b = cnnlab.tensor(rng.standard_normal(C_out).astype(np.float32), requires_grad=True)
        x.grad = None
        getattr(F, f"conv{D}d")(x, w, b, padding=1, groups=groups).sum().backward()
        for t in (x, w, b):
            assert t.grad.data.flags.c_contiguous, (kernel, D, groups, t.shape, t.grad.data.strides)


def test_weight_gradients_are_the_same_in_every_run(kernel):
    """With several chunks a lane (one sample a chunk, two lanes), every kernel's weight and bias gradients
    come out bit for bit the same run after run: the lanes that sum over chunks take fixed parts of the
    batch (`runtime.in_lanes(ordered=True)`), so the sums add up in one order."""
    rng = np.random.default_rng(14)
    x = cnnlab.tensor(rng.standard_normal((8, 16, 9, 10)).astype(np.float32))
    w = cnnlab.tensor(rng.standard_normal((12, 16, 3, 3)).astype(np.float32), requires_grad=True)
    b = cnnlab.tensor(rng.standard_normal(12).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((8, 12, 9, 10)).astype(np.float32)
    runs = []
    with cnnlab.tuning.override(COLUMN_BUFFER_BYTES=1, MIN_PART_ELEMENTS=1):
        for _ in range(6):
            w.grad = b.grad = None
            F.conv2d(x, w, b, padding=1).backward(g)
            runs.append((w.grad.data.copy(), b.grad.data.copy()))
    for gw, gb in runs[1:]:
        np.testing.assert_array_equal(gw, runs[0][0])
        np.testing.assert_array_equal(gb, runs[0][1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_weight_reorder_is_numpys_transpose_exactly(dtype):
    """`kernels.layout.swap_last_axes` (im2row's weight (O, C, K) -> (O, K, C) and its gradient back): on the
    compiled loops and on NumPy, each block transposed, bit for bit."""
    from cnnlab.kernels.layout import swap_last_axes

    rng = np.random.default_rng(7)
    for shape in [(1, 1, 1), (3, 5, 9), (7, 1, 25), (16, 33, 4)]:
        a = rng.standard_normal(shape).astype(dtype)
        expected = np.ascontiguousarray(a.transpose(0, 2, 1))
        for kernel in ("auto", "reference"):
            with cnnlab.kernels.use(kernel):
                out = swap_last_axes(a)
            assert out.flags.c_contiguous and out.dtype == dtype
            np.testing.assert_array_equal(out, expected, err_msg=f"{shape} {kernel}")
        strided = a[:, :, ::2]                              # a strided input gives the same
        np.testing.assert_array_equal(swap_last_axes(strided), np.ascontiguousarray(strided.transpose(0, 2, 1)))
