"""The pooling layers: PyTorch's constructor arguments, defaults and repr strings, forward against
PyTorch's layers, constructor errors, and the docstring examples of the pooling modules."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional.adaptive_pooling as A
import cnnlab.nn.functional.pooling as P
import cnnlab.nn.functional.unpooling as U
import cnnlab.nn.modules.pooling as L
from oracle import against_torch

LAYERS = [
    "MaxPool1d(2)", "MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=True)",
    "MaxPool2d((2, 3), 1, 1)", "MaxPool2d([2, 3])", "MaxPool3d(2, return_indices=True, ceil_mode=True)",
    "AvgPool1d(2)", "AvgPool1d(3, 1, 1, True, False)", "AvgPool1d((3,), stride=(2,))",
    "AvgPool2d(3)", "AvgPool2d(3, 1, 1, True, False, 2)", "AvgPool2d((2, 3), (1, 2), (1, 0))",
    "AvgPool3d((1, 2, 3))", "AvgPool3d(2, divisor_override=3)",
    "LPPool1d(2, 3)", "LPPool2d(2., 3, 2, True)", "LPPool2d(1.5, (2, 3))", "LPPool3d(1, 2)",
    "AdaptiveAvgPool1d(3)", "AdaptiveAvgPool2d((None, 3))", "AdaptiveAvgPool2d(1)", "AdaptiveAvgPool3d(2)",
    "AdaptiveMaxPool1d(2)", "AdaptiveMaxPool2d(2, True)", "AdaptiveMaxPool3d((1, None, 2))",
    "MaxUnpool1d(2)", "MaxUnpool2d(2, 1)", "MaxUnpool2d((2, 3), padding=(1, 0))", "MaxUnpool3d((2, 1, 2), padding=1)",
]


@pytest.mark.parametrize("spec", LAYERS)
def test_repr_is_torchs(torch, spec):
    assert repr(eval("L." + spec)) == repr(eval("torch.nn." + spec))


def _input(spec, rng):
    D = int(spec.split("(")[0][-2])
    return rng.standard_normal((2, 3) + (7, 6, 5)[:D])


@pytest.mark.parametrize("spec", [s for s in LAYERS if "Unpool" not in s])
def test_forward_and_backward_match_torch_layers(torch, spec):
    rng = np.random.default_rng(abs(hash(spec)) % 2**32)
    x = _input(spec, rng)
    if spec.startswith("LP"):
        x = np.abs(x) + 0.5  # positive: x^1.5 is real
    against_torch(torch, eval("L." + spec), eval("torch.nn." + spec), [x], np.float64,
                  tol=dict(rtol=1e-10, atol=1e-12), seed=rng, require_grads=True, label=spec)


def test_unpool_layer_with_output_size(torch):
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 7))
    pool, unpool = L.MaxPool2d(2, return_indices=True), L.MaxUnpool2d(2)
    y, idx = pool(cnnlab.Tensor(x))
    out = unpool(y, idx, output_size=(5, 7))
    ty, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    ref = torch.nn.MaxUnpool2d(2)(ty, tidx, output_size=(5, 7))
    np.testing.assert_array_equal(out.data, ref.numpy())
    assert unpool(*pool(cnnlab.randn(1, 2, 4, 6))).shape == (1, 2, 4, 6)


def test_layers_call_their_functional():
    x = cnnlab.randn(2, 3, 9, 8)
    np.testing.assert_array_equal(L.MaxPool2d(3, 2, 1, ceil_mode=True)(x).data,
                                  P.max_pool2d(x, 3, 2, 1, ceil_mode=True).data)
    np.testing.assert_array_equal(L.AvgPool2d(3, 2, 1, count_include_pad=False)(x).data,
                                  P.avg_pool2d(x, 3, 2, 1, count_include_pad=False).data)
    np.testing.assert_array_equal(L.AdaptiveAvgPool2d((None, 3))(x).data, A.adaptive_avg_pool2d(x, (None, 3)).data)
    assert L.AdaptiveMaxPool2d(1)(x[0]).shape == (3, 1, 1)  # unbatched


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"MaxPool2d: stride must be positive, got stride=0"):
        L.MaxPool2d(2, stride=0)
    with pytest.raises(ValueError, match=r"MaxPool2d: kernel_size must be an int or a tuple of 2 ints, got \(2, 2, 2\)"):
        L.MaxPool2d((2, 2, 2))
    with pytest.raises(TypeError, match=r"MaxPool1d: return_indices must be True or False, got return_indices='no' \(str\)"):
        L.MaxPool1d(2, return_indices="no")
    with pytest.raises(ValueError, match=r"AvgPool1d: padding must be non-negative, got padding=-1"):
        L.AvgPool1d(2, padding=-1)
    with pytest.raises(ValueError, match=r"AvgPool2d: divisor_override must not be zero, got divisor_override=0"):
        L.AvgPool2d(2, divisor_override=0)
    with pytest.raises(TypeError, match=r"LPPool2d: norm_type must be a number, got norm_type=None \(NoneType\)"):
        L.LPPool2d(None, 2)
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool2d: output_size must be positive, got output_size=\(0, None\)"):
        L.AdaptiveAvgPool2d((0, None))
    with pytest.raises(TypeError, match=r"AdaptiveMaxPool1d: output_size must be an int or a tuple of 1 int, got None"):
        L.AdaptiveMaxPool1d(None)
    with pytest.raises(ValueError, match=r"MaxUnpool3d: kernel_size must be an int or a tuple of 3 ints, got \(2, 2\)"):
        L.MaxUnpool3d((2, 2))
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'kernel_size'"):
        L.MaxPool2d()
    # the padding rule needs no input: it fails when the layer is called, naming the op
    with pytest.raises(ValueError, match=r"max_pool2d: padding should be at most half of kernel size"):
        L.MaxPool2d(2, padding=2)(cnnlab.zeros(1, 1, 6, 6))


def test_docstring_examples():
    import doctest

    for module, globs in [(P, {"cnnlab": cnnlab}), (A, {"cnnlab": cnnlab}), (L, {"cnnlab": cnnlab, "nn": L})]:
        failed, attempted = doctest.testmod(module, extraglobs=globs)
        assert attempted > 0 and failed == 0


OPS = [
    lambda t: P.max_pool2d(t, 3, 2, 1), lambda t: P.avg_pool2d(t, 3, 2, 1), lambda t: P.lp_pool2d(t, 2, 2),
    lambda t: A.adaptive_max_pool2d(t, (3, 4)), lambda t: A.adaptive_avg_pool2d(t, (3, 4)), A.global_max_pool,
    A.global_avg_pool, lambda t: U.max_unpool2d(*P.max_pool2d(t, 2, return_indices=True), 2, output_size=(7, 6)),
]


@pytest.mark.parametrize("op", range(len(OPS)))
def test_empty_batch_and_channels_work_as_in_torch(op):
    for shape in [(0, 3, 7, 6), (2, 0, 7, 6)]:
        x = cnnlab.Tensor(np.zeros(shape), requires_grad=True)
        OPS[op](x).sum().backward()
        assert x.grad.shape == shape


@pytest.mark.parametrize("op", range(len(OPS)))
def test_non_contiguous_input(op):
    x = np.random.default_rng(op).uniform(0.1, 1.0, size=(2, 3, 6, 7)).transpose(0, 1, 3, 2)  # a strided view
    a, b = cnnlab.Tensor(x, requires_grad=True), cnnlab.Tensor(np.ascontiguousarray(x), requires_grad=True)
    ya, yb = OPS[op](a), OPS[op](b)
    np.testing.assert_allclose(ya.data, yb.data, rtol=1e-13)  # a mean may sum in another order
    g = cnnlab.Tensor(np.random.default_rng(9).standard_normal(ya.shape))
    ya.backward(g)
    yb.backward(g)
    np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-13)
