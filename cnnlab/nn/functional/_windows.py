"""Sliding windows as read-only strided views, shared by convolution and pooling.

Notation (for each of the D spatial axes): n input size (after padding),
k kernel size, s stride, d dilation, o output size = ⌊(n − d(k−1) − 1)/s⌋ + 1.

`windows(x, k, s, d)` returns a view of x (N, C, n₁..n_D) with shape
(N, C, k₁..k_D, o₁..o_D) whose element [.., t₁..t_D, i₁..i_D] is
x[.., i₁s₁ + t₁d₁, ..]: no data is copied, whatever x's memory layout (an
NCHW-shaped view of channels-last memory works too). `scatter_add_windows` is
its adjoint: it adds window-shaped values back into an (N, C, n₁..n_D) array,
one strided slice per kernel tap (so Python loops run over taps only).
"""
from __future__ import annotations

import itertools

import numpy as np
from numpy.lib.stride_tricks import as_strided


def windows(x: np.ndarray, kernel, stride, dilation, out=None) -> np.ndarray:
    """Read-only view (N, C, *kernel, *out) of the sliding windows of x (N, C, *spatial)."""
    spatial = x.shape[2:]
    if out is None:
        out = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(spatial, kernel, stride, dilation))
    st = x.strides[2:]
    shape = x.shape[:2] + tuple(kernel) + tuple(out)
    strides = x.strides[:2] + tuple(a * d for a, d in zip(st, dilation)) + tuple(a * s for a, s in zip(st, stride))
    return as_strided(x, shape=shape, strides=strides, writeable=False)


def pad_constant(x: np.ndarray, pads, value) -> np.ndarray:
    """x (N, C, *n) with (before, after) pads of `value` on each spatial axis, as a new NCHW array (a filled
    buffer and one slice assignment: np.pad measured 1.6× slower); x itself when there is nothing to pad."""
    if not any(a or b for a, b in pads):
        return x
    xp = np.full(x.shape[:2] + tuple(n + a + b for n, (a, b) in zip(x.shape[2:], pads)), value, dtype=x.dtype)
    xp[(slice(None), slice(None)) + tuple(slice(a, a + n) for n, (a, _) in zip(x.shape[2:], pads))] = x
    return xp


def tap_slices(tap, stride, dilation, out):
    """The slice of the padded input that kernel tap `tap` (a multi-index) reads for all outputs."""
    return tuple(slice(t * d, t * d + s * (o - 1) + 1, s) for t, s, d, o in zip(tap, stride, dilation, out))


def scatter_add_windows(cols: np.ndarray, result: np.ndarray, kernel, stride, dilation) -> np.ndarray:
    """Adjoint of `windows`: add values laid out as (N, C, *kernel, *out) into result (N, C, *spatial), in place.

    Both arrays may have any memory layout (e.g. channels-last memory behind an NCHW-shaped view).
    """
    D = len(kernel)
    out = cols.shape[2 + D:]
    for tap in itertools.product(*(range(k) for k in kernel)):
        result[(slice(None), slice(None)) + tap_slices(tap, stride, dilation, out)] += cols[(slice(None), slice(None)) + tap]
    return result
