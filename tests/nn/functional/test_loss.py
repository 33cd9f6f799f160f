"""Losses (cross_entropy with class indices and probabilities and label smoothing, nll_loss, mse, l1,
smooth_l1, binary cross-entropy with and without logits) and their layers: PyTorch as the oracle for
values and every gradient it computes (input, target, weight), naive loop references, finite
differences, extreme logits, reprs and error messages."""
from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import gradcheck
from oracle import against_torch

import cnnlab
import cnnlab.nn.functional.loss as L
import cnnlab.nn.modules.loss as M

DTYPES = [np.float64, np.float32]
REDUCTIONS = ["mean", "sum", "none"]
SHAPES = [(6, 4), (3, 4, 2, 3), (5,)]  # (N, C), (N, C, d1, d2), (C,)


def compare(torch, ours, theirs, arrays, dtype):
    """`against_torch` with every array differentiated, each of which must get a gradient; our output."""
    return against_torch(torch, ours, theirs, arrays, dtype, require_grads=True)[0]


def class_count(shape):
    return shape[1] if len(shape) > 1 else shape[0]


def index_target(rng, shape, ignore=None):
    """Class indices for an input of `shape`; a few set to `ignore`."""
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, class_count(shape), size=tshape)
    if ignore is not None and t.ndim:
        t.reshape(-1)[:: 3] = ignore
    return t


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------- cross_entropy vs torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 1.0])
def test_cross_entropy_indices_vs_torch(torch, shape, label_smoothing, dtype):
    rng = np.random.default_rng(len(shape) * 10 + int(label_smoothing * 10))
    C = class_count(shape)
    w = rng.uniform(0.5, 2.0, size=C).astype(dtype)
    for reduction in REDUCTIONS:
        for ignore_index in (-100, 1):
            t = index_target(rng, shape, ignore=ignore_index)
            for weight in (None, w):
                kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)
                compare(torch,
                        lambda x: L.cross_entropy(x, cnnlab.tensor(t),
                                                  None if weight is None else cnnlab.tensor(weight), **kw),
                        lambda x: torch.nn.functional.cross_entropy(
                            x, torch.tensor(t), None if weight is None else torch.tensor(weight), **kw),
                        [rng.standard_normal(shape) * 3], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_probabilities_vs_torch(torch, shape, label_smoothing, dtype):
    """Input, target and weight are all differentiated, as PyTorch does for probability targets."""
    rng = np.random.default_rng(len(shape) + int(label_smoothing * 10))
    dim = 1 if len(shape) > 1 else 0
    C = class_count(shape)
    for reduction in REDUCTIONS:
        for weighted in (False, True):
            x = rng.standard_normal(shape) * 3
            q = softmax(rng.standard_normal(shape) * 2, dim)
            kw = dict(reduction=reduction, label_smoothing=label_smoothing)
            if weighted:
                compare(torch, lambda a, b, c: L.cross_entropy(a, b, c, **kw),
                        lambda a, b, c: torch.nn.functional.cross_entropy(a, b, c, **kw),
                        [x, q, rng.uniform(0.5, 2.0, size=C)], dtype)
            else:
                compare(torch, lambda a, b: L.cross_entropy(a, b, **kw),
                        lambda a, b: torch.nn.functional.cross_entropy(a, b, **kw), [x, q], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_extreme_logits_stay_finite(torch, dtype):
    rng = np.random.default_rng(7)
    x = rng.choice([-1000.0, 1000.0, 0.0], size=(5, 4))
    t = rng.integers(0, 4, size=5)
    q = softmax(rng.standard_normal((5, 4)), 1)
    for reduction in REDUCTIONS:
        out = compare(torch, lambda a: L.cross_entropy(a, cnnlab.tensor(t), reduction=reduction, label_smoothing=0.1),
                      lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(t), reduction=reduction,
                                                                  label_smoothing=0.1), [x], dtype)
        assert np.all(np.isfinite(out.data))
        out = compare(torch, lambda a, b: L.cross_entropy(a, b, reduction=reduction),
                      lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction=reduction), [x, q], dtype)
        assert np.all(np.isfinite(out.data))


def test_cross_entropy_nan_cases_as_torch(torch):
    """All targets ignored, or an empty batch: 'mean' is 0/0 = nan in PyTorch, and here, without a warning."""
    x = cnnlab.randn(3, 4, dtype=cnnlab.float64)
    with np.errstate(all="raise"):
        for ls in (0.0, 0.1):
            assert math.isnan(L.cross_entropy(x, cnnlab.tensor([-100, -100, -100]), label_smoothing=ls).item())
            w = cnnlab.ones(4, dtype=cnnlab.float64)
            assert math.isnan(L.cross_entropy(x, cnnlab.tensor([-100, -100, -100]), w, label_smoothing=ls).item())
        assert math.isnan(L.cross_entropy(cnnlab.zeros(0, 4), cnnlab.zeros(0, 4)).item())
    assert math.isnan(torch.nn.functional.cross_entropy(torch.zeros(0, 4), torch.zeros(0, 4)).item())


def test_float32_stays_float32_with_numpy_float64_scalars():
    x = cnnlab.randn(4, 3, requires_grad=True)
    t = cnnlab.tensor([0, 1, 2, 0])
    for loss in (L.cross_entropy(x, t, label_smoothing=np.float64(0.1)),
                 L.cross_entropy(x, cnnlab.rand(4, 3), label_smoothing=np.float64(0.1)),
                 L.smooth_l1_loss(x, cnnlab.rand(4, 3), beta=np.float64(0.5))):
        loss.backward()
        assert loss.dtype == np.float32 and x.grad.dtype == np.float32


# ---------------------------------------------------------------- regression losses vs torch
REGRESSION = [
    ("mse_loss", {}), ("l1_loss", {}),
    ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}), ("smooth_l1_loss", {"beta": 3.0}),
    ("smooth_l1_loss", {"beta": 0.0}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, kwargs", REGRESSION, ids=[f"{n}{k}" for n, k in REGRESSION])
def test_regression_losses_vs_torch(torch, name, kwargs, dtype):
    """Input and target gradients; ties x = y and |x − y| = β (the kinks) included."""
    rng = np.random.default_rng(len(name) + int(10 * kwargs.get("beta", 1)))
    ours, theirs = getattr(L, name), getattr(torch.nn.functional, name)
    for shape in [(), (7,), (3, 4, 5)]:
        x = rng.standard_normal(shape) * 2
        y = rng.standard_normal(shape) * 2
        if x.ndim:
            flat_x, flat_y = x.reshape(-1), y.reshape(-1)
            flat_y[:3] = flat_x[:3]                                           # ties
            flat_y[3:5] = flat_x[3:5] + np.array([1, -1]) * kwargs.get("beta", 1.0)  # |x − y| = β, up to rounding
        for reduction in REDUCTIONS:
            compare(torch, lambda a, b: ours(a, b, reduction=reduction, **kwargs),
                    lambda a, b: theirs(a, b, reduction=reduction, **kwargs), [x, y], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_weighted_regression_vs_torch(torch, name, dtype):
    """PyTorch's `weight=` of mse_loss/l1_loss: 'mean' is Σ w·ℓ / Σ w; the weight is differentiated."""
    rng = np.random.default_rng(11)
    ours, theirs = getattr(L, name), getattr(torch.nn.functional, name)
    for reduction in REDUCTIONS:
        arrays = [rng.standard_normal((4, 5)), rng.standard_normal((4, 5)), rng.uniform(0.1, 2, (4, 5))]
        compare(torch, lambda a, b, c: ours(a, b, reduction=reduction, weight=c),
                lambda a, b, c: theirs(a, b, reduction=reduction, weight=c), arrays, dtype)


# ---------------------------------------------------------------- binary cross-entropy vs torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_vs_torch(torch, dtype):
    rng = np.random.default_rng(12)
    shape = (5, 4)
    for wshape in [None, (4,), (5, 1), shape, ()]:
        w = None if wshape is None else rng.uniform(0.5, 2.0, size=wshape).astype(dtype)
        for reduction in REDUCTIONS:
            x = rng.uniform(0.02, 0.98, shape)
            y = rng.choice([0.0, 1.0, 0.3], size=shape)
            compare(torch,
                    lambda a, b: L.binary_cross_entropy(a, b, None if w is None else cnnlab.tensor(w),
                                                        reduction=reduction),
                    lambda a, b: torch.nn.functional.binary_cross_entropy(
                        a, b, None if w is None else torch.tensor(w), reduction=reduction), [x, y], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_at_0_and_1_as_torch(torch, dtype):
    """log clamped to >= −100; input gradient (x − y)/max(x(1 − x), 1e-12); target gradient −logit(x)."""
    x = np.array([0.0, 0.0, 1.0, 1.0, 1e-30, 0.5, 1e-8])
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.5, 0.25])
    with np.errstate(all="raise"):
        out = compare(torch, lambda a, b: L.binary_cross_entropy(a, b, reduction="none"),
                      lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction="none"), [x, y], dtype)
    np.testing.assert_array_equal(out.data[:4], [0.0, 100.0, 100.0, 0.0])
    xt = cnnlab.tensor(x, dtype=dtype, requires_grad=True)
    L.binary_cross_entropy(xt, cnnlab.tensor(y, dtype=dtype), reduction="sum").backward()
    eps = float(np.float32(1e-12))  # PyTorch's EPSILON is a float32 constant, in float64 too
    assert xt.grad.data[1] == dtype(-1 / eps) and xt.grad.data[2] == dtype(1 / eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_with_logits_vs_torch(torch, dtype):
    rng = np.random.default_rng(13)
    shape = (5, 4)
    for wshape, pwshape in [(None, None), ((4,), None), (None, (4,)), (shape, shape), ((5, 1), (4,)), ((), (5, 1))]:
        w = None if wshape is None else rng.uniform(0.5, 2.0, size=wshape).astype(dtype)
        pw = None if pwshape is None else rng.uniform(0.2, 3.0, size=pwshape).astype(dtype)
        for reduction in REDUCTIONS:
            x = rng.standard_normal(shape) * 4
            y = rng.choice([0.0, 1.0, 0.3], size=shape)

            def ours(a, b):
                return L.binary_cross_entropy_with_logits(a, b, None if w is None else cnnlab.tensor(w),
                                                          reduction=reduction,
                                                          pos_weight=None if pw is None else cnnlab.tensor(pw))

            def theirs(a, b):
                return torch.nn.functional.binary_cross_entropy_with_logits(
                    a, b, None if w is None else torch.tensor(w), reduction=reduction,
                    pos_weight=None if pw is None else torch.tensor(pw))

            compare(torch, ours, theirs, [x, y], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_with_logits_extreme_logits(torch, dtype):
    x = np.array([-1000.0, 1000.0, -1000.0, 1000.0, -80.0, 80.0, 0.0])
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 0.5, 1.0])
    for pw in (None, np.full(7, 2.5)):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out = compare(torch,
                          lambda a, b: L.binary_cross_entropy_with_logits(
                              a, b, reduction="none",
                              pos_weight=None if pw is None else cnnlab.tensor(pw, dtype=dtype)),
                          lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(
                              a, b, reduction="none",
                              pos_weight=None if pw is None else torch.tensor(pw, dtype=a.dtype)),
                          [x, y], dtype)
        assert np.all(np.isfinite(out.data))
        assert out.data[2] == 1000.0 * (1 if pw is None else 2.5) and out.data[3] == 1000.0


# ---------------------------------------------------------------- naive loop references (no torch)
def naive_cross_entropy(x, t, w, ignore_index, reduction, eps):
    """Per sample, per class: the definition in PyTorch's docs, with Python loops."""
    probs = t.shape == x.shape
    unbatched = x.ndim == 1
    if unbatched:
        x, t = x[None], np.asarray(t)[None]
    C = x.shape[1]
    xs = np.moveaxis(x, 1, -1).reshape(-1, C)
    ts = np.moveaxis(t, 1, -1).reshape(-1, C) if probs else t.reshape(-1)
    w = np.ones(C) if w is None else w
    losses, divisor = [], 0.0
    for i in range(len(xs)):
        logz = math.log(sum(math.exp(v) for v in xs[i]))
        logp = [v - logz for v in xs[i]]
        if probs:
            q = [(1 - eps) * ts[i][c] + eps / C for c in range(C)]
            losses.append(-sum(w[c] * q[c] * logp[c] for c in range(C)))
            divisor += 1
        elif ts[i] == ignore_index:
            losses.append(0.0)
        else:
            y = ts[i]
            losses.append((1 - eps) * -w[y] * logp[y] + eps / C * sum(-w[c] * logp[c] for c in range(C)))
            divisor += w[y]
    losses = np.array(losses)
    if reduction == "none":
        return losses.reshape(() if unbatched else x.shape[:1] + x.shape[2:])
    return losses.sum() if reduction == "sum" else losses.sum() / divisor


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_cross_entropy_naive_reference(shape):
    rng = np.random.default_rng(21)
    C = class_count(shape)
    dim = 1 if len(shape) > 1 else 0
    for reduction in REDUCTIONS:
        for eps in (0.0, 0.3):
            for w in (None, rng.uniform(0.5, 2.0, C)):
                x = rng.standard_normal(shape)
                t = index_target(rng, shape, ignore=2)
                got = L.cross_entropy(cnnlab.tensor(x), cnnlab.tensor(t), None if w is None else cnnlab.tensor(w),
                                      ignore_index=2, reduction=reduction, label_smoothing=eps)
                want = naive_cross_entropy(x, t, w, 2, reduction, eps)
                assert got.shape == np.shape(want)
                np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-14)
                q = softmax(rng.standard_normal(shape), dim)
                got = L.cross_entropy(cnnlab.tensor(x), cnnlab.tensor(q), None if w is None else cnnlab.tensor(w),
                                      reduction=reduction, label_smoothing=eps)
                want = naive_cross_entropy(x, q, w, -100, reduction, eps)
                assert got.shape == np.shape(want)
                np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-14)


def _elementwise_naive(name, beta=1.0):
    def bce(x, y):
        return -(y * max(math.log(x), -100) + (1 - y) * max(math.log(1 - x), -100))

    def bce_logits(x, y):
        s = 1 / (1 + math.exp(-x))
        return -(y * math.log(s) + (1 - y) * math.log(1 - s))

    def smooth(x, y):
        d = abs(x - y)
        return 0.5 * d * d / beta if d < beta else d - 0.5 * beta

    return {"mse_loss": lambda x, y: (x - y) ** 2, "l1_loss": lambda x, y: abs(x - y), "smooth_l1_loss": smooth,
            "binary_cross_entropy": bce, "binary_cross_entropy_with_logits": bce_logits}[name]


def test_fused_cross_entropy_backward_twice_with_retain_graph_gives_the_same_gradient():
    x = cnnlab.tensor(np.random.default_rng(3).standard_normal((4, 5)), requires_grad=True)
    loss = L.cross_entropy(x, cnnlab.tensor(np.array([0, 4, 2, 2])))
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    x.grad = None
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first)
    p = softmax(x.detach().numpy(), 1)
    p[np.arange(4), [0, 4, 2, 2]] -= 1
    np.testing.assert_allclose(first, p / 4, rtol=1e-12)


@pytest.mark.parametrize("name, kwargs", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {"beta": 0.7}),
                                          ("binary_cross_entropy", {}), ("binary_cross_entropy_with_logits", {})])
def test_elementwise_losses_naive_reference(name, kwargs):
    rng = np.random.default_rng(22)
    x = rng.uniform(0.05, 0.95, (3, 4)) if name == "binary_cross_entropy" else rng.standard_normal((3, 4)) * 2
    y = rng.uniform(0, 1, (3, 4))
    ref = np.array([_elementwise_naive(name, **kwargs)(a, b) for a, b in zip(x.reshape(-1), y.reshape(-1))])
    fn = getattr(L, name)
    for reduction, want in (("none", ref.reshape(3, 4)), ("sum", ref.sum()), ("mean", ref.mean())):
        got = fn(cnnlab.tensor(x), cnnlab.tensor(y), reduction=reduction, **kwargs)
        np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-14)


def test_pos_weight_naive_reference():
    rng = np.random.default_rng(23)
    x, y, pw, w = rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4)), rng.uniform(0.5, 3, 4), rng.uniform(0.5, 2, 4)
    ref = np.empty((3, 4))
    for i in range(3):
        for c in range(4):
            s = 1 / (1 + math.exp(-x[i, c]))
            ref[i, c] = -w[c] * (pw[c] * y[i, c] * math.log(s) + (1 - y[i, c]) * math.log(1 - s))
    got = L.binary_cross_entropy_with_logits(cnnlab.tensor(x), cnnlab.tensor(y), cnnlab.tensor(w), reduction="none",
                                             pos_weight=cnnlab.tensor(pw))
    np.testing.assert_allclose(got.data, ref, rtol=1e-12)


# ---------------------------------------------------------------- finite differences (no torch)
def test_gradcheck_cross_entropy():
    rng = np.random.default_rng(31)
    t = cnnlab.tensor(np.array([[0, 2], [1, -100]]))
    w = cnnlab.tensor(rng.uniform(0.5, 2, 3))
    x = rng.standard_normal((2, 3, 2))
    for reduction in REDUCTIONS:
        gradcheck(lambda a: L.cross_entropy(a, t, w, reduction=reduction, label_smoothing=0.2), x)
        gradcheck(lambda a: L.cross_entropy(a, t, w, reduction=reduction), x)        # the fused op
        gradcheck(lambda a: L.cross_entropy(a, t[:, 0], w, reduction=reduction), x[:, :, 0])   # (N, C)
        gradcheck(lambda a: L.cross_entropy(a, t[0, 0], reduction=reduction), x[0, :, 0])   # (C,) with ()
        gradcheck(lambda a, b, c: L.cross_entropy(a, b, c, reduction=reduction, label_smoothing=0.2),
                  x, softmax(rng.standard_normal((2, 3, 2)), 1), rng.uniform(0.5, 2, 3))


@pytest.mark.parametrize("name, kwargs", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {"beta": 0.7}),
                                          ("smooth_l1_loss", {"beta": 0.0})])
def test_gradcheck_regression(name, kwargs):
    rng = np.random.default_rng(32)
    x = rng.standard_normal((3, 4))
    y = x + rng.choice([-1, 1], (3, 4)) * rng.uniform(0.1, 2, (3, 4))  # |x − y| away from 0 and from β
    y[np.abs(np.abs(x - y) - 0.7) < 0.05] += 0.2
    for reduction in REDUCTIONS:
        gradcheck(lambda a, b: getattr(L, name)(a, b, reduction=reduction, **kwargs), x, y)
    if name != "smooth_l1_loss":
        gradcheck(lambda a, b, c: getattr(L, name)(a, b, weight=c), x, y, rng.uniform(0.5, 2, (3, 4)))


def test_gradcheck_binary_cross_entropy():
    rng = np.random.default_rng(33)
    w = cnnlab.tensor(rng.uniform(0.5, 2, 4))
    for reduction in REDUCTIONS:
        gradcheck(lambda a, b: L.binary_cross_entropy(a, b, w, reduction=reduction),
                  rng.uniform(0.1, 0.9, (3, 4)), rng.uniform(0, 1, (3, 4)))
        gradcheck(lambda a, b: L.binary_cross_entropy_with_logits(a, b, w, reduction=reduction, pos_weight=w),
                  rng.standard_normal((3, 4)) * 3, rng.uniform(0, 1, (3, 4)))
        gradcheck(lambda a, b: L.binary_cross_entropy_with_logits(a, b, reduction=reduction),
                  rng.standard_normal((3, 4)) * 3, rng.uniform(0, 1, (3, 4)))


# ---------------------------------------------------------------- layers
def _layer_cases(torch):
    w3 = np.array([0.5, 1.0, 2.0])
    return [
        ("CrossEntropyLoss", {}), ("CrossEntropyLoss", {"weight": w3, "label_smoothing": 0.1, "ignore_index": 1}),
        ("CrossEntropyLoss", {"reduction": "sum"}), ("NLLLoss", {}), ("NLLLoss", {"weight": w3, "reduction": "none"}),
        ("MSELoss", {}), ("MSELoss", {"reduction": "sum"}), ("L1Loss", {"reduction": "none"}),
        ("SmoothL1Loss", {}), ("SmoothL1Loss", {"beta": 0.5, "reduction": "sum"}),
        ("BCELoss", {}), ("BCELoss", {"weight": w3}), ("BCEWithLogitsLoss", {}),
        ("BCEWithLogitsLoss", {"weight": w3, "pos_weight": w3 * 2, "reduction": "none"}),
    ]


@pytest.mark.parametrize("index", range(14))
def test_layers_match_torch(torch, index):
    name, kwargs = _layer_cases(torch)[index]
    ours = getattr(M, name)(**{k: cnnlab.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
    theirs = getattr(torch.nn, name)(**{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                        for k, v in kwargs.items()})
    assert repr(ours) == repr(theirs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    rng = np.random.default_rng(index)
    x = rng.standard_normal((4, 3))
    if name in ("CrossEntropyLoss", "NLLLoss"):
        t = np.array([0, 2, 1, 1])
        if name == "NLLLoss":
            x = np.log(softmax(x, 1))
        compare(torch, lambda a: ours(a, cnnlab.tensor(t)), lambda a: theirs(a, torch.tensor(t)), [x], np.float64)
        return
    if name == "BCELoss":
        x = rng.uniform(0.05, 0.95, (4, 3))
    compare(torch, ours, theirs, [x, rng.uniform(0, 1, (4, 3))], np.float64)


def test_layer_argument_errors():
    with pytest.raises(ValueError, match=r"MSELoss: reduction must be one of \('none', 'mean', 'sum'\), got 'avg'"):
        M.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got -0.1"):
        M.CrossEntropyLoss(label_smoothing=-0.1)
    with pytest.raises(TypeError, match="CrossEntropyLoss: weight must be a Tensor or None, got list"):
        M.CrossEntropyLoss(weight=[1.0, 2.0])
    with pytest.raises(TypeError, match=r"NLLLoss: ignore_index must be an int, got ignore_index=-100.0 \(float\)"):
        M.NLLLoss(ignore_index=-100.0)
    with pytest.raises(ValueError, match="SmoothL1Loss: beta must be >= 0, got -1"):
        M.SmoothL1Loss(beta=-1)
    with pytest.raises(TypeError, match="BCEWithLogitsLoss: pos_weight must be a Tensor or None, got ndarray"):
        M.BCEWithLogitsLoss(pos_weight=np.ones(3))
    with pytest.raises(TypeError, match="takes from 1 to 2 positional arguments"):
        M.CrossEntropyLoss(None, None, -100)  # PyTorch's positional size_average slot: refused, not misbound


# ---------------------------------------------------------------- error messages
def test_error_messages():
    x, x64 = cnnlab.randn(4, 3), cnnlab.randn(4, 3, dtype=cnnlab.float64)
    t = cnnlab.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"mse_loss: target has shape \(4, 1\), but input has shape \(4, 3\); "
                                         "they must be equal"):
        L.mse_loss(x, cnnlab.randn(4, 1))
    with pytest.raises(TypeError, match="l1_loss: target must be a floating point tensor, got dtype int64"):
        L.l1_loss(cnnlab.randn(4), t)
    with pytest.raises(TypeError, match=r"smooth_l1_loss: target has dtype float64, but input has dtype float32; "
                                        r"they must match \(convert one, e.g. target.to\(input.dtype\)\)"):
        L.smooth_l1_loss(x, x64)
    with pytest.raises(TypeError, match="mse_loss: input must be a floating point tensor, got dtype int64"):
        L.mse_loss(t, t)
    with pytest.raises(TypeError, match="mse_loss: target must be a Tensor, got ndarray"):
        L.mse_loss(x, np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="l1_loss: reduction must be one of"):
        L.l1_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match=r"mse_loss: weight has shape \(3,\), but input has shape \(4, 3\)"):
        L.mse_loss(x, x, weight=cnnlab.ones(3))
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be a finite number >= 0, got -1.0"):
        L.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(TypeError, match="smooth_l1_loss: beta must be a float, got str"):
        L.smooth_l1_loss(x, x, beta="1")


def test_cross_entropy_error_messages():
    x = cnnlab.randn(4, 3)
    t = cnnlab.tensor([0, 1, 2, 0])
    with pytest.raises(TypeError, match=r"cross_entropy: a target of the input's shape \(4, 3\) holds class "
                                        "probabilities and must be floating point, got dtype int64"):
        L.cross_entropy(x, cnnlab.zeros(4, 3, dtype=cnnlab.int64))
    with pytest.raises(ValueError, match="cross_entropy: ignore_index is not supported for class-probability targets "
                                         r"\(it must be negative\), got ignore_index=1"):
        L.cross_entropy(x, cnnlab.rand(4, 3), ignore_index=1)
    with pytest.raises(ValueError, match="cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5"):
        L.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="cross_entropy: label_smoothing must be between 0.0 and 1.0, got -0.5"):
        L.cross_entropy(x, t, label_smoothing=-0.5)
    with pytest.raises(TypeError, match="cross_entropy: label_smoothing must be a float, got NoneType"):
        L.cross_entropy(x, t, label_smoothing=None)
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have shape \(3,\), one value per class, "
                                         r"got \(4,\)"):
        L.cross_entropy(x, cnnlab.rand(4, 3), cnnlab.ones(4))
    with pytest.raises(ValueError, match=r"nll_loss: weight must have shape \(3,\), one value per class, got \(3, 1\)"):
        L.cross_entropy(x, t, cnnlab.ones(3, 1))
    with pytest.raises(TypeError, match="nll_loss: weight has dtype float64, but input has dtype float32"):
        L.cross_entropy(x, t, cnnlab.ones(3, dtype=cnnlab.float64))
    with pytest.raises(ValueError, match="nll_loss: weight must not require grad"):
        L.cross_entropy(x, t, cnnlab.ones(3, requires_grad=True))
    with pytest.raises(TypeError, match="cross_entropy: input must be a floating point tensor, got dtype int64"):
        L.cross_entropy(t, t)
    with pytest.raises(ValueError, match="nll_loss: input must have a class dim, got a 0-d tensor"):
        L.cross_entropy(cnnlab.tensor(1.0), cnnlab.tensor(0))
    with pytest.raises(TypeError, match="nll_loss: target must hold integer class indices, got dtype float32 "
                                        r"\(class probabilities go to cross_entropy as a float target"):
        L.cross_entropy(x, cnnlab.rand(4))
    with pytest.raises(ValueError, match=r"nll_loss: target -1 is out of bounds: targets must be in \[0, 3\) "
                                         r"\(or equal to ignore_index=-100\)"):
        L.cross_entropy(x, cnnlab.tensor([0, -1, 2, 0]), label_smoothing=0.1)


def test_binary_cross_entropy_error_messages():
    p = cnnlab.rand(4, 3)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: all elements of input should be between 0 and 1, "
                                         r"got values in \[-0.5, "):
        L.binary_cross_entropy(p - 0.5 - p, p)
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of target should be between 0 and 1"):
        L.binary_cross_entropy(p, p * 0 + 2)
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of input should be between 0 and 1, "
                                         "got values in .*nan"):
        L.binary_cross_entropy(p * float("nan"), p)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target has shape \(4, 1\), but input has shape "
                                         r"\(4, 3\); they must be equal"):
        L.binary_cross_entropy(p, cnnlab.rand(4, 1))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \(4,\) does not broadcast to the "
                                         r"input's shape \(4, 3\)"):
        L.binary_cross_entropy(p, p, cnnlab.ones(4))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: pos_weight of shape \(2, 4, 3\) does "
                                         "not broadcast"):
        L.binary_cross_entropy_with_logits(p, p, pos_weight=cnnlab.ones(2, 4, 3))
    with pytest.raises(ValueError, match="binary_cross_entropy: weight must not require grad"):
        L.binary_cross_entropy(p, p, cnnlab.ones(3, requires_grad=True))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: pos_weight must not require grad "
                                         r"\(PyTorch does not differentiate binary_cross_entropy_with_logits with "
                                         r"respect to pos_weight\); pass pos_weight.detach\(\)"):
        L.binary_cross_entropy_with_logits(p, p, pos_weight=cnnlab.ones(3, requires_grad=True))
    with pytest.raises(TypeError, match="binary_cross_entropy_with_logits: target must be a floating point tensor, "
                                        "got dtype bool"):
        L.binary_cross_entropy_with_logits(p, p > 0.5)
    with cnnlab.no_grad():  # under no_grad a weight that requires grad is fine: nothing is differentiated
        L.binary_cross_entropy(p, p, cnnlab.ones(3, requires_grad=True))
