"""Resampling, as ``torch.nn.functional``: `interpolate` (nearest, nearest-exact, linear, bilinear,
bicubic, trilinear, area) in 1-3 dimensions, and `pixel_shuffle` / `pixel_unshuffle`.

Interpolation is separable. Along one spatial axis of input size n and output size m, output o reads
the input around the source coordinate src(o), with the scale s = n / m (or 1 / scale_factor when a
scale factor is given), all in the input's float type, as PyTorch's CPU kernels compute it:

    nearest        i = ⌊o·s⌋  (m = 2n: i = ⌊o/2⌋, PyTorch's shortcut)      (one tap, weight 1)
    nearest-exact  i = ⌊(o + ½)·s⌋                                    (one tap, weight 1)
    linear         src = (o + ½)·s − ½, at least 0  (align_corners: src = o·(n − 1)/(m − 1))
                   i = ⌊src⌋, λ = src − i:   y = (1 − λ)·x[i] + λ·x[i + 1]
    cubic          the same src, not clamped; taps i − 1 … i + 2 (clamped to the input) weighted by Keys'
                   cubic convolution with a = −0.75 at the distances 1 + t, t, 1 − t, 2 − t (t = src − i)
    area           adaptive average pooling to the output size

(indices clamped to n − 1; with nearest and the linear modes an axis whose size does not change is
copied, whatever the scale factor, as PyTorch does). So each axis is y = A·x
with a sparse m × n matrix A of 1, 2 or 4 entries a row; the op applies the axes last first (as
PyTorch's kernels nest their loops), and its gradient is gx = Aᵀ·g, axis by axis in reverse order.

Pixel shuffle (Shi et al., 2016) moves r × r blocks of channels into space:
y[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w]; pixel_unshuffle is its inverse. Both are a reshape,
a permute and a reshape, so their gradients are the same moves backwards.
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab import arguments
from cnnlab.autograd import Function, Tensor
from cnnlab.nn.functional._util import check_tensor
from cnnlab.nn.functional.adaptive_pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

__all__ = ["interpolate", "upsample", "pixel_shuffle", "pixel_unshuffle"]

MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}       # the modes tied to one dim count
_CUBIC_A = -0.75


# ---------------------------------------------------------------- one axis: its taps
def _scale(n: int, m: int, factor, align_corners: bool, ftype):
    """The step s between output positions, in input units, as PyTorch computes it (in `ftype`)."""
    if align_corners:
        return ftype(n - 1) / ftype(m - 1) if m > 1 else ftype(0)
    return ftype(1.0 / factor) if factor is not None else ftype(n) / ftype(m)


def _cubic_weights(t):
    """Keys' cubic convolution weights of the taps i − 1, i, i + 1, i + 2 for t = src − i in [0, 1]."""
    a = _CUBIC_A

    def near(x):        # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):         # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)          # (m, 4)


def axis_taps(mode: str, n: int, m: int, factor, align_corners: bool, dtype):
    """(index (m, T) int64, weight (m, T) of `dtype`): output o of an axis of n inputs -> m outputs
    is Σ_t weight[o, t]·x[index[o, t]] (the module docstring's rules)."""
    o = np.arange(m)
    if mode in ("nearest", "nearest-exact"):          # PyTorch computes these indices in float32
        if m == n and mode == "nearest":            # PyTorch's nearest_idx: equal sizes copy, ...
            index = o
        elif m == 2 * n and mode == "nearest":      # ... exactly doubled sizes take o // 2
            index = o // 2
        else:
            s = _scale(n, m, factor, False, np.float32)
            shift = np.float32(0.5) if mode == "nearest-exact" else np.float32(0)
            index = np.minimum(np.floor((o.astype(np.float32) + shift) * s).astype(np.int64), n - 1)
        return index[:, None], np.ones((m, 1), dtype)
    ftype = np.dtype(dtype).type
    if m == n and mode != "bicubic":
        return o[:, None], np.ones((m, 1), dtype)
    s = _scale(n, m, factor, align_corners, ftype)
    src = s * o.astype(dtype) if align_corners else s * (o.astype(dtype) + ftype(0.5)) - ftype(0.5)
    if mode != "bicubic":
        src = np.maximum(src, ftype(0))
    i = np.minimum(np.floor(src).astype(np.int64), n - 1)
    t = np.clip(src - i.astype(dtype), ftype(0), ftype(1))
    if mode == "bicubic":
        index = np.clip(i[:, None] + np.arange(-1, 3), 0, n - 1)
        return index, _cubic_weights(t).astype(dtype)
    index = np.stack([i, np.minimum(i + 1, n - 1)], axis=1)
    return index, np.stack([ftype(1) - t, t], axis=1).astype(dtype)


def tap_matrix(index, weight, n):
    """The m × n matrix A of an axis's taps (entries of one row at the same column add up); public in the
    package for ONNX export, which writes a resampled axis as this matrix product."""
    A = np.zeros((index.shape[0], n), dtype=weight.dtype)
    np.add.at(A, (np.arange(index.shape[0])[:, None], index), weight)
    return A


class Resample(Function):
    """y = A_1 … A_D x, each A_k along spatial axis k (applied last axis first); gx = A_Dᵀ … A_1ᵀ g."""

    @staticmethod
    def forward(ctx, x, taps=()):
        ctx.taps, ctx.sizes = taps, x.shape[2:]
        y = x
        for k in reversed(range(len(taps))):                       # last axis first, as PyTorch
            if taps[k] is None:
                continue
            index, weight = taps[k]
            axis = 2 + k
            shape = [1] * y.ndim
            shape[axis] = index.shape[0]
            out = None
            for t in range(index.shape[1]):                         # Σ_t weight_t · x[index_t] along the axis
                term = np.take(y, index[:, t], axis=axis)
                if index.shape[1] > 1:                                  # one tap has weight 1: a copy
                    term = term * weight[:, t].reshape(shape)
                out = term if out is None else out + term
            y = out
        return y

    @staticmethod
    def backward(ctx, g):
        for k, taps in enumerate(ctx.taps):                         # the adjoint: first axis first
            if taps is None:
                continue
            A = tap_matrix(*taps, ctx.sizes[k]).astype(g.dtype, copy=False)   # (m, n)
            g = np.moveaxis(np.tensordot(g, A, axes=([2 + k], [0])), -1, 2 + k)   # (N, C, ..., n, ...)
        return g


# ---------------------------------------------------------------- interpolate
def _output_size(op, input, D, size, scale_factor, recompute_scale_factor):
    """(output sizes, scale factors passed to the kernels or None), as torch.nn.functional.interpolate."""
    if size is not None and scale_factor is not None:
        raise ValueError(f"{op}: only one of size or scale_factor should be defined, got size={size!r} and "
                         f"scale_factor={scale_factor!r}")
    if size is None and scale_factor is None:
        raise ValueError(f"{op}: either size or scale_factor should be defined")
    spatial = input.shape[2:]
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
        return arguments.positive_ints(size, D, op=op, arg="size"), None
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * D
    if len(factors) != D:
        raise ValueError(f"{op}: scale_factor must be a number or a tuple of {D} numbers for a {D + 2}-d input, "
                         f"got {scale_factor!r}")
    factors = tuple(float(arguments.number(f, op=op, arg="scale_factor")) for f in factors)
    if not all(f > 0 and math.isfinite(f) for f in factors):
        raise ValueError(f"{op}: scale_factor must be positive and finite, got scale_factor={scale_factor!r}")
    out = tuple(math.floor(n * f) for n, f in zip(spatial, factors))
    if min(out) < 1:
        raise ValueError(f"{op}: scale_factor={scale_factor!r} makes an empty output from the input's spatial size "
                         f"{tuple(spatial)}: output size {out}")
    return out, (None if recompute_scale_factor else factors)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """Resize the spatial dims of `input`, as ``torch.nn.functional.interpolate``.

    Args:
        input: (N, C, *spatial) with 1, 2 or 3 spatial dims.
        size: the output's spatial size: an int or one per spatial dim.
        scale_factor: the multiplier of the spatial size (a number or one per dim): the output size is
            ⌊n·scale_factor⌋, and the kernels use 1/scale_factor as their step (PyTorch's rule) unless
            `recompute_scale_factor` is True, when they use n/output size. Give size or scale_factor.
        mode: 'nearest' (the default, PyTorch's legacy rule ⌊o·s⌋), 'nearest-exact' (⌊(o + ½)·s⌋),
            'linear' (3-d input), 'bilinear' or 'bicubic' (4-d), 'trilinear' (5-d), or 'area'
            (adaptive average pooling).
        align_corners: for the linear modes and bicubic: True maps the corner pixels' centres onto each
            other; False (the default) the corners of the pixels. Not allowed with the other modes.
        recompute_scale_factor: see `scale_factor`.
        antialias: not supported (False only).

    Shape:
        input (N, C, *n) -> output (N, C, *m), m = size, or ⌊n·scale_factor⌋.

    Example:
        >>> F.interpolate(cnnlab.tensor([[[1.0, 2.0]]]), scale_factor=2, mode="linear").numpy().tolist()
        [[[1.0, 1.25, 1.75, 2.0]]]
    """
    op = "interpolate"
    check_tensor(op, input)
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
    if not 3 <= input.ndim <= 5:
        raise ValueError(f"{op}: expected a 3-d, 4-d or 5-d input (N, C, *spatial), got a {input.ndim}-d input of "
                         f"shape {input.shape}")
    D = input.ndim - 2
    if mode in _DIMS and _DIMS[mode] != D:
        raise ValueError(f"{op}: got a {input.ndim}-d input, but mode {mode!r} needs a {_DIMS[mode] + 2}-d input")
    if mode in _DIMS:
        align_corners = False if align_corners is None else arguments.boolean(align_corners, op=op,
                                                                              arg="align_corners")
    elif align_corners is not None:
        raise ValueError(f"{op}: align_corners can only be set with the interpolating modes linear, bilinear, "
                         f"bicubic and trilinear, got align_corners={align_corners!r} with mode {mode!r}")
    if arguments.boolean(antialias, op=op, arg="antialias"):
        raise ValueError(f"{op}: antialias=True is not supported")
    if min(input.shape[2:], default=1) < 1:
        raise ValueError(f"{op}: the input's spatial sizes must be positive, got shape {input.shape}")
    out, factors = _output_size(op, input, D, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[D - 1](input, out)
    kernel_mode = "bicubic" if mode == "bicubic" else ("linear" if mode in _DIMS else mode)
    taps = tuple(None if m == n and kernel_mode in ("nearest", "linear") else    # a kept size: a copy
                 axis_taps(kernel_mode, n, m, f, align_corners, input.dtype)
                 for n, m, f in zip(input.shape[2:], out, factors or (None,) * D))
    return Resample.apply(input, taps=taps)


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None) -> Tensor:
    """``torch.nn.functional.upsample`` (deprecated there): `interpolate` with the same arguments."""
    return interpolate(input, size, scale_factor, mode, align_corners)


# ---------------------------------------------------------------- pixel shuffle
def _factor(op, value, arg):
    return arguments.positive_int(value, op=op, arg=arg)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C·r², H, W) -> (*, C, H·r, W·r): y[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w], as
    ``torch.nn.functional.pixel_shuffle`` (the sub-pixel convolution's rearrangement, Shi et al. 2016)."""
    op = "pixel_shuffle"
    check_tensor(op, input, floating=False)
    r = _factor(op, upscale_factor, "upscale_factor")
    if input.ndim < 3:
        raise ValueError(f"{op}: expected an input of at least 3 dims (*, C·r², H, W), got shape {input.shape}")
    *lead, C, H, W = input.shape
    if C % (r * r):
        raise ValueError(f"{op}: the input's {C} channels must be divisible by upscale_factor² = {r * r}")
    x = input.reshape(*lead, C // (r * r), r, r, H, W)                      # (*, C, r_i, r_j, H, W)
    L = len(lead)
    x = x.permute(*range(L), L, L + 3, L + 1, L + 4, L + 2)                 # (*, C, H, r_i, W, r_j)
    return x.reshape(*lead, C // (r * r), H * r, W * r)                     # (*, C, H·r, W·r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H·r, W·r) -> (*, C·r², H, W), the inverse of `pixel_shuffle`, as
    ``torch.nn.functional.pixel_unshuffle``."""
    op = "pixel_unshuffle"
    check_tensor(op, input, floating=False)
    r = _factor(op, downscale_factor, "downscale_factor")
    if input.ndim < 3:
        raise ValueError(f"{op}: expected an input of at least 3 dims (*, C, H·r, W·r), got shape {input.shape}")
    *lead, C, H, W = input.shape
    if H % r or W % r:
        raise ValueError(f"{op}: the input's height {H} and width {W} must be divisible by downscale_factor = {r}")
    x = input.reshape(*lead, C, H // r, r, W // r, r)                       # (*, C, H, r_i, W, r_j)
    L = len(lead)
    x = x.permute(*range(L), L, L + 2, L + 4, L + 1, L + 3)                 # (*, C, r_i, r_j, H, W)
    return x.reshape(*lead, C * r * r, H // r, W // r)                      # (*, C·r², H, W)
