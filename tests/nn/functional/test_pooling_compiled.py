"""The compiled loops of max pooling and ReLU (`kernels.loops.pool`) against the NumPy reference
(`kernels.use("reference")`: the same values, indices and gradients, bit for bit) and PyTorch, on rows
long enough for the default selection, with ties, NaN and −∞, and float64 finite differences. Where
numba is not installed both sides are the reference (the tests still run)."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional as F
import cnnlab.nn.functional.elementwise as E
import cnnlab.nn.functional.pooling as P
from cnnlab.kernels import jit
from cnnlab.kernels.layout import is_channels_last, to_first, to_last
from helpers import gradcheck, seeded
from oracle import against_torch

DTYPES = [np.float64, np.float32]


def pool_config(rng, D):
    """(shape, kwargs) of D-d max pooling whose last output axis is at least COMPILED_MAX_ROW long."""
    k = rng.integers(1, 4, size=D)
    s = rng.integers(1, 4, size=D)
    p = np.array([rng.integers(0, kk // 2 + 1) for kk in k])
    d = rng.integers(1, 3, size=D)
    n = np.maximum(d * (k - 1) + 1, 3) + rng.integers(0, 3, size=D)
    n[-1] = P.COMPILED_MAX_ROW * s[-1] + d[-1] * (k[-1] - 1) + int(rng.integers(0, 4))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + tuple(int(v) for v in n)
    kwargs = dict(kernel_size=tuple(int(v) for v in k), stride=tuple(int(v) for v in s),
                  padding=tuple(int(v) for v in p), dilation=tuple(int(v) for v in d), ceil_mode=bool(rng.random() < 0.5))
    return shape, kwargs


def special_values(rng, shape):
    """Random values with ties (small integers), NaN and −∞ in places."""
    x = rng.integers(0, 4, size=shape).astype(float) if rng.random() < 0.5 else rng.standard_normal(shape)
    x[rng.random(shape) < 0.03] = np.nan
    x[rng.random(shape) < 0.1] = -np.inf
    return x


def run(fn, x, upstream):
    t = cnnlab.Tensor(np.copy(x, order="K"), requires_grad=True)        # (keeps a channels-last layout)
    out = fn(t)
    y = out[0] if isinstance(out, tuple) else out
    y.backward(cnnlab.Tensor(upstream))
    return out, t.grad.data


def channels_last(x):
    """x (N, C, *n) as an NCHW-shaped view of channels-last memory, the layout of the conv kernels' outputs."""
    return to_first(np.ascontiguousarray(to_last(x)))


@pytest.mark.parametrize("layout", ["nchw", "channels-last"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D", [1, 2, 3])
def test_compiled_max_pool_is_the_reference_bit_for_bit(D, dtype, layout):
    """Values, indices and the gradient's scatter, on NCHW or channels-last input (`max_forward_last`,
    also for rows shorter than COMPILED_MAX_ROW), with the reference's numbers bit for bit."""
    rng = seeded("compiled max pool", D, np.dtype(dtype).name, layout)
    for i in range(12):
        shape, kwargs = pool_config(rng, D)
        if layout == "channels-last":
            shape = (shape[0], int(rng.integers(2, 6))) + shape[2:]
            if i % 2:                                   # short rows: the channels-last loops still run
                k, d = kwargs["kernel_size"][-1], kwargs["dilation"][-1]
                shape, kwargs["stride"] = shape[:-1] + (max(shape[-1] // 4, d * (k - 1) + 1),), 1
        x = special_values(rng, shape).astype(dtype)
        if layout == "channels-last":
            x = channels_last(x)
        fn = lambda t: getattr(F, f"max_pool{D}d")(t, **kwargs, return_indices=True)  # noqa: E731
        with cnnlab.no_grad():
            y = fn(cnnlab.Tensor(x))[0]
        upstream = rng.standard_normal(y.shape).astype(dtype)
        (y, idx), gx = run(fn, x, upstream)
        with cnnlab.kernels.use("reference"):
            (y0, idx0), gx0 = run(fn, x, upstream)
        np.testing.assert_array_equal(y.data, y0.data, err_msg=str(kwargs))
        np.testing.assert_array_equal(idx.data, idx0.data, err_msg=str(kwargs))
        assert idx.dtype == np.int64
        np.testing.assert_array_equal(gx, gx0, err_msg=str(kwargs))
        if layout == "channels-last" and jit.enabled():  # the loops kept the layout, for the next conv
            y, _ = fn(cnnlab.Tensor(x, requires_grad=True))
            gx_in_layout = y._ctx.backward(y._ctx, upstream)[0]          # (a leaf's .grad is C-contiguous)
            np.testing.assert_array_equal(gx_in_layout, gx0)
            assert is_channels_last(y.data) and is_channels_last(gx_in_layout)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D", [1, 2, 3])
def test_compiled_max_pool_matches_torch(torch, D, dtype):
    rng = seeded("compiled max pool torch", D, np.dtype(dtype).name)
    ours, theirs = getattr(F, f"max_pool{D}d"), getattr(torch.nn.functional, f"max_pool{D}d")
    for i in range(10):
        shape, kwargs = pool_config(rng, D)
        x = special_values(rng, shape)
        x[np.isnan(x)] = 0.5                        # (NaN's gradient and indices: the reference test above)
        against_torch(torch, lambda t: ours(t, **kwargs, return_indices=True),
                      lambda t: theirs(t, **kwargs, return_indices=True), [x], dtype, seed=i, label=str(kwargs))


def test_compiled_max_pool_nan_follows_torch(torch):
    x = seeded("nan").standard_normal((2, 3, 5, 40))
    x[:, :, :, ::7] = np.nan
    y, idx = F.max_pool2d(cnnlab.Tensor(x), (2, 3), stride=(1, 2), padding=(1, 1), return_indices=True)
    ty, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), (2, 3), stride=(1, 2), padding=(1, 1),
                                              return_indices=True)
    assert np.isnan(y.data).any()
    np.testing.assert_array_equal(y.data, ty.numpy())
    np.testing.assert_array_equal(idx.data, tidx.numpy())


def test_compiled_max_pool_gradcheck():
    rng = seeded("gradcheck")
    x = rng.permutation(2 * 2 * 4 * 37).reshape(2, 2, 4, 37) / 296.0    # distinct values: no ties
    gradcheck(lambda t: F.max_pool2d(t, (2, 3), stride=(2, 1), padding=(1, 1), dilation=(1, 2), ceil_mode=True), x)
    gradcheck(lambda t: F.max_pool1d(t, 3, stride=1, padding=1), x[0])


def test_the_compiled_search_runs_where_numba_does(monkeypatch):
    calls = []
    loops = jit.load("pool")
    if loops is None:
        pytest.skip("numba is not installed: the NumPy search is the only one")
    real = loops.max_forward
    monkeypatch.setattr(loops, "max_forward", lambda *a: calls.append(1) or real(*a))
    x = cnnlab.Tensor(np.arange(2 * 40, dtype=np.float32).reshape(1, 2, 40))
    y, idx = F.max_pool1d(x, 2, return_indices=True)
    assert calls and y.data[0, 1, -1] == 79 and idx.data[0, 1, -1] == 39
    with cnnlab.kernels.use("reference"):
        F.max_pool1d(x, 2, return_indices=True)
    F.max_pool1d(x, 2)                                  # the maxima alone: NumPy's search (faster)
    assert len(calls) == 1


# ---------------------------------------------------------------- ReLU
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_relu_is_the_reference_and_torch(torch, dtype):
    rng = seeded("relu", np.dtype(dtype).name)
    shape = (3, E.RELU_COMPILED_SIZE // 7 + 5, 7)                 # above the size, not a multiple of a chunk
    x = rng.standard_normal(shape)
    x[rng.random(shape) < 0.01] = np.nan
    x[rng.random(shape) < 0.05] = 0.0
    g = rng.standard_normal(shape)
    g[rng.random(shape) < 0.05] = np.inf
    g[rng.random(shape) < 0.05] = np.nan
    x, g = x.astype(dtype), g.astype(dtype)
    y, gx = run(F.relu, x, g)
    with cnnlab.kernels.use("reference"):
        y0, gx0 = run(F.relu, x, g)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.relu(tx)
    ty.backward(torch.tensor(g))
    for got in (y.data, y0.data):
        np.testing.assert_array_equal(got, ty.detach().numpy())
    np.testing.assert_array_equal(gx, gx0)
    real = ~np.isnan(x)         # at a NaN input torch passes g; cnnlab gives 0 there (x > 0 is false)
    np.testing.assert_array_equal(gx[real], tx.grad.numpy()[real])
    assert y.dtype == dtype and gx.dtype == dtype
    assert not gx[~(x > 0)].any()                                 # exact zeros where inactive, also for inf/NaN g


def test_compiled_relu_gradcheck():
    x = seeded("relu gradcheck").standard_normal(E.RELU_COMPILED_SIZE + 3)
    x[np.abs(x) < 1e-3] = 0.5                                     # away from the kink
    gradcheck(F.relu, x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_relu_takes_channels_last_memory_and_any_gradient_order(torch, dtype):
    """A conv kernel's output (an NCHW view of channels-last memory) takes the compiled ReLU too, with an
    upstream gradient in either order; values and gradients as torch's and the reference's, and the output
    keeps the input's memory order."""
    from cnnlab.kernels.layout import is_channels_last, to_first

    rng = np.random.default_rng(21)
    x = to_first(rng.standard_normal((2, 9, 11, 64)).astype(dtype))         # (2, 64, 9, 11), channels-last
    x[0, 3, 2, 5] = 0.0
    for g in (rng.standard_normal(x.shape).astype(dtype), to_first(rng.standard_normal((2, 9, 11, 64)).astype(dtype))):
        ours = cnnlab.Tensor(x, requires_grad=True)
        y = F.relu(ours)
        assert is_channels_last(y.data)                                      # the order kept, either path
        y.backward(cnnlab.Tensor(g))
        theirs = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
        torch.relu(theirs).backward(torch.tensor(np.ascontiguousarray(g)))
        np.testing.assert_array_equal(y.data, torch.relu(theirs).detach().numpy())
        np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())
        with cnnlab.kernels.use("reference"):
            ref = cnnlab.Tensor(x, requires_grad=True)
            F.relu(ref).backward(cnnlab.Tensor(g))
        np.testing.assert_array_equal(ours.grad.data, ref.grad.data)
