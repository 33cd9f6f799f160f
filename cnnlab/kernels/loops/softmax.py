"""Softmax, log-softmax and softmax cross-entropy over the rows of a (R, C) array, as loops.

The exponentials and the row maxima stay NumPy's (`np.exp`, SIMD code: 0.44 ns a float32 on an
AVX-512 core, where numba's scalar exp measured 2.2 ns; `max`, which propagates NaN: a compiled max
that must propagate it is not vectorised, 8× slower); the loops here fuse the passes around them, a
row per iteration (rows of a few thousand values stay in cache between passes), the rows split over
numba's threads:

    shift:      e = x − m                          (m the row maxima)
    (np.exp:    e = exp(e))
    normalize:  s = Σ e, then e = e / s, or the log-softmax's x − m − log s

The loops index their rows (`row[c]`): iterating over a row (`for v in row`) measured 10× slower.
"""
import numba
import numpy as np

_jit = dict(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})


@numba.njit(inline="always", **_jit)
def _sum(row):
    s = row.dtype.type(0)
    for c in range(row.shape[0]):
        s += row[c]
    return s


@numba.njit(parallel=True, **_jit)
def shift(x, m, e):
    """e (R, C) = x − m (R,), row by row."""
    for r in numba.prange(x.shape[0]):
        row, out, v = x[r], e[r], m[r]
        for c in range(row.shape[0]):
            out[c] = row[c] - v


@numba.njit(parallel=True, **_jit)
def normalize(e):
    """e (R, C) of exponentials /= its row sums, in place: softmax."""
    for r in numba.prange(e.shape[0]):
        row = e[r]
        inv = 1 / _sum(row)
        for c in range(row.shape[0]):
            row[c] *= inv


@numba.njit(parallel=True, **_jit)
def log_normalize(shifted, p):
    """From shifted (x − max) and p = exp(shifted) (R, C): shifted −= log Σ p (log-softmax), p /= Σ p
    (softmax, which the backward uses), both in place."""
    for r in numba.prange(p.shape[0]):
        row, out = p[r], shifted[r]
        s = _sum(row)
        log_s, inv = np.log(s), 1 / s
        for c in range(row.shape[0]):
            out[c] -= log_s
            row[c] *= inv


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
def cross_entropy(e, losses):
    """From e (R, C) = exp(x − max) and losses (R,) holding the target's shifted score (x − max)[target] on
    entry (log e[target] would lose it where the exponential underflows): losses = log Σ e − that score,
    and e /= Σ e (softmax), both in place."""
    for r in numba.prange(e.shape[0]):
        row = e[r]
        s = _sum(row)
        losses[r] = np.log(s) - losses[r]
        inv = 1 / s
        for c in range(row.shape[0]):
            row[c] *= inv


@numba.njit(parallel=True, **_jit)
def cross_entropy_grad(p, target, scale, gx):
    """gx (R, C) = scale[r]·(p[r] − onehot(target[r])) row by row."""
    for r in numba.prange(p.shape[0]):
        pr, out, s = p[r], gx[r], scale[r]
        for c in range(pr.shape[0]):
            out[c] = pr[c] * s
        out[target[r]] -= s
