"""Convolution and transposed convolution in 1, 2 and 3 dimensions, through one N-d implementation.

The definition (a cross-correlation, as in the lecture and in PyTorch), for
output channel o of group g, at output position i (a D-dim index):

    S[n, o, i] = b[o] + Σ_c Σ_t  I_pad[n, g·C_g + c, i·s + t·d] · K[o, c, t]

c runs over the C_g = C_in / groups input channels of the group, t over the
kernel taps (k₁ × … × k_D), s is the stride, d the dilation, and I_pad the input
with p zeros on each side. Output size per axis: o = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1.

How it is computed (im2col): the windows of I_pad are a read-only strided view
(N, C, k₁..k_D, o₁..o_D); copied into columns (N, G, C_g·K, L) with K = Πk and
L = Πo, one batched GEMM with the weights (G, O_g, C_g·K) gives (N, G, O_g, L),
which is already NCHW. Dense convs with enough channels do the same channels-last
("im2row", below), and with stride 1 along the last axis and 16 channels or more
they copy the input only once per leading-axes tap ("row bands", below). Python
loops run over batch chunks (to bound the buffers) and over kernel taps — never
over positions.

Threads: the batch is split into one lane per thread (`runtime.in_lanes`), each
lane running its chunks with a single-threaded BLAS, so that the copies run on
every core too (OpenBLAS threads only its GEMMs, and barely speeds up GEMMs of
this size: measured 98 vs 104 GFLOP/s for 1 and 2 threads on (1024×576)·(576×64)).
Per-chunk buffers are per-thread scratch arrays reused across calls (`runtime.scratch`).

Gradients, each a convolution-like op of the same kernels:

    gI   = _conv_adjoint(g, K)          (the transposed convolution)
    gK   = _conv_weight(I_pad, g)       (correlate the input with the output gradient)
    gb   = Σ g over batch and positions

(a conv's backward computes the three in one pass over the batch where the
layout is channels-last: `_dense_grads`, `_band_grads`), and the transposed
convolution uses the same kernels with the roles swapped.
"""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cnnlab import shapes
from cnnlab.autograd import Function, Tensor
from cnnlab.runtime import batch_parts, in_lanes, parallel_map, scratch

from cnnlab.nn.functional._util import batched
from cnnlab.nn.functional._windows import copy_runs, pad_constant, scatter_add_windows, tap_slices, windows
from cnnlab.messages import counted

#: Size of one column buffer (im2col): the batch is processed in chunks of about this size, so the
#: columns are still in cache when the GEMM reads them. Measured on 2 cores (64→64 channels, 32×32,
#: conv + both gradients, before lanes): 124-135 ms with 2-8 MB chunks, 160-200 ms with 32-256 MB.
#: A chunk holds at least one sample, so one sample's columns are the bound.
COLUMN_BUFFER_BYTES = 4 * 2**20


def _batch_chunk(per_sample_bytes: int) -> int:
    return max(1, COLUMN_BUFFER_BYTES // max(per_sample_bytes, 1))


# ---------------------------------------------------------------- dense convs: channels-last
# A dense conv is one GEMM per batch chunk, rows (B·L, K·C) @ weights (K·C, O), where each row holds
# one output position's window with the channels innermost ("im2row"). The input is copied once to
# channels-last memory (N, *n, C), so that each window's channels are contiguous and the row copy is
# fast; the output comes out channels-last too and is returned as an NCHW-shaped view of it, which
# the next conv reads without another copy. (N·L, K·C) @ (K·C, O) measured 20-30% faster in OpenBLAS
# than the per-sample (O, K·C) @ (K·C, L).

def _to_first(a: np.ndarray) -> np.ndarray:
    """View (N, *n, C) as (N, C, *n) (np.moveaxis(a, -1, 1), without its argument checks: these run
    a dozen times a call, and moveaxis's checks measured a third of a small conv's fixed cost)."""
    return a.transpose((0, a.ndim - 1) + tuple(range(1, a.ndim - 1)))


def _to_last(a: np.ndarray) -> np.ndarray:
    """View (N, C, *n) as (N, *n, C), the inverse of `_to_first`."""
    return a.transpose((0,) + tuple(range(2, a.ndim)) + (1,))


def zeros_channels_last(shape, dtype) -> np.ndarray:
    """Zeros of NCHW shape (N, C, *n) whose memory is channels-last (N, *n, C)."""
    return _to_first(np.zeros((shape[0],) + tuple(shape[2:]) + (shape[1],), dtype=dtype))


def is_channels_last(x: np.ndarray) -> bool:
    """Whether x (N, C, *n) is an NCHW-shaped view of contiguous channels-last memory (N, *n, C)."""
    return x.ndim > 2 and _to_last(x).flags.c_contiguous


def channels_last(x: np.ndarray, pads=None) -> np.ndarray:
    """x (N, C, *n), zero-padded by (before, after) pairs, as an NCHW-shaped view of channels-last memory."""
    N, C, *n = x.shape
    pads = pads or [(0, 0)] * len(n)
    padded = any(a or b for a, b in pads)
    if not padded and is_channels_last(x):
        return x
    shape = (N,) + tuple(m + a + b for m, (a, b) in zip(n, pads)) + (C,)
    x_pad = np.empty(shape, dtype=x.dtype)
    for i, (m, (a, b)) in enumerate(zip(n, pads)):   # zero the borders only: the inside is copied over
        at = (slice(None),) * (1 + i)
        x_pad[at + (slice(0, a),)] = 0
        x_pad[at + (slice(a + m, None),)] = 0
    _copy_channels_last(x_pad[(slice(None),) + tuple(slice(a, a + m) for m, (a, _) in zip(n, pads))], x)
    return _to_first(x_pad)


#: Staging chunk of `_copy_channels_last`, small enough to stay in the L2 cache.
_STAGE_BYTES = 2**19


def _copy_channels_last(dst: np.ndarray, src: np.ndarray) -> None:
    """dst (N, *n, C) = src (N, C, *n) moved to channels-last, on parts of the batch in parallel threads.

    A transposing copy reads src with a stride of one channel plane; when that stride is a multiple of
    4 KB, every read of a position's C values falls into the same L1 cache set, and the copy ran 2-3×
    slower (measured 12.7 ms for 64×64×32×32 float32). Such planes are first copied, a few samples at
    a time, into a buffer whose planes are one cache line longer (5.4 ms in all)."""
    N, C = src.shape[:2]
    L = math.prod(src.shape[2:])
    aliased = src.strides[1] % 4096 == 0 and src.flags.c_contiguous
    pad = 64 // src.itemsize

    def part(p):
        if not aliased:
            np.copyto(dst[p], _to_last(src[p]))
            return
        B = max(1, _STAGE_BYTES // (C * L * src.itemsize))
        stage = np.empty((min(B, p.stop - p.start), C, L + pad), dtype=src.dtype)
        for b in range(p.start, p.stop, B):
            e = min(b + B, p.stop)
            st = stage[:e - b, :, :L]
            np.copyto(st, src[b:e].reshape(e - b, C, L))
            np.copyto(dst[b:e], _to_last(st.reshape(st.shape[:2] + src.shape[2:])))

    parallel_map(part, batch_parts(N, C * L))


def _rows(x_pad, kernel, stride, dilation, out):
    """im2row: x_pad (B, C, *n) -> (B·L, K·C), one row per output position: its window, taps outer, channels inner.

    The rows are written into the "rows" scratch buffer: use them before the next call."""
    B, C = x_pad.shape[:2]
    D = len(kernel)
    v = windows(x_pad, kernel, stride, dilation, out)                               # (B, C, *k, *out) view
    v = v.transpose((0,) + tuple(range(2 + D, 2 + 2 * D)) + tuple(range(2, 2 + D)) + (1,))  # (B, *out, *k, C)
    rows = scratch("rows", v.shape, x_pad.dtype)
    copy_runs(rows, v)
    return rows.reshape(B * math.prod(out), math.prod(kernel) * C)


def _weight_rows(w):
    """w (O, C, *k) -> (K·C, O), matching the rows' (taps, channels) order."""
    O, C = w.shape[:2]
    return _to_last(w).reshape(O, -1).T                                  # (K·C, O)


def _grad_rows(g):
    """g (N, O, *out) -> (N·L, O): the output gradient with channels inner (a view when it is channels-last)."""
    return _to_last(g).reshape(-1, g.shape[1])


def _column_sums(a: np.ndarray) -> np.ndarray:
    """a (R, O) summed over its rows. (NumPy sums over axis 0 a row at a time, O values per inner loop:
    0.13 ms for 6400 × 16; as rows of 64·O values, then 64 partial sums, it is 8× faster.)"""
    R, O = a.shape
    head = R - R % 64
    total = a[:head].reshape(-1, 64 * O).sum(axis=0).reshape(64, O).sum(axis=0)
    return total + a[head:].sum(axis=0) if head < R else total


def _add_to_rows(a: np.ndarray, v: np.ndarray) -> None:
    """a (R, O) += v (O,) in place, 64 rows per inner loop (as in `_column_sums`: 2.5× faster for O = 16)."""
    R, O = a.shape
    head = R - R % 64 if a.flags.c_contiguous else 0        # (a reshape of other memory would be a copy)
    a[:head].reshape(-1, 64 * O)[...] += np.tile(v, 64)
    a[head:] += v


def _dense_conv(x_pad, w, stride, dilation, out, bias):
    N = x_pad.shape[0]
    O, C, *k = w.shape
    L = math.prod(out)
    wr = _weight_rows(w)                                                            # (K·C, O)
    y = np.empty((N, L, O), dtype=np.result_type(x_pad, w))                         # channels-last
    B = _batch_chunk(L * math.prod(k) * C * x_pad.itemsize)

    def lane(chunks):
        for p in chunks:
            b, e = p.start, p.stop
            yb = y[b:e].reshape(-1, O)
            np.matmul(_rows(x_pad[b:e], k, stride, dilation, out), wr, out=yb)
            if bias is not None:
                _add_to_rows(yb, bias)

    in_lanes(lane, N, L * math.prod(k) * C, B)
    return _to_first(y.reshape((N,) + tuple(out) + (O,)))                  # (N, O, *out) view


@functools.lru_cache(maxsize=256)
def _all_tap_slices(kernel, stride, dilation, out) -> tuple:
    """`tap_slices` of every kernel tap, in row-major tap order (cached: a training loop asks again and again)."""
    return tuple(tap_slices(t, stride, dilation, out) for t in itertools.product(*(range(k) for k in kernel)))


def _dense_grads(x_pad, g, w, kernel, padded_shape, stride, dilation, need_input, need_weight, need_bias):
    """(gI_pad, gK, gb) of the conv of x_pad (N, C, *padded_shape) with w (O, C, *kernel), from its output
    gradient g (N, O, *out), each None unless asked for, in one pass over the batch. w is only read for
    gI_pad (else it may be None), x_pad only for gK.

    gI_pad, tap by tap: the rows g (B·L, O) @ K_t (O, C) give each tap's contribution (B, *out, C),
    contiguous, added into the strided slice of the channels-last result that the tap reads in the
    forward pass (one batched GEMM per chunk gives all taps; measured 1.1-2× faster than one
    (B·L, K·C) GEMM whose tap slices would be scattered C values at a time).
    gK = rows(x_pad)^T @ g, gb = the column sums of g's rows."""
    N, O, *out = g.shape
    C = (w if w is not None else x_pad).shape[1]
    L, K = math.prod(out), math.prod(kernel)
    dtype = np.result_type(g, w if w is not None else x_pad)
    gr = _grad_rows(g)                                                              # (N·L, O)
    if need_input:
        wt = np.ascontiguousarray(np.moveaxis(w.reshape(O, C, K), 2, 0))           # (K, O, C)
        gx = np.zeros((N,) + tuple(padded_shape) + (C,), dtype=dtype)               # channels-last
        taps = _all_tap_slices(tuple(kernel), tuple(stride), tuple(dilation), tuple(out))
    B = _batch_chunk(L * K * C * g.itemsize)

    def lane(chunks):
        gw = np.zeros((K * C, O), dtype=dtype) if need_weight else None
        gb = np.zeros(O, dtype=dtype) if need_bias else None
        for p in chunks:
            b, e = p.start, p.stop
            grb = gr[b * L:e * L]
            if need_bias:
                gb += _column_sums(grb)
            if need_input:
                res = np.matmul(grb, wt, out=scratch("taps", (K, (e - b) * L, C), dtype))
                res = res.reshape((K, e - b) + tuple(out) + (C,))
                for i, sl in enumerate(taps):
                    gx[(slice(b, e),) + sl] += res[i]
            if need_weight:
                gw += _rows(x_pad[b:e], kernel, stride, dilation, out).T @ grb
        return gw, gb

    parts = in_lanes(lane, N, L * K * C * (need_input + need_weight), B)
    gx = _to_first(gx) if need_input else None                                     # (N, C, *padded) view
    gw = _to_first(sum(p[0] for p in parts).T.reshape((O,) + tuple(kernel) + (C,))) if need_weight else None
    gb = sum(p[1] for p in parts) if need_bias else None
    return gx, gw, gb


# ---------------------------------------------------------------- dense convs, stride 1 along the last axis: row bands
# im2row copies every input value K times. With stride 1 along the last axis, the windows of neighbouring
# outputs along it overlap, and one copy of the input lowered over the other (leading) axes only is enough:
#
#     L[b, o', w, t', c] = I_pad[b, o'·s' + t'·d', w, c]      o', t', s', d': the leading axes' output
#                                                             index, tap, stride and dilation
#
# The window of output (o', j) is then the k_w consecutive blocks L[b, o', j : j + k_w] (with dilation d_w
# along the last axis, its positions are stored residue by residue, w = q·d_w + r, so that a window's
# blocks are still consecutive), and the outputs with the same j form one GEMM operand: a band of rows of
# L with a fixed stride. One batched GEMM (over j) computes the conv, reading L in place; L is about k_w
# times smaller than im2row's rows.
#
# The gradients lower the output gradient the same way, along the last axis only:
#
#     Gr[b, o', w, j, o] = g[b, o', w − (k_w − 1 − j)·d_w, o]      (zero outside the output)
#
# and then each is one plain GEMM over all rows (b, o', w):
#
#     gK[t', c, j, o]     = L^T @ Gr                            (j: the last axis' taps, flipped)
#     gL[t'][(b, o', w), c] = Gr @ K_t'[(j, o), c]              (added into the input gradient tap by tap:
#                                                               k_w times fewer taps than `_dense_grads`)
#
# Both only need the positions w of the last axis where the input is not padding: the input gradient is
# cut there, and L is zero there (its rows add nothing to gK). `last` = (start, length) names that range.
def _bands_pay(in_channels: int, groups: int, kernel, stride) -> bool:
    """Row bands replace im2row for dense convs of 2 or 3 dims with stride 1 along the last axis and at least
    16 input channels. (1-d convs have no leading axes: a band would hold one row per sample. With fewer
    channels L's rows gather a few values at a time: LeNet's C3, 6 channels, measured 1.7× slower.)"""
    return len(kernel) >= 2 and stride[-1] == 1 and groups == 1 and in_channels >= 16


def _residues(n: int, d: int):
    """n positions of the last axis stored residue by residue (w = q·d + r): (Q, [(r, Q_r)]) with Q positions
    per residue in the buffer and Q_r of them inside the axis."""
    Q = -(-n // d)
    return Q, [(r, len(range(r, n, d))) for r in range(d)]


def _lower(x_pad, kernel, stride, dilation, out, last):
    """L (B, *o', d_w, Q, *k', C) from the padded input x_pad (B, C, *n) (any layout), for the positions
    last = (start, length) of its last axis, in the "rows" scratch buffer."""
    lo, n = last
    xl = _to_last(x_pad)[..., lo:lo + n, :]                                         # (B, *n', n, C)
    B, C = xl.shape[0], xl.shape[-1]
    lead, dw = len(kernel) - 1, dilation[-1]
    Q, residues = _residues(n, dw)
    st = xl.strides
    view = as_strided(xl, (B,) + tuple(out[:lead]) + (n,) + tuple(kernel[:lead]) + (C,),
                      (st[0],) + tuple(st[1 + i] * stride[i] for i in range(lead)) + (st[1 + lead],)
                      + tuple(st[1 + i] * dilation[i] for i in range(lead)) + (st[-1],), writeable=False)
    L = scratch("rows", (B,) + tuple(out[:lead]) + (dw, Q) + tuple(kernel[:lead]) + (C,), xl.dtype)
    at = (slice(None),) * (1 + lead)
    for r, Qr in residues:
        copy_runs(L[at + (r, slice(0, Qr))], view[at + (slice(r, None, dw),)])
        if Qr < Q:      # past the range: read by no window, but multiplied (by zeros) in gK
            L[at + (r, slice(Qr, None))] = 0
    return L


def _lower_grad(g, kernel, dilation, last):
    """Gr (B, *o', d_w, Q, k_w, O) from the output gradient g (B, O, *o) (any layout), for the positions
    last = (start, length) of the padded input's last axis, in the "grows" scratch buffer."""
    lo, n = last
    gl = _to_last(g)                                                                # (B, *o, O)
    lead, k, dw, Wo = len(kernel) - 1, kernel[-1], dilation[-1], g.shape[-1]
    Q, _ = _residues(n, dw)
    Gr = scratch("grows", gl.shape[:1 + lead] + (dw, Q, k, gl.shape[-1]), gl.dtype)
    at = (slice(None),) * (1 + lead)
    for r in range(dw):
        for j in range(k):   # Gr[.., r, q, j] = g[.., base + q·d_w] where 0 <= base + q·d_w < Wo
            base = lo + r + (j - k + 1) * dw
            q0, q1 = max(0, -(base // dw)), max(0, min(Q, (Wo - 1 - base) // dw + 1))
            q1 = max(q0, q1)
            if q1 > q0:
                start = base + q0 * dw
                copy_runs(Gr[at + (r, slice(q0, q1), j)], gl[at + (slice(start, start + (q1 - q0 - 1) * dw + 1, dw),)])
            Gr[at + (r, slice(0, q0), j)] = 0
            Gr[at + (r, slice(q1, None), j)] = 0
    return Gr


def _band_conv(x_pad, w, stride, dilation, out, bias):
    """The conv of the padded input x_pad (N, C, *n) with w (O, C, *k), bias added: (N, O, *out) channels-last."""
    N = x_pad.shape[0]
    O, C, *k = w.shape
    lead, kw, dw, Wo = len(k) - 1, k[-1], dilation[-1], out[-1]
    Q, residues = _residues(x_pad.shape[-1], dw)
    T, Mo = math.prod(k[:lead]) * C, math.prod(out[:lead])
    # weights (k_w, *k', C) x O, in the order of a window's values
    wr = np.ascontiguousarray(w.transpose((1 + len(k),) + tuple(range(2, 1 + len(k))) + (1, 0))).reshape(kw * T, O)
    y = np.empty((N, Mo, Wo, O), dtype=np.result_type(x_pad, w))
    B = _batch_chunk(Mo * dw * Q * T * x_pad.itemsize)
    isz = y.itemsize

    def lane(chunks):
        for p in chunks:
            b, e = p.start, p.stop
            L = _lower(x_pad[b:e], k, stride, dilation, out, (0, x_pad.shape[-1])).reshape((e - b) * Mo, dw * Q * T)
            yb = y[b:e].reshape((e - b) * Mo, Wo * O)
            for r, _ in residues[:Wo]:     # the outputs j·d_w + r read the residue-r blocks j, j+1, .., j+k_w−1
                J = len(range(r, Wo, dw))
                bands = as_strided(L[:, r * Q * T:], (J, L.shape[0], kw * T), (T * L.itemsize, L.strides[0], L.itemsize),
                                   writeable=False)
                np.matmul(bands, wr, out=as_strided(yb[:, r * O:], (J, L.shape[0], O), (dw * O * isz, yb.strides[0], isz)))
            if bias is not None:
                _add_to_rows(y[b:e].reshape(-1, O), bias)

    in_lanes(lane, N, Mo * dw * Q * T, B)
    return _to_first(y.reshape((N,) + tuple(out) + (O,)))                    # (N, O, *out) view


def _band_grads(x_pad, g, w, kernel, padded_shape, stride, dilation, last, need_input, need_weight, need_bias):
    """(gI_pad, gK, gb) of the conv of x_pad (N, C, *padded_shape) with w (O, C, *kernel), from its output
    gradient g (N, O, *out), each None unless asked for. gI_pad (N, C, *padded_shape), channels-last, is
    computed for the positions last = (start, length) of the last axis only (zero elsewhere), and x_pad must
    be zero outside them. w is only read for gI_pad (else it may be None), x_pad only for gK."""
    N, O, *out = g.shape
    C, k = (w if w is not None else x_pad).shape[1], list(kernel)
    lead, kw, dw = len(k) - 1, k[-1], dilation[-1]
    Q, _ = _residues(last[1], dw)
    K1, Mo = math.prod(k[:lead]), math.prod(out[:lead])
    dtype = np.result_type(g, w if w is not None else x_pad)
    if need_input:
        # K_t'[(j, o), c] = K[o, c, t', k_w − 1 − j]
        wt = np.ascontiguousarray(w.reshape(O, C, K1, kw)[..., ::-1].transpose(2, 3, 0, 1)).reshape(K1, kw * O, C)
        lo, width = last[0], max(padded_shape[-1], last[0] + Q * dw)
        gbuf = np.zeros((N,) + tuple(padded_shape[:lead]) + (width, C), dtype=dtype)
        s = gbuf.strides                     # the range in residue order: (N, *n', d_w, Q, C)
        gxr = as_strided(gbuf[..., lo:, :], gbuf.shape[:1 + lead] + (dw, Q, C), s[:1 + lead] + (s[-2], s[-2] * dw, s[-1]))
        taps = _all_tap_slices(tuple(k[:lead]), tuple(stride[:lead]), tuple(dilation[:lead]), tuple(out[:lead]))
    rows = Mo * dw * Q
    per_sample = rows * (kw * O + K1 * C * (need_input + need_weight))
    B = _batch_chunk(per_sample * g.itemsize)

    def lane(chunks):
        gw = np.zeros((K1 * C, kw * O), dtype=dtype) if need_weight else None
        gb = np.zeros(O, dtype=dtype) if need_bias else None
        for p in chunks:
            b, e = p.start, p.stop
            if need_bias:
                gb += _column_sums(_grad_rows(g[b:e]))
            if not (need_input or need_weight):
                continue
            Gr = _lower_grad(g[b:e], k, dilation, last).reshape(-1, kw * O)
            if need_input:
                res = np.matmul(Gr, wt, out=scratch("taps", (K1, Gr.shape[0], C), dtype))
                res = res.reshape((K1, e - b) + tuple(out[:lead]) + (dw, Q, C))
                for i, sl in enumerate(taps):
                    gxr[(slice(b, e),) + sl] += res[i]
            if need_weight:
                gw += _lower(x_pad[b:e], k, stride, dilation, out, last).reshape(-1, K1 * C).T @ Gr
        return gw, gb

    parts = in_lanes(lane, N, per_sample, B)
    gx = gw = gb = None
    if need_input:
        gx = _to_first(gbuf[..., :padded_shape[-1], :])
    if need_weight:   # (*k', C, j, O) -> (O, C, *k', k_w), j = k_w − 1 − tap
        gw = sum(p[0] for p in parts).reshape(tuple(k[:lead]) + (C, kw, O))[..., ::-1, :]
        gw = np.ascontiguousarray(gw.transpose((lead + 2, lead) + tuple(range(lead)) + (lead + 1,)))
    if need_bias:
        gb = sum(p[1] for p in parts)
    return gx, gw, gb


# ---------------------------------------------------------------- grouped or few-channel convs: channels-first
# With groups the window of an output channel covers only its group's C_g channels, which are
# contiguous in NCHW: columns (B, G, C_g·K, L) and one batched GEMM with (G, O_g, C_g·K). For
# depthwise convs (C_g = 1) this measured several times faster than gathering channels-last rows.

def _cols(x_pad, kernel, stride, dilation, out, groups):
    """im2col: x_pad (B, C, *n) -> (B, G, C_g·K, L), in the "rows" scratch buffer (use before the next call)."""
    v = windows(x_pad, kernel, stride, dilation, out)                  # (B, C, *k, *out) view
    cols = scratch("rows", v.shape, x_pad.dtype)
    copy_runs(cols, v)
    return cols.reshape(v.shape[0], groups, -1, math.prod(out))


def _grouped_conv(x_pad, w, stride, dilation, groups, out):
    N, C = x_pad.shape[:2]
    O, Cg, *k = w.shape
    G, K, L = groups, math.prod(k), math.prod(out)
    wg = w.reshape(G, O // G, Cg * K)                                  # (G, O_g, C_g·K)
    y = np.empty((N, G, O // G, L), dtype=np.result_type(x_pad, w))
    B = _batch_chunk(C * K * L * x_pad.itemsize)

    def lane(chunks):
        for p in chunks:
            b, e = p.start, p.stop
            np.matmul(wg, _cols(x_pad[b:e], k, stride, dilation, out, G), out=y[b:e])  # (B, G, O_g, L)

    in_lanes(lane, N, C * K * L, B)
    return y.reshape((N, O) + tuple(out))


def _grouped_adjoint(g, w, padded_shape, stride, dilation, groups):
    N, O, *out = g.shape
    _, Cg, *k = w.shape
    G, K, L = groups, math.prod(k), math.prod(out)
    C = Cg * G
    wt = w.reshape(G, O // G, Cg * K).transpose(0, 2, 1)               # (G, C_g·K, O_g)
    gx = np.zeros((N, C) + tuple(padded_shape), dtype=np.result_type(g, w))
    B = _batch_chunk(C * K * L * g.itemsize)

    def lane(chunks):
        for p in chunks:
            b, e = p.start, p.stop
            gb = g[b:e].reshape(-1, G, O // G, L)                      # (B, G, O_g, L)
            cols = np.matmul(wt, gb, out=scratch("taps", gb.shape[:2] + (Cg * K, L), gx.dtype))  # (B, G, C_g·K, L)
            scatter_add_windows(cols.reshape((-1, C) + tuple(k) + tuple(out)), gx[b:e], k, stride, dilation)

    in_lanes(lane, N, C * K * L, B)
    return gx


def _grouped_weight(x_pad, g, kernel, stride, dilation, groups):
    N, C = x_pad.shape[:2]
    _, O, *out = g.shape
    G, K, L = groups, math.prod(kernel), math.prod(out)
    Cg = C // G
    B = _batch_chunk(C * K * L * x_pad.itemsize)

    def lane(chunks):
        gw = np.zeros((G, O // G, Cg * K), dtype=np.result_type(x_pad, g))
        for p in chunks:
            b, e = p.start, p.stop
            cols = _cols(x_pad[b:e], kernel, stride, dilation, out, G)  # (B, G, C_g·K, L)
            gb = g[b:e].reshape(-1, G, O // G, L)                      # (B, G, O_g, L)
            gw += np.matmul(gb, cols.transpose(0, 1, 3, 2)).sum(axis=0)   # (G, O_g, C_g·K)
        return gw

    gw = sum(in_lanes(lane, N, C * K * L, B))
    return gw.reshape((O, Cg) + tuple(kernel))


# ---------------------------------------------------------------- the three kernels
def _channels_last_pays(in_channels: int, groups: int, taps: int) -> bool:
    """Dense convs with enough input channels run channels-last; the rest (grouped, or few channels,
    where a row would gather a few values at a time) run channels-first. Measured (conv + both
    gradients): LeNet's C1 (1 channel) ~4× slower channels-last and AlexNet's conv1 (3 channels, 11×11)
    ~2× slower; a 64-channel conv ~25% faster; 6 channels 1.5× faster with 5×5 taps (LeNet's C3)
    but 1.5× slower with 3×3 taps (a row of 54 values is too short for the GEMM to pay for the copy)."""
    return groups == 1 and (in_channels >= 8 or (in_channels >= 4 and in_channels * taps >= 128))


def _conv(x_pad, w, stride, dilation, groups, out, bias=None):
    """Cross-correlate the padded input x_pad (N, C, *n) with w (O, C_g, *k), plus bias (O,) -> (N, O, *out)."""
    # The bands' GEMMs are smaller (one per output column j): with 64 or more output channels the GEMMs
    # dominate and im2row measured 2-5% faster; with 32 (the 3-d and dilated benchmark cases) bands
    # measured 11-14% faster.
    if _bands_pay(x_pad.shape[1], groups, w.shape[2:], stride) and w.shape[0] < 64:
        return _band_conv(x_pad, w, stride, dilation, out, bias)
    if _channels_last_pays(x_pad.shape[1], groups, math.prod(w.shape[2:])):
        return _dense_conv(x_pad, w, stride, dilation, out, bias)
    y = _grouped_conv(x_pad, w, stride, dilation, groups, out)
    if bias is not None:
        y += bias.reshape((1, -1) + (1,) * len(out))
    return y


def _conv_adjoint(g, w, padded_shape, stride, dilation, groups, last=None):
    """The adjoint of `_conv` in its input: g (N, O, *out) -> (N, C, *padded_shape) (the transposed conv).
    last = (start, length): only these positions of the last axis are wanted (the rest may be left zero)."""
    if _bands_pay(w.shape[1] * groups, groups, w.shape[2:], stride):
        last = last or (0, padded_shape[-1])
        return _band_grads(None, g, w, w.shape[2:], padded_shape, stride, dilation, last, True, False, False)[0]
    if _channels_last_pays(w.shape[1] * groups, groups, math.prod(w.shape[2:])):
        return _dense_grads(None, g, w, w.shape[2:], padded_shape, stride, dilation, True, False, False)[0]
    return _grouped_adjoint(g, w, padded_shape, stride, dilation, groups)


def _conv_weight(x_pad, g, kernel, stride, dilation, groups, last=None):
    """Gradient of `_conv` in its weight: Σ over batch and positions of g ⊗ windows(x_pad) -> (O, C_g, *k).
    last = (start, length): x_pad is zero outside these positions of its last axis."""
    if _bands_pay(x_pad.shape[1], groups, kernel, stride):
        last = last or (0, x_pad.shape[-1])
        return _band_grads(x_pad, g, None, kernel, x_pad.shape[2:], stride, dilation, last, False, True, False)[1]
    if _channels_last_pays(x_pad.shape[1], groups, math.prod(kernel)):
        return _dense_grads(x_pad, g, None, kernel, x_pad.shape[2:], stride, dilation, False, True, False)[1]
    return _grouped_weight(x_pad, g, kernel, stride, dilation, groups)


def _input_grad(g, w, x_shape, pads, stride, dilation, groups):
    """Gradient of a convolution in its (unpadded) input x_shape, from g (N, O, *out).

    With stride 1 it is itself a plain convolution, computed like the forward pass:
    gI[j] = Σ_t g[j + p − t·d]·K[t], i.e. g padded by d(k−1) − p, correlated with K
    flipped over its taps and with in/out channels swapped. That is used for grouped
    convs, where it measured several times faster than the adjoint. Dense convs use the
    adjoint (`_conv_adjoint`, tap by tap), measured 1.0-2× faster than the flipped conv.
    """
    O, Cg, *k = w.shape
    n = x_shape[2:]
    if any(s != 1 for s in stride) or groups == 1:
        padded = tuple(m + a + b for m, (a, b) in zip(n, pads))
        return _crop(_conv_adjoint(g, w, padded, stride, dilation, groups), [a for a, _ in pads], n)
    G = groups
    flip = (slice(None), slice(None)) + (slice(None, None, -1),) * len(k)
    wt = w.reshape((G, O // G, Cg) + tuple(k)).swapaxes(1, 2).reshape((G * Cg, O // G) + tuple(k))[flip]
    reach = [d * (kk - 1) for kk, d in zip(k, dilation)]
    gp = _pad_or_crop(g, [(r - a, r - b) for r, (a, b) in zip(reach, pads)], groups, math.prod(k))
    return _conv(gp, np.ascontiguousarray(wt), stride, dilation, groups, tuple(n))


def _pad_or_crop(x, amounts, groups, taps):
    """Zero-pad the spatial dims by (before, after) amounts; a negative amount crops instead."""
    crop = tuple(slice(max(-a, 0), m - max(-b, 0)) for m, (a, b) in zip(x.shape[2:], amounts))
    return _pad_zeros(x[(slice(None), slice(None)) + crop], [(max(a, 0), max(b, 0)) for a, b in amounts], groups,
                      taps)


def _pad_zeros(x, pads, groups, taps):
    """Zero-pad the spatial dims of x by (before, after) pairs, into the memory layout its conv kernel reads
    fastest: channels-last where that pays (see `_channels_last_pays`), else NCHW (no copy if no padding)."""
    if _channels_last_pays(x.shape[1], groups, taps):
        return channels_last(x, pads)
    return pad_constant(x, pads, 0)


def _crop(x, starts, sizes):
    return x[(slice(None), slice(None)) + tuple(slice(a, a + n) for a, n in zip(starts, sizes))]


class ConvNd(Function):
    fresh_grads = True      # every gradient below is a new array

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(), pads=(), dilation=(), groups=1):
        x_pad = _pad_zeros(x, pads, groups, math.prod(w.shape[2:]))
        k = w.shape[2:]
        out = tuple(shapes.conv_output_size(n, kk, s, 0, d)
                    for n, kk, s, d in zip(x_pad.shape[2:], k, stride, dilation))
        y = _conv(x_pad, w, stride, dilation, groups, out, b)
        ctx.save = (x_pad, w, x.shape, stride, pads, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, g):
        x_pad, w, x_shape, stride, pads, dilation, groups = ctx.save
        if _channels_last_pays(w.shape[1] * groups, groups, math.prod(w.shape[2:])):
            g = channels_last(g)          # once, for the rows of both gradients (a view if it already is)
        need = (tuple(ctx.needs_input_grad) + (False,))[:3]
        gx = gw = gb = None
        if _bands_pay(w.shape[1] * groups, groups, w.shape[2:], stride):     # all gradients in one pass
            last = (pads[-1][0], x_shape[-1])
            gx, gw, gb = _band_grads(x_pad, g, w, w.shape[2:], x_pad.shape[2:], stride, dilation, last, *need)
        elif _channels_last_pays(w.shape[1] * groups, groups, math.prod(w.shape[2:])):
            gx, gw, gb = _dense_grads(x_pad, g, w, w.shape[2:], x_pad.shape[2:], stride, dilation, *need)
        else:
            if need[0]:
                gx = _input_grad(g, w, x_shape, pads, stride, dilation, groups)
            if need[1]:
                gw = _conv_weight(x_pad, g, w.shape[2:], stride, dilation, groups)
            if need[2]:
                gb = g.sum(axis=(0,) + tuple(range(2, g.ndim)))
            return (gx, gw, gb)[:len(ctx.needs_input_grad)]
        if gx is not None:
            gx = _crop(gx, [a for a, _ in pads], x_shape[2:])
        return (gx, gw, gb)[:len(ctx.needs_input_grad)]


class ConvTransposeNd(Function):
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(), padding=(), out=(), dilation=(), groups=1):
        # the full transposed output starts at -padding; keep a buffer that also holds output_padding
        k = w.shape[2:]
        full = tuple((n - 1) * s + d * (kk - 1) + 1 for n, kk, s, d in zip(x.shape[2:], k, stride, dilation))
        buffer = tuple(max(f, p + o) for f, p, o in zip(full, padding, out))
        y = _crop(_conv_adjoint(x, w, buffer, stride, dilation, groups, (padding[-1], out[-1])), padding, out)
        y = y + b.reshape((1, -1) + (1,) * len(out)) if b is not None else y.copy(order="K")
        ctx.save = (x, w, buffer, stride, padding, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w, buffer, stride, padding, dilation, groups = ctx.save
        gbuf = zeros_channels_last(g.shape[:2] + buffer, g.dtype) if _channels_last_pays(g.shape[1], groups, math.prod(w.shape[2:])) \
            else np.zeros(g.shape[:2] + buffer, dtype=g.dtype)
        _crop(gbuf, padding, g.shape[2:])[...] = g                     # g placed where the output was cut
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _conv(gbuf, w, stride, dilation, groups, x.shape[2:])
        if ctx.needs_input_grad[1]:
            # the weight (C_in, C_out/G, *k) maps C_out -> C_in here, so correlate gbuf with x
            gw = _conv_weight(gbuf, x, w.shape[2:], stride, dilation, groups, (padding[-1], g.shape[-1]))
        if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]:
            gb = g.sum(axis=(0,) + tuple(range(2, g.ndim)))
        return (gx, gw, gb)[:len(ctx.needs_input_grad)]


# ---------------------------------------------------------------- argument checks
def _check_tensors(op, D, input, weight, bias):
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be a floating point tensor, got dtype {t.dtype}")
    dtypes = {t.dtype for t in (input, weight, bias) if t is not None}
    if len(dtypes) > 1:
        raise TypeError(f"{op}: input, weight and bias must have the same dtype, got "
                        f"{input.dtype}, {weight.dtype}" + (f" and {bias.dtype}" if bias is not None else ""))
    if weight.ndim != D + 2:
        raise ValueError(f"{op}: weight must be {D + 2}-d (out_channels, in_channels/groups, *kernel_size), "
                         f"got shape {weight.shape}")
    if input.ndim not in (D + 1, D + 2):
        raise ValueError(f"{op}: expected a {D + 1}-d (unbatched) or {D + 2}-d (batched) input, "
                         f"got a {input.ndim}-d input of shape {input.shape}")


def _conv_nd(op, D, input, weight, bias, stride, padding, dilation, groups):
    _check_tensors(op, D, input, weight, bias)
    groups = shapes.positive_int(groups, op=op, arg="groups")
    stride = shapes.check_positive(shapes.ntuple(stride, D, op=op, arg="stride"), op=op, arg="stride")
    dilation = shapes.check_positive(shapes.ntuple(dilation, D, op=op, arg="dilation"), op=op, arg="dilation")
    O, Cg, *k = weight.shape
    C = input.shape[0] if input.ndim == D + 1 else input.shape[1]
    if C != Cg * groups:
        raise ValueError(f"{op}: input has {counted(C, 'channel')}, but weight expects {Cg * groups} "
                         f"(in_channels={Cg * groups}, groups={groups}; weight shape {weight.shape})")
    if O % groups:
        raise ValueError(f"{op}: out_channels={O} (weight.shape[0]) must be divisible by groups={groups}")
    if bias is not None and bias.shape != (O,):
        raise ValueError(f"{op}: bias must have shape ({O},) (out_channels), got {bias.shape}")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * D
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(stride={stride}); pad explicitly, or use cnnlab.keras for TensorFlow's 'same'")
            pads = tuple(shapes.same_padding_torch(kk, d, op=op) for kk, d in zip(k, dilation))
        else:
            raise ValueError(f"{op}: padding must be an int, a tuple of {D} ints, 'valid' or 'same', got {padding!r}")
    else:
        p = shapes.check_nonnegative(shapes.ntuple(padding, D, op=op, arg="padding"), op=op, arg="padding")
        pads = tuple((a, a) for a in p)
    spatial = input.shape[-D:]
    for n, kk, s, pp, d in zip(spatial, k, stride, pads, dilation):
        shapes.conv_output_size(n, kk, s, pp, d, op=op)  # raises when the kernel does not fit
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


def _conv_transpose_nd(op, D, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _check_tensors(op, D, input, weight, bias)
    groups = shapes.positive_int(groups, op=op, arg="groups")
    stride = shapes.check_positive(shapes.ntuple(stride, D, op=op, arg="stride"), op=op, arg="stride")
    dilation = shapes.check_positive(shapes.ntuple(dilation, D, op=op, arg="dilation"), op=op, arg="dilation")
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of {D} ints, got {padding!r} "
                         "(string padding is not supported for transposed convolutions)")
    padding = shapes.check_nonnegative(shapes.ntuple(padding, D, op=op, arg="padding"), op=op, arg="padding")
    output_padding = shapes.check_nonnegative(shapes.ntuple(output_padding, D, op=op, arg="output_padding"),
                                              op=op, arg="output_padding")
    Cin, Cout_g, *k = weight.shape
    C = input.shape[0] if input.ndim == D + 1 else input.shape[1]
    if C != Cin:
        raise ValueError(f"{op}: input has {counted(C, 'channel')}, but weight expects {Cin} "
                         f"(weight shape {weight.shape} is (in_channels, out_channels/groups, *kernel_size))")
    if Cin % groups:
        raise ValueError(f"{op}: in_channels={Cin} (weight.shape[0]) must be divisible by groups={groups}")
    if bias is not None and bias.shape != (Cout_g * groups,):
        raise ValueError(f"{op}: bias must have shape ({Cout_g * groups},) (out_channels), got {bias.shape}")
    out = tuple(shapes.conv_transpose_output_size(n, kk, s, p, op_, d, op=op)
                for n, kk, s, p, op_, d in zip(input.shape[-D:], k, stride, padding, output_padding, dilation))
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
