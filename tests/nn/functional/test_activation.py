"""Activations (relu6, leaky_relu, elu, gelu, silu, hardswish; the layers, Softmax and LogSoftmax):
PyTorch as the oracle for values and gradients, PyTorch's choices at the kinks pinned, erf against
math.erf, naive per-element references, finite differences, reprs and error messages."""
from __future__ import annotations

import math
import warnings
import zlib

import numpy as np
import pytest
from helpers import gradcheck
from oracle import TOL, against_torch

import cnnlab
import cnnlab.nn.functional.activation as A
import cnnlab.nn.modules.activation as M

EXACT = dict(rtol=0, atol=0)
DTYPES = [np.float64, np.float32]

# name -> (cnnlab op, name in torch.nn.functional, kwargs): every configuration that is swept
CASES = [
    ("relu6", A.relu6, "relu6", {}),
    ("leaky_relu", A.leaky_relu, "leaky_relu", {}),
    ("leaky_relu 0.2", A.leaky_relu, "leaky_relu", {"negative_slope": 0.2}),
    ("leaky_relu -0.5", A.leaky_relu, "leaky_relu", {"negative_slope": -0.5}),
    ("leaky_relu 0", A.leaky_relu, "leaky_relu", {"negative_slope": 0}),
    ("elu", A.elu, "elu", {}),
    ("elu 0.5", A.elu, "elu", {"alpha": 0.5}),
    ("elu 2", A.elu, "elu", {"alpha": 2.0}),
    ("elu -1", A.elu, "elu", {"alpha": -1.0}),
    ("gelu", A.gelu, "gelu", {}),
    ("gelu tanh", A.gelu, "gelu", {"approximate": "tanh"}),
    ("silu", A.silu, "silu", {}),
    ("hardswish", A.hardswish, "hardswish", {}),
]
IDS = [c[0] for c in CASES]

# the kinks of all of them, and points just beside them
KINKS = np.array([-6.0, -3.0, -1e-30, -0.0, 0.0, 1e-30, 3.0, 6.0, -3.0 - 1e-9, -3.0 + 1e-9, 3.0 - 1e-9,
                  3.0 + 1e-9, 6.0 - 1e-9, 6.0 + 1e-9])


def grad_tol(name, dtype):
    """gelu-tanh's gradient for x around −3..−6 is a difference of two nearly equal terms; in float32
    both cnnlab and PyTorch are off the float64 truth by up to ~1.2e-6 absolute, differently (their
    tanh differs in the last bit), so they can differ by ~1.3e-6 there. None: the default `TOL`."""
    return dict(TOL[dtype], atol=3e-6) if name == "gelu tanh" and dtype == np.float32 else None


# ---------------------------------------------------------------- erf
def test_erf_matches_math_erf_to_a_few_ulp():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(20000) * 2, rng.uniform(-7, 7, 20000), np.linspace(-8, 8, 4001),
                        10.0 ** rng.uniform(-300, 1.5, 2000) * rng.choice([-1, 1], 2000),
                        [0.46875, -0.46875, np.nextafter(0.46875, 1), 4.0, -4.0, np.nextafter(4.0, 5), 0.0, -0.0,
                         5e-324, 1e-300, 5.9, 6.0, 26.5, 30.0, 1e10, 1e300]])
    ref = np.array([math.erf(v) for v in x])
    got = A._erf(x)
    assert got.dtype == np.float64
    ulps = np.abs(got - ref) / np.spacing(np.abs(ref))
    assert np.max(ulps[ref != 0]) <= 4, x[np.argmax(ulps)]
    assert np.all(got[ref == 0] == 0)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(ref))  # erf(-0.0) = -0.0 too


def test_erf_special_values_and_shapes():
    got = A._erf(np.array([np.inf, -np.inf, np.nan, 0.0]))
    np.testing.assert_array_equal(got, [1.0, -1.0, np.nan, 0.0])
    assert A._erf(np.zeros((2, 0, 3))).shape == (2, 0, 3)
    x = np.random.default_rng(1).standard_normal((3, 4, 5))
    np.testing.assert_array_equal(A._erf(x), A._erf(x.reshape(-1)).reshape(3, 4, 5))
    assert A._erf(np.array(0.5)).shape == ()


def test_erf_float32_stays_float32():
    x = np.random.default_rng(2).uniform(-6, 6, 5000).astype(np.float32)
    got = A._erf(x)
    assert got.dtype == np.float32
    ref = np.array([math.erf(v) for v in x.astype(np.float64)])
    np.testing.assert_allclose(got, ref, rtol=4e-7, atol=1e-7)


# ---------------------------------------------------------------- against PyTorch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, fn, tname, kwargs", CASES, ids=IDS)
def test_random_sweep_vs_torch(torch, name, fn, tname, kwargs, dtype):
    tfn = getattr(torch.nn.functional, tname)
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # str hash() is salted per process
    for shape in [(), (7,), (4, 5), (2, 3, 4, 5), (0, 3)]:
        x = rng.standard_normal(shape) * 4
        against_torch(torch, lambda t: fn(t, **kwargs), lambda t: tfn(t, **kwargs), [x], dtype,
                      grad_tol=grad_tol(name, dtype), require_grads=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, fn, tname, kwargs", CASES, ids=IDS)
def test_kinks_and_extremes_vs_torch(torch, name, fn, tname, kwargs, dtype):
    """The gradient at every kink is PyTorch's; ±1000 stays finite, and ±inf gives what PyTorch gives."""
    tfn = getattr(torch.nn.functional, tname)
    x = np.concatenate([KINKS, [-1000.0, 1000.0, -40.0, 40.0]])
    out, (a,) = against_torch(torch, lambda t: fn(t, **kwargs), lambda t: tfn(t, **kwargs), [x], dtype,
                              grad_tol=grad_tol(name, dtype), require_grads=True)
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(a.grad.data))
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow or nan on the way
        fn(cnnlab.Tensor(x.astype(dtype)), **kwargs)
    if name.startswith(("relu6", "leaky", "elu", "hardswish")):
        with np.errstate(invalid="ignore"):  # leaky_relu(-inf, 0) = -inf·0 = nan, in PyTorch too; exact
            against_torch(torch, lambda t: fn(t, **kwargs), lambda t: tfn(t, **kwargs), [[-np.inf, np.inf]],
                          dtype, tol=EXACT, require_grads=True)


def test_kink_gradients_pinned():
    """PyTorch's choices, written down (upstream gradient 1)."""
    def grad(fn, xs, **kw):
        x = cnnlab.tensor(xs, dtype=cnnlab.float64, requires_grad=True)
        fn(x, **kw).sum().backward()
        return x.grad.data.tolist()

    assert grad(A.relu6, [0.0, 6.0, 1e-9, 6 - 1e-9]) == [0.0, 0.0, 1.0, 1.0]
    assert grad(A.leaky_relu, [0.0, -0.0, 1e-300], negative_slope=0.2) == [0.2, 0.2, 1.0]
    assert grad(A.elu, [0.0, -0.0], alpha=2.0) == [2.0, 2.0]
    assert grad(A.hardswish, [-3.0, 3.0, 0.0]) == [0.0, 1.0, 0.5]
    assert grad(A.gelu, [0.0]) == [0.5]
    assert grad(A.silu, [0.0]) == [0.5]


# ---------------------------------------------------------------- naive references (no torch)
def _naive(name, kwargs):
    slope, alpha = kwargs.get("negative_slope", 0.01), kwargs.get("alpha", 1.0)
    if name.startswith("relu6"):
        return lambda v: min(max(0.0, v), 6.0)
    if name.startswith("leaky"):
        return lambda v: v if v > 0 else slope * v
    if name.startswith("elu"):
        return lambda v: v if v > 0 else alpha * (math.exp(v) - 1)
    if name == "gelu":
        return lambda v: v * 0.5 * (1 + math.erf(v / math.sqrt(2)))
    if name == "gelu tanh":
        return lambda v: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
    if name == "silu":
        return lambda v: v / (1 + math.exp(-v))
    if name == "hardswish":
        return lambda v: v * min(max(v + 3, 0.0), 6.0) / 6
    raise AssertionError(name)


@pytest.mark.parametrize("name, fn, tname, kwargs", CASES, ids=IDS)
def test_naive_loop_reference(name, fn, tname, kwargs):
    x = np.random.default_rng(3).standard_normal((3, 4, 5)) * 4
    ref = np.array([_naive(name, kwargs)(v) for v in x.reshape(-1)]).reshape(x.shape)
    np.testing.assert_allclose(fn(cnnlab.Tensor(x), **kwargs).data, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, fn, tname, kwargs", CASES, ids=IDS)
def test_gradcheck(name, fn, tname, kwargs):
    rng = np.random.default_rng(4)
    x = rng.uniform(-7, 7, size=(4, 5))
    x = x[np.all(np.abs(x[..., None] - np.array([-3.0, 0.0, 3.0, 6.0])) > 1e-3, axis=-1)]  # off the kinks
    gradcheck(lambda t: fn(t, **kwargs), x)


# ---------------------------------------------------------------- dtypes and arguments
@pytest.mark.parametrize("name, fn, tname, kwargs", CASES, ids=IDS)
def test_float32_stays_float32(name, fn, tname, kwargs):
    x = cnnlab.tensor(np.linspace(-5, 5, 11), dtype=cnnlab.float32, requires_grad=True)
    y = fn(x, **{k: np.float64(v) if isinstance(v, float) else v for k, v in kwargs.items()})
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_functional_errors():
    x = cnnlab.randn(3)
    with pytest.raises(TypeError, match="relu6: input must be a Tensor, got ndarray"):
        A.relu6(np.zeros(3))
    with pytest.raises(TypeError, match="gelu: expected a floating point tensor, got dtype int64"):
        A.gelu(cnnlab.tensor([1, 2]))
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', got 'erf'"):
        A.gelu(x, approximate="erf")
    with pytest.raises(TypeError, match=r"leaky_relu: negative_slope must be a number, got negative_slope='0.1' \(str\)"):
        A.leaky_relu(x, "0.1")
    with pytest.raises(ValueError, match="elu: alpha must be finite, got nan"):
        A.elu(x, alpha=float("nan"))
    with pytest.raises(TypeError, match=r"silu: inplace must be True or False, got inplace=1 \(int\)"):
        A.silu(x, inplace=1)


def test_inplace_is_accepted_and_ignored():
    x = cnnlab.tensor([-1.0, 2.0])
    y = A.leaky_relu(x, 0.5, inplace=True)
    assert x.tolist() == [-1.0, 2.0] and y.tolist() == [-0.5, 2.0]


# ---------------------------------------------------------------- layers
LAYERS = [
    ("ReLU6", (), {}), ("ReLU6", (True,), {}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.2, True), {}), ("LeakyReLU", (), {"negative_slope": 1e-5}),
    ("LeakyReLU", (1,), {}),
    ("ELU", (), {}), ("ELU", (2.0, True), {}), ("ELU", (), {"alpha": 1}),
    ("GELU", (), {}), ("GELU", ("tanh",), {}), ("GELU", (), {"approximate": "none"}),
    ("SiLU", (), {}), ("SiLU", (True,), {}),
    ("Hardswish", (), {}), ("Hardswish", (True,), {}),
    ("Softmax", (), {}), ("Softmax", (1,), {}), ("Softmax", (), {"dim": -1}),
    ("LogSoftmax", (), {}), ("LogSoftmax", (0,), {}),
]


@pytest.mark.parametrize("name, args, kwargs", LAYERS, ids=[f"{n}{a}{k}" for n, a, k in LAYERS])
def test_layer_repr_and_forward_match_torch(torch, name, args, kwargs):
    ours, theirs = getattr(M, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.parameters()) == [] and ours.state_dict() == {}
    x = np.random.default_rng(5).standard_normal((3, 4)) * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the implicit softmax dim warns, in both
        against_torch(torch, ours, lambda t: theirs(t.clone()), [x], np.float64,  # clone: torch's inplace=True
                      require_grads=True)


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
def test_softmax_implicit_dim_mirrors_torch(torch, cls):
    """dim=None: PyTorch's legacy choice (0 for 0-, 1- and 3-d input, else 1), with its warning."""
    rng = np.random.default_rng(6)
    name = "softmax" if cls == "Softmax" else "log_softmax"
    for shape in [(), (5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)]:
        x = rng.standard_normal(shape)
        with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name} has been deprecated"):
            out = getattr(M, cls)()(cnnlab.Tensor(x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = getattr(torch.nn, cls)()(torch.tensor(x)).numpy()
        np.testing.assert_allclose(out.data, ref, rtol=1e-12, atol=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit dim does not warn
        getattr(M, cls)(dim=1)(cnnlab.randn(2, 3))


def test_layers_call_their_functions():
    x = cnnlab.randn(2, 3, 4)
    for layer, fn in [(M.ReLU6(), A.relu6), (M.LeakyReLU(0.3), lambda t: A.leaky_relu(t, 0.3)),
                      (M.ELU(0.7), lambda t: A.elu(t, 0.7)), (M.GELU("tanh"), lambda t: A.gelu(t, "tanh")),
                      (M.SiLU(), A.silu), (M.Hardswish(), A.hardswish), (M.Softmax(2), lambda t: t.softmax(2)),
                      (M.LogSoftmax(0), lambda t: t.log_softmax(0))]:
        np.testing.assert_array_equal(layer(x).data, fn(x).data)


def test_layer_argument_errors():
    with pytest.raises(TypeError, match=r"LeakyReLU: negative_slope must be a number, got negative_slope='x' \(str\)"):
        M.LeakyReLU("x")
    with pytest.raises(ValueError, match="ELU: alpha must be finite, got inf"):
        M.ELU(float("inf"))
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh', got 'fast'"):
        M.GELU("fast")
    with pytest.raises(TypeError, match=r"ReLU6: inplace must be True or False, got inplace='yes' \(str\)"):
        M.ReLU6("yes")
    with pytest.raises(TypeError, match="Hardswish: inplace must be True or False"):
        M.Hardswish(None)
    with pytest.raises(TypeError, match=r"Softmax: dim must be an int, got dim=1.0 \(float\)"):
        M.Softmax(1.0)
    with pytest.raises(TypeError, match=r"LogSoftmax: dim must be an int, got dim='1' \(str\)"):
        M.LogSoftmax("1")
    with pytest.raises(ValueError, match="softmax: dim 2 is out of range for a tensor of 2 dimensions"):
        M.Softmax(2)(cnnlab.randn(2, 3))


def test_relu_backward_gives_exact_zeros_where_inactive_even_for_inf_and_nan_gradients(torch):
    x = np.array([-1.0, 2.0, -3.0, 4.0], dtype=np.float32)
    for g in ([np.inf, 1.0, np.nan, 2.0], [3e38, 3e38, 1.0, 3e38]):     # the second: finite, its sum overflows
        g = np.array(g, dtype=np.float32)
        xt = cnnlab.tensor(x, requires_grad=True)
        cnnlab.nn.functional.relu(xt).backward(cnnlab.tensor(g))
        tx = torch.tensor(x, requires_grad=True)
        torch.relu(tx).backward(torch.tensor(g))
        np.testing.assert_array_equal(xt.grad.numpy(), tx.grad.numpy())
        assert xt.grad.numpy()[0] == 0 and xt.grad.numpy()[2] == 0
