"""Sliding windows as read-only strided views, shared by convolution and pooling.

Notation (for each of the D spatial axes): n input size (after padding),
k kernel size, s stride, d dilation, o output size = ⌊(n − d(k−1) − 1)/s⌋ + 1
(`shapes.conv_output_size` with p = 0).

`windows(x, k, s, d)` returns a view of x (N, C, n₁..n_D) with shape
(N, C, k₁..k_D, o₁..o_D) whose element [.., t₁..t_D, i₁..i_D] is
x[.., i₁s₁ + t₁d₁, ..]: no data is copied, whatever x's memory layout (an
NCHW-shaped view of channels-last memory works too). `scatter_add_windows` is
its adjoint: it adds window-shaped values back into an (N, C, n₁..n_D) array,
one strided slice per kernel tap (so Python loops run over taps only).

`windows`, `tap_slices` and `copy_runs` are array primitives of `cnnlab.kernels.strided`,
which the kernels share (a lower layer), re-exported here for the ops.
"""
from __future__ import annotations

import itertools

import numpy as np

from cnnlab.kernels.strided import copy_runs, tap_slices, windows  # noqa: F401  (re-exported)


def pad_constant(x: np.ndarray, pads, value) -> np.ndarray:
    """x (N, C, *n) with (before, after) pads of `value` on each spatial axis, as a new NCHW array (a filled
    buffer and one slice assignment: np.pad measured 1.6× slower); x itself when there is nothing to pad."""
    if not any(a or b for a, b in pads):
        return x
    padded = np.full(x.shape[:2] + tuple(n + a + b for n, (a, b) in zip(x.shape[2:], pads)), value, dtype=x.dtype)
    padded[(slice(None), slice(None)) + tuple(slice(a, a + n) for n, (a, _) in zip(x.shape[2:], pads))] = x
    return padded


def scatter_add_windows(cols: np.ndarray, result: np.ndarray, kernel, stride, dilation) -> np.ndarray:
    """Adjoint of `windows`: add values laid out as (N, C, *kernel, *out) into result (N, C, *spatial), in place.

    Both arrays may have any memory layout (e.g. channels-last memory behind an NCHW-shaped view).
    """
    D = len(kernel)
    out = cols.shape[2 + D:]
    for tap in itertools.product(*(range(k) for k in kernel)):
        result[(slice(None), slice(None)) + tap_slices(tap, stride, dilation, out)] += cols[(slice(None), slice(None)) + tap]
    return result
