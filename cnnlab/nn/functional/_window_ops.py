"""Primitives on windows and (N, C) planes shared by pooling, adaptive pooling and unpooling.

    TakeFlat    y[n, c, j] = x[n, c].flat[index[n, c, j]]       (max pooling: gather at the argmax)
    PutFlat     y[n, c].flat[index[n, c, j]] = x[n, c, j]       (max unpooling, the adjoint)
    WindowSum   y[i] = Σ_t x_pad[i·s + t] over each window      (average pooling, separable)
    max_and_first_tap   the maximum over K taps and the first tap reaching it (PyTorch's argmax)

`along(axis, index)` is the index tuple that selects `index` along one axis. Indices are flat
within each (N, C) plane, int64, as PyTorch's ``return_indices``; `plane_positions` turns them into
positions in the whole flattened array. Array-level window views are in `_windows.py`.
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab.autograd import Function
from cnnlab.kernels import jit
from cnnlab.kernels.layout import is_only_channels_last, to_first, to_last
from cnnlab.runtime import batch_parts, parallel_map

__all__ = ["along", "plane_positions", "TakeFlat", "PutFlat", "WindowSum", "tap_code_dtype", "max_and_first_tap"]


# ---------------------------------------------------------------- gather and scatter on (N, C) planes
def plane_positions(index, shape):
    """Positions in the flattened (N, C, *plane) array `shape` of per-plane flat indices (N, C, *o)."""
    planes, size = index.shape[0] * index.shape[1], math.prod(shape[2:])
    offsets = np.arange(planes, dtype=np.int64)[:, None] * size                 # (N·C, 1)
    return (index.reshape(planes, math.prod(index.shape[2:])) + offsets).reshape(-1)


class TakeFlat(Function):
    """y[n, c, j] = x[n, c].flat[index[n, c, j]]; gx = g scatter-added back to those elements.

    `values`, when the caller already has them (the maxima of a pooling search), are returned
    instead of gathering them again. Where compiled loops run (`kernels.jit`), the scatter is
    `kernels.loops.pool.scatter_add`, a plane a unit of work, in the order of np.add.at (the same
    sums), or for a channels-last input (a conv's output) `scatter_add_last`, whose gradient keeps that
    layout; it does not check the indices, which are the callers' own argmaxes (in range).
    """

    @staticmethod
    def forward(ctx, x, index, values=None):
        ctx.shape, ctx.index = x.shape, index
        ctx.channels_last = is_only_channels_last(x)
        if values is not None:
            return values
        return x.reshape(-1)[plane_positions(index, x.shape)].reshape(index.shape)         # (N, C, *o)

    @staticmethod
    def backward(ctx, g):
        loops = jit.load("pool")
        if loops is not None and g.dtype in (np.float32, np.float64) and g.size:
            N, C = ctx.shape[:2]
            if ctx.channels_last:       # the gradient in the input's layout (`scatter_add_last`)
                gx = np.empty((N,) + tuple(ctx.shape[2:]) + (C,), dtype=g.dtype)
                loops.scatter_add_last(np.ascontiguousarray(to_last(g)).reshape(N, -1),
                                       np.ascontiguousarray(to_last(ctx.index), dtype=np.int64).reshape(N, -1),
                                       gx.reshape(N, -1), C)
                return to_first(gx), None
            planes = N * C
            gx = np.empty(ctx.shape, dtype=g.dtype)
            loops.scatter_add(np.ascontiguousarray(g).reshape(planes, -1),
                              np.ascontiguousarray(ctx.index, dtype=np.int64).reshape(planes, -1), gx.reshape(planes, -1))
            return gx, None
        gx = np.zeros(math.prod(ctx.shape), dtype=g.dtype)
        np.add.at(gx, plane_positions(ctx.index, ctx.shape), g.reshape(-1))               # repeats add up
        return gx.reshape(ctx.shape), None


class PutFlat(Function):
    """y[n, c].flat[index[n, c, j]] = x[n, c, j] in zeros of `shape` (on repeats the last write wins,
    as PyTorch's CPU kernel); gx = g gathered at the index."""

    @staticmethod
    def forward(ctx, x, index, shape=()):
        ctx.index = index
        y = np.zeros(math.prod(shape), dtype=x.dtype)
        y[plane_positions(index, shape)] = x.reshape(-1)
        return y.reshape(shape)                                                   # (N, C, *size)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(-1)[plane_positions(ctx.index, g.shape)].reshape(ctx.index.shape), None


class WindowSum(Function):
    """y[i] = Σ_t x_pad[i·s + t] over each pooling window of the zero-padded input (no dilation).

    Computed separably, one axis at a time (k passes per axis instead of k₁·…·k_D), and without
    materialising the padding: each tap adds only the input slice that falls inside the input (the
    zeros of the padding add nothing). The adjoint adds g back into the same slices, axis by axis.
    """

    @staticmethod
    def forward(ctx, x, kernel=(), stride=(), pads=(), out=()):
        ctx.args = (x.shape, kernel, stride, pads)
        y = np.empty(x.shape[:2] + tuple(out), dtype=x.dtype)

        def part(b):                                                         # parts of the batch, in parallel
            yb = x[b]
            for a, (k, s, p, o) in enumerate(zip(kernel, stride, pads, out)):
                last = a == len(kernel) - 1
                yb = _sum_taps(yb, 2 + a, k, s, p[0], o, out=y[b] if last else None)   # axis 2+a: n -> o

        parallel_map(part, batch_parts(x.shape[0], math.prod(x.shape[1:])))
        return y

    @staticmethod
    def backward(ctx, g):
        shape, kernel, stride, pads = ctx.args
        gx = np.empty(shape, dtype=g.dtype)

        def part(b):
            gb = g[b]
            for a in reversed(range(len(kernel))):                           # o -> n along axis 2+a
                gb = _sum_taps_adjoint(gb, 2 + a, kernel[a], stride[a], pads[a][0], shape[2 + a],
                                       out=gx[b] if a == 0 else None)

        parallel_map(part, batch_parts(shape[0], math.prod(shape[1:])))
        return gx


def along(axis, index):
    """The index tuple that selects `index` along `axis` (and everything along the axes before it)."""
    return (slice(None),) * axis + (index,)


def _tap_ranges(k, s, p, n, o):
    """For each tap t, the outputs i whose input i·s + t − p lies in [0, n), and that input slice."""
    for t in range(k):
        first = max(-(-(p - t) // s), 0)                  # ⌈(p − t)/s⌉, at least 0
        last = min((n - 1 + p - t) // s, o - 1)
        if first <= last:
            start = first * s + t - p
            yield slice(first, last + 1), slice(start, start + (last - first) * s + 1, s)


def _zeros(shape, dtype, out):
    if out is None:
        return np.zeros(shape, dtype=dtype)
    out[...] = 0
    return out


def _sum_taps(x, axis, k, s, p, o, out=None):
    """Σ_{t<k} x[.., i·s + t − p, ..] along one axis for i < o, positions outside [0, n) counting as 0
    (into `out` if given)."""
    y = _zeros(x.shape[:axis] + (o,) + x.shape[axis + 1:], x.dtype, out)
    for out_slice, in_slice in _tap_ranges(k, s, p, x.shape[axis], o):
        y[along(axis, out_slice)] += x[along(axis, in_slice)]
    return y


def _sum_taps_adjoint(g, axis, k, s, p, n, out=None):
    gx = _zeros(g.shape[:axis] + (n,) + g.shape[axis + 1:], g.dtype, out)
    for out_slice, in_slice in _tap_ranges(k, s, p, n, g.shape[axis]):
        gx[along(axis, in_slice)] += g[along(axis, out_slice)]
    return gx


# ---------------------------------------------------------------- the argmax search
def tap_code_dtype(K: int):
    """The smallest integer dtype that numbers K taps."""
    return np.int8 if K < 128 else np.int16 if K < 2**15 else np.int32


def max_and_first_tap(tap, K, want_first=True, best=None, first=None):
    """Elementwise maximum over K same-shape arrays tap(0) … tap(K−1) (views or gathers) and, if asked,
    for each element the first tap that reaches it — or, where the maximum is NaN, the last NaN tap:
    exactly the choice of PyTorch's CPU kernels (`val > max or isnan(val)` replaces, in tap order).

    One pass over the taps, no loop over positions: a running ``np.maximum`` (NaN propagates) and,
    where a tap is strictly greater than the maximum so far, its number i is recorded, as
    first = max(first, greater·i) (taps come in increasing order; a masked copy measured 50× slower
    on random data), so ties keep the first. Only if a maximum is NaN are the taps searched again.

    `best` and `first` (of dtype `tap_code_dtype(K)`), if given, are written instead of new arrays.
    """
    if best is None:
        best = tap(0).copy()
    else:
        np.copyto(best, tap(0))
    if not want_first:
        for i in range(1, K):
            np.maximum(best, tap(i), out=best)
        return best, None
    code_t = tap_code_dtype(K)
    if first is None:
        first = np.zeros(best.shape, dtype=code_t)
    else:
        first[...] = 0
    greater, code = np.empty(best.shape, dtype=bool), np.empty(best.shape, dtype=code_t)
    for i in range(1, K):
        t = tap(i)
        np.greater(t, best, out=greater)
        np.maximum(first, np.multiply(greater, code_t(i), out=code), out=first)
        np.maximum(best, t, out=best)
    if np.isnan(best).any():
        for i in range(K):
            np.copyto(first, code_t(i), where=np.isnan(tap(i)))                 # the last NaN wins
    return best, first
