"""dropout, dropout1d/2d/3d, alpha_dropout and their layers: mask statistics, exact scaling (the same
values as PyTorch), channel-wise masks, PyTorch's rank rules and warnings, seeded reproducibility,
eval identity, gradients (the same rule as PyTorch's), error messages."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import gradcheck

import cnnlab
import cnnlab.nn.functional as D
from cnnlab.nn.modules.dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d

DTYPES = [np.float64, np.float32]
FUNCTIONS = {"dropout": D.dropout, "dropout1d": D.dropout1d, "dropout2d": D.dropout2d, "dropout3d": D.dropout3d}
SHAPES = {"dropout": (4, 3, 5), "dropout1d": (4, 3, 5), "dropout2d": (4, 3, 5, 2), "dropout3d": (2, 3, 2, 3, 2)}


def _positive(shape, dtype, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape).astype(dtype)


def _scale(p, dtype):
    return np.dtype(dtype).type(1) / np.dtype(dtype).type(1 - p)


# ---------------------------------------------------------------- values
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_rate_and_exact_scaling_match_torch(torch, p, dtype):
    cnnlab.manual_seed(0)
    torch.manual_seed(0)
    x = _positive((200, 250), dtype)
    out = D.dropout(cnnlab.Tensor(x), p).data
    ref = torch.nn.functional.dropout(torch.tensor(x), p).numpy()
    assert out.dtype == dtype
    for y in (out, ref):
        kept = y != 0
        n = kept.size
        assert abs((~kept).mean() - p) < 4 * np.sqrt(p * (1 - p) / n)  # 4 standard deviations
        np.testing.assert_array_equal(y[kept], x[kept] * _scale(p, dtype))  # exact: same scale as PyTorch


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_gradient_is_the_same_rule_as_torch(torch, dtype):
    """gx = g·mask/(1 − p): checked on ours, and on PyTorch with the mask read from its output."""
    p = 0.3
    x = _positive((6, 7), dtype)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    ours = cnnlab.Tensor(x.copy(), requires_grad=True)
    out = D.dropout(ours, p)
    out.backward(cnnlab.Tensor(g))
    np.testing.assert_array_equal(ours.grad.data, g * (out.data != 0) * _scale(p, dtype))
    theirs = torch.tensor(x.copy(), requires_grad=True)
    ref = torch.nn.functional.dropout(theirs, p)
    ref.backward(torch.tensor(g))
    np.testing.assert_array_equal(theirs.grad.numpy(), g * (ref.detach().numpy() != 0) * _scale(p, dtype))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradcheck_with_a_fixed_seed(name):
    x = _positive(SHAPES[name], np.float64)

    def fn(x):
        cnnlab.manual_seed(7)  # the same mask on every call of the finite differences
        return FUNCTIONS[name](x, 0.4)

    gradcheck(fn, x)


def test_p_one_gives_zeros_and_zero_gradients_without_nan(torch):
    for name, fn in FUNCTIONS.items():
        x = cnnlab.Tensor(_positive(SHAPES[name], np.float32), requires_grad=True)
        out = fn(x, 1.0)
        out.backward(cnnlab.ones(*out.shape))
        assert np.array_equal(out.data, np.zeros(out.shape)) and not np.isnan(out.data).any()
        assert np.array_equal(x.grad.data, np.zeros(x.shape)) and out.dtype == np.float32
    t = torch.ones(3, requires_grad=True)
    assert torch.nn.functional.dropout(t, 1.0).sum().item() == 0.0


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_identity_in_eval_and_with_p_zero(torch, name):
    fn, x = FUNCTIONS[name], cnnlab.randn(*SHAPES[name])
    assert fn(x, 0.5, training=False) is x
    assert fn(x, 0.0) is x
    t = torch.randn(*SHAPES[name])
    assert getattr(torch.nn.functional, name)(t, 0.5, training=False) is t  # PyTorch returns it too


# ---------------------------------------------------------------- channel-wise masks and rank rules
def _varies_over(mask: np.ndarray) -> tuple:
    """Dims along which a 0/1 pattern is not constant."""
    return tuple(d for d in range(mask.ndim) if not np.all(mask == mask.take([0], axis=d)))


RANK_CASES = [("dropout1d", (8, 10, 5)), ("dropout1d", (10, 5)), ("dropout2d", (8, 10, 3, 4)),
              ("dropout2d", (8, 10, 6)), ("dropout2d", (8, 10, 2, 2, 2)), ("dropout2d", (40, 30)),
              ("dropout3d", (8, 10, 2, 3, 2)), ("dropout3d", (10, 2, 3, 2)), ("dropout3d", (10, 4, 3)),
              ("dropout3d", (60,))]


@pytest.mark.parametrize("name,shape", RANK_CASES)
def test_feature_dropout_masks_are_constant_where_torchs_are(torch, name, shape):
    x = _positive(shape, np.float32)
    cnnlab.manual_seed(1)
    torch.manual_seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = FUNCTIONS[name](cnnlab.Tensor(x), 0.5).data
        theirs = getattr(torch.nn.functional, name)(torch.tensor(x), 0.5).numpy() != 0
    ours = out != 0
    assert _varies_over(ours) == _varies_over(theirs)
    # channel dims: (N, C) batched, (C,) unbatched; every other dim is constant
    batched = {"dropout1d": 3, "dropout3d": 5}.get(name, len(shape)) == len(shape) and len(shape) >= 2
    assert set(_varies_over(ours)) <= ({0, 1} if batched else {0})
    np.testing.assert_array_equal(out[ours], x[ours] * _scale(0.5, np.float32))


def test_feature_dropout_rate_per_channel():
    cnnlab.manual_seed(3)
    out = D.dropout2d(cnnlab.ones(400, 50, 2, 2), 0.25).data
    per_channel = out[:, :, 0, 0]
    assert np.array_equal(out, np.broadcast_to(per_channel[:, :, None, None], out.shape))
    assert abs((per_channel == 0).mean() - 0.25) < 4 * np.sqrt(0.25 * 0.75 / per_channel.size)
    assert set(np.unique(per_channel)) == {0.0, np.float32(1) / np.float32(0.75)}


def test_rank_warnings_as_torch(torch):
    cases = [("dropout2d", (2, 3, 4), "Received a 3D input to dropout2d"),
             ("dropout2d", (2, 3), "Received a 2-D input to dropout2d, which is deprecated"),
             ("dropout3d", (2, 3, 4), "Received a 3-D input to dropout3d, which is deprecated")]
    for name, shape, message in cases:
        with pytest.warns(UserWarning, match=message):
            FUNCTIONS[name](cnnlab.randn(*shape), 0.5)
        with pytest.warns(UserWarning, match=message):
            getattr(torch.nn.functional, name)(torch.randn(*shape), 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        D.dropout2d(cnnlab.randn(2, 3, 4, 4))
        D.dropout3d(cnnlab.randn(3, 4, 4, 4))
        D.dropout1d(cnnlab.randn(3, 4))


# ---------------------------------------------------------------- seeds
def test_manual_seed_reproduces_masks():
    x = cnnlab.ones(50, 40)
    cnnlab.manual_seed(123)
    a, b = D.dropout(x, 0.5).data, D.dropout(x, 0.5).data
    cnnlab.manual_seed(123)
    assert np.array_equal(D.dropout(x, 0.5).data, a) and np.array_equal(D.dropout(x, 0.5).data, b)
    assert not np.array_equal(a, b)  # a new mask on every call
    cnnlab.manual_seed(124)
    assert not np.array_equal(D.dropout(x, 0.5).data, a)
    cnnlab.manual_seed(5)
    m = Dropout2d(0.5)
    first = m(cnnlab.ones(4, 6, 2, 2)).data
    cnnlab.manual_seed(5)
    assert np.array_equal(m(cnnlab.ones(4, 6, 2, 2)).data, first)


# ---------------------------------------------------------------- alpha dropout
@pytest.mark.parametrize("dtype", DTYPES)
def test_alpha_dropout_values_gradient_and_moments_match_torch(torch, dtype):
    p = 0.3
    x = np.ones((100, 100), dtype)
    cnnlab.manual_seed(0)
    ours = cnnlab.Tensor(x.copy(), requires_grad=True)
    out = D.alpha_dropout(ours, p, training=True)
    theirs = torch.tensor(x.copy(), requires_grad=True)
    ref = torch.nn.functional.alpha_dropout(theirs, p, training=True)
    assert set(np.unique(out.data)) == set(np.unique(ref.detach().numpy()))  # the kept and dropped values, exactly
    g = np.random.default_rng(2).standard_normal(x.shape).astype(dtype)
    out.backward(cnnlab.Tensor(g))
    ref.backward(torch.tensor(g))
    for t, y in ((ours.grad.data, out.data), (theirs.grad.numpy(), ref.detach().numpy())):
        kept = y == y.max()
        np.testing.assert_allclose(t, np.where(kept, g * t[kept][0] / g[kept][0], 0), rtol=1e-6)
    np.testing.assert_array_equal(np.unique(ours.grad.data / g), np.unique(theirs.grad.numpy() / g))
    cnnlab.manual_seed(1)
    z = D.alpha_dropout(cnnlab.randn(400, 500).double(), 0.5, training=True).data  # SELU's fixed point
    assert abs(z.mean()) < 0.01 and abs(z.var() - 1) < 0.02
    xt = cnnlab.randn(3, 4)
    assert D.alpha_dropout(xt, 0.5) is xt  # training defaults to False, as in PyTorch
    assert np.array_equal(D.alpha_dropout(xt, 1.0, True).data, np.zeros((3, 4)))
    gradcheck(lambda x: (cnnlab.manual_seed(4), D.alpha_dropout(x, 0.4, True))[1], np.ones((3, 4)))


# ---------------------------------------------------------------- layers
LAYERS = [(Dropout, "Dropout", (4, 5)), (Dropout1d, "Dropout1d", (4, 5, 3)), (Dropout2d, "Dropout2d", (4, 5, 3, 3)),
          (Dropout3d, "Dropout3d", (2, 5, 2, 2, 2)), (AlphaDropout, "AlphaDropout", (4, 5))]


@pytest.mark.parametrize("index", range(len(LAYERS)), ids=[name for _, name, _ in LAYERS])
def test_layers_repr_train_and_eval(torch, index):
    cls, name, shape = LAYERS[index]
    for args in [(), (0.2,), (0.7, True)]:
        assert repr(cls(*args)) == repr(getattr(torch.nn, name)(*args))
    m = cls(0.5)
    x = cnnlab.Tensor(_positive(shape, np.float32))
    y = m(x)
    assert y is not x and y.shape == x.shape and not np.array_equal(y.data, x.data)
    m.eval()
    assert m(x) is x
    m.train()
    assert m(x) is not x
    assert list(m.state_dict()) == [] and list(m.parameters()) == []


# ---------------------------------------------------------------- errors
def test_errors():
    x = cnnlab.randn(2, 3, 4)
    for name, fn in FUNCTIONS.items():
        with pytest.raises(ValueError, match=rf"{name}: dropout probability has to be between 0 and 1, but got 1.5"):
            fn(x, 1.5)
        with pytest.raises(ValueError, match=rf"{name}: dropout probability has to be between 0 and 1, but got -0.1"):
            fn(x, -0.1, training=False)
    with pytest.raises(ValueError, match=r"alpha_dropout: dropout probability has to be between 0 and 1, but got 2"):
        D.alpha_dropout(x, 2)
    for cls, name, _ in LAYERS:
        with pytest.raises(ValueError, match=rf"{name}: dropout probability has to be between 0 and 1, but got 1.5"):
            cls(1.5)
        with pytest.raises(TypeError, match=rf"{name}: p must be a number, got p=.0.5. \(str\)"):
            cls("0.5")
    with pytest.raises(ValueError, match=r"dropout1d: Expected 2D or 3D input, but received a 4D input"):
        D.dropout1d(cnnlab.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"dropout1d: Expected 2D or 3D input, but received a 1D input"):
        D.dropout1d(cnnlab.randn(5), training=False)
    with pytest.warns(UserWarning), pytest.raises(
            ValueError, match=r"dropout2d: feature dropout requires at least 2 dimensions in the input"):
        D.dropout2d(cnnlab.randn(5))
    with pytest.warns(UserWarning), pytest.raises(
            ValueError, match=r"dropout3d: feature dropout requires at least 2 dimensions in the input"):
        D.dropout3d(cnnlab.tensor(1.0))
    with pytest.raises(TypeError, match=r"dropout: expected a floating point tensor, got dtype int64"):
        D.dropout(cnnlab.tensor([1, 2]))
    with pytest.raises(TypeError, match=r"dropout: training must be True or False, got training='yes' \(str\)"):
        D.dropout(x, 0.5, "yes")


def test_float32_stays_float32_with_numpy_float64_p():
    x = cnnlab.Tensor(_positive((4, 3, 2, 2), np.float32), requires_grad=True)
    for out in (D.dropout(x, np.float64(0.3)), D.dropout2d(x, np.float64(0.3)),
                D.alpha_dropout(x, np.float64(0.3), True)):
        assert out.dtype == np.float32
        out.backward(cnnlab.ones(*out.shape))
        assert x.grad.dtype == np.float32
