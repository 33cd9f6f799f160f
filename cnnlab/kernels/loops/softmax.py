"""Softmax, log-softmax and softmax cross-entropy over the rows of a (R, C) array, as loops.

One pass a row computes the shifted scores' exponentials and their sum, a second normalises them
(rows of a few thousand values stay in cache between the two); the rows are split over numba's
threads. The row maxima m come in from NumPy (`max` propagates NaN; a compiled max that must
propagate it is not vectorised, 8× slower):

    e = exp(x − m), s = Σ e        then  e = e / s   (softmax), or the log-softmax's x − m − log s

The exponential (`_exp`) is compiled into the loop. For float32 it is `_exp_float32`, a polynomial
that the loop vectorises: NumPy's `np.exp`, a call of its own, measured 0.45 ms for 256×1000 floats
on one thread of an AMD EPYC (AVX2), where the whole loop on two threads takes about 0.13. For
float64 it is the C library's scalar `exp`.

The loops index their rows (`row[c]`): iterating over a row (`for v in row`) measured 10× slower.
"""
import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

_jit = dict(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})


# ---------------------------------------------------------------- the exponential of a shifted score
@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE bits are the int32 `bits` (a reinterpretation, no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


_LOG2E = np.float32(1.4426950408889634)
_LN2_HI, _LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)   # ln 2 = hi + lo, hi exact in 9 bits
_SMALLEST = np.float32(-87.33654)      # log of float32's smallest normal number, 2⁻¹²⁶


@numba.njit(inline="always", **_jit)
def _exp_float32(x):
    """exp(x) for float32 x ≤ 0 (a score minus its row's maximum), within an ulp of the exact value
    (0.97 at most over 1.1·10⁶ points of [−87.3, 0]); 0 below −87.34 (where exp(x) is a subnormal number under
    2⁻¹²⁶, against a row sum ≥ 1), nan for nan.

    Cephes' expf: x = n·ln 2 + r with n = round(x / ln 2) and |r| ≤ ln 2 / 2 (ln 2 in two parts, so
    that n·ln 2 is exact to float32), e^r ≈ 1 + r + r²·P(r) with P of degree 5, and 2ⁿ made from its
    IEEE bits (exponent field n + 127). Only the arithmetic of a lane and selects: the loop around it
    vectorises."""
    xc = x if x > _SMALLEST else _SMALLEST            # (nan compares false: xc is then finite)
    n = np.floor(xc * _LOG2E + np.float32(0.5))
    r = xc - n * _LN2_HI - n * _LN2_LO
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    e = (p * r * r + r + np.float32(1)) * _float32_from_bits((np.int32(n) + np.int32(127)) << 23)
    if x < _SMALLEST:
        return np.float32(0)
    return e if x == x else x


def _exp(x):
    """exp(x) of a shifted score x ≤ 0, in x's dtype (compiled only: see the overload below)."""
    raise NotImplementedError("cnnlab.kernels.loops.softmax._exp runs compiled only")


@overload(_exp, inline="always")
def _exp_for(x):
    if x == types.float32:
        return lambda x: _exp_float32(x)
    return lambda x: math.exp(x)


# ---------------------------------------------------------------- the rows
@numba.njit(inline="always", **_jit)
def _sum(row):
    s = row.dtype.type(0)
    for c in range(row.shape[0]):
        s += row[c]
    return s


@numba.njit(inline="always", **_jit)
def _exp_shifted(row, v, out):
    """out = exp(row − v), returning Σ out."""
    s = out.dtype.type(0)
    for c in range(row.shape[0]):
        e = _exp(row[c] - v)
        out[c] = e
        s += e
    return s


@numba.njit(inline="always", **_jit)
def _scale(row, a):
    for c in range(row.shape[0]):
        row[c] *= a


@numba.njit(parallel=True, **_jit)
def softmax(x, m, y):
    """y (R, C) = softmax of x (R, C) along its rows, m (R,) their maxima."""
    for r in numba.prange(x.shape[0]):
        out = y[r]
        _scale(out, 1 / _exp_shifted(x[r], m[r], out))


@numba.njit(parallel=True, **_jit)
def log_softmax(x, m, out, p):
    """out (R, C) = log_softmax(x), p (R, C) = softmax(x) (which the backward uses), m the row maxima."""
    for r in numba.prange(x.shape[0]):
        row, o, pr, v = x[r], out[r], p[r], m[r]
        s = _exp_shifted(row, v, pr)
        log_s, inv = np.log(s), 1 / s
        for c in range(row.shape[0]):
            o[c] = row[c] - v - log_s
            pr[c] *= inv


@numba.njit(parallel=True, **_jit)
def softmax_grad(y, g, gx):
    """gx = y·(g − Σ g·y) row by row, y the softmax."""
    for r in numba.prange(y.shape[0]):
        yr, gr, out = y[r], g[r], gx[r]
        s = yr.dtype.type(0)
        for c in range(yr.shape[0]):
            s += gr[c] * yr[c]
        for c in range(yr.shape[0]):
            out[c] = yr[c] * (gr[c] - s)


@numba.njit(parallel=True, **_jit)
def log_softmax_grad(p, g, gx):
    """gx = g − p·Σ g row by row, p the softmax."""
    for r in numba.prange(p.shape[0]):
        pr, gr, out = p[r], g[r], gx[r]
        s = _sum(gr)
        for c in range(pr.shape[0]):
            out[c] = gr[c] - pr[c] * s


@numba.njit(parallel=True, **_jit)
def cross_entropy(x, m, target, p, losses):
    """p (R, C) = softmax(x) and losses (R,) = log Σ exp(x − m) − (x − m)[target] row by row, m the row
    maxima (the target's term is taken from x − m, not from log p, which loses it where exp underflows)."""
    for r in numba.prange(x.shape[0]):
        row, pr, v = x[r], p[r], m[r]
        s = _exp_shifted(row, v, pr)
        losses[r] = np.log(s) - (row[target[r]] - v)
        _scale(pr, 1 / s)


@numba.njit(parallel=True, **_jit)
def cross_entropy_grad(p, target, scale, gx):
    """gx (R, C) = scale[r]·(p[r] − onehot(target[r])) row by row."""
    for r in numba.prange(p.shape[0]):
        pr, out, s = p[r], gx[r], scale[r]
        for c in range(pr.shape[0]):
            out[c] = pr[c] * s
        out[target[r]] -= s
