"""Softmax, log-softmax and cross-entropy on their compiled loops (`cnnlab.kernels.softmax_rows`, where
numba runs: the softmax dim the last axis) against torch and against the reference path, special values
included; and their float64 gradients against finite differences."""
import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional as F
from helpers import gradcheck
from oracle import against_torch

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
#: Gradients, and the loops against the reference: sums of a thousand float32 terms in another order (a
#: log-softmax value near 0 beside terms near −16 differs by an ulp of 16, 2e-6; so does g − p·Σg).
REF_TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}


def scores(rng, shape, dtype, special):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    if special and x.ndim >= 2 and x.shape[-1] > 2:
        flat = x.reshape(-1, x.shape[-1])
        flat[0, 1] = np.inf
        flat[-1, :] = -np.inf
        flat[-1, 0] = 3.0                      # a row of -inf but one
        if len(flat) > 2:
            flat[1, :] = 1e4                   # exp overflows without the max shift
    return x


def test_the_compiled_loops_apply_along_the_last_axis_only():
    x = np.zeros((3, 4), np.float32)
    expected = cnnlab.kernels.jit.load("softmax")
    assert cnnlab.kernels.softmax_rows.loops_for(x, 1) is expected
    assert cnnlab.kernels.softmax_rows.loops_for(x, 0) is None
    assert cnnlab.kernels.softmax_rows.loops_for(np.zeros((0, 4)), 1) is None
    assert cnnlab.kernels.softmax_rows.loops_for(np.zeros(()), 0) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.filterwarnings("ignore:invalid value encountered")   # the reference, at inf − inf
def test_softmax_matches_torch_and_the_reference(torch, name, dtype):
    rng = np.random.default_rng(3)
    ours, theirs = getattr(F, name), getattr(torch, name)
    for shape in [(5,), (3, 7), (2, 3, 11), (4, 1000), (1, 1)]:
        for dim in {-1, 0, len(shape) - 1}:
            for special in (False, True):
                x = scores(rng, shape, dtype, special)
                if special and name == "log_softmax":
                    x[np.isinf(x)] = 0                 # (torch's log_softmax backward gives nan at -inf)
                label = f"{name} {shape} dim={dim} special={special}"
                y, _ = against_torch(torch, lambda t: ours(t, dim), lambda t: theirs(t, dim), [x], dtype,
                                     tol=TOL, grad_tol=REF_TOL, seed=rng, label=label)
                with cnnlab.kernels.use("reference"):
                    y0 = ours(cnnlab.tensor(x), dim)
                np.testing.assert_allclose(y.data, y0.data, **REF_TOL[dtype], err_msg=label)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_propagates_nan_in_its_row_only(dtype):
    x = np.arange(12, dtype=dtype).reshape(3, 4)
    x[1, 2] = np.nan
    for fn in (F.softmax, F.log_softmax):
        y = fn(cnnlab.tensor(x), 1).data
        assert np.isnan(y[1]).all() and not np.isnan(y[[0, 2]]).any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_on_the_loops_matches_torch_and_the_reference(torch, dtype):
    rng = np.random.default_rng(4)
    for i in range(24):
        N, C = int(rng.integers(1, 9)), int(rng.integers(1, 40))
        x = scores(rng, (N, C), dtype, special=i % 3 == 0)
        x[np.isinf(x)] = 50.0
        target = rng.integers(0, C, N)
        kwargs = dict(reduction=["mean", "sum", "none"][i % 3])
        if i % 4 == 1:
            kwargs["weight"] = rng.random(C).astype(dtype)
        if i % 5 == 2 and N > 1:
            kwargs["ignore_index"] = int(target[0])
        their_kwargs = dict(kwargs)
        if "weight" in kwargs:
            w = kwargs.pop("weight")
            kwargs["weight"], their_kwargs["weight"] = cnnlab.tensor(w), torch.tensor(w)
        label = f"cross_entropy N={N} C={C} {sorted(kwargs)}"
        y, _ = against_torch(torch, lambda t: F.cross_entropy(t, cnnlab.tensor(target), **kwargs),
                             lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(target), **their_kwargs),
                             [x], dtype, tol=TOL, grad_tol=REF_TOL, seed=rng, label=label)
        with cnnlab.kernels.use("reference"):
            y0 = F.cross_entropy(cnnlab.tensor(x), cnnlab.tensor(target), **kwargs)
        np.testing.assert_allclose(y.data, y0.data, **REF_TOL[dtype], err_msg=label)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(5)
    x, target = rng.standard_normal((4, 6)), rng.integers(0, 6, 4)
    gradcheck(lambda t: F.softmax(t, 1), x)
    gradcheck(lambda t: F.log_softmax(t, -1), x)
    gradcheck(lambda t: F.cross_entropy(t, cnnlab.tensor(target), reduction="sum"), x)


def test_the_compiled_float32_exponential_is_within_an_ulp_of_exp():
    loops = cnnlab.kernels.jit.load("softmax")
    if loops is None:
        pytest.skip("compiled loops do not run here (numba, the 'fast' extra)")
    import numba
    exp32 = loops._exp_float32

    @numba.njit
    def exps(x, out):
        for i in range(x.shape[0]):
            out[i] = exp32(x[i])

    x = np.concatenate([np.linspace(-87.3, 0, 1_000_001, dtype=np.float32),
                        -np.logspace(-30, 1.9, 100_001, dtype=np.float32)])
    out = np.empty_like(x)
    exps(x, out)
    exact = np.exp(x.astype(np.float64))
    error = np.abs(out - exact) / np.spacing(exact.astype(np.float32))   # in ulps of the rounded exact value
    assert error.max() <= 1, f"{error.max():.2f} ulp at x = {x[error.argmax()]}"
    special = np.array([0, -0.0, -1e-45, -87.5, -200, -np.inf, np.nan], np.float32)
    out = np.empty_like(special)
    exps(special, out)
    np.testing.assert_array_equal(out, np.array([1, 1, 1, 0, 0, 0, np.nan], np.float32))
