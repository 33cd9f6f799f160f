"""deform_conv2d and DeformConv2d: against line-by-line ports of torchvision's CPU kernel (forward and
backward), ONNX's reference DeformConv, a PyTorch composition (grid_sample + einsum, for every
gradient), conv2d (zero offsets), float64 finite differences, and pinned error messages.

torchvision itself is not an oracle here: the PyPI wheel needs a CUDA build of torch.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional.conv as C
from cnnlab.nn.functional.deform_conv import deform_conv2d
from cnnlab.nn.modules.conv import Conv2d
from cnnlab.nn.modules.deform_conv import DeformConv2d
from helpers import gradcheck
from oracle import against_torch, onnx_node




# ---------------------------------------------------------------- configurations
def random_config(rng, mask=None, bias=None, integer_offsets=False, scale=2.5):
    """A random deform_conv2d problem: arrays (float64) and keyword options, per-axis different k/s/p/d."""
    G = int(rng.choice([1, 2]))
    Q = int(rng.choice([1, 2]))
    Cin = G * Q * int(rng.integers(1, 3))
    O = G * int(rng.integers(1, 3))
    k = tuple(int(v) for v in rng.integers(1, 4, size=2))
    s = tuple(int(v) for v in rng.integers(1, 3, size=2))
    d = tuple(int(v) for v in rng.integers(1, 3, size=2))
    p = tuple(int(v) for v in rng.integers(0, 3, size=2))
    N = int(rng.integers(1, 3))
    HW = tuple(max(int(v), dd * (kk - 1) + 1 - 2 * pp, 2) for v, kk, dd, pp in zip(rng.integers(3, 8, size=2), k, d, p))
    out = tuple((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for n, kk, ss, pp, dd in zip(HW, k, s, p, d))
    T = k[0] * k[1]
    offset = rng.uniform(-scale, scale, size=(N, 2 * Q * T) + out)
    if integer_offsets:  # points exactly on pixels, on half pixels, at −1 and at H: the boundary rule
        offset = np.round(offset * 2) / 2
    arrays = dict(input=rng.standard_normal((N, Cin) + HW), offset=offset,
                  weight=rng.standard_normal((O, Cin // G) + k))
    if bias if bias is not None else rng.random() < 0.5:
        arrays["bias"] = rng.standard_normal(O)
    if mask if mask is not None else rng.random() < 0.5:
        arrays["mask"] = rng.uniform(-0.5, 1.5, size=(N, Q * T) + out)
    return arrays, dict(stride=s, padding=p, dilation=d)


def run(arrays, options, requires_grad=False, dtype=np.float64):
    tensors = {name: cnnlab.Tensor(a.astype(dtype), requires_grad=requires_grad) for name, a in arrays.items()}
    return deform_conv2d(**tensors, **options), tensors


# ---------------------------------------------------------------- torchvision's CPU kernel, line by line
def tv_bilinear(img, h, w):
    """torchvision's ``bilinear_interpolate`` (deform_conv2d_kernel.cpp)."""
    height, width = img.shape
    if h <= -1 or height <= h or w <= -1 or width <= w:
        return 0.0
    h_low, w_low = math.floor(h), math.floor(w)
    h_high, w_high = h_low + 1, w_low + 1
    lh, lw = h - h_low, w - w_low
    hh, hw = 1 - lh, 1 - lw
    v1 = img[h_low, w_low] if h_low >= 0 and w_low >= 0 else 0.0
    v2 = img[h_low, w_high] if h_low >= 0 and w_high <= width - 1 else 0.0
    v3 = img[h_high, w_low] if h_high <= height - 1 and w_low >= 0 else 0.0
    v4 = img[h_high, w_high] if h_high <= height - 1 and w_high <= width - 1 else 0.0
    return hh * hw * v1 + hh * lw * v2 + lh * hw * v3 + lh * lw * v4


def tv_coordinate_weight(img, y, x, is_y_direction):
    """torchvision's ``get_coordinate_weight``: ∂(bilinear)/∂y or ∂x, from the cell of (⌊y⌋, ⌊x⌋)."""
    height, width = img.shape
    y_l, x_l = math.floor(y), math.floor(x)
    y_h, x_h = y_l + 1, x_l + 1
    ok_yl, ok_yh = 0 <= y_l < height, 0 <= y_h < height
    ok_xl, ok_xh = 0 <= x_l < width, 0 <= x_h < width
    v_yx = img[y_l, x_l] if ok_yl and ok_xl else 0.0
    v_yX = img[y_l, x_h] if ok_yl and ok_xh else 0.0
    v_Yx = img[y_h, x_l] if ok_yh and ok_xl else 0.0
    v_YX = img[y_h, x_h] if ok_yh and ok_xh else 0.0
    if is_y_direction:
        dx = x - x_l
        return dx * (v_YX - v_yX) + (1 - dx) * (v_Yx - v_yx)
    dy = y - y_l
    return dy * (v_YX - v_Yx) + (1 - dy) * (v_yX - v_yx)


def _taps(arrays, options):
    """Every (n, c, m, kk, i, j) with its group indices, sampling point and mask value (pure Python)."""
    x, off, w = arrays["input"], arrays["offset"], arrays["weight"]
    mask = arrays.get("mask")
    N, Cin, _, _ = x.shape
    O, Cg, kH, kW = w.shape
    oH, oW = off.shape[2:]
    T = kH * kW
    Q = off.shape[1] // (2 * T)
    (sh, sw), (ph, pw), (dh, dw) = options["stride"], options["padding"], options["dilation"]
    for n in range(N):
        for c in range(Cin):
            q = c // (Cin // Q)
            for m in range(kH):
                for kk in range(kW):
                    t = m * kW + kk
                    for i in range(oH):
                        for j in range(oW):
                            y = (i * sh - ph) + m * dh + off[n, 2 * (q * T + t), i, j]
                            xx = (j * sw - pw) + kk * dw + off[n, 2 * (q * T + t) + 1, i, j]
                            mv = 1.0 if mask is None else mask[n, q * T + t, i, j]
                            yield n, c, q, t, m, kk, i, j, y, xx, mv


def naive_forward(arrays, options):
    x, w = arrays["input"], arrays["weight"]
    O, Cg = w.shape[:2]
    Og = O // (x.shape[1] // Cg)
    out = np.zeros((x.shape[0], O) + arrays["offset"].shape[2:])
    for n, c, q, t, m, kk, i, j, y, xx, mv in _taps(arrays, options):
        g = c // Cg
        out[n, g * Og:(g + 1) * Og, i, j] += w[g * Og:(g + 1) * Og, c % Cg, m, kk] * (mv * tv_bilinear(x[n, c], y, xx))
    if "bias" in arrays:
        out += arrays["bias"].reshape(1, -1, 1, 1)
    return out


def naive_backward(arrays, options, grad):
    """torchvision's backward kernels: columns = Wᵀ·grad, then col2im, col2im_coord and the weight GEMM."""
    x, w = arrays["input"], arrays["weight"]
    mask = arrays.get("mask")
    H, W = x.shape[2:]
    O, Cg = w.shape[:2]
    Og = O // (x.shape[1] // Cg)
    grads = {name: np.zeros_like(a) for name, a in arrays.items()}
    for n, c, q, t, m, kk, i, j, y, xx, mv in _taps(arrays, options):
        g = c // Cg
        col = w[g * Og:(g + 1) * Og, c % Cg, m, kk] @ grad[n, g * Og:(g + 1) * Og, i, j]
        for dy in (-1, 0, 1):  # deformable_col2im_kernel, with C's truncating int()
            for dx in (-1, 0, 1):
                yp, xp = int(y) + dy, int(xx) + dx
                if 0 <= yp < H and 0 <= xp < W and abs(y - yp) < 1 and abs(xx - xp) < 1:
                    grads["input"][n, c, yp, xp] += mv * (1 - abs(y - yp)) * (1 - abs(xx - xp)) * col
        T = w.shape[2] * w.shape[3]
        grads["offset"][n, 2 * (q * T + t), i, j] += mv * tv_coordinate_weight(x[n, c], y, xx, True) * col
        grads["offset"][n, 2 * (q * T + t) + 1, i, j] += mv * tv_coordinate_weight(x[n, c], y, xx, False) * col
        v = tv_bilinear(x[n, c], y, xx)
        if mask is not None:
            grads["mask"][n, q * T + t, i, j] += col * v
        grads["weight"][g * Og:(g + 1) * Og, c % Cg, m, kk] += grad[n, g * Og:(g + 1) * Og, i, j] * (mv * v)
    if "bias" in arrays:
        grads["bias"] = grad.sum(axis=(0, 2, 3))
    return grads


# ---------------------------------------------------------------- (a) forward against the naive loops
@pytest.mark.parametrize("seed", range(12))
def test_forward_matches_torchvision_port(seed):
    rng = np.random.default_rng(seed)
    arrays, options = random_config(rng, integer_offsets=seed % 3 == 0, scale=4.0)
    out, _ = run(arrays, options)
    np.testing.assert_allclose(out.data, naive_forward(arrays, options), rtol=1e-10, atol=1e-12)


def test_boundary_rule_points_on_and_outside_the_border():
    """Points at y = −1, y = H, just inside (−0.999, H − 0.001) and far away: torchvision's values."""
    x = np.arange(1.0, 13.0).reshape(1, 1, 3, 4)
    w = np.ones((1, 1, 1, 1))
    ys = np.array([-1.0, -0.999, -0.5, 0.0, 1.25, 2.0, 2.001, 2.5, 2.999, 3.0, 3.5, -7.0, 1e9])
    xs = np.array([1.5, 2.0, -1.0, -0.25, 3.0, 3.75, 4.0, 0.0, 2.5, 1.0, 0.5, 2.0, -1e9])
    offset = np.stack([ys, xs]).reshape(1, 2, 1, len(ys))
    offset = np.broadcast_to(offset, (1, 2, 3, len(ys))).copy()
    offset[:, 0] -= np.arange(3).reshape(1, 3, 1)                       # undo the grid: y = i + Δy
    offset[:, 1] -= np.arange(len(ys)).reshape(1, 1, -1)
    x_wide = np.zeros((1, 1, 3, len(ys)))
    x_wide[..., :4] = x                                                 # wide enough for the output grid
    expected = [tv_bilinear(x_wide[0, 0], y, xx) for y, xx in zip(ys, xs)]
    out, _ = run(dict(input=x_wide, offset=offset, weight=w), dict(stride=1, padding=0, dilation=1))
    np.testing.assert_allclose(out.data[0, 0, 0], expected, rtol=1e-14, atol=0)
    assert out.data[0, 0, 0, 0] == 0 and out.data[0, 0, 0, 9] == 0     # y = −1 and y = H read 0


# ---------------------------------------------------------------- gradients against torchvision's backward
@pytest.mark.parametrize("seed", range(6))
def test_gradients_match_torchvision_port(seed):
    """Includes integer and half-integer points (zero offsets with padding, y = −1, y = H): there the
    offset gradient is the derivative from above, as torchvision's get_coordinate_weight."""
    rng = np.random.default_rng(100 + seed)
    arrays, options = random_config(rng, mask=seed % 2 == 0, bias=True, integer_offsets=seed < 4)
    if seed == 0:
        arrays["offset"][:] = 0.0
    out, tensors = run(arrays, options, requires_grad=True)
    grad = rng.standard_normal(out.shape)
    out.backward(cnnlab.Tensor(grad))
    expected = naive_backward(arrays, options, grad)
    for name, t in tensors.items():
        np.testing.assert_allclose(t.grad.data, expected[name], rtol=1e-10, atol=1e-11, err_msg=name)


# ---------------------------------------------------------------- (b) ONNX's reference DeformConv
def onnx_deform_conv(onnx, arrays, options):
    """ONNX's DeformConv (inputs X, W, offset, B, mask) on the same arrays and options."""
    (sh, sw), (ph, pw), (dh, dw) = options["stride"], options["padding"], options["dilation"]
    w = arrays["weight"]
    return onnx_node(onnx, "DeformConv", {n: arrays.get(n) for n in ("input", "weight", "offset", "bias", "mask")},
                     strides=[sh, sw], pads=[ph, pw, ph, pw], dilations=[dh, dw],
                     group=arrays["input"].shape[1] // w.shape[1],
                     offset_group=arrays["offset"].shape[1] // (2 * w.shape[2] * w.shape[3]))


@pytest.mark.parametrize("seed", range(4))
def test_forward_matches_onnx_reference(onnx, seed):
    """ONNX reshapes offset to (N, offset_group, kH, kW, 2, oH, oW) and mask to (N, offset_group, kH, kW,
    oH, oW): the same layout as torchvision's; it samples with GridSample(align_corners=1, zeros).

    Its reference GridSample stores the denormalised points in float32 (``_gs_denormalize_coordinates``),
    so the offsets here are multiples of 1/64: then every point is exact in float32 and the results
    agree to float64 rounding."""
    rng = np.random.default_rng(200 + seed)
    arrays, options = random_config(rng, mask=seed % 2 == 1, bias=seed < 2, scale=3.0)
    arrays["offset"] = np.round(arrays["offset"] * 64) / 64
    arrays["input"] = arrays["input"][:1]                              # the reference loops in Python: keep it small
    arrays["offset"] = arrays["offset"][:1]
    if "mask" in arrays:
        arrays["mask"] = arrays["mask"][:1]
    out, _ = run(arrays, options)
    np.testing.assert_allclose(out.data, onnx_deform_conv(onnx, arrays, options), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- PyTorch composition (every gradient)
def torch_deform_conv(torch, x, offset, weight, bias, mask, stride, padding, dilation):
    """deform_conv2d from torch ops: grid_sample(bilinear, zeros, align_corners=True) + einsum."""
    N, Cin, H, W = x.shape
    O, Cg, kH, kW = weight.shape
    oH, oW = offset.shape[2:]
    T, G = kH * kW, Cin // Cg
    Q = offset.shape[1] // (2 * T)
    m = torch.arange(kH).reshape(kH, 1, 1, 1) * dilation[0]
    n = torch.arange(kW).reshape(1, kW, 1, 1) * dilation[1]
    i = torch.arange(oH).reshape(1, 1, oH, 1) * stride[0] - padding[0]
    j = torch.arange(oW).reshape(1, 1, 1, oW) * stride[1] - padding[1]
    base = torch.stack(torch.broadcast_tensors(i + m + 0 * j, j + n + 0 * i), dim=2)  # (kH, kW, 2, oH, oW)
    pts = offset.reshape(N, Q, kH, kW, 2, oH, oW) + base.to(x.dtype)
    gy = pts[:, :, :, :, 0] / (H - 1) * 2 - 1                           # (N, Q, kH, kW, oH, oW)
    gx = pts[:, :, :, :, 1] / (W - 1) * 2 - 1
    grid = torch.stack([gx, gy], dim=-1).reshape(N * Q, T * oH, oW, 2)
    cols = torch.nn.functional.grid_sample(x.reshape(N * Q, Cin // Q, H, W), grid, mode="bilinear",
                                           padding_mode="zeros", align_corners=True)
    cols = cols.reshape(N, Q, Cin // Q, T, oH * oW)
    if mask is not None:
        cols = cols * mask.reshape(N, Q, 1, T, oH * oW)
    cols = cols.reshape(N, G, Cg, T, oH * oW)
    y = torch.einsum("gokt,ngktl->ngol", weight.reshape(G, O // G, Cg, T), cols).reshape(N, O, oH, oW)
    return y if bias is None else y + bias.reshape(1, O, 1, 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(4))
def test_forward_and_every_gradient_match_torch(torch, seed, dtype):
    """float32 tolerance 1e-4: grid_sample maps each point to [−1, 1] and back, rounding it in float32."""
    rng = np.random.default_rng(300 + seed)
    arrays, options = random_config(rng, mask=seed % 2 == 0, bias=seed < 2)
    names = list(arrays)

    def theirs(*tensors):
        t = dict(zip(names, tensors))
        return torch_deform_conv(torch, t["input"], t["offset"], t["weight"], t.get("bias"), t.get("mask"), **options)

    tol = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-4, atol=1e-4)}
    against_torch(torch, lambda *tensors: deform_conv2d(**dict(zip(names, tensors)), **options), theirs,
                  list(arrays.values()), dtype, tol=tol, seed=rng, require_grads=True, label=str(names))


# ---------------------------------------------------------------- (c) zero offsets, unit mask == conv2d
@pytest.mark.parametrize("cfg", [
    dict(Cin=3, O=4, k=(3, 3), stride=1, padding=1, dilation=1),
    dict(Cin=4, O=6, k=(3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), Q=2),
    dict(Cin=4, O=4, k=(2, 3), stride=(1, 3), padding=(0, 1), dilation=(2, 1), G=2, Q=4),
    dict(Cin=6, O=6, k=(3, 3), stride=2, padding=2, dilation=2, G=6, Q=3),  # depthwise
    dict(Cin=2, O=3, k=(1, 1), stride=1, padding=0, dilation=1),
])
def test_zero_offsets_and_unit_mask_equal_conv2d(cfg):
    rng = np.random.default_rng(7)
    G, Q = cfg.get("G", 1), cfg.get("Q", 1)
    x = rng.standard_normal((2, cfg["Cin"], 7, 8))
    w = rng.standard_normal((cfg["O"], cfg["Cin"] // G) + cfg["k"])
    b = rng.standard_normal(cfg["O"])
    opts = {k: cfg[k] for k in ("stride", "padding", "dilation")}
    xs, ws, bs = (cnnlab.Tensor(a.copy(), requires_grad=True) for a in (x, w, b))
    ref = C.conv2d(xs, ws, bs, groups=G, **opts)
    T = cfg["k"][0] * cfg["k"][1]
    grad = rng.standard_normal(ref.shape)
    ref.backward(cnnlab.Tensor(grad))
    for mask in (None, np.ones((2, Q * T) + ref.shape[2:])):
        xd, wd, bd = (cnnlab.Tensor(a.copy(), requires_grad=True) for a in (x, w, b))
        out = deform_conv2d(xd, cnnlab.Tensor(np.zeros((2, 2 * Q * T) + ref.shape[2:])), wd, bd,
                            mask=None if mask is None else cnnlab.Tensor(mask), **opts)
        np.testing.assert_allclose(out.data, ref.data, rtol=1e-12, atol=1e-12)
        out.backward(cnnlab.Tensor(grad))
        for ours, theirs in ((xd, xs), (wd, ws), (bd, bs)):
            np.testing.assert_allclose(ours.grad.data, theirs.grad.data, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- (d) finite differences
@pytest.mark.parametrize("seed", range(3))
def test_gradcheck(seed):
    """Points kept ≥ 0.2 px from integer coordinates, where the bilinear function is smooth."""
    rng = np.random.default_rng(400 + seed)
    G, Q = [(1, 2), (2, 1), (2, 2)][seed]
    k, stride, padding, dilation = [((2, 2), 1, 1, 1), ((2, 1), (1, 2), (0, 1), (2, 1)), ((1, 2), 2, 1, (1, 2))][seed]
    x = rng.standard_normal((1, 4, 4, 5))
    w = rng.standard_normal((2, 4 // G) + k)
    b = rng.standard_normal(2)
    out = tuple(C.conv2d(cnnlab.Tensor(x), cnnlab.Tensor(w), groups=G, stride=stride, padding=padding,
                         dilation=dilation).shape[2:])
    T = k[0] * k[1]
    shape = (1, 2 * Q * T) + out
    offset = rng.integers(-3, 3, size=shape) + rng.uniform(0.2, 0.8, size=shape)  # reaches outside the image
    mask = rng.uniform(-1, 2, size=(1, Q * T) + out)

    def fn(x, offset, w, b, mask):
        return deform_conv2d(x, offset, w, b, stride, padding, dilation, mask)

    gradcheck(fn, x, offset, w, b, mask, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- dtype
def test_float32_stays_float32():
    rng = np.random.default_rng(5)
    arrays, options = random_config(rng, mask=True, bias=True)
    out32, t32 = run(arrays, options, requires_grad=True, dtype=np.float32)
    out64, t64 = run(arrays, options, requires_grad=True)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.data, out64.data, rtol=1e-4, atol=1e-4)
    out32.backward(cnnlab.Tensor(np.ones(out32.shape, np.float32)))
    assert all(t.grad.dtype == np.float32 for t in t32.values())


# ---------------------------------------------------------------- (e) the layer
def _conv_twin(layer):
    conv = Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                  layer.dilation, layer.groups, bias=layer.bias is not None, dtype=layer.weight.dtype)
    conv.load_state_dict({k: v for k, v in layer.state_dict().items() if not k.startswith("conv_offset")})
    return conv


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2, offset_groups=2),
    dict(kernel_size=2, bias=False, offset_groups=4),
])
@pytest.mark.parametrize("modulated", [False, True])
def test_layer_at_init_is_its_conv2d(kwargs, modulated):
    cnnlab.manual_seed(0)
    layer = DeformConv2d(4, 6, modulated=modulated, dtype=np.float64, **kwargs)
    assert not layer.conv_offset.weight.data.any() and not layer.conv_offset.bias.data.any()
    x = cnnlab.Tensor(np.random.default_rng(1).standard_normal((2, 4, 6, 7)), requires_grad=True)
    out = layer(x)
    conv = _conv_twin(layer)
    expected = conv(x).data
    if modulated:  # every mask is sigmoid(0) = 0.5
        b = 0 if layer.bias is None else layer.bias.data.reshape(1, -1, 1, 1)
        expected = 0.5 * (expected - b) + b
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    out.backward(cnnlab.Tensor(np.random.default_rng(2).standard_normal(out.shape)))
    g = layer.conv_offset.weight.grad.data                            # the offsets (and masks) learn
    n = 2 * layer.offset_groups * math.prod(layer.kernel_size)
    assert np.abs(g[:n]).sum() > 0 and np.abs(layer.conv_offset.bias.grad.data).sum() > 0
    if modulated:
        assert np.abs(g[n:]).sum() > 0
    assert layer.weight.grad is not None and x.grad is not None


@pytest.mark.parametrize("modulated", [False, True])
def test_layer_feeds_predicted_offsets_and_masks_to_the_op(modulated):
    rng = np.random.default_rng(3)
    layer = DeformConv2d(4, 3, (3, 2), padding=(1, 0), offset_groups=2, modulated=modulated, dtype=np.float64)
    with cnnlab.no_grad():
        layer.conv_offset.weight.copy_(rng.standard_normal(layer.conv_offset.weight.shape) * 0.3)
        layer.conv_offset.bias.copy_(rng.standard_normal(layer.conv_offset.bias.shape))
    x = cnnlab.Tensor(rng.standard_normal((2, 4, 5, 6)))
    pred = C.conv2d(x, layer.conv_offset.weight, layer.conv_offset.bias, padding=(1, 0)).data
    n = 2 * 2 * 6
    mask = cnnlab.Tensor(1 / (1 + np.exp(-pred[:, n:]))) if modulated else None
    expected = deform_conv2d(x, cnnlab.Tensor(pred[:, :n]), layer.weight, layer.bias, padding=(1, 0), mask=mask)
    np.testing.assert_allclose(layer(x).data, expected.data, rtol=1e-12, atol=1e-12)


def test_layer_parameters_init_and_repr():
    cnnlab.manual_seed(0)
    layer = DeformConv2d(4, 8, 3, padding=1, groups=2)
    assert layer.weight.dtype == np.float32 and layer.weight.shape == (8, 2, 3, 3)
    assert [k for k, _ in layer.named_parameters()] == ["weight", "bias", "conv_offset.weight", "conv_offset.bias"]
    assert layer.conv_offset.weight.shape == (18, 4, 3, 3)
    bound = 1 / math.sqrt(2 * 9)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert np.abs(layer.weight.data).max() > bound / 2
    assert repr(layer) == ("DeformConv2d(\n  4, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2\n"
                           "  (conv_offset): Conv2d(4, 18, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n)")
    m = DeformConv2d(4, 8, (3, 1), stride=2, dilation=(2, 1), offset_groups=2, bias=False, modulated=True)
    assert m.extra_repr() == ("4, 8, kernel_size=(3, 1), stride=(2, 2), dilation=(2, 1), offset_groups=2, "
                              "bias=False, modulated=True")
    assert m.conv_offset.weight.shape == (18, 4, 3, 1)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(in_channels=4, out_channels=6, kernel_size=3, groups=3), ValueError,
     "DeformConv2d: in_channels=4 must be divisible by groups=3"),
    (dict(in_channels=4, out_channels=6, kernel_size=3, groups=4), ValueError,
     "DeformConv2d: out_channels=6 must be divisible by groups=4"),
    (dict(in_channels=4, out_channels=6, kernel_size=3, offset_groups=3), ValueError,
     "DeformConv2d: in_channels=4 must be divisible by offset_groups=3"),
    (dict(in_channels=4, out_channels=6, kernel_size=3, offset_groups=0), ValueError,
     r"DeformConv2d: offset_groups must be positive, got offset_groups=0"),
    (dict(in_channels=4, out_channels=6, kernel_size=(3, 3, 3)), ValueError, "DeformConv2d: kernel_size must be"),
    (dict(in_channels=4, out_channels=6, kernel_size=3, stride=0), ValueError, "DeformConv2d: stride must be positive"),
    (dict(in_channels=4, out_channels=6, kernel_size=3, modulated=1), TypeError,
     "DeformConv2d: modulated must be True or False"),
])
def test_layer_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        DeformConv2d(**kwargs)


# ---------------------------------------------------------------- (f) error messages
def _base():
    rng = np.random.default_rng(0)
    return dict(input=rng.standard_normal((2, 4, 6, 6)), offset=rng.standard_normal((2, 18, 4, 4)),
                weight=rng.standard_normal((6, 4, 3, 3)), bias=rng.standard_normal(6),
                mask=rng.standard_normal((2, 9, 4, 4)))


@pytest.mark.parametrize("change, options, error, match", [
    (dict(offset=np.zeros((2, 10, 4, 4))), {}, ValueError,
     r"deform_conv2d: offset has 10 channels, but it must be 2·offset_groups·kH·kW = a multiple of 18"),
    (dict(offset=np.zeros((2, 0, 4, 4))), {}, ValueError, r"offset has 0 channels, but it must be"),
    (dict(offset=np.zeros((2, 18, 5, 5))), {}, ValueError,
     r"deform_conv2d: offset has spatial size \(5, 5\), but it must equal the output size \(4, 4\)"),
    (dict(offset=np.zeros((2, 18, 6, 6))), dict(stride=2), ValueError,
     r"offset has spatial size \(6, 6\), but it must equal the output size \(2, 2\)"),
    (dict(offset=np.zeros((1, 18, 4, 4))), {}, ValueError, r"deform_conv2d: offset has batch size 1, but input has 2"),
    (dict(offset=np.zeros((2, 54, 4, 4)), mask=None), {}, ValueError,
     r"deform_conv2d: input has 4 channels, which is not divisible by offset_groups=3"),
    (dict(mask=np.zeros((2, 18, 4, 4))), {}, ValueError,
     r"deform_conv2d: mask must have shape \(2, 9, 4, 4\) \(N, offset_groups·kH·kW, oH, oW\), got \(2, 18, 4, 4\)"),
    (dict(mask=np.zeros((2, 9, 4))), {}, ValueError, r"deform_conv2d: mask must be 4-d"),
    (dict(weight=np.zeros((6, 3, 3, 3))), {}, ValueError,
     r"deform_conv2d: input has 4 channels, which is not a multiple of weight.shape\[1\]=3"),
    (dict(weight=np.zeros((5, 2, 3, 3))), {}, ValueError,
     r"deform_conv2d: out_channels=5 \(weight.shape\[0\]\) must be divisible by groups=2"),
    (dict(bias=np.zeros(5)), {}, ValueError,
     r"deform_conv2d: bias must have shape \(6,\) \(out_channels\), got \(5,\)"),
    (dict(input=np.zeros((4, 6, 6))), {}, ValueError,
     r"deform_conv2d: input must be 4-d \(N, C_in, H, W\), got shape \(4, 6, 6\)"),
    (dict(weight=np.zeros((6, 4, 9))), {}, ValueError, r"deform_conv2d: weight must be 4-d"),
    (dict(offset=np.zeros((2, 18, 16))), {}, ValueError, r"deform_conv2d: offset must be 4-d"),
    (dict(bias=np.zeros((6, 1))), {}, ValueError, r"deform_conv2d: bias must be 1-d"),
    (dict(mask=np.zeros((2, 9, 4, 4), np.float32)), {}, TypeError,
     r"deform_conv2d: all tensors must have the same dtype, got input float64, offset float64, weight float64, "
     r"bias float64, mask float32"),
    (dict(offset=np.zeros((2, 18, 4, 4), np.int64)), {}, TypeError,
     r"deform_conv2d: offset must be a floating point tensor, got dtype int64"),
    ({}, dict(stride=0), ValueError, r"deform_conv2d: stride must be positive"),
    ({}, dict(padding=-1), ValueError, r"deform_conv2d: padding must be non-negative"),
    ({}, dict(dilation=(1, 2, 3)), ValueError, r"deform_conv2d: dilation must be an int or a tuple of 2 ints"),
    ({}, dict(dilation=4), ValueError, r"deform_conv2d: kernel size \(after dilation\) 9 is larger than"),
])
def test_error_messages(change, options, error, match):
    arrays = {**_base(), **change}
    tensors = {k: (None if a is None else cnnlab.Tensor(a)) for k, a in arrays.items()}
    with pytest.raises(error, match=match):
        deform_conv2d(**tensors, **options)


def test_non_tensor_arguments_are_rejected():
    a = _base()
    with pytest.raises(TypeError, match=r"deform_conv2d: offset must be a Tensor, got ndarray"):
        deform_conv2d(cnnlab.Tensor(a["input"]), a["offset"], cnnlab.Tensor(a["weight"]))
    with pytest.raises(TypeError, match=r"deform_conv2d: mask must be a Tensor, got list"):
        deform_conv2d(cnnlab.Tensor(a["input"]), cnnlab.Tensor(a["offset"]), cnnlab.Tensor(a["weight"]), mask=[1])
