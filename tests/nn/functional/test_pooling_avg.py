"""avg_pool1d/2d/3d and lp_pool1d/2d/3d against PyTorch over seeded random sweeps (values and
gradients; ceil_mode, count_include_pad, divisor_override), a naive loop implementation of
PyTorch's divisor rules, float64 finite differences, and the error messages."""
from __future__ import annotations

import math

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional.pooling as P
from cnnlab import shapes
from helpers import gradcheck, maybe_int
from oracle import against_torch

DTYPES = [np.float64, np.float32]
N_CONFIGS = 50  # per dimension count and dtype


def avg_config(rng, D, lp=False):
    """(input shape, kwargs, per-axis (k, s, p)): per-axis different kernel/stride/padding, ceil mode
    on/off, count_include_pad, divisor_override (2-d and 3-d only, as PyTorch), batched or not."""
    k = rng.integers(1, 5 if D < 3 else 4, size=D)
    s = rng.integers(1, 4, size=D)
    p = np.zeros(D, int) if lp else np.array([rng.integers(0, kk // 2 + 1) for kk in k])
    n = np.maximum(k - 2 * p, 1) + rng.integers(0, 5 if D < 3 else 3, size=D)
    if D == 3:  # PyTorch's avg_pool3d (only 3-d) refuses inputs smaller than the kernel, even with padding
        n = np.maximum(n, k)
    batch = None if rng.random() < 0.2 else int(rng.integers(1, 3))
    C = int(rng.integers(1, 4))
    shape = ((C,) if batch is None else (batch, C)) + tuple(int(v) for v in n)
    kwargs = dict(kernel_size=maybe_int(rng, k), ceil_mode=bool(rng.random() < 0.5))
    if rng.random() < 0.8:
        kwargs["stride"] = maybe_int(rng, s)
    else:
        s = k
    if lp and D == 1:  # PyTorch's lp_pool1d multiplies by kernel_size itself: it must be an int
        kwargs["kernel_size"] = int(k[0])
        kwargs["stride"] = int(s[0]) if "stride" in kwargs else None
    if not lp:
        kwargs["padding"] = maybe_int(rng, p)
        kwargs["count_include_pad"] = bool(rng.random() < 0.5)
        if D > 1 and rng.random() < 0.25:
            kwargs["divisor_override"] = int(rng.integers(1, 7))
    return shape, kwargs, (k, s, p)


def run_pair(torch, ours, theirs, x, dtype, args, kwargs, seed):
    against_torch(torch, lambda t: ours(t, *args, **kwargs), lambda t: theirs(t, *args, **kwargs), [x], dtype,
                  seed=seed, label=f"{args} {kwargs}")


def naive_avg_pool(x, k, s, p, ceil_mode, count_include_pad, divisor_override=None):
    """PyTorch's CPU loop: window [start, start + k) clipped to the padded input for the
    count_include_pad divisor, and to the input for the sum and the other divisor."""
    N, C, *n = x.shape
    out = [shapes.pool_output_size(nn, kk, ss, pp, 1, ceil_mode) for nn, kk, ss, pp in zip(n, k, s, p)]
    y = np.empty((N, C, *out))
    for pos in np.ndindex(*out):
        start = [i * ss - pp for i, ss, pp in zip(pos, s, p)]
        end = [min(st + kk, nn + pp) for st, kk, nn, pp in zip(start, k, n, p)]
        pool_size = math.prod(e - st for st, e in zip(start, end))
        lo = [max(st, 0) for st in start]
        hi = [min(e, nn) for e, nn in zip(end, n)]
        window = x[(slice(None), slice(None)) + tuple(slice(a, b) for a, b in zip(lo, hi))]
        total = window.reshape(N, C, -1).sum(axis=-1)
        divisor = divisor_override or (pool_size if count_include_pad else math.prod(b - a for a, b in zip(lo, hi)))
        y[(slice(None), slice(None)) + pos] = total / divisor
    return y


# ---------------------------------------------------------------- avg_pool
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D", [1, 2, 3])
def test_avg_pool_matches_torch_over_random_configs(torch, D, dtype):
    rng = np.random.default_rng(110 + D)
    ours, theirs = getattr(P, f"avg_pool{D}d"), getattr(torch.nn.functional, f"avg_pool{D}d")
    for i in range(N_CONFIGS):
        shape, kwargs, _ = avg_config(rng, D)
        run_pair(torch, ours, theirs, rng.standard_normal(shape), dtype, (), kwargs, i)


@pytest.mark.parametrize("D", [1, 2, 3])
def test_avg_pool_matches_naive_loops(D):
    rng = np.random.default_rng(120 + D)
    for _ in range(30):
        shape, kwargs, (k, s, p) = avg_config(rng, D)
        x = rng.standard_normal(shape)
        x = x if len(shape) == D + 2 else x[None]
        y = getattr(P, f"avg_pool{D}d")(cnnlab.Tensor(x), **kwargs)
        ref = naive_avg_pool(x, k, s, p, kwargs["ceil_mode"], kwargs["count_include_pad"],
                             kwargs.get("divisor_override"))
        np.testing.assert_allclose(y.data, ref, rtol=1e-12, atol=1e-14, err_msg=str(kwargs))


def test_avg_pool_pinned_values_and_divisors():
    x = cnnlab.tensor([[[1.0, 2, 3, 4, 5]]])
    np.testing.assert_array_equal(P.avg_pool1d(x, 2, 2, ceil_mode=True).data, [[[1.5, 3.5, 5.0]]])
    ones = cnnlab.ones(1, 1, 6)
    # count_include_pad: the left pad counts, the overhang past the right pad does not: [2/3, 1, 1, 1/2]
    np.testing.assert_allclose(P.avg_pool1d(ones, 3, 2, padding=1, ceil_mode=True).data, [[[2 / 3, 1, 1, 0.5]]])
    np.testing.assert_allclose(P.avg_pool1d(ones, 3, 2, padding=1, ceil_mode=True, count_include_pad=False).data,
                               [[[1, 1, 1, 1]]])
    np.testing.assert_allclose(P.avg_pool2d(cnnlab.ones(1, 1, 4, 4), 3, 2, padding=1, divisor_override=2).data,
                               [[[[2.0, 3.0], [3.0, 4.5]]]])


def test_avg_pool_float32_has_no_float64_temporaries():
    y = P.avg_pool2d(cnnlab.Tensor(np.ones((1, 2, 5, 5), np.float32), requires_grad=True), 3, 2, 1, True, False)
    assert y.dtype == np.float32
    y.sum().backward()


@pytest.mark.parametrize("D", [1, 2, 3])
def test_avg_pool_gradcheck(D):
    rng = np.random.default_rng(130 + D)
    shape = {1: (2, 2, 7), 2: (1, 2, 5, 4), 3: (1, 1, 4, 3, 4)}[D]
    x = rng.standard_normal(shape)
    fn = getattr(P, f"avg_pool{D}d")
    gradcheck(lambda t: fn(t, 3, 2, padding=1, ceil_mode=True), x)
    gradcheck(lambda t: fn(t, 2, 1, count_include_pad=False, padding=1), x)
    if D > 1:
        gradcheck(lambda t: fn(t, 2, divisor_override=3), x)


# ---------------------------------------------------------------- lp_pool
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D", [1, 2, 3])
def test_lp_pool_matches_torch_over_random_configs(torch, D, dtype):
    rng = np.random.default_rng(140 + D)
    ours, theirs = getattr(P, f"lp_pool{D}d"), getattr(torch.nn.functional, f"lp_pool{D}d")
    for i in range(30):
        shape, kwargs, _ = avg_config(rng, D, lp=True)
        norm_type = [1, 2, 3, 2.0, 1.5, math.inf][i % 6]
        if isinstance(norm_type, int):   # integer powers: negative inputs too (odd p gives NaN in both)
            x = rng.standard_normal(shape)
        else:
            x = rng.uniform(0.2, 2.0, size=shape)
        if norm_type == 3:               # keep the window sums of x³ positive, so that the result is real
            x = np.abs(x) + 0.1
        run_pair(torch, ours, theirs, x, dtype, (norm_type,), kwargs, i)


def test_lp_pool_negative_inputs_and_zero_windows_match_torch(torch):
    x = np.array([[[-1.0, 2.0, 0.0, 0.0, -3.0, 0.5, 4.0]]])
    for norm_type in (1, 2, 4):
        run_pair(torch, P.lp_pool1d, torch.nn.functional.lp_pool1d, x, np.float64, (norm_type, 2), {}, 0)
        run_pair(torch, P.lp_pool1d, torch.nn.functional.lp_pool1d, x, np.float64, (norm_type, 3, 2),
                 dict(ceil_mode=True), 1)
    # p = 1 with negative sums: sign·relu(|·|) keeps the sign, as PyTorch
    run_pair(torch, P.lp_pool1d, torch.nn.functional.lp_pool1d, -np.abs(x), np.float64, (1, 2), {}, 2)
    # a window of zeros gets a zero gradient (PyTorch documents it), not NaN
    z = cnnlab.Tensor(np.zeros((1, 1, 4)), requires_grad=True)
    P.lp_pool1d(z, 2, 2).sum().backward()
    np.testing.assert_array_equal(z.grad.data, np.zeros((1, 1, 4)))


def test_lp_pool_definition_on_positive_inputs():
    rng = np.random.default_rng(150)
    x = rng.uniform(0.1, 2.0, size=(2, 3, 6, 5))
    y = P.lp_pool2d(cnnlab.Tensor(x), 3, (2, 3), (2, 1)).data
    ref = np.empty((2, 3, 3, 3))
    for i in range(3):
        for j in range(3):
            ref[:, :, i, j] = (x[:, :, 2 * i:2 * i + 2, j:j + 3] ** 3).sum(axis=(2, 3)) ** (1 / 3)
    np.testing.assert_allclose(y, ref, rtol=1e-12)


@pytest.mark.parametrize("D", [1, 2, 3])
def test_lp_pool_gradcheck(D):
    rng = np.random.default_rng(160 + D)
    shape = {1: (2, 2, 7), 2: (1, 2, 5, 4), 3: (1, 1, 4, 3, 4)}[D]
    x = rng.uniform(0.3, 2.0, size=shape)
    fn = getattr(P, f"lp_pool{D}d")
    gradcheck(lambda t: fn(t, 2, 2, 1, ceil_mode=True), x)
    gradcheck(lambda t: fn(t, 1.5, 3, 2), x)


# ---------------------------------------------------------------- errors
def test_avg_and_lp_pool_errors():
    x = cnnlab.zeros(1, 1, 5, 5)
    with pytest.raises(ValueError, match=r"avg_pool2d: padding should be at most half of kernel size, but got "
                                         r"padding=2 and kernel_size=2 \[along spatial dim 0 of \(5, 5\)\]"):
        P.avg_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool1d: stride must be positive, got stride=0"):
        P.avg_pool1d(cnnlab.zeros(1, 1, 5), 2, stride=0)
    with pytest.raises(ValueError, match=r"avg_pool1d: given input size 5, calculated output size 0"):
        P.avg_pool1d(cnnlab.zeros(1, 1, 5), 6)
    with pytest.raises(ValueError, match=r"avg_pool2d: divisor_override must not be zero"):
        P.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(TypeError, match=r"avg_pool2d: divisor_override must be an int or None, got divisor_override=1.5 \(float\)"):
        P.avg_pool2d(x, 2, divisor_override=1.5)
    with pytest.raises(ValueError, match=r"avg_pool3d: expected a 4-d \(unbatched\) or 5-d \(batched\) input, "
                                         r"got a 3-d input of shape \(1, 5, 5\)"):
        P.avg_pool3d(x[0], 2)
    with pytest.raises(TypeError, match=r"avg_pool2d: count_include_pad must be True or False, got count_include_pad='yes' \(str\)"):
        P.avg_pool2d(x, 2, count_include_pad="yes")
    with pytest.raises(TypeError, match=r"avg_pool1d\(\) got an unexpected keyword argument 'divisor_override'"):
        P.avg_pool1d(cnnlab.zeros(1, 1, 5), 2, divisor_override=2)
    with pytest.raises(TypeError, match=r"lp_pool2d: norm_type must be a number, got norm_type='l2' \(str\)"):
        P.lp_pool2d(x, "l2", 2)
    with pytest.raises(ValueError, match=r"lp_pool2d: stride must be positive, got stride=\(0, 1\)"):
        P.lp_pool2d(x, 2, 2, (0, 1))
    with pytest.raises(ValueError, match=r"lp_pool2d: given input size 5, calculated output size 0"):
        P.lp_pool2d(x, 2, (6, 1))
    with pytest.raises(TypeError, match=r"lp_pool2d: expected a floating point tensor, got dtype int64"):
        P.lp_pool2d(cnnlab.Tensor(np.zeros((1, 4, 4), np.int64)), 2, 2)


def test_avg_pool_args_pool_geometry_and_the_divisor():
    x = cnnlab.randn(1, 2, 5, 7)
    assert P.avg_pool_args("avg_pool2d", 2, x, 2, None, (1, 0), True, False, None) == \
        ((2, 2), (2, 2), (1, 0), (3, 4), ((1, 1), (0, 1)), False, None)
    assert P.pool_geometry("max_pool1d", (5,), (2,), (2,), (1,), (1,), True) == ((3,), ((1, 1),))
    assert P.pool_geometry("max_pool1d", (6,), (3,), (2,), (0,), (1,), True) == ((3,), ((0, 1),))   # overhang 1
    np.testing.assert_array_equal(P.avg_divisor(5, 2, 2, 1, 3, True), [2, 2, 2])
    np.testing.assert_array_equal(P.avg_divisor(5, 2, 2, 1, 3, False), [1, 2, 2])
    np.testing.assert_array_equal(P.avg_divisor(6, 3, 2, 0, 3, True), [3, 3, 2])      # the overhang never counts
    with pytest.raises(ValueError, match=r"mine: divisor_override must not be zero"):
        P.avg_pool_args("mine", 2, x, 2, None, 0, False, True, 0)
