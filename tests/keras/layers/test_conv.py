"""cnnlab.keras conv layers: TensorFlow's padding, Keras' weight layout and shapes, against PyTorch.

Oracles (no TensorFlow here): hand-computed values; PyTorch computing the same thing
explicitly (torch.nn.functional.pad with TF's split, then conv in NCHW with the kernel
permuted); naive tap loops in NumPy; for transposed convs, the adjoint of TF's forward
conv (what tf.nn.conv_transpose is defined as) taken with torch's autograd.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import cnnlab
from cnnlab import shapes
from cnnlab.keras import initializers
from cnnlab.keras.layers import conv as K
from cnnlab.keras.layers.padding import ZeroPadding1D, ZeroPadding2D, ZeroPadding3D

from helpers import gradcheck
from oracle import against_torch

RTOL, ATOL = 1e-10, 1e-12


# ------------------------------------------------------------------ oracles
def tf_same(n, k, s, d):
    """TF 'same' written out here independently: o = ceil(n/s), total, (before, after)."""
    o = -(-n // s)
    total = max((o - 1) * s + d * (k - 1) + 1 - n, 0)
    return o, total // 2, total - total // 2


def tf_pads(spatial, ks, ss, ds, padding):
    if padding == "valid":
        return [(0, 0)] * len(spatial)
    if padding == "causal":
        return [(d * (k - 1), 0) for k, d in zip(ks, ds)]
    return [tf_same(n, k, s, d)[1:] for n, k, s, d in zip(spatial, ks, ss, ds)]


def channels_first(torch, x, D):
    return x.permute(0, D + 1, *range(1, D + 1))


def channels_last(torch, y, D):
    return y.permute(0, *range(2, D + 2), 1)


def flat_pad(pads):
    return tuple(v for pair in reversed(pads) for v in pair)


def torch_conv(torch, x, kernel, bias, strides, padding, dilation, groups, data_format):
    """Keras' Conv{D}D computed by hand in torch: layout, explicit TF pad, conv with the kernel permuted."""
    tF = torch.nn.functional
    D = kernel.dim() - 2
    if data_format == "channels_last":
        x = channels_first(torch, x, D)
    x = tF.pad(x, flat_pad(tf_pads(x.shape[2:], kernel.shape[:D], strides, dilation, padding)))
    w = kernel.permute(D + 1, D, *range(D)).contiguous()              # HWIO -> OIHW (torch CPU wants it contiguous)
    y = getattr(tF, f"conv{D}d")(x, w, bias, stride=strides, padding=0, dilation=dilation, groups=groups)
    return channels_last(torch, y, D) if data_format == "channels_last" else y


def naive_conv(x, kernel, bias, strides, padding, dilation, groups):
    """channels_last conv with a Python loop over kernel taps and groups only."""
    D = x.ndim - 2
    ks, (Cg, Fo) = kernel.shape[:D], kernel.shape[D:]
    xp = np.pad(x, [(0, 0)] + tf_pads(x.shape[1:-1], ks, strides, dilation, padding) + [(0, 0)])
    out = [(xp.shape[1 + i] - dilation[i] * (ks[i] - 1) - 1) // strides[i] + 1 for i in range(D)]
    Fg = Fo // groups
    y = np.zeros((x.shape[0], *out, Fo))
    for t in np.ndindex(*ks):
        sl = tuple(slice(t[i] * dilation[i], t[i] * dilation[i] + (out[i] - 1) * strides[i] + 1, strides[i])
                   for i in range(D))
        patch = xp[(slice(None),) + sl]                                # (N, *o, C)
        for g in range(groups):
            y[..., g * Fg:(g + 1) * Fg] += patch[..., g * Cg:(g + 1) * Cg] @ kernel[t][:, g * Fg:(g + 1) * Fg]
    return y if bias is None else y + bias


def naive_depthwise(x, kernel, strides, padding, dilation):
    """channels_last depthwise conv: output channel c·M + m = x[..., c] ⋆ kernel[..., c, m]."""
    D = x.ndim - 2
    ks, (C, M) = kernel.shape[:D], kernel.shape[D:]
    xp = np.pad(x, [(0, 0)] + tf_pads(x.shape[1:-1], ks, strides, dilation, padding) + [(0, 0)])
    out = [(xp.shape[1 + i] - dilation[i] * (ks[i] - 1) - 1) // strides[i] + 1 for i in range(D)]
    y = np.zeros((x.shape[0], *out, C, M))
    for t in np.ndindex(*ks):
        sl = tuple(slice(t[i] * dilation[i], t[i] * dilation[i] + (out[i] - 1) * strides[i] + 1, strides[i])
                   for i in range(D))
        y += xp[(slice(None),) + sl][..., None] * kernel[t]
    return y.reshape(y.shape[:-2] + (C * M,))


def run_layer(torch, layer, x, torch_fn, seed=0):
    """Build `layer` on x, give it random float64 weights, and compare output and all gradients with torch_fn."""
    rng = np.random.default_rng(seed)
    layer(cnnlab.Tensor(x))                                            # build
    weights = [rng.standard_normal(w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    wr = [torch.tensor(w, requires_grad=True) for w in weights]
    out, _ = against_torch(torch, layer, lambda xr: torch_fn(xr, *wr), [x], np.float64,
                           tol=dict(rtol=RTOL, atol=ATOL), params=list(zip(layer.weights, wr)), seed=rng,
                           require_grads=True)
    return out


# ------------------------------------------------------------------ TF 'same' padding, pinned
@pytest.mark.parametrize("n, k, s, expected", [(96, 7, 2, (48, 2, 3)), (6, 3, 2, (3, 0, 1)), (5, 3, 1, (5, 1, 1)),
                                               (4, 2, 1, (4, 0, 1)), (7, 1, 3, (3, 0, 0)), (2, 5, 2, (1, 1, 2))])
def test_tf_same_padding_pinned(n, k, s, expected):
    assert shapes.same_padding_tf(n, k, s) == expected
    assert tf_same(n, k, s, 1) == expected


def test_conv1d_same_stride2_hand_computed():
    # n=6, k=3, s=2: output 3, padding 0 before and 1 after (the odd pixel at the end)
    layer = K.Conv1D(1, 3, strides=2, padding="same", use_bias=False, dtype="float64")
    x = np.arange(1.0, 7.0).reshape(1, 6, 1)
    layer.build(x.shape)
    layer.set_weights([np.array([1.0, 10.0, 100.0]).reshape(3, 1, 1)])
    y = layer(cnnlab.Tensor(x)).data.ravel()
    np.testing.assert_array_equal(y, [1 + 20 + 300, 3 + 40 + 500, 5 + 60 + 0])


def test_conv2d_same_96_k7_s2_pads_2_before_3_after():
    # a one-hot kernel at tap (i, j) reads x_pad[2o + i] = x[2o + i - 2]: pins before=2 on both axes
    x = np.arange(96 * 96, dtype=np.float64).reshape(1, 96, 96, 1)
    layer = K.Conv2D(1, 7, strides=2, padding="same", use_bias=False, dtype="float64")
    assert layer.compute_output_shape(x.shape) == (1, 48, 48, 1)
    layer.build(x.shape)
    for tap, shift in ((0, -2), (6, 4)):
        w = np.zeros((7, 7, 1, 1))
        w[tap, tap] = 1
        layer.set_weights([w])
        y = layer(cnnlab.Tensor(x)).data[0, :, :, 0]
        idx = 2 * np.arange(48) + shift
        ok = (idx >= 0) & (idx < 96)                                  # outside: padding zeros
        expected = np.zeros((48, 48))
        expected[np.ix_(ok, ok)] = x[0, idx[ok]][:, idx[ok], 0]
        np.testing.assert_array_equal(y, expected)
    # the last window ends at 2·47 + 6 − 2 = 98, so 3 zeros after the 96 inputs (indices 96..98)
    assert 2 * 47 + 6 - 2 == 96 + 3 - 1


# ------------------------------------------------------------------ Conv1D/2D/3D sweep
def conv_configs(D, n_cases, seed):
    rng = np.random.default_rng(seed)
    paddings = ["valid", "same"] + (["causal"] if D == 1 else [])
    for _ in range(n_cases):
        groups = int(rng.choice([1, 1, 2, 3]))
        C = groups * int(rng.integers(1, 3))
        filters = groups * int(rng.integers(1, 3))
        k = tuple(int(v) for v in rng.integers(1, 4 if D < 3 else 3, size=D))
        if rng.random() < 0.5:
            s, d = tuple(int(v) for v in rng.integers(1, 4, size=D)), (1,) * D
        else:
            s, d = (1,) * D, tuple(int(v) for v in rng.integers(1, 4, size=D))
        padding = str(rng.choice(paddings))
        n = tuple(int(dd * (kk - 1) + 1 + rng.integers(0, 5 if D < 3 else 3)) for kk, dd in zip(k, d))
        fmt = str(rng.choice(["channels_last", "channels_first"]))
        yield dict(filters=filters, kernel_size=k, strides=s, padding=padding, dilation_rate=d, groups=groups,
                   data_format=fmt), C, n


def _input(rng, fmt, C, n):
    return rng.standard_normal((2,) + n + (C,) if fmt == "channels_last" else (2, C) + n)


@pytest.mark.parametrize("D, n_cases", [(1, 30), (2, 30), (3, 12)])
def test_conv_against_torch_and_naive(torch, D, n_cases):
    rng = np.random.default_rng(D)
    for i, (cfg, C, n) in enumerate(conv_configs(D, n_cases, seed=10 + D)):
        activation = str(rng.choice(["relu", "tanh", "linear"]))
        layer = getattr(K, f"Conv{D}D")(**cfg, activation=activation, dtype="float64")
        x = _input(rng, cfg["data_format"], C, n)
        act = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda t: t}[activation]

        def ref(xr, kr, br, cfg=cfg, act=act):
            return act(torch_conv(torch, xr, kr, br, cfg["strides"], cfg["padding"], cfg["dilation_rate"],
                                  cfg["groups"], cfg["data_format"]))

        out = run_layer(torch, layer, x, ref, seed=i)
        # second oracle: the naive tap loop (channels_last)
        kernel, bias = layer.get_weights()
        xl = x if cfg["data_format"] == "channels_last" else np.moveaxis(x, 1, -1)
        naive = naive_conv(xl, kernel, bias, cfg["strides"], cfg["padding"], cfg["dilation_rate"], cfg["groups"])
        naive = {"relu": lambda a: np.maximum(a, 0), "tanh": np.tanh, "linear": lambda a: a}[activation](naive)
        got = out.data if cfg["data_format"] == "channels_last" else np.moveaxis(out.data, 1, -1)
        np.testing.assert_allclose(got, naive, rtol=1e-10, atol=1e-12, err_msg=str(cfg))
        # shape inference agrees with compute, with a known and an unknown batch size
        assert layer.compute_output_shape(x.shape) == out.shape, cfg
        assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + out.shape[1:]


def test_conv_float32_no_upcast():
    layer = K.Conv2D(4, 3, strides=2, padding="same")
    y = layer(cnnlab.randn(2, 9, 9, 3))
    assert y.dtype == np.float32 and layer.kernel.dtype == np.float32 and y.shape == (2, 5, 5, 4)


def test_conv_gradcheck_without_torch():
    rng = np.random.default_rng(0)
    layer = K.Conv2D(2, (3, 2), strides=(2, 1), padding="same", activation="tanh", dtype="float64")
    layer.build((1, 5, 4, 3))
    layer.set_weights([rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(2)])
    gradcheck(layer, rng.standard_normal((1, 5, 4, 3)))
    layer = K.Conv1D(2, 3, padding="causal", dilation_rate=2, data_format="channels_first", dtype="float64")
    layer.build((2, 2, 7))
    gradcheck(layer, rng.standard_normal((2, 2, 7)))


# ------------------------------------------------------------------ transposed
# (kwargs, input_shape, output_shape) from Keras' own conv_transpose_test.py
KERAS_TRANSPOSE_CASES = [
    (1, dict(filters=5, kernel_size=2, strides=2, padding="valid"), (2, 8, 4), (2, 16, 5)),
    (1, dict(filters=6, kernel_size=2, strides=3, padding="same", output_padding=2), (2, 8, 4), (2, 23, 6)),
    (2, dict(filters=5, kernel_size=2, strides=2, padding="valid"), (2, 8, 8, 4), (2, 16, 16, 5)),
    (2, dict(filters=6, kernel_size=2, strides=3, padding="same", output_padding=2), (2, 8, 8, 4), (2, 23, 23, 6)),
    (2, dict(filters=6, kernel_size=(2, 3), strides=(2, 1), padding="valid", data_format="channels_first"),
     (2, 4, 8, 8), (2, 6, 16, 10)),
    (2, dict(filters=2, kernel_size=(7, 7), strides=(16, 16), padding="valid"), (1, 14, 14, 2), (1, 224, 224, 2)),
    (3, dict(filters=5, kernel_size=2, strides=2, padding="valid"), (2, 8, 8, 8, 4), (2, 16, 16, 16, 5)),
    (3, dict(filters=6, kernel_size=(2, 2, 3), strides=(2, 1, 2), padding="valid"), (2, 8, 8, 8, 4),
     (2, 16, 9, 17, 6)),
]


@pytest.mark.parametrize("D, kwargs, input_shape, output_shape", KERAS_TRANSPOSE_CASES)
def test_conv_transpose_keras_shapes(D, kwargs, input_shape, output_shape):
    layer = getattr(K, f"Conv{D}DTranspose")(**kwargs)
    assert layer.compute_output_shape(input_shape) == output_shape
    if np.prod(input_shape) * kwargs["filters"] < 20000:
        assert layer(cnnlab.zeros(*input_shape)).shape == output_shape
    C = input_shape[1] if kwargs.get("data_format") == "channels_first" else input_shape[-1]
    assert [w.shape for w in layer.get_weights()] == ([layer.kernel_size + (kwargs["filters"], C),
                                                       (kwargs["filters"],)] if layer.built else [])


@pytest.mark.parametrize("args, expected", [
    ((8, 2, 3, 1, "same", 2), (23, 0, 0)),       # Keras' test case
    ((4, 3, 2, 1, "same", None), (8, 0, 1)),     # o = n·s; TF: SAME conv of 8 pads (0, 1)
    ((4, 3, 2, 1, "valid", None), (9, 0, 0)),    # o = (n−1)s + max(k, s)
    ((4, 1, 3, 1, "valid", None), (12, 0, -2)),  # k < s: (n−1)s + s, two zeros (plus bias) appended
    ((3, 4, 2, 1, "same", 0), (4, 2, 2)),        # (n−1)s + k mod 2 + p = 4
    ((5, 3, 1, 2, "same", None), (5, 2, 2)),     # dilated: k' = 5
    ((1, 2, 1, 1, "valid", 0), (2, 0, 0)),
])
def test_conv_transpose_padding_pinned(args, expected):
    assert K.conv_transpose_padding_tf(*args) == expected


def transpose_configs(D, n_cases, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n_cases):
        k = tuple(int(v) for v in rng.integers(1, 5 if D < 3 else 3, size=D))
        if rng.random() < 0.6:
            s, d = tuple(int(v) for v in rng.integers(1, 4, size=D)), (1,) * D
        else:
            s, d = (1,) * D, tuple(int(v) for v in rng.integers(1, 3, size=D))
        padding = str(rng.choice(["valid", "same"]))
        op = None if rng.random() < 0.5 else tuple(int(rng.integers(0, ss)) for ss in s)
        n = tuple(int(v) for v in rng.integers(2, 5 if D < 3 else 4, size=D))   # n = 1 may give o = 0 (tested apart)
        fmt = str(rng.choice(["channels_last", "channels_first"]))
        yield dict(filters=int(rng.integers(1, 4)), kernel_size=k, strides=s, padding=padding, output_padding=op,
                   dilation_rate=d, data_format=fmt), int(rng.integers(1, 4)), n


def tf_consistent(n, o, k, s, d, padding):
    """Whether a TF forward conv of size o (same/valid) has output n, i.e. tf.nn.conv_transpose accepts o."""
    ke = d * (k - 1) + 1
    return (-(-o // s) if padding == "same" else (o - ke) // s + 1 if o >= ke else 0) == n


@pytest.mark.parametrize("D, n_cases", [(1, 40), (2, 30), (3, 10)])
def test_conv_transpose_is_the_adjoint_of_tf_conv(torch, D, n_cases):
    """Where TensorFlow accepts the output size, Keras' transposed conv is the vector-Jacobian product of TF's
    forward conv of that size (its definition in tf.nn.conv_transpose); checked with torch's autograd."""
    rng = np.random.default_rng(D)
    checked = 0
    for cfg, C, n in transpose_configs(D, n_cases, seed=20 + D):
        layer = getattr(K, f"Conv{D}DTranspose")(**cfg, use_bias=False, dtype="float64")
        fmt = cfg["data_format"]
        x = _input(rng, fmt, C, n)
        y = layer(cnnlab.Tensor(x))
        assert layer.compute_output_shape(x.shape) == y.shape
        o = y.shape[1:-1] if fmt == "channels_last" else y.shape[2:]
        if not all(tf_consistent(nn, oo, k, s, d, cfg["padding"])
                   for nn, oo, k, s, d in zip(n, o, cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"])):
            continue
        checked += 1
        kernel = torch.tensor(layer.get_weights()[0])                 # (*k, F, C): a forward conv F -> C
        z = torch.zeros(y.shape, dtype=torch.float64, requires_grad=True)
        fwd = torch_conv(torch, z, kernel, None, cfg["strides"], cfg["padding"], cfg["dilation_rate"], 1, fmt)
        assert tuple(fwd.shape) == x.shape
        (fwd * torch.tensor(x)).sum().backward()
        np.testing.assert_allclose(y.data, z.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=str(cfg))
    assert checked >= n_cases // 3


@pytest.mark.parametrize("D", [1, 2, 3])
def test_conv_transpose_gradients_against_torch(torch, D):
    rng = np.random.default_rng(D)
    tF = torch.nn.functional
    for i, (cfg, C, n) in enumerate(transpose_configs(D, 8 if D < 3 else 4, seed=30 + D)):
        layer = getattr(K, f"Conv{D}DTranspose")(**cfg, activation="sigmoid", dtype="float64")
        x = _input(rng, cfg["data_format"], C, n)
        ops = cfg["output_padding"] or (None,) * D
        geo = [K.conv_transpose_padding_tf(nn, k, s, d, cfg["padding"], p)
               for nn, k, s, d, p in zip(n, cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"], ops)]

        def ref(xr, kr, br, cfg=cfg, geo=geo):
            cl = cfg["data_format"] == "channels_last"
            xr = channels_first(torch, xr, D) if cl else xr
            w = kr.permute(D + 1, D, *range(D)).contiguous()           # (*k, F, C) -> (C, F, *k)
            y = getattr(tF, f"conv_transpose{D}d")(xr, w, None, cfg["strides"], dilation=cfg["dilation_rate"])
            y = tF.pad(y, flat_pad([(-b, -a) for _, b, a in geo])) + br.reshape((1, -1) + (1,) * D)
            return torch.sigmoid(channels_last(torch, y, D) if cl else y)

        run_layer(torch, layer, x, ref, seed=i)


# ------------------------------------------------------------------ depthwise and separable
def depthwise_configs(D, n_cases, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n_cases):
        k = tuple(int(v) for v in rng.integers(1, 4, size=D))
        s = tuple(int(v) for v in rng.integers(1, 3, size=D))
        d = tuple(int(v) for v in rng.integers(1, 3, size=D))      # strides and dilation together are allowed here
        n = tuple(int(dd * (kk - 1) + 1 + rng.integers(0, 4)) for kk, dd in zip(k, d))
        yield dict(kernel_size=k, strides=s, dilation_rate=d, padding=str(rng.choice(["valid", "same"])),
                   depth_multiplier=int(rng.integers(1, 4)),
                   data_format=str(rng.choice(["channels_last", "channels_first"]))), int(rng.integers(1, 4)), n


@pytest.mark.parametrize("D", [1, 2])
def test_depthwise_against_torch_and_naive(torch, D):
    rng = np.random.default_rng(D)
    for i, (cfg, C, n) in enumerate(depthwise_configs(D, 15, seed=40 + D)):
        layer = getattr(K, f"DepthwiseConv{D}D")(**cfg, dtype="float64")
        x = _input(rng, cfg["data_format"], C, n)
        M = cfg["depth_multiplier"]

        def ref(xr, kr, br, cfg=cfg, C=C, M=M):
            w = kr.reshape(*kr.shape[:D], 1, C * M)                    # HWIO (*k, 1, C·M): channel c·M + m
            return torch_conv(torch, xr, w, br, cfg["strides"], cfg["padding"], cfg["dilation_rate"], C,
                              cfg["data_format"])

        out = run_layer(torch, layer, x, ref, seed=i)
        kernel, bias = layer.get_weights()
        assert kernel.shape == cfg["kernel_size"] + (C, M) and bias.shape == (C * M,)
        xl = x if cfg["data_format"] == "channels_last" else np.moveaxis(x, 1, -1)
        naive = naive_depthwise(xl, kernel, cfg["strides"], cfg["padding"], cfg["dilation_rate"]) + bias
        got = out.data if cfg["data_format"] == "channels_last" else np.moveaxis(out.data, 1, -1)
        np.testing.assert_allclose(got, naive, rtol=1e-10, atol=1e-12, err_msg=str(cfg))
        assert layer.compute_output_shape(x.shape) == out.shape


@pytest.mark.parametrize("D", [1, 2])
def test_separable_against_torch_and_naive(torch, D):
    rng = np.random.default_rng(D)
    for i, (cfg, C, n) in enumerate(depthwise_configs(D, 12, seed=50 + D)):
        filters = int(rng.integers(1, 4))
        layer = getattr(K, f"SeparableConv{D}D")(filters, **cfg, activation="relu", dtype="float64")
        x = _input(rng, cfg["data_format"], C, n)
        M = cfg["depth_multiplier"]

        def ref(xr, dk, pk, br, cfg=cfg, C=C, M=M):
            dw = torch_conv(torch, xr, dk.reshape(*dk.shape[:D], 1, C * M), None, cfg["strides"], cfg["padding"],
                            cfg["dilation_rate"], C, cfg["data_format"])
            return torch.relu(torch_conv(torch, dw, pk, br, (1,) * D, "valid", (1,) * D, 1, cfg["data_format"]))

        out = run_layer(torch, layer, x, ref, seed=i)
        dk, pk, bias = layer.get_weights()
        assert dk.shape == cfg["kernel_size"] + (C, M)
        assert pk.shape == (1,) * D + (C * M, filters) and bias.shape == (filters,)
        xl = x if cfg["data_format"] == "channels_last" else np.moveaxis(x, 1, -1)
        naive = np.maximum(naive_depthwise(xl, dk, cfg["strides"], cfg["padding"], cfg["dilation_rate"])
                           @ pk.reshape(C * M, filters) + bias, 0)
        got = out.data if cfg["data_format"] == "channels_last" else np.moveaxis(out.data, 1, -1)
        np.testing.assert_allclose(got, naive, rtol=1e-10, atol=1e-12, err_msg=str(cfg))
        assert layer.compute_output_shape(x.shape) == out.shape


def test_depthwise_separable_gradcheck_without_torch():
    rng = np.random.default_rng(1)
    layer = K.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, dtype="float64")
    layer.build((1, 5, 5, 2))
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
    gradcheck(layer, rng.standard_normal((1, 5, 5, 2)))
    layer = K.SeparableConv2D(3, 2, padding="same", dtype="float64")
    layer.build((1, 4, 3, 2))
    gradcheck(layer, rng.standard_normal((1, 4, 3, 2)))
    layer = K.Conv2DTranspose(2, 3, strides=2, padding="same", dtype="float64")
    layer.build((1, 3, 2, 2))
    gradcheck(layer, rng.standard_normal((1, 3, 2, 2)))


# ------------------------------------------------------------------ zero padding
@pytest.mark.parametrize("cls, padding, expected", [
    (ZeroPadding1D, 2, ((2, 2),)),
    (ZeroPadding1D, (1, 3), ((1, 3),)),
    (ZeroPadding2D, 1, ((1, 1), (1, 1))),
    (ZeroPadding2D, (1, 2), ((1, 1), (2, 2))),
    (ZeroPadding2D, ((1, 2), (0, 3)), ((1, 2), (0, 3))),
    (ZeroPadding2D, (2, (0, 1)), ((2, 2), (0, 1))),
    (ZeroPadding3D, 1, ((1, 1),) * 3),
    (ZeroPadding3D, (1, 0, 2), ((1, 1), (0, 0), (2, 2))),
    (ZeroPadding3D, ((0, 1), (2, 0), (1, 1)), ((0, 1), (2, 0), (1, 1))),
])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_zero_padding(torch, cls, padding, expected, data_format):
    layer = cls(padding, data_format=data_format)
    assert layer.padding == expected
    D = len(expected)
    rng = np.random.default_rng(D)
    x = rng.standard_normal((2, 3) + (2, 3, 2)[:D] if data_format == "channels_first" else (2,) + (2, 3, 2)[:D] + (3,))
    spatial = [(0, 0), (0, 0)] + list(expected) if data_format == "channels_first" \
        else [(0, 0)] + list(expected) + [(0, 0)]
    y, _ = against_torch(torch, layer, lambda xr: torch.nn.functional.pad(xr, flat_pad(spatial)), [x], np.float64,
                         tol=dict(rtol=0, atol=0), seed=rng, require_grads=True)  # exact, the gradient too
    np.testing.assert_array_equal(y.data, np.pad(x, spatial))
    assert layer.compute_output_shape(x.shape) == y.shape


def test_zero_padding_defaults():
    assert ZeroPadding1D().padding == ((1, 1),)
    assert ZeroPadding2D().padding == ((1, 1), (1, 1))
    assert ZeroPadding3D().padding == ((1, 1),) * 3
    assert ZeroPadding2D(2).compute_output_shape((None, None, 5, 3)) == (None, None, 9, 3)


# ------------------------------------------------------------------ weights, layout, state
@pytest.mark.parametrize("make, input_shape, shapes_expected", [
    (lambda: K.Conv2D(8, 3), (1, 10, 10, 1), [(3, 3, 1, 8), (8,)]),
    (lambda: K.Conv2D(8, (3, 5), groups=2), (1, 10, 10, 4), [(3, 5, 2, 8), (8,)]),
    (lambda: K.Conv2D(8, 3, data_format="channels_first"), (1, 3, 10, 10), [(3, 3, 3, 8), (8,)]),
    (lambda: K.Conv1D(4, 5, use_bias=False), (2, 20, 3), [(5, 3, 4)]),
    (lambda: K.Conv3D(2, (1, 2, 3)), (1, 4, 4, 4, 5), [(1, 2, 3, 5, 2), (2,)]),
    (lambda: K.Conv2DTranspose(8, 3), (1, 5, 5, 2), [(3, 3, 8, 2), (8,)]),
    (lambda: K.DepthwiseConv2D(3, depth_multiplier=2), (1, 5, 5, 4), [(3, 3, 4, 2), (8,)]),
    (lambda: K.SeparableConv2D(6, 3, depth_multiplier=2), (1, 5, 5, 4), [(3, 3, 4, 2), (1, 1, 8, 6), (6,)]),
])
def test_weight_shapes_and_round_trip(make, input_shape, shapes_expected):
    layer = make()
    assert not layer.built and layer.get_weights() == []
    layer(cnnlab.zeros(*input_shape))
    assert layer.built
    assert [w.shape for w in layer.get_weights()] == shapes_expected
    rng = np.random.default_rng(0)
    new = [rng.standard_normal(s).astype(np.float32) for s in shapes_expected]
    layer.set_weights(new)
    for a, b in zip(layer.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    got = layer.get_weights()
    got[0][...] = 7                                                    # copies, not views
    assert not np.any(layer.get_weights()[0] == 7)
    assert layer.count_params() == sum(int(np.prod(s)) for s in shapes_expected)
    names = [n for n, _ in layer.named_parameters()]
    assert len(names) == len(shapes_expected) and set(layer.state_dict()) == set(names)


def test_kernel_trains_with_optim_and_built_from_shape():
    layer = K.Conv2D(2, 3, padding="same")
    layer.build((None, 6, 6, 3))                                       # by hand, no input
    assert layer.built and layer.kernel.dtype == np.float32
    opt = cnnlab.optim.SGD(layer.parameters(), lr=0.1)
    x = cnnlab.randn(4, 6, 6, 3)
    before = layer.get_weights()[0]
    loss = (layer(x) ** 2).mean()
    loss.backward()
    opt.step()
    assert not np.allclose(layer.get_weights()[0], before)
    assert (layer(x) ** 2).mean().item() < loss.item()


def test_initializers_use_keras_fans():
    cnnlab.manual_seed(0)
    layer = K.Conv2D(128, 3)
    layer.build((None, 8, 8, 64))
    kernel, bias = layer.get_weights()
    fan_in, fan_out = 9 * 64, 9 * 128
    limit = np.sqrt(6 / (fan_in + fan_out))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.99 * limit
    np.testing.assert_allclose(kernel.std(), limit / np.sqrt(3), rtol=0.02)
    np.testing.assert_array_equal(bias, 0)
    # he_normal: truncated at 2σ' with σ' = √(2/fan_in)/0.8796, so that the std is √(2/fan_in)
    layer = K.Conv2D(128, 3, kernel_initializer="he_normal", bias_initializer="ones")
    layer.build((None, 8, 8, 64))
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(kernel.std(), np.sqrt(2 / fan_in), rtol=0.02)
    assert np.abs(kernel).max() <= 2 * np.sqrt(2 / fan_in) / 0.87962566103423978
    np.testing.assert_array_equal(bias, 1)
    # a transposed kernel (*k, filters, in) has its fans the other way round, as in Keras
    assert initializers.compute_fans((3, 3, 8, 2)) == (72, 18)
    assert initializers.compute_fans((5, 7)) == (5, 7)
    # reproducible with cnnlab.manual_seed
    cnnlab.manual_seed(3)
    a = initializers.get("glorot_normal")((4, 4, 2, 3), np.float64)
    cnnlab.manual_seed(3)
    np.testing.assert_array_equal(a, initializers.get("GlorotNormal")((4, 4, 2, 3), np.float64))
    assert initializers.get("he_uniform")((3, 3, 1, 8), np.float32).dtype == np.float32


# ------------------------------------------------------------------ errors
def test_error_messages():
    with pytest.raises(ValueError, match=re.escape("Conv2D: `strides > 1` not supported in conjunction with "
                                                   "`dilation_rate > 1`. Received: strides=(2, 2) and "
                                                   "dilation_rate=(2, 2)")):
        K.Conv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=re.escape("Conv2DTranspose: `strides > 1` not supported")):
        K.Conv2DTranspose(4, 3, strides=(1, 2), dilation_rate=(2, 1))
    with pytest.raises(ValueError, match=re.escape("The number of filters must be evenly divisible by the number "
                                                   "of groups. Received: groups=3, filters=8.")):
        K.Conv2D(8, 3, groups=3)
    with pytest.raises(ValueError, match=re.escape("The number of input channels must be evenly divisible by the "
                                                   "number of groups. Received groups=2, but the input has 3 "
                                                   "channels (full input shape is (1, 5, 5, 3)).")):
        K.Conv2D(4, 3, groups=2)(cnnlab.zeros(1, 5, 5, 3))
    with pytest.raises(ValueError, match=re.escape("Invalid value for argument `filters`. Expected a strictly "
                                                   "positive value. Received filters=0.")):
        K.Conv2D(0, 3)
    with pytest.raises(ValueError, match=re.escape("The number of groups must be a positive integer. "
                                                   "Received: groups=0.")):
        K.Conv2D(4, 3, groups=0)
    with pytest.raises(ValueError, match=re.escape("Conv2D: The `padding` argument must be one of ('valid', "
                                                   "'same'). Received: padding='full'")):
        K.Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match=re.escape("Received: padding='causal'")):
        K.Conv2D(4, 3, padding="causal")                               # causal is Conv1D's only
    assert K.Conv2D(4, 3, padding="SAME").padding == "same"
    with pytest.raises(ValueError, match=re.escape("Conv2D: The `strides` argument must be a tuple of 2 positive "
                                                   "integers. Received: strides=(0, 1)")):
        K.Conv2D(4, 3, strides=(0, 1))
    with pytest.raises(ValueError, match=re.escape("The `kernel_size` argument must be a tuple of 2 positive "
                                                   "integers. Received: kernel_size=(3, 0)")):
        K.Conv2D(4, (3, 0))
    with pytest.raises(ValueError, match="Conv2D: kernel_size must be an int or a tuple of 2 ints, got"):
        K.Conv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match=re.escape("The `data_format` argument must be one of {'channels_first', "
                                                   "'channels_last'}. Received: data_format='NHWC'")):
        K.Conv2D(4, 3, data_format="NHWC")
    with pytest.raises(ValueError, match=re.escape("`output_padding` must be strictly less than `strides` for all "
                                                   "dimensions. At dimension 1, `output_padding` is 2 but "
                                                   "`strides` is 2.")):
        K.Conv2DTranspose(4, 3, strides=2, output_padding=(1, 2))
    with pytest.raises(ValueError, match="Could not interpret activation function identifier: 'swishy'"):
        K.Conv2D(4, 3, activation="swishy")
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: 'glorot'"):
        K.Conv2D(4, 3, kernel_initializer="glorot")(cnnlab.zeros(1, 5, 5, 1))
    with pytest.raises(ValueError, match="Invalid value for argument `depth_multiplier`"):
        K.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match=re.escape("Computed output size would be zero or negative. Received "
                                                   "inputs shape=(1, 3, 3, 1), kernel_size=5")):
        K.Conv2D(4, 5)(cnnlab.zeros(1, 3, 3, 1))
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        K.Conv1DTranspose(2, 2, padding="same", output_padding=0).compute_output_shape((1, 1, 3))


def test_input_and_weight_errors():
    layer = K.Conv2D(8, 3, name="conv2d")
    with pytest.raises(ValueError, match=re.escape("Conv2D: Input 0 of layer 'conv2d' is incompatible with the "
                                                   "layer: expected ndim=4, found ndim=3. Full shape received: "
                                                   "(5, 5, 1)")):
        layer(cnnlab.zeros(5, 5, 1))
    with pytest.raises(ValueError, match="not built yet"):
        layer.set_weights([np.zeros((3, 3, 1, 8)), np.zeros(8)])
    layer(cnnlab.zeros(1, 5, 5, 1))
    with pytest.raises(ValueError, match=re.escape("expected axis -1 of input shape to have value 1, but received "
                                                   "input with shape (1, 5, 5, 2)")):
        layer(cnnlab.zeros(1, 5, 5, 2))
    with pytest.raises(ValueError, match=re.escape("Layer conv2d weight shape (3, 3, 1, 8) is not compatible with "
                                                   "provided weight shape (3, 3, 2, 8)")):
        layer.set_weights([np.zeros((3, 3, 2, 8)), np.zeros(8)])
    with pytest.raises(ValueError, match=re.escape("You called `set_weights(weights)` on layer 'conv2d' with a "
                                                   "weight list of length 1, but the layer was expecting 2 weights")):
        layer.set_weights([np.zeros((3, 3, 1, 8))])
    before = layer.get_weights()
    with pytest.raises(ValueError):                                    # nothing copied on a failed set
        layer.set_weights([np.ones((3, 3, 1, 8)), np.ones(9)])
    np.testing.assert_array_equal(layer.get_weights()[0], before[0])
    with pytest.raises(TypeError, match="input, weight and bias must have the same dtype"):
        layer(cnnlab.zeros(1, 5, 5, 1, dtype=cnnlab.float64))


def test_auto_names_and_repr():
    a, b = K.Conv2DTranspose(2, 3), K.Conv2DTranspose(2, 3)
    assert re.fullmatch(r"conv2d_transpose(_\d+)?", a.name) and a.name != b.name
    assert re.fullmatch(r"depthwise_conv2d(_\d+)?", K.DepthwiseConv2D(3).name)
    assert repr(K.Conv2D(8, 3, name="c1")).startswith("Conv2D(name='c1', filters=8, kernel_size=(3, 3)")
