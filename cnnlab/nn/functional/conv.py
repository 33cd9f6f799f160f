"""Convolution and transposed convolution in 1, 2 and 3 dimensions, through one N-d implementation.

The definition (a cross-correlation, as in the lecture and in PyTorch), for
output channel o of group g, at output position i (a D-dim index):

    S[n, o, i] = b[o] + Σ_c Σ_t  I_pad[n, g·C_g + c, i·s + t·d] · K[o, c, t]

c runs over the C_g = C_in / groups input channels of the group, t over the
kernel taps (k₁ × … × k_D), s is the stride, d the dilation, and I_pad the input
with p zeros on each side. Output size per axis: o = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1.

Notation in the shape comments:
    N batch, C input channels, O output channels, G groups, C_g = C/G, O_g = O/G,
    n padded input sizes, k kernel sizes (K = Πk taps), out output sizes (L = Πout),
    B the samples of one batch chunk.

The reference path (this file), im2col: the windows of I_pad are a read-only
strided view (N, C, k₁..k_D, o₁..o_D); copied into columns (B, G, C_g·K, L), one
batched GEMM with the weights (G, O_g, C_g·K) gives (B, G, O_g, L), which is
already NCHW. Python loops run over batch chunks (to bound the buffers, one lane
per thread: `runtime.in_lanes`) and over kernel taps — never over positions.
Its gradients, each a convolution-like op of the same windows:

    gI   = _conv_adjoint(g, K)          (the transposed convolution: a scatter of windows)
    gK   = _conv_weight(I_pad, g)       (correlate the input with the output gradient)
    gb   = Σ g over batch and positions

and the transposed convolution uses the same three with the roles swapped.

Fast kernels (`cnnlab.kernels`: channels-last im2row, row bands) compute the
same numbers for the calls they apply to. `kernels.select_conv` picks one per
call (or None: the reference); the Function keeps it in ctx, so the backward
runs the same kernel as the forward. `cnnlab.kernels.use(name)` forces one.
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab import arguments, kernels, shapes
from cnnlab.autograd import Function, Tensor
from cnnlab.kernels.layout import batch_chunk
from cnnlab.runtime import in_lanes, scratch

from cnnlab.nn.functional._util import batched
from cnnlab.nn.functional._windows import copy_runs, pad_constant, scatter_add_windows, windows
from cnnlab.messages import counted


# ---------------------------------------------------------------- the reference path: im2col, channels-first
# With groups the window of an output channel covers only its group's C_g channels, which are
# contiguous in NCHW: columns (B, G, C_g·K, L) and one batched GEMM with (G, O_g, C_g·K). For
# depthwise convs (C_g = 1) this measured several times faster than gathering channels-last rows.

def _cols(x_pad, kernel, stride, dilation, out, groups):
    """im2col: x_pad (B, C, *n) -> (B, G, C_g·K, L), in the "rows" scratch buffer (use before the next call)."""
    v = windows(x_pad, kernel, stride, dilation, out)                  # (B, C, *k, *out) view
    cols = scratch("rows", v.shape, x_pad.dtype)
    copy_runs(cols, v)                                                 # (B, C, *k, *out)
    return cols.reshape(v.shape[0], groups, -1, math.prod(out))        # (B, G, C_g·K, L)


def _conv(x_pad, w, stride, dilation, groups, out, bias=None):
    """Cross-correlate the padded input x_pad (N, C, *n) with w (O, C_g, *k), plus bias (O,) -> (N, O, *out)."""
    N, C = x_pad.shape[:2]
    O, Cg, *k = w.shape
    G, K, L = groups, math.prod(k), math.prod(out)
    wg = w.reshape(G, O // G, Cg * K)                                  # (G, O_g, C_g·K)
    y = np.empty((N, G, O // G, L), dtype=np.result_type(x_pad, w))
    B = batch_chunk(C * K * L * x_pad.itemsize)

    def lane(chunks):
        for p in chunks:
            b, e = p.start, p.stop
            np.matmul(wg, _cols(x_pad[b:e], k, stride, dilation, out, G), out=y[b:e])  # (B, G, O_g, L)

    in_lanes(lane, N, C * K * L, B)
    y = y.reshape((N, O) + tuple(out))                                 # (N, O, *out)
    if bias is not None:
        y += bias.reshape((1, -1) + (1,) * len(out))                   # (1, O, 1..1)
    return y


def _conv_adjoint(g, w, padded_shape, stride, dilation, groups):
    """The adjoint of `_conv` in its input: g (N, O, *out) -> (N, C, *padded_shape) (the transposed conv):
    each output's gradient times the weights gives its window's columns, scattered back tap by tap."""
    N, O, *out = g.shape
    _, Cg, *k = w.shape
    G, K, L = groups, math.prod(k), math.prod(out)
    C = Cg * G
    wt = w.reshape(G, O // G, Cg * K).transpose(0, 2, 1)               # (G, C_g·K, O_g)
    gx = np.zeros((N, C) + tuple(padded_shape), dtype=np.result_type(g, w))
    B = batch_chunk(C * K * L * g.itemsize)

    def lane(chunks):
        for p in chunks:
            b, e = p.start, p.stop
            gb = g[b:e].reshape(-1, G, O // G, L)                      # (B, G, O_g, L)
            cols = np.matmul(wt, gb, out=scratch("taps", gb.shape[:2] + (Cg * K, L), gx.dtype))  # (B, G, C_g·K, L)
            scatter_add_windows(cols.reshape((-1, C) + tuple(k) + tuple(out)), gx[b:e], k, stride, dilation)  # (B, C, *k, *out)

    in_lanes(lane, N, C * K * L, B)
    return gx


def _conv_weight(x_pad, g, kernel, stride, dilation, groups):
    """Gradient of `_conv` in its weight: Σ over batch and positions of g ⊗ windows(x_pad) -> (O, C_g, *k)."""
    N, C = x_pad.shape[:2]
    _, O, *out = g.shape
    G, K, L = groups, math.prod(kernel), math.prod(out)
    Cg = C // G
    B = batch_chunk(C * K * L * x_pad.itemsize)

    def lane(chunks):
        gw = np.zeros((G, O // G, Cg * K), dtype=np.result_type(x_pad, g))
        for p in chunks:
            b, e = p.start, p.stop
            cols = _cols(x_pad[b:e], kernel, stride, dilation, out, G)  # (B, G, C_g·K, L)
            gb = g[b:e].reshape(-1, G, O // G, L)                      # (B, G, O_g, L)
            gw += np.matmul(gb, cols.transpose(0, 1, 3, 2)).sum(axis=0)   # (G, O_g, C_g·K)
        return gw

    gw = sum(in_lanes(lane, N, C * K * L, B, ordered=True))
    return gw.reshape((O, Cg) + tuple(kernel))                         # (O, C_g, *k)


def _input_grad(g, w, x_shape, pads, stride, dilation, groups):
    """Gradient of a convolution in its (unpadded) input x_shape, from g (N, O, *out).

    With stride 1 it is itself a plain convolution, computed like the forward pass:
    gI[j] = Σ_t g[j + p − t·d]·K[t], i.e. g padded by d(k−1) − p, correlated with K
    flipped over its taps and with in/out channels swapped. That is used for grouped
    convs, where it measured several times faster than the adjoint; the rest use the adjoint.
    """
    O, Cg, *k = w.shape
    n = x_shape[2:]
    if any(s != 1 for s in stride) or groups == 1:
        padded = tuple(m + a + b for m, (a, b) in zip(n, pads))
        return _crop(_conv_adjoint(g, w, padded, stride, dilation, groups), [a for a, _ in pads], n)
    G = groups
    flip = (slice(None), slice(None)) + (slice(None, None, -1),) * len(k)
    wt = w.reshape((G, O // G, Cg) + tuple(k)).swapaxes(1, 2)         # (G, C_g, O_g, *k)
    wt = wt.reshape((G * Cg, O // G) + tuple(k))[flip]                 # (C, O_g, *k), taps flipped
    reach = [d * (kk - 1) for kk, d in zip(k, dilation)]
    gp = _pad_or_crop(g, [(r - a, r - b) for r, (a, b) in zip(reach, pads)])
    return _conv(gp, np.ascontiguousarray(wt), stride, dilation, groups, tuple(n))


def _pad_or_crop(x, amounts):
    """Zero-pad the spatial dims by (before, after) amounts; a negative amount crops instead."""
    crop = tuple(slice(max(-a, 0), m - max(-b, 0)) for m, (a, b) in zip(x.shape[2:], amounts))
    return pad_constant(x[(slice(None), slice(None)) + crop], [(max(a, 0), max(b, 0)) for a, b in amounts], 0)


def _crop(x, starts, sizes):
    return x[(slice(None), slice(None)) + tuple(slice(a, a + n) for a, n in zip(starts, sizes))]


# ---------------------------------------------------------------- the autograd Functions: one kernel per call
class ConvNd(Function):
    fresh_grads = True      # every gradient below is a new array

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(), pads=(), dilation=(), groups=1):
        k = w.shape[2:]
        out = tuple(shapes.conv_output_size(n + a + b, kk, s, 0, d)
                    for n, (a, b), kk, s, d in zip(x.shape[2:], pads, k, stride, dilation))
        kernel = kernels.select_conv(x.shape[1], w.shape[0], groups, k, stride, out[-1])   # None: the reference
        x_pad = kernel.layout(x, pads) if kernel else pad_constant(x, pads, 0)   # (N, C, *n)
        if kernel:
            y = kernel.conv(x_pad, w, stride, dilation, out, b)
        else:
            y = _conv(x_pad, w, stride, dilation, groups, out, b)
        ctx.kernel = kernel                 # the backward runs the same kernel
        ctx.save = (x, w, stride, pads, dilation, groups)   # x, not x_pad: the graph holds x anyway, and
        return y                            # padding it again costs less than holding a padded copy

    @staticmethod
    def backward(ctx, g):
        x, w, stride, pads, dilation, groups = ctx.save
        kernel, k, x_shape = ctx.kernel, w.shape[2:], x.shape
        x_pad = kernel.layout(x, pads) if kernel else pad_constant(x, pads, 0)
        need = (tuple(ctx.needs_input_grad) + (False,))[:3]
        gx = gw = gb = None
        if kernel:                          # all gradients in one pass
            g = kernel.layout(g)            # once, for both gradients (a view if it already is)
            last = (pads[-1][0], x_shape[-1])
            gx, gw, gb = kernel.grads(x_pad, g, w, k, x_pad.shape[2:], stride, dilation, last, *need)
            if gx is not None:
                gx = _crop(gx, [a for a, _ in pads], x_shape[2:])
        else:
            if need[0]:
                gx = _input_grad(g, w, x_shape, pads, stride, dilation, groups)
            if need[1]:
                gw = _conv_weight(x_pad, g, k, stride, dilation, groups)
            if need[2]:
                gb = g.sum(axis=(0,) + tuple(range(2, g.ndim)))        # (O,)
        return (gx, gw, gb)[:len(ctx.needs_input_grad)]


class ConvTransposeNd(Function):
    """The adjoint of the conv with weight w (C_in, C_out/G, *k), from C_out to C_in channels: its
    kernel is the one that conv selects, so its forward is that kernel's input gradient."""
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(), padding=(), out=(), dilation=(), groups=1):
        # the full transposed output starts at -padding; keep a buffer that also holds output_padding
        k = w.shape[2:]
        kernel = kernels.select_conv(w.shape[1] * groups, w.shape[0], groups, k, stride, x.shape[-1])
        full = tuple((n - 1) * s + d * (kk - 1) + 1 for n, kk, s, d in zip(x.shape[2:], k, stride, dilation))
        buffer = tuple(max(f, p + o) for f, p, o in zip(full, padding, out))
        if kernel:   # only the positions (padding, out) of the last axis are wanted
            y = kernel.grads(None, x, w, k, buffer, stride, dilation, (padding[-1], out[-1]), True, False, False)[0]
        else:
            y = _conv_adjoint(x, w, buffer, stride, dilation, groups)  # (N, C_out, *buffer)
        y = _crop(y, padding, out)                                     # (N, C_out, *out)
        y = y + b.reshape((1, -1) + (1,) * len(out)) if b is not None else y.copy(order="K")
        ctx.kernel = kernel
        ctx.save = (x, w, buffer, stride, padding, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w, buffer, stride, padding, dilation, groups = ctx.save
        kernel, k = ctx.kernel, w.shape[2:]
        gbuf = kernel.zeros(g.shape[:2] + buffer, g.dtype) if kernel else np.zeros(g.shape[:2] + buffer, dtype=g.dtype)
        _crop(gbuf, padding, g.shape[2:])[...] = g                     # g placed where the output was cut
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            if kernel:
                gx = kernel.conv(gbuf, w, stride, dilation, x.shape[2:], None)
            else:
                gx = _conv(gbuf, w, stride, dilation, groups, x.shape[2:])
        if ctx.needs_input_grad[1]:
            # the weight (C_in, C_out/G, *k) maps C_out -> C_in here, so correlate gbuf with x
            if kernel:
                last = (padding[-1], g.shape[-1])              # gbuf is zero outside these positions
                gw = kernel.grads(gbuf, x, None, k, buffer, stride, dilation, last, False, True, False)[1]
            else:
                gw = _conv_weight(gbuf, x, k, stride, dilation, groups)
        if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]:
            gb = g.sum(axis=(0,) + tuple(range(2, g.ndim)))            # (C_out,)
        return (gx, gw, gb)[:len(ctx.needs_input_grad)]


# ---------------------------------------------------------------- argument checks
def _check_tensors(op, input, weight, bias):
    """Tensors, of one floating dtype (checked on every call: these are not part of the memoized key)."""
    given = {"input": input, "weight": weight, "bias": bias}
    for name, t in given.items():
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t is not None and t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be a floating point tensor, got dtype {t.dtype}")
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != input.dtype):
        raise TypeError(f"{op}: input, weight and bias must have the same dtype, got "
                        f"{input.dtype}, {weight.dtype}" + (f" and {bias.dtype}" if bias is not None else ""))


def _check_shapes(op, D, in_shape, w_shape, b_shape, groups, stride, dilation, transposed):
    """The checks of conv and conv_transpose on the shapes: dims, channels and bias against the weight
    (C_out, C_in/G, *k), of a transposed conv (C_in, C_out/G, *k). Returns (groups, stride, dilation)
    canonical."""
    layout = ("in_channels", "out_channels/groups") if transposed else ("out_channels", "in_channels/groups")
    if len(w_shape) != D + 2:
        raise ValueError(f"{op}: weight must be {D + 2}-d ({', '.join(layout)}, *kernel_size), "
                         f"got shape {w_shape}")
    if len(in_shape) not in (D + 1, D + 2):
        raise ValueError(f"{op}: expected a {D + 1}-d (unbatched) or {D + 2}-d (batched) input, "
                         f"got a {len(in_shape)}-d input of shape {in_shape}")
    groups = arguments.positive_int(groups, op=op, arg="groups")
    C, (first, second) = in_shape[-D - 1], w_shape[:2]
    C_in, O = (first, second * groups) if transposed else (second * groups, first)
    if C != C_in:
        raise ValueError(f"{op}: input has {counted(C, 'channel')}, but weight expects {C_in} "
                         f"(in_channels={C_in}, groups={groups}; weight shape {w_shape} is "
                         f"({', '.join(layout)}, *kernel_size))")
    if first % groups:
        raise ValueError(f"{op}: {layout[0]}={first} (weight.shape[0]) must be divisible by "
                         f"groups={groups}")
    if b_shape is not None and b_shape != (O,):
        raise ValueError(f"{op}: bias must have shape ({O},) (out_channels), got {b_shape}")
    return (groups, arguments.positive_ints(stride, D, op=op, arg="stride"),
            arguments.positive_ints(dilation, D, op=op, arg="dilation"))


def conv_args(op, D, input, weight, bias, stride, padding, dilation, groups):
    """Every check of a D-d conv's arguments, before any work, as the op runs them (`cnnlab.explain` too):
    returns (groups, stride, dilation, pads) canonical, pads the (before, after) zeros per spatial axis.

    Example:
        >>> x, w = cnnlab.randn(1, 2, 5, 5), cnnlab.randn(4, 2, 3, 3)
        >>> conv_args("conv2d", 2, x, w, None, 2, 1, 1, 1)
        (1, (2, 2), (1, 1), ((1, 1), (1, 1)))
    """
    _check_tensors(op, input, weight, bias)
    return _conv_geometry(op, D, input.shape, weight.shape, None if bias is None else bias.shape, stride, padding,
                          dilation, groups)


@arguments.memoized
def _conv_geometry(op, D, in_shape, w_shape, b_shape, stride, padding, dilation, groups):
    groups, stride, dilation = _check_shapes(op, D, in_shape, w_shape, b_shape, groups, stride, dilation, False)
    padding = arguments.conv_padding(padding, D, stride, op=op)
    pads = shapes.conv_pads(padding, w_shape[2:], dilation)
    for n, kk, s, pp, d in zip(in_shape[-D:], w_shape[2:], stride, pads, dilation):
        shapes.conv_output_size(n, kk, s, pp, d, op=op)  # raises when the kernel does not fit
    return groups, stride, dilation, pads


def _conv_nd(op, D, input, weight, bias, stride, padding, dilation, groups):
    groups, stride, dilation, pads = conv_args(op, D, input, weight, bias, stride, padding, dilation, groups)
    x, added = batched(input, D)
    args = (x, weight) if bias is None else (x, weight, bias)
    y = ConvNd.apply(*args, stride=stride, pads=pads, dilation=dilation, groups=groups)
    return y.squeeze(0) if added else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-d convolution (cross-correlation) over (N, C_in, L) or (C_in, L), as ``torch.nn.functional.conv1d``.

    Args:
        input: (N, C_in, n) or unbatched (C_in, n).
        weight: (C_out, C_in/groups, k).
        bias: (C_out,) or None.
        stride, padding, dilation: an int or a 1-tuple; padding may also be 'valid' or 'same'
            (PyTorch's 'same': stride 1 only, total d·(k−1), the odd pixel on the right).
        groups: split the channels into this many independent convolutions.

    Shape:
        output (N, C_out, o) with o = ⌊(n + 2p − d·(k−1) − 1)/s⌋ + 1.
    """
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-d convolution, as ``torch.nn.functional.conv2d``: S[i, j] = Σ_c Σ_m Σ_n I[c, i·s+m·d, j·s+n·d]·K[c, m, n] + b.

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_out, C_in/groups, kH, kW).
        bias: (C_out,) or None.
        stride, padding, dilation: an int or a (h, w) pair; padding may also be 'valid' or 'same'.
        groups: C_in and C_out are split into groups convolved independently (groups = C_in: depthwise).

    Shape:
        output (N, C_out, oH, oW), per axis o = ⌊(n + 2p − d·(k−1) − 1)/s⌋ + 1.

    Example:
        >>> x, w = cnnlab.randn(1, 1, 5, 5), cnnlab.randn(1, 1, 3, 3)
        >>> conv2d(x, w, padding=1).shape
        (1, 1, 5, 5)
    """
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """3-d convolution over (N, C_in, D, H, W) or (C_in, D, H, W), as ``torch.nn.functional.conv3d``.

    Shape:
        output (N, C_out, oD, oH, oW), per axis o = ⌊(n + 2p − d·(k−1) − 1)/s⌋ + 1.
    """
    return _conv_nd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose_args(op, D, input, weight, bias, stride, padding, output_padding, groups, dilation):
    """Every check of a D-d transposed conv's arguments, before any work, as the op runs them (`cnnlab.explain`
    too): returns (groups, stride, padding, dilation, out) canonical, out the output sizes.

    Example:
        >>> x, w = cnnlab.randn(1, 2, 4, 4), cnnlab.randn(2, 3, 3, 3)
        >>> conv_transpose_args("conv_transpose2d", 2, x, w, None, 2, 1, 1, 1, 1)
        (1, (2, 2), (1, 1), (1, 1), (8, 8))
    """
    _check_tensors(op, input, weight, bias)
    return _conv_transpose_geometry(op, D, input.shape, weight.shape, None if bias is None else bias.shape, stride,
                                    padding, output_padding, groups, dilation)


@arguments.memoized
def _conv_transpose_geometry(op, D, in_shape, w_shape, b_shape, stride, padding, output_padding, groups, dilation):
    groups, stride, dilation = _check_shapes(op, D, in_shape, w_shape, b_shape, groups, stride, dilation, True)
    padding = arguments.conv_padding(padding, D, stride, op=op, transposed=True)
    output_padding = arguments.nonnegative_ints(output_padding, D, op=op, arg="output_padding")
    out = tuple(shapes.conv_transpose_output_size(n, kk, s, p, op_, d, op=op) for n, kk, s, p, op_, d
                in zip(in_shape[-D:], w_shape[2:], stride, padding, output_padding, dilation))
    return groups, stride, padding, dilation, out


def _conv_transpose_nd(op, D, input, weight, bias, stride, padding, output_padding, groups, dilation):
    groups, stride, padding, dilation, out = conv_transpose_args(op, D, input, weight, bias, stride, padding,
                                                                 output_padding, groups, dilation)
    x, added = batched(input, D)
    args = (x, weight) if bias is None else (x, weight, bias)
    y = ConvTransposeNd.apply(*args, stride=stride, padding=padding, out=out, dilation=dilation, groups=groups)
    return y.squeeze(0) if added else y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-d transposed convolution ("deconvolution"), as ``torch.nn.functional.conv_transpose1d``.

    Every input element scatters its value times the kernel into the output; it is the
    gradient of conv1d with respect to its input.

    Args:
        input: (N, C_in, n) or (C_in, n).
        weight: (C_in, C_out/groups, k) — note the order, as in PyTorch.

    Shape:
        output (N, C_out, o) with o = (n − 1)·s − 2p + d·(k − 1) + output_padding + 1.
    """
    return _conv_transpose_nd("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding,
                              groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-d transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    Shape:
        input (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW) -> output (N, C_out, oH, oW),
        per axis o = (n − 1)·s − 2p + d·(k − 1) + output_padding + 1.
    """
    return _conv_transpose_nd("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding,
                              groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-d transposed convolution, as ``torch.nn.functional.conv_transpose3d``.

    Shape:
        per axis o = (n − 1)·s − 2p + d·(k − 1) + output_padding + 1.
    """
    return _conv_transpose_nd("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding,
                              groups, dilation)
