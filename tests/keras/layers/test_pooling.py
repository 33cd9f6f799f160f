"""cnnlab.keras pooling layers: TensorFlow's 'same' padding and averaging rule, Keras' shapes, against PyTorch.

Oracles (no TensorFlow here): hand-computed TensorFlow results; PyTorch computing the same thing
explicitly (layout change, TF's (before, after) split written out here, −∞ padding + max_pool for
max, a sum-pool divided by a count map from the closed-form count for average); a naive NumPy loop
over output positions taking the max / mean of the INPUT elements of each window (TF's definition).
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import cnnlab
from cnnlab.keras.layers import pooling as P

from helpers import gradcheck
from oracle import against_torch

RTOL, ATOL = 1e-10, 1e-12
TOL = dict(rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ oracles
def tf_same(n, k, s):
    """TF 'same' written out independently: (o, before, after)."""
    o = -(-n // s)
    total = max((o - 1) * s + k - n, 0)
    return o, total // 2, total - total // 2


def pads_of(spatial, ks, ss, padding):
    if padding == "valid":
        return [(0, 0)] * len(spatial)
    return [tf_same(n, k, s)[1:] for n, k, s in zip(spatial, ks, ss)]


def counts(n, k, s, before, o):
    """Input elements in each window along one axis: [i·s − before, i·s − before + k) ∩ [0, n)."""
    start = np.arange(o) * s - before
    return np.minimum(start + k, n) - np.maximum(start, 0)


def torch_pool(torch, x, mode, ks, ss, padding, data_format):
    """Keras' pooling written in torch: NCHW, explicit TF padding, pool with padding 0, back."""
    tF = torch.nn.functional
    D = len(ks)
    if data_format == "channels_last":
        x = x.permute(0, D + 1, *range(1, D + 1))
    spatial = tuple(x.shape[2:])
    pads = pads_of(spatial, ks, ss, padding)
    flat = tuple(v for pair in reversed(pads) for v in pair)
    if mode == "max":
        y = getattr(tF, f"max_pool{D}d")(tF.pad(x, flat, value=-float("inf")), ks, ss)
    else:
        total = getattr(tF, f"avg_pool{D}d")(tF.pad(x, flat), ks, ss) * float(np.prod(ks))   # window sums
        out = tuple(total.shape[2:])
        count = np.ones(())
        for a in range(D):
            c = counts(spatial[a], ks[a], ss[a], pads[a][0], out[a]).astype(np.float64)
            count = np.multiply.outer(count, c)
        y = total / torch.tensor(count)
    return y.permute(0, *range(2, D + 2), 1) if data_format == "channels_last" else y


def naive_pool(x, mode, ks, ss, padding):
    """channels_last, a loop over output positions: max / mean of the input elements of each window."""
    D = len(ks)
    spatial = x.shape[1:-1]
    pads = pads_of(spatial, ks, ss, padding)
    out = [(n + b + a - k) // s + 1 for n, k, s, (b, a) in zip(spatial, ks, ss, pads)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for i in np.ndindex(*out):
        sl = tuple(slice(max(i[a] * ss[a] - pads[a][0], 0), min(i[a] * ss[a] - pads[a][0] + ks[a], spatial[a]))
                   for a in range(D))
        win = x[(slice(None),) + sl + (slice(None),)].reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None),) + i] = win.max(axis=1) if mode == "max" else win.mean(axis=1)
    return y


def layer_class(mode, D):
    return getattr(P, f"{'MaxPooling' if mode == 'max' else 'AveragePooling'}{D}D")


# ------------------------------------------------------------------ hand-computed TensorFlow results
def test_average_pooling1d_same_pinned():
    # n=2, k=3, s=2: o = 1, total padding 1, all of it after: the window is [10, 20, pad] -> 30/2
    layer = P.AveragePooling1D(pool_size=3, strides=2, padding="same")
    y = layer(cnnlab.tensor([[[10.0], [20.0]]]))
    np.testing.assert_array_equal(y.data, [[[15.0]]])
    assert layer.compute_output_shape((1, 2, 1)) == (1, 1, 1)


def test_max_pooling2d_same_stride2_on_odd_sizes_pinned():
    # 5×5, k=2, s=2: o=3, padding 0 before, 1 after; windows rows/cols {0,1}, {2,3}, {4}
    x = np.arange(25.0).reshape(1, 5, 5, 1)                           # x[r, c] = 5r + c
    layer = P.MaxPooling2D(2, strides=2, padding="same")
    np.testing.assert_array_equal(layer(cnnlab.Tensor(x)).data[0, ..., 0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    # negated: the maximum is the top-left of each window; zero padding would have given 0 on the border
    np.testing.assert_array_equal(layer(cnnlab.Tensor(-x)).data[0, ..., 0],
                                  [[0, -2, -4], [-10, -12, -14], [-20, -22, -24]])
    # 3×4, k=3, s=2: rows o=2 with 1 before and 1 after (windows {0,1}, {1,2});
    # cols o=2 with 0 before and 1 after (windows {0,1,2}, {2,3})
    x = np.arange(12.0).reshape(1, 3, 4, 1)                           # x[r, c] = 4r + c
    layer = P.MaxPooling2D(3, strides=2, padding="same")
    assert layer.compute_output_shape(x.shape) == (1, 2, 2, 1)
    np.testing.assert_array_equal(layer(cnnlab.Tensor(x)).data[0, ..., 0], [[6, 7], [10, 11]])
    np.testing.assert_array_equal(layer(cnnlab.Tensor(-x)).data[0, ..., 0], [[0, -2], [-4, -6]])


def test_average_pooling2d_same_divides_by_the_real_count_pinned():
    x = cnnlab.tensor(np.arange(1.0, 10.0).reshape(1, 3, 3, 1))      # [[1 2 3] [4 5 6] [7 8 9]]
    # k=2, s=1: 1 padding after: the last row/column windows hold 2 elements, the corner 1
    y = P.AveragePooling2D(2, strides=1, padding="same")(x).data[0, ..., 0]
    np.testing.assert_array_equal(y, [[3, 4, 4.5], [6, 7, 7.5], [7.5, 8.5, 9]])
    # k=3, s=1: 1 before and 1 after: corners hold 4 elements, edges 6, the centre 9
    y = P.AveragePooling2D(3, strides=1, padding="same")(x).data[0, ..., 0]
    np.testing.assert_allclose(y, [[3, 3.5, 4], [4.5, 5, 5.5], [6, 6.5, 7]], rtol=1e-15)
    # 'valid' divides by the full window
    y = P.AveragePooling2D(2, strides=1)(x).data[0, ..., 0]
    np.testing.assert_array_equal(y, [[3, 4], [6, 7]])


def test_global_pooling_values_pinned():
    x = np.array([[[[1.0, -1.0], [2.0, -5.0]], [[3.0, -2.0], [6.0, -3.0]]]])   # (1, 2, 2, 2) channels_last
    np.testing.assert_array_equal(P.GlobalAveragePooling2D()(cnnlab.Tensor(x)).data, [[3.0, -2.75]])
    np.testing.assert_array_equal(P.GlobalMaxPooling2D()(cnnlab.Tensor(x)).data, [[6.0, -1.0]])
    y = P.GlobalMaxPooling2D(keepdims=True)(cnnlab.Tensor(x))
    assert y.shape == (1, 1, 1, 2)
    xf = np.moveaxis(x, -1, 1)                                         # channels_first (1, 2, 2, 2)
    np.testing.assert_array_equal(P.GlobalAveragePooling2D("channels_first")(cnnlab.Tensor(xf)).data,
                                  [[3.0, -2.75]])
    assert P.GlobalAveragePooling2D("channels_first", keepdims=True)(cnnlab.Tensor(xf)).shape == (1, 2, 1, 1)
    x1 = np.array([[[1.0, 4.0], [3.0, 0.0], [2.0, 2.0]]])             # (1, 3, 2): steps 3, features 2
    np.testing.assert_array_equal(P.GlobalAveragePooling1D()(cnnlab.Tensor(x1)).data, [[2.0, 2.0]])
    np.testing.assert_array_equal(P.GlobalMaxPooling1D(data_format="channels_first")(cnnlab.Tensor(x1)).data,
                                  [[4.0, 3.0, 2.0]])


def test_global_max_pooling_ties_share_the_gradient():
    # TF's and JAX's reduce_max (what keras ops.max is) split the gradient evenly among ties
    x = cnnlab.Tensor(np.array([[[[2.0], [1.0]], [[2.0], [0.0]]]]), requires_grad=True)  # (1, 2, 2, 1)
    P.GlobalMaxPooling2D()(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, ..., 0], [[0.5, 0.0], [0.5, 0.0]])


# ------------------------------------------------------------------ sweeps against torch and the naive loop
def pool_configs(D, n_cases, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n_cases):
        k = tuple(int(v) for v in rng.integers(1, 4, size=D))
        s = None if rng.random() < 0.25 else tuple(int(v) for v in rng.integers(1, 4, size=D))
        padding = str(rng.choice(["valid", "same"]))
        lo = k if padding == "valid" else (1,) * D                    # 'same' accepts inputs smaller than k
        n = tuple(int(a + rng.integers(0, 5 if D < 3 else 3)) for a in lo)
        fmt = str(rng.choice(["channels_last", "channels_first"]))
        yield dict(pool_size=k, strides=s, padding=padding, data_format=fmt), n


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("D, n_cases", [(1, 25), (2, 25), (3, 10)])
def test_pooling_against_torch_and_naive(torch, mode, D, n_cases):
    rng = np.random.default_rng(D)
    for i, (cfg, n) in enumerate(pool_configs(D, n_cases, seed=20 + D + (mode == "max"))):
        layer = layer_class(mode, D)(**cfg)
        C = int(rng.integers(1, 4))
        x = rng.standard_normal((2,) + n + (C,) if cfg["data_format"] == "channels_last" else (2, C) + n)
        s = cfg["strides"] or cfg["pool_size"]
        out, _ = against_torch(torch, layer, lambda xr: torch_pool(torch, xr, mode, cfg["pool_size"], s,
                                                                   cfg["padding"], cfg["data_format"]),
                               [x], np.float64, tol=TOL, seed=i, require_grads=True)
        assert out.dtype == np.float64
        xl = x if cfg["data_format"] == "channels_last" else np.moveaxis(x, 1, -1)
        got = out.data if cfg["data_format"] == "channels_last" else np.moveaxis(out.data, 1, -1)
        np.testing.assert_allclose(got, naive_pool(xl, mode, cfg["pool_size"], s, cfg["padding"]),
                                   rtol=RTOL, atol=ATOL, err_msg=str(cfg))
        # shape inference agrees with compute, with a known and an unknown batch size
        assert layer.compute_output_shape(x.shape) == out.shape, cfg
        assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + out.shape[1:]


@pytest.mark.parametrize("D", [1, 2, 3])
@pytest.mark.parametrize("kind", ["GlobalAveragePooling", "GlobalMaxPooling"])
@pytest.mark.parametrize("data_format, keepdims", [("channels_last", False), ("channels_first", True),
                                                   ("channels_last", True), ("channels_first", False)])
def test_global_pooling_against_torch(torch, D, kind, data_format, keepdims):
    rng = np.random.default_rng(D)
    x = rng.standard_normal((2, 3) + (4, 3, 2)[:D] if data_format == "channels_first" else (2,) + (4, 3, 2)[:D] + (3,))
    layer = getattr(P, f"{kind}{D}D")(data_format=data_format, keepdims=keepdims)
    axes = tuple(range(2, D + 2)) if data_format == "channels_first" else tuple(range(1, D + 1))
    reduce = (lambda t: t.mean(dim=axes, keepdim=keepdims)) if "Average" in kind else \
        (lambda t: t.amax(dim=axes, keepdim=keepdims))
    out, _ = against_torch(torch, layer, reduce, [x], np.float64, tol=TOL, require_grads=True)
    assert layer.compute_output_shape(x.shape) == out.shape
    assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + out.shape[1:]


def test_pooling_float32_no_upcast_and_matches_float64():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 6, 3))
    for layer in (P.AveragePooling2D(3, 2, "same"), P.MaxPooling2D(3, 2, "same"), P.GlobalAveragePooling2D(),
                  P.GlobalMaxPooling2D()):
        y32 = layer(cnnlab.Tensor(x.astype(np.float32)))
        assert y32.dtype == np.float32
        np.testing.assert_allclose(y32.data, layer(cnnlab.Tensor(x)).data, rtol=1e-5, atol=1e-6)


def test_pooling_gradcheck_without_torch():
    rng = np.random.default_rng(1)
    gradcheck(P.AveragePooling2D((3, 2), strides=(2, 1), padding="same"), rng.standard_normal((1, 5, 4, 2)))
    gradcheck(P.AveragePooling1D(2, padding="same", data_format="channels_first"), rng.standard_normal((1, 2, 5)))
    gradcheck(P.MaxPooling2D(3, strides=2, padding="same"), rng.standard_normal((1, 5, 4, 2)))
    gradcheck(P.MaxPooling3D((2, 1, 2), padding="same", data_format="channels_first"),
              rng.standard_normal((1, 1, 3, 2, 3)))
    gradcheck(P.GlobalAveragePooling3D(), rng.standard_normal((1, 2, 2, 3, 2)))
    gradcheck(P.GlobalMaxPooling1D(keepdims=True), rng.standard_normal((2, 4, 3)))


# ------------------------------------------------------------------ defaults, config, names
def test_defaults_aliases_and_config():
    assert P.MaxPooling1D().pool_size == (2,) and P.MaxPooling1D().strides == (2,)
    assert P.MaxPooling2D().pool_size == (2, 2) and P.MaxPooling3D().pool_size == (2, 2, 2)
    layer = P.MaxPooling2D((3, 2))
    assert layer.strides == (3, 2) and layer.padding == "valid" and layer.data_format == "channels_last"
    assert P.AveragePooling2D(2, padding="SAME").padding == "same"
    with pytest.raises(TypeError):
        P.AveragePooling2D()                                           # Keras 3: pool_size has no default here
    assert P.MaxPool2D is P.MaxPooling2D and P.AvgPool3D is P.AveragePooling3D
    assert P.GlobalAvgPool1D is P.GlobalAveragePooling1D and P.GlobalMaxPool2D is P.GlobalMaxPooling2D
    assert re.fullmatch(r"max_pooling2d(_\d+)?", P.MaxPool2D().name)
    assert re.fullmatch(r"global_average_pooling2d(_\d+)?", P.GlobalAveragePooling2D().name)
    assert P.GlobalMaxPooling3D().get_config()["keepdims"] is False
    assert P.AveragePooling1D(3, name="a").get_config() == {"name": "a", "pool_size": (3,), "padding": "valid",
                                                            "strides": (3,), "data_format": "channels_last"}
    assert repr(P.MaxPooling2D(name="p")) == ("MaxPooling2D(name='p', pool_size=(2, 2), padding='valid', "
                                              "strides=(2, 2), data_format='channels_last', built=True)")
    assert P.MaxPooling2D().get_weights() == [] and P.MaxPooling2D().count_params() == 0
    import cnnlab.keras.layers as L
    assert L.MaxPooling2D is P.MaxPooling2D and L.GlobalAveragePooling2D is P.GlobalAveragePooling2D


def test_in_a_sequential_model():
    from cnnlab.keras import Sequential
    from cnnlab.keras.layers.conv import Conv2D
    from cnnlab.keras.layers.core import Dense

    model = Sequential([Conv2D(4, 3, padding="same"), P.MaxPooling2D(padding="same"),
                        P.AveragePooling2D(2), P.GlobalAveragePooling2D(), Dense(3)])
    assert model.compute_output_shape((None, 9, 9, 1)) == (None, 3)
    assert model(cnnlab.randn(2, 9, 9, 1)).shape == (2, 3)


# ------------------------------------------------------------------ errors
def test_error_messages():
    with pytest.raises(ValueError, match=re.escape("MaxPooling2D: The `pool_size` argument must be a tuple of 2 "
                                                   "positive integers. Received: pool_size=(0, 2)")):
        P.MaxPooling2D((0, 2))
    with pytest.raises(ValueError, match=re.escape("AveragePooling1D: The `strides` argument must be a tuple of 1 "
                                                   "positive integer. Received: strides=0")):
        P.AveragePooling1D(2, strides=0)
    with pytest.raises(ValueError, match=re.escape("MaxPooling2D: pool_size must be an int or a tuple of 2 ints, "
                                                   "got (2, 2, 2)")):
        P.MaxPooling2D((2, 2, 2))
    with pytest.raises(TypeError, match=re.escape("MaxPooling3D: strides must be an int or a tuple of 3 ints, "
                                                  "got (1, 1.5, 1)")):
        P.MaxPooling3D(strides=(1, 1.5, 1))
    with pytest.raises(ValueError, match=re.escape("MaxPooling2D: The `padding` argument must be one of ('valid', "
                                                   "'same'). Received: padding='causal'")):
        P.MaxPooling2D(padding="causal")
    with pytest.raises(ValueError, match=re.escape("AveragePooling2D: The `data_format` argument must be one of "
                                                   "{'channels_first', 'channels_last'}. Received: "
                                                   "data_format='NCHW'")):
        P.AveragePooling2D(2, data_format="NCHW")
    with pytest.raises(ValueError, match=re.escape("GlobalMaxPooling2D: The `data_format` argument must be one of")):
        P.GlobalMaxPooling2D(data_format="channels_middle")
    with pytest.raises(TypeError, match=re.escape("GlobalAveragePooling1D: `keepdims` must be True or False. "
                                                  "Received: keepdims=1")):
        P.GlobalAveragePooling1D(keepdims=1)
    layer = P.MaxPooling2D(name="pool")
    with pytest.raises(ValueError, match=re.escape("MaxPooling2D: Input 0 of layer 'pool' is incompatible with the "
                                                   "layer: expected ndim=4, found ndim=3. Full shape received: "
                                                   "(5, 5, 1)")):
        layer(cnnlab.zeros(5, 5, 1))
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=5"):
        layer.compute_output_shape((1, 2, 5, 5, 1))
    with pytest.raises(ValueError, match=re.escape("GlobalAveragePooling3D: Input 0 of layer")):
        P.GlobalAveragePooling3D()(cnnlab.zeros(2, 4, 4, 3))
    with pytest.raises(ValueError, match=re.escape("MaxPooling2D: Computed output size would be zero or negative. "
                                                   "Received: inputs.shape=(1, 2, 5, 1), pool_size=(3, 3), "
                                                   "strides=(3, 3), padding=valid")):
        P.MaxPooling2D(3)(cnnlab.zeros(1, 2, 5, 1))
    with pytest.raises(ValueError, match="AveragePooling1D: Computed output size would be zero or negative"):
        P.AveragePooling1D(4).compute_output_shape((None, 3, 2))
    assert P.AveragePooling1D(4, padding="same").compute_output_shape((None, 3, 2)) == (None, 1, 2)
    with pytest.raises(ValueError, match=re.escape("padding=same (every spatial size must be at least 1)")):
        P.MaxPooling1D(padding="same").compute_output_shape((None, 0, 2))
    for padding in ("valid", "same"):
        with pytest.raises(TypeError, match="MaxPooling2D: expected a floating point tensor, got dtype int64"):
            P.MaxPooling2D(padding=padding)(cnnlab.Tensor(np.zeros((1, 3, 3, 1), dtype=np.int64)))


def test_docstring_examples():
    import doctest

    failed, attempted = doctest.testmod(P, extraglobs={"cnnlab": cnnlab})
    assert attempted > 0 and failed == 0
