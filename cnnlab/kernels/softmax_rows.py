"""Softmax, log-softmax and softmax cross-entropy along the last axis, on compiled loops.

Applies to: a non-empty array whose softmax dim is its last axis (the class scores (N, C) of a
classifier), where compiled loops run (`cnnlab.kernels.jit`). The op (`nn.functional`) asks
`loops_for(x, dim)` and runs its reference where it answers None.

The reference makes five or six passes over memory a direction, each a NumPy call on one thread;
here the passes around NumPy's exponential are fused and split over numba's threads
(`kernels.loops.softmax`). Each function takes the loops module that `loops_for` gave.
"""
from __future__ import annotations

import numpy as np

from cnnlab.kernels import jit


def loops_for(x: np.ndarray, dim: int):
    """The compiled softmax loops if they apply to x along dim, else None."""
    if x.ndim == 0 or dim != x.ndim - 1 or x.size == 0:
        return None
    return jit.load("softmax")


def _rows(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(-1, a.shape[-1])


def _shift(loops, x, out):
    """out (R, C) = x − its row maxima (NumPy's max, which propagates NaN)."""
    rows = _rows(x)
    loops.shift(rows, rows.max(axis=1), out)


def softmax(loops, x):
    """softmax(x) along the last axis."""
    y = np.empty(x.shape, dtype=x.dtype)
    rows = _rows(y)
    _shift(loops, x, rows)
    np.exp(rows, out=rows)
    loops.normalize(rows)
    return y


def softmax_grad(loops, y, g):
    """The input gradient of softmax from its output y and the output gradient g."""
    gx = np.empty(y.shape, dtype=y.dtype)
    loops.softmax_grad(_rows(y), _rows(g), _rows(gx))
    return gx


def log_softmax(loops, x):
    """(log_softmax(x), softmax(x)) along the last axis; the backward needs the second."""
    out = np.empty(x.shape, dtype=x.dtype)
    rows = _rows(out)
    _shift(loops, x, rows)
    p = np.exp(out)
    loops.log_normalize(rows, _rows(p))
    return out, p


def log_softmax_grad(loops, p, g):
    """The input gradient of log_softmax from the softmax p and the output gradient g."""
    gx = np.empty(p.shape, dtype=p.dtype)
    loops.log_softmax_grad(_rows(p), _rows(g), _rows(gx))
    return gx


def cross_entropy(loops, x, target):
    """(losses, softmax(x)) for scores x (N, C) and class indices target (N,) (all in [0, C)):
    losses[i] = log Σ_c exp x[i, c] − x[i, target[i]], computed from x − max."""
    p = np.empty(x.shape, dtype=x.dtype)
    _shift(loops, x, p)
    losses = p[np.arange(len(p)), target]
    np.exp(p, out=p)
    loops.cross_entropy(p, losses)
    return losses, p


def cross_entropy_grad(loops, p, target, scale):
    """The gradient of Σ scale[i]·losses[i] in x: scale[i]·(p[i] − onehot(target[i]))."""
    gx = np.empty(p.shape, dtype=p.dtype)
    loops.cross_entropy_grad(p, np.ascontiguousarray(target, dtype=np.int64),
                             np.ascontiguousarray(scale, dtype=p.dtype), gx)
    return gx
