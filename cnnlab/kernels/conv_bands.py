"""Row bands: a dense conv with stride 1 along the last axis, copying the input once per leading-axes tap.

Applies to: dense convs (groups = 1) of 2 or 3 dims with stride 1 along the last axis (any padding,
dilation, and strides along the other axes). 1-d convs have no leading axes: a band would hold one row
per sample. Selected (auto) with at least `tuning.BANDS_MIN_CHANNELS` input channels.

Gains: im2row copies every input value K times; the bands' lowered input L is about k_w times smaller.
Measured against im2row: 11-14% faster forward with 32 output channels (the 3-d and dilated benchmark
cases), 2-5% slower forward with 64 or more; the gradients compute the input gradient with k_w times
fewer taps. With 6 channels (LeNet's C3) 1.7× slower than im2row, hence the channel threshold.

How: with stride 1 along the last axis, the windows of neighbouring outputs along it overlap, and one copy
of the input lowered over the other (leading) axes only is enough:

    L[b, o', w, t', c] = I_pad[b, o'·s' + t'·d', w, c]      o', t', s', d': the leading axes' output
                                                            index, tap, stride and dilation

The window of output (o', j) is then the k_w consecutive blocks L[b, o', j : j + k_w] (with dilation d_w
along the last axis, its positions are stored residue by residue, w = q·d_w + r, so that a window's
blocks are still consecutive), and the outputs with the same j form one GEMM operand: a band of rows of
L with a fixed stride. One batched GEMM (over j) computes the conv, reading L in place.

The gradients lower the output gradient the same way, along the last axis only:

    Gr[b, o', w, j, o] = g[b, o', w − (k_w − 1 − j)·d_w, o]      (zero outside the output)

and then each is one plain GEMM over all rows (b, o', w):

    gK[t', c, j, o]     = L^T @ Gr                            (j: the last axis' taps, flipped)
    gL[t'][(b, o', w), c] = Gr @ K_t'[(j, o), c]              (added into the input gradient tap by tap)

Both only need the positions w of the last axis where the input is not padding: the input gradient is
cut there, and L is zero there (its rows add nothing to gK). `last` = (start, length) names that range.

Notation: N batch, C input channels, O output channels, k = (*k', k_w) kernel sizes, out = (*o', W_o)
output sizes, s stride, d dilation; Q positions per residue of the last axis, T = Πk'·C values per block.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cnnlab import tuning
from cnnlab.kernels.layout import (add_to_rows, all_tap_slices, batch_chunk, channels_last, column_sums, grad_rows,
                                   to_first, to_last, zeros_channels_last)
from cnnlab.kernels.strided import copy_runs
from cnnlab.runtime import in_lanes, scratch


def _residues(n: int, d: int):
    """n positions of the last axis stored residue by residue (w = q·d + r): (Q, [(r, Q_r)]) with Q positions
    per residue in the buffer and Q_r of them inside the axis."""
    Q = -(-n // d)
    return Q, [(r, len(range(r, n, d))) for r in range(d)]


def _lower(x_pad, kernel, stride, dilation, out, last):
    """L (B, *o', d_w, Q, *k', C) from the padded input x_pad (B, C, *n) (any layout), for the positions
    last = (start, length) of its last axis, in the "rows" scratch buffer."""
    lo, n = last
    xl = to_last(x_pad)[..., lo:lo + n, :]                                         # (B, *n', n, C)
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
    gl = to_last(g)                                                                # (B, *o, O)
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
    B = batch_chunk(Mo * dw * Q * T * x_pad.itemsize)
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
                add_to_rows(y[b:e].reshape(-1, O), bias)

    in_lanes(lane, N, Mo * dw * Q * T, B)
    return to_first(y.reshape((N,) + tuple(out) + (O,)))                    # (N, O, *out) view


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
        taps = all_tap_slices(tuple(k[:lead]), tuple(stride[:lead]), tuple(dilation[:lead]), tuple(out[:lead]))
    rows = Mo * dw * Q
    per_sample = rows * (kw * O + K1 * C * (need_input + need_weight))
    B = batch_chunk(per_sample * g.itemsize)

    def lane(chunks):
        gw = np.zeros((K1 * C, kw * O), dtype=dtype) if need_weight else None
        gb = np.zeros(O, dtype=dtype) if need_bias else None
        for p in chunks:
            b, e = p.start, p.stop
            if need_bias:
                gb += column_sums(grad_rows(g[b:e]))
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

    parts = in_lanes(lane, N, per_sample, B, ordered=need_weight or need_bias)
    gx = gw = gb = None
    if need_input:
        gx = to_first(gbuf[..., :padded_shape[-1], :])
    if need_weight:   # (*k', C, j, O) -> (O, C, *k', k_w), j = k_w − 1 − tap
        gw = sum(p[0] for p in parts).reshape(tuple(k[:lead]) + (C, kw, O))[..., ::-1, :]
        gw = np.ascontiguousarray(gw.transpose((lead + 2, lead) + tuple(range(lead)) + (lead + 1,)))
    if need_bias:
        gb = sum(p[1] for p in parts)
    return gx, gw, gb



class Bands:
    """The row-band kernel: forward `conv`, all three gradients `grads`, on channels-last memory."""
    name = "bands"

    @staticmethod
    def applies(in_channels, out_channels, groups, kernel, stride, width=None) -> bool:
        return len(kernel) >= 2 and stride[-1] == 1 and groups == 1

    @staticmethod
    def pays(in_channels, out_channels, groups, kernel, stride, width=None) -> bool:
        return (Bands.applies(in_channels, out_channels, groups, kernel, stride) and in_channels >= tuning.BANDS_MIN_CHANNELS
                and (width is None or width >= tuning.BANDS_MIN_WIDTH))

    layout = staticmethod(channels_last)        # the input layout it reads: (N, C, *n) view of (N, *n, C) memory
    zeros = staticmethod(zeros_channels_last)
    conv = staticmethod(_band_conv)

    @staticmethod
    def grads(x_pad, g, w, kernel, padded_shape, stride, dilation, last, need_input, need_weight, need_bias):
        """(gI_pad, gK, gb); last = (start, length) of the last axis wanted (None: all), x_pad zero outside it."""
        last = last or (0, padded_shape[-1])
        return _band_grads(x_pad, g, w, kernel, padded_shape, stride, dilation, last, need_input, need_weight, need_bias)
