"""Every tensor op against PyTorch: forward values and all gradients, float64 and float32,
over seeded random shapes including broadcasting."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from helpers import gradcheck
from oracle import against_torch

import cnnlab
import cnnlab.nn.functional as F

DTYPES = [np.float64, np.float32]


def random_shape(rng, max_rank=4):
    return tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(0, max_rank + 1)))


def broadcast_pair(rng, shape):
    """Two shapes that broadcast to `shape`: each has some dims set to 1, one may lack leading dims."""
    a = tuple(1 if rng.random() < 0.25 else n for n in shape)
    b = tuple(1 if rng.random() < 0.25 else n for n in shape)
    return a, b[int(rng.integers(0, len(b) + 1)):]


def shape_cases(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        a, b = broadcast_pair(rng, random_shape(rng))
        yield (a, b) if rng.random() < 0.5 else (b, a)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


def away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.2, 2.0, size=shape)


BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, np.random.Generator.standard_normal, None),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, np.random.Generator.standard_normal, None),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, np.random.Generator.standard_normal, None),
    "div": (lambda a, b: a / b, lambda a, b: a / b, np.random.Generator.standard_normal, away_from_zero),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b, positive, np.random.Generator.standard_normal),
    "maximum": (F.maximum, lambda a, b: __import__("torch").maximum(a, b), np.random.Generator.standard_normal, None),
    "minimum": (F.minimum, lambda a, b: __import__("torch").minimum(a, b), np.random.Generator.standard_normal, None),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_broadcast(torch, name, dtype):
    ours, theirs, make_a, make_b = BINARY[name]
    make_b = make_b or make_a
    for k, (sa, sb) in enumerate(shape_cases(25, seed=zlib.crc32(name.encode()) % 1000)):
        rng = np.random.default_rng(k)
        against_torch(torch, ours, theirs, [make_a(rng, sa), make_b(rng, sb)], dtype, seed=k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_ops_with_python_and_numpy_scalars(torch, dtype):
    rng = np.random.default_rng(1)
    x = positive(rng, (3, 4))
    cases = [(lambda a: a + 2, lambda a: a + 2), (lambda a: 3 - a, lambda a: 3 - a),
             (lambda a: a * 1.5, lambda a: a * 1.5), (lambda a: 2 / a, lambda a: 2 / a),
             (lambda a: a ** 3, lambda a: a ** 3), (lambda a: a ** 0.5, lambda a: a ** 0.5),
             (lambda a: 2 ** a, lambda a: 2 ** a), (lambda a: a ** 0, lambda a: a ** 0),
             (lambda a: a * np.float64(2.5), lambda a: a * 2.5), (lambda a: -a, lambda a: -a),
             (lambda a: a - np.float32(1), lambda a: a - 1.0)]
    for ours, theirs in cases:
        against_torch(torch, ours, theirs, [x], dtype)


UNARY = {
    "exp": (F.exp, "exp", np.random.Generator.standard_normal),
    "log": (F.log, "log", positive),
    "sqrt": (F.sqrt, "sqrt", positive),
    "abs": (F.abs, "abs", away_from_zero),
    "tanh": (F.tanh, "tanh", np.random.Generator.standard_normal),
    "sigmoid": (F.sigmoid, "sigmoid", lambda rng, s: 5 * rng.standard_normal(s)),
    "relu": (F.relu, "relu", away_from_zero),
    "neg": (F.neg, "neg", np.random.Generator.standard_normal),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops(torch, name, dtype):
    ours, theirs, make = UNARY[name]
    rng = np.random.default_rng(7)
    for k in range(15):
        against_torch(torch, ours, getattr(torch, theirs), [make(rng, random_shape(rng))], dtype, seed=k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clamp_where_and_methods(torch, dtype):
    rng = np.random.default_rng(2)
    x = away_from_zero(rng, (4, 5))
    against_torch(torch, lambda a: a.clamp(-0.5, 0.7), lambda a: a.clamp(-0.5, 0.7), [x], dtype)
    against_torch(torch, lambda a: a.clamp(min=0.1), lambda a: a.clamp(min=0.1), [x], dtype)
    against_torch(torch, lambda a: a.clamp(max=0.1), lambda a: a.clamp(max=0.1), [x], dtype)
    cond = rng.random((4, 1)) > 0.5
    against_torch(torch, lambda a, b: F.where(cnnlab.tensor(cond), a, b),
                  lambda a, b: torch.where(torch.tensor(cond), a, b), [x, rng.standard_normal((5,))], dtype)
    against_torch(torch, lambda a: F.where(a > 0, a, 0.0), lambda a: torch.where(a > 0, a, 0.0), [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reductions(torch, dtype):
    rng = np.random.default_rng(3)
    for k in range(20):
        shape = tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(1, 5)))
        x = rng.standard_normal(shape)
        nd = len(shape)
        dim = int(rng.integers(-nd, nd))
        dims = tuple(sorted(set(int(d) for d in rng.integers(0, nd, size=2))))
        keep = bool(rng.random() < 0.5)
        for f in (lambda a: a.sum(), lambda a: a.sum(dim=dim, keepdim=keep), lambda a: a.sum(dim=dims),
                  lambda a: a.mean(), lambda a: a.mean(dim=dims, keepdim=keep),
                  lambda a: a.max(), lambda a: a.min(), lambda a: a.amax(dim=dims, keepdim=keep),
                  lambda a: a.amin(dim=dim), lambda a: a.max(dim=dim, keepdim=keep)[0],
                  lambda a: a.min(dim=dim)[0], lambda a: a.softmax(dim), lambda a: a.log_softmax(dim)):
            against_torch(torch, f, f, [x], dtype, seed=k)
        if x.size > 1 and shape[dim % nd] > 1:
            for f in (lambda a: a.var(), lambda a: a.std(dim=dim, keepdim=keep),
                      lambda a: a.var(dim=dim, correction=0), lambda a: a.var(dim=dims, unbiased=False)):
                against_torch(torch, f, f, [x], dtype, seed=k)
        got = cnnlab.tensor(x).argmax(dim=dim, keepdim=keep)
        np.testing.assert_array_equal(got.data, torch.tensor(x).argmax(dim=dim, keepdim=keep).numpy())
        np.testing.assert_array_equal(cnnlab.tensor(x).max(dim=dim)[1].data, torch.tensor(x).max(dim=dim)[1].numpy())
        assert cnnlab.tensor(x).argmin().item() == torch.tensor(x).argmin().item()


def test_max_ties_follow_pytorch(torch):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    for f in (lambda a: a.max(), lambda a: a.max(dim=1)[0], lambda a: a.amax(dim=1), lambda a: a.min(dim=0)[0],
              lambda a: a.maximum(a[:, :1])):
        against_torch(torch, f, f, [x], np.float64)
    assert cnnlab.tensor(x).max(dim=1).indices.tolist() == [1, 0]  # the first maximum


@pytest.mark.parametrize("dtype", DTYPES)
def test_shape_ops(torch, dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 4))
    cases = [lambda a: a.reshape(4, 6), lambda a: a.view(-1, 4), lambda a: a.reshape((3, -1)),
             lambda a: a.permute(2, 0, 1), lambda a: a.transpose(0, 2), lambda a: a.flatten(),
             lambda a: a.flatten(1), lambda a: a.unsqueeze(1), lambda a: a.unsqueeze(-1).squeeze(),
             lambda a: a[:, :1].squeeze(1), lambda a: a.unsqueeze(0).expand(3, 2, 3, 4),
             lambda a: a[:, :1].expand(-1, 5, -1), lambda a: a[0].T, lambda a: a[0].t(),
             lambda a: a[1], lambda a: a[:, 1:3, ::2], lambda a: a[..., -1], lambda a: a[None, :, 0],
             lambda a: a[[0, 1, 0]], lambda a: a[:, [2, 2, 0], 1:],
             lambda a: a.split(1, dim=1)[1], lambda a: a.split([1, 3], dim=2)[1], lambda a: a.chunk(2, dim=2)[1]]
    for k, f in enumerate(cases):
        against_torch(torch, f, f, [x], dtype, seed=k)
    idx = np.array([[0, 1], [1, 1]])
    against_torch(torch, lambda a: a[cnnlab.tensor(idx)], lambda a: a[torch.tensor(idx)], [x], dtype)
    mask = rng.random((2, 3, 4)) > 0.5
    against_torch(torch, lambda a: a[cnnlab.tensor(mask)], lambda a: a[torch.tensor(mask)], [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cat_and_stack(torch, dtype):
    rng = np.random.default_rng(5)
    a, b, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 1)), rng.standard_normal((2, 4))
    against_torch(torch, lambda *t: cnnlab.cat(t, dim=1), lambda *t: torch.cat(t, dim=1), [a, b, c], dtype)
    against_torch(torch, lambda *t: cnnlab.cat(t, dim=-1), lambda *t: torch.cat(t, dim=-1), [a, b], dtype)
    against_torch(torch, lambda *t: cnnlab.stack(t, dim=1), lambda *t: torch.stack(t, dim=1), [a, a * 2], dtype)
    against_torch(torch, lambda *t: cnnlab.stack(t, dim=-1), lambda *t: torch.stack(t, dim=-1), [a, a, a], dtype)


MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                 ((2, 3), (5, 3, 4)), ((2, 1, 2, 3), (4, 3, 2)), ((5, 2, 3), (5, 3, 1)), ((4,), (2, 4, 3)),
                 ((2, 2, 4), (4,))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(torch, shapes, dtype):
    rng = np.random.default_rng(6)
    against_torch(torch, lambda a, b: a @ b, lambda a, b: a @ b, [rng.standard_normal(s) for s in shapes], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear(torch, dtype):
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    against_torch(torch, F.linear, torch.nn.functional.linear, [x, w, b], dtype)
    against_torch(torch, F.linear, torch.nn.functional.linear, [rng.standard_normal((2, 5, 4)), w], dtype)
    against_torch(torch, F.linear, torch.nn.functional.linear, [rng.standard_normal(4), w, b], dtype)   # 1-d
    against_torch(torch, F.linear, torch.nn.functional.linear, [rng.standard_normal((3, 2, 6, 4)), w, b], dtype,
                  grads=[False, True, True])                         # the input's gradient not wanted
    against_torch(torch, F.linear, torch.nn.functional.linear,
                  [rng.standard_normal((4, 6)).T[1:], rng.standard_normal((4, 3)).T, b], dtype)  # not contiguous
    gradcheck(F.linear, x, w, b)
    gradcheck(F.linear, rng.standard_normal((2, 3, 4)), w)


def test_composite_graph_with_fan_out(torch):
    """A small MLP-like graph where tensors are used several times."""
    rng = np.random.default_rng(9)

    def net(x, w1, w2):
        h = (x @ w1).tanh()
        h = h * h.sigmoid() + h
        y = (h @ w2).log_softmax(1)
        return -(y[:, 0].mean() + (y.exp() * y).sum(dim=1).mean())

    against_torch(torch, net, net, [rng.standard_normal((6, 4)), rng.standard_normal((4, 5)),
                                    rng.standard_normal((5, 3))], np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_losses(torch, dtype):
    rng = np.random.default_rng(10)
    tf = torch.nn.functional
    for shape in ((6, 4), (3, 4, 2, 3), (5,)):
        C = shape[1] if len(shape) > 1 else shape[0]
        tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
        target = rng.integers(0, C, size=tshape)
        if target.ndim:
            target.reshape(-1)[0] = -100
        w = rng.uniform(0.5, 2, size=C)
        for kwargs in ({}, {"reduction": "sum"}, {"reduction": "none"}, {"ignore_index": 1}):
            tgt = np.where(target == -100, kwargs.get("ignore_index", -100), target)
            for wt in (None, w):
                def ours(x):
                    return F.cross_entropy(x, cnnlab.tensor(tgt), weight=None if wt is None else
                                           cnnlab.tensor(wt.astype(dtype)), **kwargs)

                def theirs(x):
                    return tf.cross_entropy(x, torch.tensor(tgt), weight=None if wt is None else
                                            torch.tensor(wt.astype(dtype)), **kwargs)

                against_torch(torch, ours, theirs, [rng.standard_normal(shape)], dtype)
        dim = -1 if len(shape) == 1 else 1
        against_torch(torch, lambda x: F.nll_loss(x.log_softmax(dim), cnnlab.tensor(target)),
                      lambda x: tf.nll_loss(x.log_softmax(dim), torch.tensor(target)), [rng.standard_normal(shape)],
                      dtype)


def test_loss_errors():
    x = cnnlab.randn(4, 3)
    with pytest.raises(ValueError, match=r"nll_loss: target 3 is out of bounds: targets must be in \[0, 3\)"):
        F.cross_entropy(x, cnnlab.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"nll_loss: target has shape \(4, 1\), but input of shape \(4, 3\) "
                                         r"needs a target of shape \(4,\)"):
        F.cross_entropy(x, cnnlab.tensor([[0], [1], [2], [0]]))
    with pytest.raises(TypeError, match="nll_loss: target must hold integer class indices, got dtype float32"):
        F.cross_entropy(x, cnnlab.tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(ValueError, match="nll_loss: reduction must be one of"):
        F.cross_entropy(x, cnnlab.tensor([0, 1, 2, 0]), reduction="avg")
