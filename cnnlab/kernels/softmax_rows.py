"""Softmax, log-softmax and softmax cross-entropy along the last axis, on compiled loops.

Applies to: a non-empty array whose softmax dim is its last axis (the class scores (N, C) of a
classifier), where compiled loops run (`cnnlab.kernels.jit`). The op (`nn.functional`) asks
`loops_for(x, dim)` and runs its reference where it answers None.

The reference makes five or six passes over memory a direction, each a NumPy call on one thread;
here two passes a row, the exponential compiled into the first, split over numba's threads
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


def softmax(loops, x):
    """softmax(x) along the last axis."""
    rows = _rows(x)
    y = np.empty(x.shape, dtype=x.dtype)
    loops.softmax(rows, rows.max(axis=1), _rows(y))
    return y


def softmax_grad(loops, y, g):
    """The input gradient of softmax from its output y and the output gradient g."""
    gx = np.empty(y.shape, dtype=y.dtype)
    loops.softmax_grad(_rows(y), _rows(g), _rows(gx))
    return gx


def log_softmax(loops, x):
    """(log_softmax(x), softmax(x)) along the last axis; the backward needs the second."""
    rows = _rows(x)
    out, p = np.empty(x.shape, dtype=x.dtype), np.empty(x.shape, dtype=x.dtype)
    loops.log_softmax(rows, rows.max(axis=1), _rows(out), _rows(p))
    return out, p


def log_softmax_grad(loops, p, g):
    """The input gradient of log_softmax from the softmax p and the output gradient g."""
    gx = np.empty(p.shape, dtype=p.dtype)
    loops.log_softmax_grad(_rows(p), _rows(g), _rows(gx))
    return gx


def cross_entropy(loops, x, target):
    """(losses, softmax(x)) for scores x (N, C) and class indices target (N,) (all in [0, C)):
    losses[i] = log Σ_c exp x[i, c] − x[i, target[i]], computed from x − max."""
    x = np.ascontiguousarray(x)
    p, losses = np.empty(x.shape, dtype=x.dtype), np.empty(len(x), dtype=x.dtype)
    loops.cross_entropy(x, x.max(axis=1), np.ascontiguousarray(target, dtype=np.int64), p, losses)
    return losses, p


def cross_entropy_grad(loops, p, target, scale):
    """The gradient of Σ scale[i]·losses[i] in x: scale[i]·(p[i] − onehot(target[i]))."""
    gx = np.empty(p.shape, dtype=p.dtype)
    loops.cross_entropy_grad(p, np.ascontiguousarray(target, dtype=np.int64),
                             np.ascontiguousarray(scale, dtype=p.dtype), gx)
    return gx
