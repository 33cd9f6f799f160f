"""Max, average and power-average pooling in 1, 2 and 3 dimensions, through one N-d implementation
each, as ``torch.nn.functional`` (max unpooling is in `unpooling.py`; the primitives that pooling,
adaptive pooling and unpooling share — `TakeFlat`, `PutFlat`, `WindowSum`, `max_and_first_tap` — are
in `_window_ops.py`).

Notation, per spatial axis: n input size, k kernel size, s stride, p padding, d dilation, o output
size. Output i reads the input at i·s − p + t·d for the taps t = 0..k−1 (a D-dim index over the
k₁ × … × k_D taps), and

    o = ⌊(n + 2p − d(k−1) − 1 + (s−1 if ceil_mode else 0)) / s⌋ + 1

(`shapes.pool_output_size`, with PyTorch's rule that in ceil mode the last window must start inside
the input or the left padding).

    max_pool    y[i] = max_t x[i·s − p + t·d]      padding and the ceil-mode overhang act as −∞
    avg_pool    y[i] = Σ_t x_pad[i·s − p + t] / divisor[i]    (no dilation in PyTorch)
    lp_pool     y[i] = (Σ_t x^p)^(1/p), composed from avg_pool exactly as PyTorch composes it
    max_unpool  y.flat[index[j]] = x[j] in a zero plane (per (N, C) plane)

Gradients: max pooling is "gather at the argmax" (`TakeFlat`), so its gradient is a scatter-add of g
to the argmax (np.add.at); max unpooling is the adjoint "put at the index" (`PutFlat`), whose gradient
gathers g at the index. The window sum of avg pooling (`WindowSum`) is separable — a box sum is a
sum along each axis in turn — and its adjoint adds g back into strided slices, axis by axis.

The argmax is found by `max_and_first_tap` over the k₁…k_D taps of a read-only window view
(`_windows.windows`) of the −∞-padded input, with PyTorch's choices: the first maximum in row-major
window order on ties, the last NaN if there is one, the first input element if all are −∞. Indices
are flat within each (N, C) plane of the unpadded input, int64, as PyTorch's ``return_indices``.
Python loops run over taps only; a reshape + reduce for non-overlapping windows was measured 10-25×
slower than the tap loop (NumPy reduces short strided axes slowly), so there is no such path. The
max search and the window sums run on parts of the batch in worker threads (`runtime.parallel_map`).
Where compiled loops run (`kernels.jit`), `kernels.loops.pool` finds the maxima with their indices in
one pass for rows of at least COMPILED_MAX_ROW outputs (see `_max_and_argmax`), and scatters the
gradient (`TakeFlat`); the NumPy path is the reference (`kernels.use("reference")`), with the same
values and indices.
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab import arguments, shapes
from cnnlab.autograd import Tensor, is_grad_enabled
from cnnlab.kernels import jit
from cnnlab.kernels.layout import as_three, is_only_channels_last, to_first, to_last
from cnnlab.runtime import batch_parts, parallel_map
from cnnlab.nn.functional._util import batched, check_input
from cnnlab.nn.functional._window_ops import TakeFlat, WindowSum, max_and_first_tap, tap_code_dtype
from cnnlab.nn.functional._windows import pad_constant, windows
from cnnlab.nn.functional.elementwise import abs as _abs, mul, neg, pow as _pow, relu, where

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "lp_pool1d", "lp_pool2d", "lp_pool3d"]


COMPILED_MAX_ROW = 8   # output rows from which the maxima take the compiled loops (see `_max_and_argmax`)


def _max_and_argmax(x, kernel, stride, padding, dilation, out, pads, want_index):
    """Window maxima of x (N, C, *n) and, if asked, their flat plane indices (PyTorch's choice).

    Returns (values, index, empty): `empty` is None, or a bool mask (broadcastable to the output)
    of windows that hold no input element at all (possible with dilation), whose value is −∞.

    Where compiled loops run (`kernels.jit`) and the indices are wanted (for the gradient or the caller),
    float inputs whose output rows (the last axis) are at least COMPILED_MAX_ROW long take
    `kernels.loops.pool.max_forward`: the same values and indices in one pass. The maxima alone are
    NumPy's running np.maximum, faster (k2 s2 on (64, 64, 32, 32): 3.2 ms against the loops' 5.7 ms).
    Measured forward + backward against torch (1 thread, CPU time, Intel Xeon AVX-512): (64, 64, 32, 32)
    k2 s2 0.47× with it, 0.85× with the NumPy search; k3 s2 0.61× against 0.98×; (64, 6, 28, 28) k2
    (rows of 14) 0.46× against 0.50×; but rows of 5, (64, 16, 10, 10) k2, 0.99× against 0.60×: its
    fixed cost a row (about 90 ns) is more than the NumPy search's on short rows. Channels-last memory
    (a conv's output, through ReLU) takes the loops at any row length: their innermost loop runs
    along the channels (`kernels.loops.pool.max_forward_last`).
    """
    loops = jit.load("pool")
    if (want_index and loops is not None and x.dtype in (np.float32, np.float64)
            and (out[-1] >= COMPILED_MAX_ROW or is_only_channels_last(x))):
        best, index = _compiled_max(loops, x, kernel, stride, padding, dilation, out)
        return best, index, _plane_geometry(tuple(x.shape[2:]), kernel, stride, padding, dilation, out)[3]
    best, first = _max_and_tap(x, kernel, stride, dilation, out, pads, want_index)
    if not want_index:
        return best, None, None
    return (best,) + _plane_index(x.shape[2:], best, first, kernel, stride, padding, dilation, out)


def _compiled_max(loops, x, kernel, stride, padding, dilation, out):
    """The maxima and their flat plane indices from one pass of `kernels.loops.pool` (the same values
    and indices as `_max_and_tap` + `_plane_index`). A channels-last x (a conv's output, through ReLU)
    gives channels-last maxima and indices (NCHW-shaped views), the layout the next conv reads."""
    geometry = (*as_three(x.shape[2:], 1), *as_three(kernel, 1), *as_three(stride, 1), *as_three(padding, 0),
                *as_three(dilation, 1), *as_three(out, 1))
    N, C = x.shape[:2]
    if is_only_channels_last(x):
        y = np.empty((N,) + tuple(out) + (C,), dtype=x.dtype)
        index = np.empty(y.shape, dtype=np.int64)
        loops.max_forward_last(to_last(x).reshape(N, -1), *geometry, C, y.reshape(N, -1), index.reshape(N, -1))
        return to_first(y), to_first(index)
    P = N * C
    y = np.empty(x.shape[:2] + tuple(out), dtype=x.dtype)
    index = np.empty(y.shape, dtype=np.int64)
    loops.max_forward(np.ascontiguousarray(x).reshape(P, -1), *geometry, y.reshape(P, -1), index.reshape(P, -1))
    return y, index


def _max_and_tap(x, kernel, stride, dilation, out, pads, want_tap):
    """Window maxima of x (N, C, *n) padded by −∞, and (if asked) the tap (row-major, int8 for small
    windows) that reaches each maximum first, as `max_and_first_tap`."""
    w = windows(pad_constant(x, pads, -np.inf), kernel, stride, dilation, out)   # (N, C, *k, *o) view
    taps = list(np.ndindex(*kernel))
    tap0 = w[(slice(None), slice(None)) + taps[0]]
    best = np.empty(tap0.shape, dtype=x.dtype)
    first = np.empty(tap0.shape, dtype=tap_code_dtype(len(taps))) if want_tap else None

    def part(p):                                    # parts of the batch in parallel threads, each into its slice
        max_and_first_tap(lambda i: w[(p, slice(None)) + taps[i]], len(taps), want_tap,
                          best=best[p], first=None if first is None else first[p])

    parallel_map(part, batch_parts(x.shape[0], math.prod(x.shape[1:])))
    return best, first


def _plane_index(n, best, first, kernel, stride, padding, dilation, out):
    """(index, empty): the flat plane indices of the taps `first` of windows over planes of size n,
    and None or a mask of windows with no input element (see `_max_and_argmax`)."""
    base, tap_offset, real_index, empty = _plane_geometry(tuple(n), kernel, stride, padding, dilation, out)
    index = base + np.take(tap_offset, first)
    neg_inf = best == -np.inf    # windows whose real elements are all −∞ (or that have none): the first real one
    if neg_inf.any():
        index = np.where(neg_inf, real_index, index)
    return index, empty


@arguments.memoized
def _plane_geometry(n, kernel, stride, padding, dilation, out):
    """What `_plane_index` needs of the shapes alone (read-only arrays, remembered for the next call):
    the flat plane index of each window's start (*o), each tap's offset from it (K,), each window's
    first real element (*o), and None or the mask of windows with no input element (*o)."""
    taps = list(np.ndindex(*kernel))
    # flat index = Σ_a (i_a·s_a − p_a + t_a·d_a)·plane_stride_a
    plane_strides = [math.prod(n[a + 1:]) for a in range(len(n))]
    starts = [np.arange(o) * s - p for o, s, p in zip(out, stride, padding)]    # i·s − p per axis
    base = _outer([st * ps for st, ps in zip(starts, plane_strides)], np.add)    # (*o)
    tap_offset = np.array([sum(t * d * ps for t, d, ps in zip(tap, dilation, plane_strides)) for tap in taps],
                          dtype=np.int64)
    first_real = [st + -(-np.maximum(-st, 0) // d) * d for st, d in zip(starts, dilation)]
    real_index = _outer([c * ps for c, ps in zip(first_real, plane_strides)], np.add)
    empty = [(c >= m) | (c > st + d * (k - 1))
             for c, st, m, k, d in zip(first_real, starts, n, kernel, dilation)]
    empty = _outer(empty, np.logical_or) if any(e.any() for e in empty) else None
    for a in (base, tap_offset, real_index, empty):
        if a is not None:
            a.flags.writeable = False
    return base, tap_offset, real_index, empty


def _outer(parts, ufunc):
    """a[i₁, …, i_D] = parts[0][i₁] ∘ … ∘ parts[D−1][i_D] for a binary ufunc ∘ (add, multiply, logical_or)."""
    total = parts[0].reshape((-1,) + (1,) * (len(parts) - 1))
    for a, v in enumerate(parts[1:], 1):
        total = ufunc(total, v.reshape((-1,) + (1,) * (len(parts) - a - 1)))
    return total


# ---------------------------------------------------------------- argument checks
def pool_geometry(op, spatial, k, s, p, d, ceil_mode):
    """Output sizes (shapes.pool_output_size) and the (before, after) pads that make every window fit:
    p on the left, p plus the ceil-mode overhang on the right (shared with `cnnlab.explain`).

    Example:
        >>> pool_geometry("max_pool1d", (5,), (2,), (2,), (1,), (1,), True)
        ((3,), ((1, 1),))
    """
    out = []
    for a, args in enumerate(zip(spatial, k, s, p, d)):
        try:
            out.append(shapes.pool_output_size(*args, ceil_mode, op=op))
        except ValueError as e:
            if len(spatial) == 1:
                raise
            raise ValueError(f"{e} [along spatial dim {a} of {tuple(spatial)}]") from None
    pads = tuple((pp, max(pp, (o - 1) * ss + dd * (kk - 1) + 1 - n - pp))
                 for n, kk, ss, pp, dd, o in zip(spatial, k, s, p, d, out))
    return tuple(out), pads


# ---------------------------------------------------------------- max pooling
def max_pool_args(op, D, input, kernel_size, stride, padding, dilation, ceil_mode):
    """The checks of D-d max pooling's arguments, before any work (shared with `cnnlab.explain`):
    returns (kernel, stride, padding, dilation, out, pads) canonical, as `pool_geometry`."""
    check_input(op, D, input)
    return _max_pool_geometry(op, D, input.shape[-D:], kernel_size, stride, padding, dilation, ceil_mode)


@arguments.memoized
def _max_pool_geometry(op, D, spatial, kernel_size, stride, padding, dilation, ceil_mode):
    k, s, p, d = arguments.window_args(D, kernel_size, stride, padding, dilation, op=op)
    ceil_mode = arguments.boolean(ceil_mode, op=op, arg="ceil_mode")
    return (k, s, p, d) + pool_geometry(op, spatial, k, s, p, d, ceil_mode)


def _max_pool_nd(op, D, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    k, s, p, d, out, pads = max_pool_args(op, D, input, kernel_size, stride, padding, dilation, ceil_mode)
    return_indices = arguments.boolean(return_indices, op=op, arg="return_indices")
    x, added = batched(input, D)
    needs_grad = x.requires_grad and is_grad_enabled()
    best, index, empty = _max_and_argmax(x.data, k, s, p, d, out, pads, needs_grad or return_indices)
    if needs_grad:
        y = TakeFlat.apply(x, index if empty is None else np.where(empty, 0, index), values=best)
        if empty is not None:                              # windows with no input element stay −∞
            y = where(np.broadcast_to(empty, y.shape), Tensor(np.full((), -np.inf, dtype=best.dtype)), y)
    else:
        y = Tensor(best)
    if added:
        y, index = y.squeeze(0), None if index is None else index[0]
    return (y, Tensor(index)) if return_indices else y


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-d max pooling over (N, C, n) or (C, n), as ``torch.nn.functional.max_pool1d``.

    y[i] = max_{t<k} x[i·s − p + t·d], padding acting as −∞.

    Args:
        input: (N, C, n) or unbatched (C, n), floating point.
        kernel_size: k, an int or a 1-tuple.
        stride: s. Default: None (= kernel_size).
        padding: p ≤ k // 2 on both sides. Default: 0.
        dilation: d, the spacing between taps. Default: 1.
        ceil_mode: round the output size up (the last window may overhang; it must start inside
            the input or the left padding). Default: False.
        return_indices: also return the argmax of every window as flat indices into each (N, C)
            plane of the input (int64; the first maximum on ties), for `max_unpool1d`. Default: False.

    Shape:
        output (N, C, o), o = ⌊(n + 2p − d(k−1) − 1 [+ s − 1 if ceil_mode]) / s⌋ + 1.

    Example:
        >>> max_pool1d(cnnlab.tensor([[[1., 2, 3, 4, 5]]]), 2, 2, padding=1, ceil_mode=True)
        tensor([[[1., 3., 5.]]])
    """
    return _max_pool_nd("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-d max pooling over (N, C, H, W) or (C, H, W), as ``torch.nn.functional.max_pool2d``.

    y[i, j] = max_{m<k_H, l<k_W} x[i·s_H − p_H + m·d_H, j·s_W − p_W + l·d_W], padding acting as −∞.
    Arguments as `max_pool1d`, each an int or an (h, w) pair.

    Shape:
        output (N, C, oH, oW), per axis o = ⌊(n + 2p − d(k−1) − 1 [+ s − 1 if ceil_mode]) / s⌋ + 1.

    Example:
        >>> max_pool2d(cnnlab.randn(8, 3, 32, 32), 2).shape
        (8, 3, 16, 16)
    """
    return _max_pool_nd("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """3-d max pooling over (N, C, D, H, W) or (C, D, H, W), as ``torch.nn.functional.max_pool3d``.

    Arguments as `max_pool1d`, each an int or a 3-tuple.

    Shape:
        output (N, C, oD, oH, oW), per axis o = ⌊(n + 2p − d(k−1) − 1 [+ s − 1 if ceil_mode]) / s⌋ + 1.
    """
    return _max_pool_nd("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


# ---------------------------------------------------------------- average pooling
def avg_divisor(n, k, s, p, o, count_include_pad):
    """Per-axis number of elements a window is divided by, PyTorch's rule: with count_include_pad
    the padding counts but not the ceil-mode overhang past it; without, only input elements
    (the divisor of a D-d window is the product over its axes; shared with `cnnlab.explain`).

    Example:
        >>> avg_divisor(5, 2, 2, 1, 3, True), avg_divisor(5, 2, 2, 1, 3, False)
        (array([2, 2, 2]), array([1, 2, 2]))
    """
    start = np.arange(o) * s - p
    if count_include_pad:
        return np.minimum(start + k, n + p) - start
    return np.minimum(start + k, n) - np.maximum(start, 0)


def avg_pool_args(op, D, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """The checks of D-d average pooling's arguments, before any work (shared with `cnnlab.explain`): returns
    (kernel, stride, padding, out, pads, count_include_pad, divisor_override) canonical, as `pool_geometry`."""
    check_input(op, D, input)
    return _avg_pool_geometry(op, D, input.shape[-D:], kernel_size, stride, padding, ceil_mode, count_include_pad,
                              divisor_override)


@arguments.memoized
def _avg_pool_geometry(op, D, spatial, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    k, s, p, d = arguments.window_args(D, kernel_size, stride, padding, op=op)
    ceil_mode = arguments.boolean(ceil_mode, op=op, arg="ceil_mode")
    count_include_pad = arguments.boolean(count_include_pad, op=op, arg="count_include_pad")
    divisor_override = arguments.divisor_override(divisor_override, op=op)
    out, pads = pool_geometry(op, spatial, k, s, p, d, ceil_mode)
    return k, s, p, out, pads, count_include_pad, divisor_override


def _avg_pool_nd(op, D, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    k, s, p, out, pads, count_include_pad, divisor_override = avg_pool_args(
        op, D, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    spatial = input.shape[-D:]
    x, added = batched(input, D)
    total = WindowSum.apply(x, kernel=k, stride=s, pads=pads, out=out)            # (N, C, *o)
    if divisor_override is not None:
        y = total / int(divisor_override)
    else:
        divisor = _outer([avg_divisor(*args, count_include_pad) for args in zip(spatial, k, s, p, out)], np.multiply)
        y = total / divisor.astype(x.dtype)                                     # (*o): the divisor factorises
    return y.squeeze(0) if added else y


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-d average pooling over (N, C, n) or (C, n), as ``torch.nn.functional.avg_pool1d``.

    y[i] = Σ_{t<k} x_pad[i·s − p + t] / divisor[i], with x_pad zero outside the input.

    Args:
        input: (N, C, n) or unbatched (C, n), floating point.
        kernel_size: k. stride: s (Default: None = kernel_size). padding: p ≤ k // 2 (Default: 0).
        ceil_mode: round the output size up (see `max_pool1d`). Default: False.
        count_include_pad: divide by the window size counting the padding (but never the
            ceil-mode overhang past it); if False, by the number of input elements. Default: True.

    Shape:
        output (N, C, o), o = ⌊(n + 2p − k [+ s − 1 if ceil_mode]) / s⌋ + 1.

    Example:
        >>> avg_pool1d(cnnlab.tensor([[[1., 2, 3, 4, 5]]]), 2, 2, ceil_mode=True)
        tensor([[[1.5, 3.5, 5. ]]])
    """
    return _avg_pool_nd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-d average pooling over (N, C, H, W) or (C, H, W), as ``torch.nn.functional.avg_pool2d``.

    Arguments as `avg_pool1d` (each an int or an (h, w) pair), and
    divisor_override: if given, every window sum is divided by it instead. Default: None.

    Shape:
        output (N, C, oH, oW), per axis o = ⌊(n + 2p − k [+ s − 1 if ceil_mode]) / s⌋ + 1.
    """
    return _avg_pool_nd("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """3-d average pooling over (N, C, D, H, W) or (C, D, H, W), as ``torch.nn.functional.avg_pool3d``.

    Arguments as `avg_pool2d`, each an int or a 3-tuple.

    Shape:
        output (N, C, oD, oH, oW), per axis o = ⌊(n + 2p − k [+ s − 1 if ceil_mode]) / s⌋ + 1.
    """
    return _avg_pool_nd("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override)


# ---------------------------------------------------------------- power-average pooling
def _lp_pool_nd(op, D, input, norm_type, kernel_size, stride, ceil_mode):
    arguments.number(norm_type, op=op, arg="norm_type")
    check_input(op, D, input)
    k, s, p, d = arguments.window_args(D, kernel_size, stride, 0, op=op)
    pool_geometry(op, input.shape[-D:], k, s, p, d, arguments.boolean(ceil_mode, op=op, arg="ceil_mode"))
    if norm_type == math.inf:
        return _MAX_POOL[D](_abs(input), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return neg(_MAX_POOL[D](neg(_abs(input)), kernel_size, stride, 0, 1, ceil_mode))
    out = _AVG_POOL[D](_pow(input, norm_type), kernel_size, stride, 0, ceil_mode)
    # PyTorch: t = sign(out)·relu(|out|)·Πk, then t^(1/p); sign has no gradient. Where t = 0 the
    # power is taken of 1 and the result set to 0: the same values and gradients as PyTorch (whose
    # relu backward zeroes the inf·0 there), without computing 0^(1/p − 1) = inf on the way.
    t = mul(mul(Tensor(np.sign(out.data)), relu(_abs(out))), math.prod(k))
    zero = t.data == 0
    one = Tensor(np.ones((), dtype=t.dtype))
    return where(zero, Tensor(np.zeros((), dtype=t.dtype)), _pow(where(zero, one, t), 1.0 / norm_type))


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """1-d power-average pooling, as ``torch.nn.functional.lp_pool1d``: y = (Σ_window x^p)^(1/p).

    Computed as PyTorch does, so that values and gradients agree (also for negative inputs):
    avg_pool1d(x^p) · k, then sign · relu(|·|), then ^(1/p); p = ∞ is max pooling of |x|. No
    padding; in ceil mode a window that overhangs the input is averaged over its own length and
    multiplied by k, exactly as PyTorch.

    Args:
        input: (N, C, n) or (C, n). norm_type: p. kernel_size: k.
        stride: s. Default: None (= kernel_size). ceil_mode: see `max_pool1d`. Default: False.

    Shape:
        output (N, C, o), o = ⌊(n − k [+ s − 1 if ceil_mode]) / s⌋ + 1.
    """
    return _lp_pool_nd("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """2-d power-average pooling, as ``torch.nn.functional.lp_pool2d``: y = (Σ_window x^p)^(1/p).

    As `lp_pool1d`, with avg_pool2d(x^p) · k_H·k_W.

    Shape:
        output (N, C, oH, oW), per axis o = ⌊(n − k [+ s − 1 if ceil_mode]) / s⌋ + 1.
    """
    return _lp_pool_nd("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """3-d power-average pooling, as ``torch.nn.functional.lp_pool3d``: y = (Σ_window x^p)^(1/p).

    Shape:
        output (N, C, oD, oH, oW), per axis o = ⌊(n − k [+ s − 1 if ceil_mode]) / s⌋ + 1.
    """
    return _lp_pool_nd("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


_MAX_POOL = {1: max_pool1d, 2: max_pool2d, 3: max_pool3d}
_AVG_POOL = {1: avg_pool1d, 2: avg_pool2d, 3: avg_pool3d}
