"""max_pool1d/2d/3d and max_unpool1d/2d/3d against PyTorch over seeded random sweeps (values,
indices and gradients), a naive loop implementation of PyTorch's CPU kernel, float64 finite
differences, PyTorch's tie/NaN/−inf rules, and the error messages."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional.pooling as P
import cnnlab.nn.functional.unpooling as U
from cnnlab import shapes
from helpers import gradcheck, maybe_int
from oracle import against_torch

DTYPES = [np.float64, np.float32]
N_CONFIGS = 50  # per dimension count and dtype


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def search(request, monkeypatch):
    """Every test here runs on both searches: the compiled loops for every row length (where numba is
    installed; else the NumPy search again) and the NumPy reference (`kernels.use("reference")`)."""
    if request.param == "compiled":
        monkeypatch.setattr(P, "COMPILED_MAX_ROW", 1)
        yield request.param
    else:
        with cnnlab.kernels.use("reference"):
            yield request.param


def has_empty_window(n, k, s, p, d, ceil_mode):
    """True if some window holds no input element (possible with dilation; PyTorch's index is garbage there)."""
    for nn, kk, ss, pp, dd in zip(n, k, s, p, d):
        o = shapes.pool_output_size(nn, kk, ss, pp, dd, ceil_mode)
        if any(not any(0 <= i * ss - pp + t * dd < nn for t in range(kk)) for i in range(o)):
            return True
    return False


def max_config(rng, D):
    """(input shape, kwargs, per-axis (k, s, p, d)) with per-axis different settings, ceil mode on/off."""
    while True:
        k = rng.integers(1, 5 if D < 3 else 4, size=D)
        s = rng.integers(1, 4, size=D)
        p = np.array([rng.integers(0, kk // 2 + 1) for kk in k])
        d = rng.integers(1, 4, size=D) if rng.random() < 0.6 else np.ones(D, int)
        n = np.maximum(d * (k - 1) + 1 - 2 * p, 1) + rng.integers(0, 5 if D < 3 else 3, size=D)
        ceil_mode = bool(rng.random() < 0.5)
        if not has_empty_window(n, k, s, p, d, ceil_mode):
            break
    batch = None if rng.random() < 0.2 else int(rng.integers(1, 3))
    C = int(rng.integers(1, 4))
    shape = ((C,) if batch is None else (batch, C)) + tuple(int(v) for v in n)
    kwargs = dict(kernel_size=maybe_int(rng, k), padding=maybe_int(rng, p), dilation=maybe_int(rng, d),
                  ceil_mode=ceil_mode)
    if rng.random() < 0.8:
        kwargs["stride"] = maybe_int(rng, s)
    else:
        s = k
    return shape, kwargs, (k, s, p, d)


def run_pair(torch, ours, theirs, x, dtype, kwargs, seed, indices=True):
    """Same input in both frameworks: compare values, indices (if asked) and the input gradient."""
    return against_torch(torch, lambda t: ours(t, **kwargs, return_indices=indices),
                         lambda t: theirs(t, **kwargs, return_indices=indices), [x], dtype, seed=seed, label=str(kwargs))


# ---------------------------------------------------------------- naive reference (PyTorch's CPU loop)
def naive_max_pool(x, k, s, p, d, ceil_mode):
    """Loop over positions and taps exactly as PyTorch's kernel: `val > max or isnan(val)` wins,
    the index starts at the first real element of the window."""
    N, C, *n = x.shape
    out = [shapes.pool_output_size(*a, ceil_mode) for a in zip(n, k, s, p, d)]
    y = np.empty((N, C, *out))
    idx = np.empty((N, C, *out), dtype=np.int64)
    strides = [int(np.prod(n[a + 1:])) for a in range(len(n))]
    for pos in np.ndindex(*out):
        first = [i * ss - pp for i, ss, pp in zip(pos, s, p)]
        first = [f + -(-max(-f, 0) // dd) * dd for f, dd in zip(first, d)]
        best = np.full((N, C), -np.inf)
        arg = np.full((N, C), sum(f * st for f, st in zip(first, strides)))
        for tap in np.ndindex(*k):
            coord = [i * ss - pp + t * dd for i, ss, pp, t, dd in zip(pos, s, p, tap, d)]
            if not all(0 <= c < m for c, m in zip(coord, n)):
                continue
            v = x[(slice(None), slice(None)) + tuple(coord)]
            win = (v > best) | np.isnan(v)
            best = np.where(win, v, best)
            arg = np.where(win, sum(c * st for c, st in zip(coord, strides)), arg)
        y[(slice(None), slice(None)) + pos] = best
        idx[(slice(None), slice(None)) + pos] = arg
    return y, idx


# ---------------------------------------------------------------- the sweeps
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D", [1, 2, 3])
def test_max_pool_matches_torch_over_random_configs(torch, D, dtype):
    rng = np.random.default_rng(10 + D)
    ours, theirs = getattr(P, f"max_pool{D}d"), getattr(torch.nn.functional, f"max_pool{D}d")
    for i in range(N_CONFIGS):
        shape, kwargs, _ = max_config(rng, D)
        run_pair(torch, ours, theirs, rng.standard_normal(shape), dtype, kwargs, i)


@pytest.mark.parametrize("D", [1, 2, 3])
def test_max_pool_matches_naive_loops(D):
    rng = np.random.default_rng(20 + D)
    for _ in range(25):
        shape, kwargs, (k, s, p, d) = max_config(rng, D)
        x = rng.standard_normal(shape)
        x[rng.random(shape) < 0.05] = np.nan
        x[rng.random(shape) < 0.05] = -np.inf
        x = x if len(shape) == D + 2 else x[None]
        y, idx = getattr(P, f"max_pool{D}d")(cnnlab.Tensor(x), **kwargs, return_indices=True)
        y_ref, idx_ref = naive_max_pool(x, k, s, p, d, kwargs["ceil_mode"])
        np.testing.assert_array_equal(y.data, y_ref, err_msg=str(kwargs))
        np.testing.assert_array_equal(idx.data, idx_ref, err_msg=str(kwargs))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D", [1, 2, 3])
def test_ties_give_the_first_maximum_its_index_and_gradient(torch, D, dtype):
    rng = np.random.default_rng(30 + D)
    ours, theirs = getattr(P, f"max_pool{D}d"), getattr(torch.nn.functional, f"max_pool{D}d")
    for i in range(15):
        shape, kwargs, _ = max_config(rng, D)
        run_pair(torch, ours, theirs, rng.integers(0, 3, size=shape).astype(float), dtype, kwargs, i)


@pytest.mark.parametrize("D", [1, 2])
def test_nan_and_neg_inf_follow_torch(torch, D):
    """A NaN is the window's maximum (the last NaN its index); all −∞ points at the first real element."""
    rng = np.random.default_rng(40 + D)
    ours, theirs = getattr(P, f"max_pool{D}d"), getattr(torch.nn.functional, f"max_pool{D}d")
    for i in range(20):
        shape, kwargs, _ = max_config(rng, D)
        x = rng.standard_normal(shape)
        x[rng.random(shape) < 0.15] = np.nan
        x[rng.random(shape) < 0.3] = -np.inf
        run_pair(torch, ours, theirs, x, np.float64, kwargs, i)


def test_pinned_values():
    x = cnnlab.tensor([[[1.0, 2, 3, 4, 5]]])
    np.testing.assert_array_equal(P.max_pool1d(x, 2, 2, padding=1, ceil_mode=True).data, [[[1, 3, 5]]])
    y, idx = P.max_pool1d(cnnlab.tensor([[[3.0, 3, 1, 1]]]), 2, return_indices=True)
    np.testing.assert_array_equal(idx.data, [[[0, 2]]])  # ties: the first
    y, idx = P.max_pool1d(cnnlab.tensor([[[np.nan, 2, np.nan, 1]]]), 4, return_indices=True)
    assert np.isnan(y.item()) and idx.item() == 2        # the last NaN, as PyTorch's kernel
    y, idx = P.max_pool1d(cnnlab.tensor([[[-np.inf, -np.inf]]]), 2, 1, padding=1, return_indices=True)
    np.testing.assert_array_equal(idx.data, [[[0, 0, 1]]])


def test_window_without_input_elements_is_neg_inf_and_gets_no_gradient():
    # k=2, d=3, p=1 on n=2: the only window reads positions -1 and 2, both padding
    x = cnnlab.Tensor(np.array([[[1.0, 2.0]]]), requires_grad=True)
    y = P.max_pool1d(x, 2, 1, padding=1, dilation=3)
    assert y.shape == (1, 1, 1) and y.item() == -np.inf
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[0.0, 0.0]]])


def test_float32_stays_float32_and_no_grad_path():
    x = cnnlab.randn(2, 3, 8, 8)
    assert P.max_pool2d(x, 3, 2, 1).dtype == np.float32
    with cnnlab.no_grad():
        y = P.max_pool2d(cnnlab.Tensor(x.data, requires_grad=True), 3, 2, 1)
    assert not y.requires_grad
    np.testing.assert_array_equal(y.data, P.max_pool2d(x, 3, 2, 1).data)


@pytest.mark.parametrize("D", [1, 2, 3])
def test_max_pool_gradcheck(D):
    rng = np.random.default_rng(50 + D)
    fn = getattr(P, f"max_pool{D}d")
    shape = {1: (2, 2, 7), 2: (1, 2, 5, 4), 3: (1, 1, 4, 3, 4)}[D]
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + rng.uniform(-0.01, 0.01, shape)  # no ties
    gradcheck(lambda t: fn(t, 2, 1, padding=1, ceil_mode=True), x)
    gradcheck(lambda t: fn(t, 3, 2, dilation=1 if D == 3 else 2, padding=1), x)


# ---------------------------------------------------------------- max_unpool
def unpool_case(rng, torch, D):
    """A pooled tensor with PyTorch's indices, and the unpool arguments (floor mode, no dilation);
    output_size is the pooled input's size (always inside PyTorch's range) when the default differs,
    and half the time otherwise."""
    while True:
        k = rng.integers(1, 4, size=D)
        s = rng.integers(1, 4, size=D)
        p = np.array([rng.integers(0, kk // 2 + 1) for kk in k])
        n = np.maximum(k - 2 * p, 1) + rng.integers(0, 4, size=D)
        pooled = (n + 2 * p - k) // s + 1
        if np.all((pooled - 1) * s + k - 2 * p >= 1):  # the default unpool size
            break
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) + tuple(int(v) for v in n)
    kw = dict(kernel_size=tuple(int(v) for v in k), stride=tuple(int(v) for v in s), padding=tuple(int(v) for v in p))
    x = torch.tensor(rng.standard_normal(shape))
    y, idx = getattr(torch.nn.functional, f"max_pool{D}d")(x, **kw, return_indices=True)
    if rng.random() < 0.5 or np.any((pooled - 1) * s + k - 2 * p != n):  # else the indices may not fit
        kw["output_size"] = shape[2:] if rng.random() < 0.5 else shape
    return y.numpy(), idx.numpy(), kw


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D", [1, 2, 3])
def test_max_unpool_matches_torch(torch, D, dtype):
    rng = np.random.default_rng(60 + D)
    ours, theirs = getattr(U, f"max_unpool{D}d"), getattr(torch.nn.functional, f"max_unpool{D}d")
    for i in range(25):
        y, idx, kw = unpool_case(rng, torch, D)
        if rng.random() < 0.2:  # unbatched
            y, idx = y[0], idx[0]
            if "output_size" in kw:
                kw["output_size"] = kw["output_size"][-D:]
        y = y.astype(dtype)
        a, b = cnnlab.Tensor(y.copy(), requires_grad=True), torch.tensor(y.copy(), requires_grad=True)
        out = ours(a, cnnlab.Tensor(idx), **kw)
        ref = theirs(b, torch.tensor(idx), **kw)
        assert out.shape == tuple(ref.shape) and out.dtype == dtype
        np.testing.assert_array_equal(out.data, ref.detach().numpy())
        g = rng.standard_normal(out.shape).astype(dtype)
        out.backward(cnnlab.Tensor(g))
        ref.backward(torch.tensor(g))
        np.testing.assert_array_equal(a.grad.data, b.grad.numpy())


def test_max_unpool_naive_and_repeats():
    # repeated indices: the last write wins (PyTorch's CPU kernel); the gradient gathers at each index
    x = cnnlab.Tensor(np.array([[[1.0, 2.0, 3.0]]]), requires_grad=True)
    y = U.max_unpool1d(x, cnnlab.tensor([[[0, 0, 3]]]), 2, output_size=(6,))
    np.testing.assert_array_equal(y.data, [[[2, 0, 0, 3, 0, 0]]])
    y.backward(cnnlab.Tensor(np.arange(6.0).reshape(1, 1, 6)))
    np.testing.assert_array_equal(x.grad.data, [[[0, 0, 3]]])
    # naive: every value lands at its index of a zero plane
    rng = np.random.default_rng(70)
    v = rng.standard_normal((2, 3, 2, 2))
    idx = np.stack([rng.choice(20, size=4, replace=False).reshape(2, 2) for _ in range(6)]).reshape(2, 3, 2, 2)
    out = U.max_unpool2d(cnnlab.Tensor(v), cnnlab.Tensor(idx), 3, 2, output_size=(4, 5)).data
    ref = np.zeros((2, 3, 20))
    for n in range(2):
        for c in range(3):
            ref[n, c, idx[n, c].ravel()] = v[n, c].ravel()
    np.testing.assert_array_equal(out, ref.reshape(2, 3, 4, 5))


def test_max_unpool_gradcheck():
    rng = np.random.default_rng(71)
    x = rng.standard_normal((1, 2, 3, 3))
    _, idx = P.max_pool2d(cnnlab.Tensor(rng.standard_normal((1, 2, 6, 7))), 2, return_indices=True)
    gradcheck(lambda t: U.max_unpool2d(t, idx, 2, output_size=(6, 7)), x)


def test_pool_unpool_round_trip_keeps_the_maxima():
    x = cnnlab.rand(2, 3, 6, 6) + 0.1  # positive, so that the zeros of the unpooled plane never win
    y, idx = P.max_pool2d(x, 2, return_indices=True)
    u = U.max_unpool2d(y, idx, 2)
    np.testing.assert_array_equal(P.max_pool2d(u, 2).data, y.data)


# ---------------------------------------------------------------- errors
def test_max_pool_errors():
    x = cnnlab.zeros(1, 1, 5, 5)
    with pytest.raises(ValueError, match=r"max_pool1d: padding should be at most half of kernel size, but got "
                                         r"padding=2 and kernel_size=3"):
        P.max_pool1d(cnnlab.zeros(1, 1, 5), 3, padding=2)
    with pytest.raises(ValueError, match=r"max_pool2d: padding should be at most half of kernel size, but got "
                                         r"padding=2 and kernel_size=2 \[along spatial dim 1 of \(5, 5\)\]"):
        P.max_pool2d(x, (3, 2), padding=(1, 2))
    with pytest.raises(ValueError, match=r"max_pool2d: stride must be positive, got stride=\(1, 0\)"):
        P.max_pool2d(x, 2, stride=(1, 0))
    with pytest.raises(ValueError, match=r"max_pool1d: stride must be positive, got stride=0"):
        P.max_pool1d(cnnlab.zeros(1, 1, 5), 2, stride=0)
    with pytest.raises(ValueError, match=r"max_pool2d: kernel_size must be positive, got kernel_size=0"):
        P.max_pool2d(x, 0)
    with pytest.raises(ValueError, match=r"max_pool2d: dilation must be positive, got dilation=\(0, 1\)"):
        P.max_pool2d(x, 2, dilation=(0, 1))
    with pytest.raises(ValueError, match=r"max_pool2d: padding must be non-negative, got padding=-1"):
        P.max_pool2d(x, 2, padding=-1)
    with pytest.raises(ValueError, match=r"max_pool1d: given input size 5, calculated output size 0; output size "
                                         r"is too small \(kernel_size=6"):
        P.max_pool1d(cnnlab.zeros(1, 1, 5), 6)
    with pytest.raises(ValueError, match=r"max_pool2d: kernel_size must be an int or a tuple of 2 ints, got \(2,\)"):
        P.max_pool2d(x, (2,))
    with pytest.raises(ValueError, match=r"max_pool2d: expected a 3-d \(unbatched\) or 4-d \(batched\) input, "
                                         r"got a 2-d input of shape \(5, 5\)"):
        P.max_pool2d(cnnlab.zeros(5, 5), 2)
    with pytest.raises(ValueError, match=r"max_pool1d: expected a 2-d \(unbatched\) or 3-d \(batched\) input, "
                                         r"got a 4-d input"):
        P.max_pool1d(x, 2)
    with pytest.raises(TypeError, match=r"max_pool2d: expected a floating point tensor, got dtype int64"):
        P.max_pool2d(cnnlab.Tensor(np.zeros((1, 1, 4, 4), dtype=np.int64)), 2)
    with pytest.raises(TypeError, match=r"max_pool2d: input must be a Tensor, got ndarray"):
        P.max_pool2d(np.zeros((1, 1, 4, 4)), 2)
    with pytest.raises(TypeError, match=r"max_pool2d: ceil_mode must be True or False, got ceil_mode=1 \(int\)"):
        P.max_pool2d(x, 2, ceil_mode=1)


def test_max_unpool_errors():
    y, idx = P.max_pool2d(cnnlab.randn(1, 1, 4, 4), 2, return_indices=True)
    with pytest.raises(ValueError, match=r'max_unpool2d: invalid output_size \(6, 5\) \(dim 0 must be between 2 '
                                         r'and 6, exclusive; the default is 4\)'):
        U.max_unpool2d(y, idx, 2, output_size=(6, 5))
    with pytest.raises(ValueError, match=r"max_unpool2d: invalid output_size \(2, 4\) \(dim 0 must be between 2"):
        U.max_unpool2d(y, idx, 2, output_size=(2, 4))
    with pytest.raises(ValueError, match=r"max_unpool2d: output_size should be a sequence containing 2 or 4 "
                                         r"elements"):
        U.max_unpool2d(y, idx, 2, output_size=(5,))
    with pytest.raises(ValueError, match=r"max_unpool2d: indices must have the shape of the input \(1, 1, 2, 2\), "
                                         r"got indices of shape \(1, 1, 2, 1\)"):
        U.max_unpool2d(y, cnnlab.Tensor(idx.data[..., :1]), 2)
    with pytest.raises(TypeError, match=r"max_unpool2d: indices must be an integer tensor"):
        U.max_unpool2d(y, cnnlab.Tensor(idx.data.astype(np.float32)), 2)
    with pytest.raises(ValueError, match=r"max_unpool2d: found an invalid max index 106 \(output planes have "
                                         r"size 4x4 = 16 elements\)"):
        U.max_unpool2d(y, cnnlab.tensor([[[[0, 1], [106, 3]]]]), 2)
    with pytest.raises(ValueError, match=r"max_unpool2d: found an invalid max index -1"):
        U.max_unpool2d(y, cnnlab.tensor([[[[0, 1], [-1, 3]]]]), 2)
    with pytest.raises(ValueError, match=r"max_unpool2d: found an invalid max index 15 \(output planes have "
                                         r"size 3x5 = 15 elements\)"):
        U.max_unpool2d(y, cnnlab.Tensor(np.full_like(idx.data, 15)), 2, output_size=(3, 5))
    with pytest.raises(ValueError, match=r"max_unpool2d: expected a 3-d \(unbatched\) or 4-d \(batched\) input"):
        U.max_unpool2d(y[0, 0], idx[0, 0], 2)
    with pytest.raises(ValueError, match=r"max_unpool2d: given input size 2, calculated output size -1"):
        U.max_unpool2d(y, idx, 2, stride=1, padding=2)


def test_max_pool_args_are_the_checks_the_op_runs():
    x = cnnlab.randn(2, 3, 6, 5)
    assert P.max_pool_args("max_pool2d", 2, x, (3, 2), (2, 1), (1, 0), (1, 2), True) == \
        ((3, 2), (2, 1), (1, 0), (1, 2), (4, 3), ((1, 2), (0, 0)))     # 1 of ceil-mode overhang after H
    with pytest.raises(ValueError, match=r"mine: padding should be at most half of kernel size"):
        P.max_pool_args("mine", 2, x, 2, None, 2, 1, False)
    with pytest.raises(TypeError, match=r"mine: ceil_mode must be True or False, got ceil_mode=1 \(int\)"):
        P.max_pool_args("mine", 2, x, 2, None, 0, 1, 1)
