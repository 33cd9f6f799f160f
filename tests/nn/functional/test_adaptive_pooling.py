"""adaptive_avg_pool1d/2d/3d, adaptive_max_pool1d/2d/3d and global pooling against PyTorch over
seeded random sweeps (values, indices, gradients), naive loops over the bins, float64 finite
differences, PyTorch's tie/NaN/inf rules, and the error messages."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional.adaptive_pooling as A
from cnnlab import shapes
from helpers import gradcheck
from oracle import against_torch

DTYPES = [np.float64, np.float32]


def adaptive_config(rng, D):
    """Input shape and output_size: sizes that divide and that do not, o > n, None entries, unbatched."""
    n = tuple(int(v) for v in rng.integers(1, 9 if D < 3 else 6, size=D))
    o = [int(v) for v in rng.integers(1, 9 if D < 3 else 6, size=D)]
    if rng.random() < 0.3:  # a divisor of n: the reshape path
        o = [int(rng.choice([d for d in range(1, m + 1) if m % d == 0])) for m in n]
    if D > 1 and rng.random() < 0.3:
        o[int(rng.integers(0, D))] = None
    output_size = o[0] if len(set(o)) == 1 and o[0] is not None and rng.random() < 0.5 else tuple(o)
    batch = None if rng.random() < 0.2 else int(rng.integers(1, 3))
    C = int(rng.integers(1, 4))
    return ((C,) if batch is None else (batch, C)) + n, output_size


def run_pair(torch, ours, theirs, x, dtype, args, seed):
    against_torch(torch, lambda t: ours(t, *args), lambda t: theirs(t, *args), [x], dtype, seed=seed,
                  label=f"{x.shape} {args}")


def naive_adaptive(x, size, reduce):
    """Loop over the output cells: reduce the box of per-axis bins [⌊i·n/o⌋, ⌈(i+1)·n/o⌉)."""
    N, C, *n = x.shape
    bins = [shapes.adaptive_bins(m, o) for m, o in zip(n, size)]
    y = np.empty((N, C, *size))
    for pos in np.ndindex(*size):
        box = x[(slice(None), slice(None)) + tuple(slice(*b[i]) for b, i in zip(bins, pos))]
        y[(slice(None), slice(None)) + pos] = reduce(box.reshape(N, C, -1), axis=-1)
    return y


# ---------------------------------------------------------------- sweeps
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D", [1, 2, 3])
def test_adaptive_avg_pool_matches_torch(torch, D, dtype):
    rng = np.random.default_rng(210 + D)
    ours, theirs = getattr(A, f"adaptive_avg_pool{D}d"), getattr(torch.nn.functional, f"adaptive_avg_pool{D}d")
    for i in range(40):
        shape, output_size = adaptive_config(rng, D)
        run_pair(torch, ours, theirs, rng.standard_normal(shape), dtype, (output_size,), i)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D", [1, 2, 3])
def test_adaptive_max_pool_matches_torch(torch, D, dtype):
    rng = np.random.default_rng(220 + D)
    ours, theirs = getattr(A, f"adaptive_max_pool{D}d"), getattr(torch.nn.functional, f"adaptive_max_pool{D}d")
    for i in range(40):
        shape, output_size = adaptive_config(rng, D)
        x = rng.standard_normal(shape) if i % 3 else rng.integers(0, 3, size=shape).astype(float)  # ties too
        run_pair(torch, ours, theirs, x, dtype, (output_size, True), i)


@pytest.mark.parametrize("D", [1, 2])
def test_adaptive_nan_and_inf_follow_torch(torch, D):
    """max: a NaN wins (the last NaN is the index), all −∞ points at the bin's first element;
    avg: an inf stays in its own bins (no inf·0 = NaN leaking into the others)."""
    rng = np.random.default_rng(230 + D)
    for i in range(15):
        shape, output_size = adaptive_config(rng, D)
        x = rng.standard_normal(shape)
        x[rng.random(shape) < 0.1] = np.nan
        x[rng.random(shape) < 0.3] = -np.inf
        run_pair(torch, getattr(A, f"adaptive_max_pool{D}d"), getattr(torch.nn.functional, f"adaptive_max_pool{D}d"),
                 x, np.float64, (output_size, True), i)
        y = rng.standard_normal(shape)
        y[rng.random(shape) < 0.1] = np.inf
        ours = getattr(A, f"adaptive_avg_pool{D}d")(cnnlab.Tensor(y), output_size).data
        ref = getattr(torch.nn.functional, f"adaptive_avg_pool{D}d")(torch.tensor(y), output_size).numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-12)


@pytest.mark.parametrize("D", [1, 2, 3])
def test_adaptive_pools_match_naive_loops(D):
    rng = np.random.default_rng(240 + D)
    for _ in range(20):
        shape, output_size = adaptive_config(rng, D)
        x = rng.standard_normal(shape)
        x = x if len(shape) == D + 2 else x[None]
        size = output_size if isinstance(output_size, tuple) else (output_size,) * D
        size = tuple(m if o is None else o for m, o in zip(x.shape[2:], size))
        np.testing.assert_allclose(getattr(A, f"adaptive_avg_pool{D}d")(cnnlab.Tensor(x), output_size).data,
                                   naive_adaptive(x, size, np.mean), rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(getattr(A, f"adaptive_max_pool{D}d")(cnnlab.Tensor(x), output_size).data,
                                      naive_adaptive(x, size, np.max))


def test_pinned_values():
    x = cnnlab.tensor([[[0.0, 1, 2, 3, 4]]])
    np.testing.assert_allclose(A.adaptive_avg_pool1d(x, 3).data, [[[0.5, 2.0, 3.5]]])
    y, idx = A.adaptive_max_pool1d(x, 3, return_indices=True)
    np.testing.assert_array_equal(y.data, [[[1, 3, 4]]])
    np.testing.assert_array_equal(idx.data, [[[1, 3, 4]]])
    y, idx = A.adaptive_max_pool1d(cnnlab.tensor([[[2.0, 2, 1, 2]]]), 1, return_indices=True)
    assert idx.item() == 0  # ties: the first
    assert A.adaptive_avg_pool2d(cnnlab.zeros(1, 1, 3, 4), (None, 2)).shape == (1, 1, 3, 2)
    assert A.adaptive_avg_pool1d(cnnlab.zeros(3, 5), 7).shape == (3, 7)  # unbatched, o > n


@pytest.mark.parametrize("D", [1, 2, 3])
def test_adaptive_gradcheck(D):
    rng = np.random.default_rng(250 + D)
    shape = {1: (2, 2, 7), 2: (1, 2, 5, 4), 3: (1, 1, 4, 3, 5)}[D]
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + rng.uniform(-0.01, 0.01, shape)  # no ties
    for size in [3, 2, 7]:
        gradcheck(lambda t: getattr(A, f"adaptive_avg_pool{D}d")(t, size), x)
        gradcheck(lambda t: getattr(A, f"adaptive_max_pool{D}d")(t, size), x)


# ---------------------------------------------------------------- global pooling
@pytest.mark.parametrize("D", [1, 2, 3])
def test_global_pooling_is_adaptive_pooling_to_one(torch, D):
    rng = np.random.default_rng(260 + D)
    shape = (2, 3) + tuple(int(v) for v in rng.integers(1, 6, size=D))
    x = rng.integers(0, 4, size=shape).astype(float)  # ties: the gradient goes to the first maximum
    g = rng.standard_normal(shape[:2])
    for ours, theirs in [(A.global_avg_pool, getattr(torch.nn.functional, f"adaptive_avg_pool{D}d")),
                         (A.global_max_pool, getattr(torch.nn.functional, f"adaptive_max_pool{D}d"))]:
        a, b = cnnlab.Tensor(x.copy(), requires_grad=True), torch.tensor(x.copy(), requires_grad=True)
        out, ref = ours(a), theirs(b, 1)
        assert out.shape == shape[:2] and ours(a, keepdim=True).shape == shape[:2] + (1,) * D
        np.testing.assert_allclose(out.data, ref.detach().numpy().reshape(shape[:2]), rtol=1e-12)
        out.backward(cnnlab.Tensor(g))
        ref.backward(torch.tensor(g).reshape(ref.shape))
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-12)


def test_global_pooling_gradcheck():
    x = np.random.default_rng(270).standard_normal((2, 3, 4, 3))
    gradcheck(lambda t: A.global_avg_pool(t, keepdim=True), x)
    gradcheck(A.global_max_pool, x)


# ---------------------------------------------------------------- errors
def test_adaptive_errors():
    x = cnnlab.zeros(1, 1, 5, 5)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: output_size must be positive, got output_size=\(0, 2\)"):
        A.adaptive_avg_pool2d(x, (0, 2))
    with pytest.raises(ValueError, match=r"adaptive_max_pool1d: output_size must be positive, got output_size=-1"):
        A.adaptive_max_pool1d(cnnlab.zeros(1, 1, 5), -1)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: output_size must be an int or a tuple of 2 ints, "
                                         r"got \(2,\)"):
        A.adaptive_avg_pool2d(x, (2,))
    with pytest.raises(TypeError, match=r"adaptive_avg_pool1d: output_size must be an int or a tuple of 1 int, "
                                        r"got \(None,\)"):
        A.adaptive_avg_pool1d(cnnlab.zeros(1, 1, 5), (None,))
    with pytest.raises(TypeError, match=r"adaptive_max_pool2d: output_size must be an int or a tuple of 2 ints "
                                        r"\(or None to keep that input size\), got None"):
        A.adaptive_max_pool2d(x, None)
    with pytest.raises(TypeError, match=r"adaptive_avg_pool2d: output_size must be an int or a tuple of 2 ints, "
                                        r"got \(2, 1.5\)"):
        A.adaptive_avg_pool2d(x, (2, 1.5))
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: expected a 3-d \(unbatched\) or 4-d \(batched\) "
                                         r"input, got a 2-d input of shape \(3, 4\)"):
        A.adaptive_avg_pool2d(cnnlab.zeros(3, 4), 2)
    with pytest.raises(ValueError, match=r"adaptive_max_pool1d: expected a 2-d \(unbatched\) or 3-d \(batched\) "
                                         r"input, got a 1-d input"):
        A.adaptive_max_pool1d(cnnlab.zeros(3), 2)
    with pytest.raises(TypeError, match=r"adaptive_max_pool3d: return_indices must be True or False"):
        A.adaptive_max_pool3d(cnnlab.zeros(1, 2, 2, 2), 1, return_indices=None)
    with pytest.raises(ValueError, match=r"global_avg_pool: expected a batched input \(N, C, \*spatial\) with at "
                                         r"least one spatial dim, got shape \(2, 3\)"):
        A.global_avg_pool(cnnlab.zeros(2, 3))
    with pytest.raises(TypeError, match=r"global_max_pool: expected a floating point tensor, got dtype int64"):
        A.global_max_pool(cnnlab.Tensor(np.zeros((1, 1, 2), np.int64)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D", [1, 2, 3])
def test_global_average_pooling_matches_torch(torch, D, dtype):
    """Output size 1: a mean over the trailing axes, a matrix-vector product with ones where they hold at
    least MEAN_GEMV_MIN values (`reduction._trailing_mean`), NumPy's mean below that or on channels-last
    memory; inf and NaN propagate as in torch."""
    from cnnlab.nn.functional.reduction import MEAN_GEMV_MIN

    rng = np.random.default_rng(230 + D)
    ours, theirs = getattr(A, f"adaptive_avg_pool{D}d"), getattr(torch.nn.functional, f"adaptive_avg_pool{D}d")
    side = {1: (MEAN_GEMV_MIN + 7,), 2: (9, 11), 3: (4, 5, 6)}[D]
    for i, shape in enumerate([(2, 3) + side, (3,) + side, (2, 2) + (3,) * D]):     # unbatched; below the GEMV
        x = rng.standard_normal(shape)
        run_pair(torch, ours, theirs, x, dtype, (1,), i)
    x = rng.standard_normal((2, 4) + side)
    x[0, 1].flat[3], x[1, 2].flat[5], x[1, 3].flat[0] = np.inf, np.nan, -np.inf
    y = ours(cnnlab.tensor(x.astype(dtype)), 1).data
    np.testing.assert_array_equal(np.isnan(y), np.isnan(theirs(torch.tensor(x.astype(dtype)), 1).numpy()))
    assert y[0, 1].item() == np.inf and y[1, 3].item() == -np.inf and np.isnan(y[1, 2].item())
    last = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)        # channels-last memory
    np.testing.assert_allclose(ours(cnnlab.tensor(last), 1).data, ours(cnnlab.tensor(x), 1).data, rtol=1e-12)
