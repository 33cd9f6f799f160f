"""Helpers shared by the ops: undoing broadcasting, checking dims and dtypes."""
from __future__ import annotations

import numpy as np

from cnnlab.backend import get_default_dtype


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting (the one place that does this)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


def normalize_dim(dim, ndim: int, op: str) -> int:
    """A dim in [-ndim, ndim) as a non-negative int (a 0-d tensor accepts dim 0 and -1, as in PyTorch)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise ValueError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dimensions "
                         f"(expected {-n} to {n - 1})")
    return int(dim) % n


def normalize_dims(dim, ndim: int, op: str):
    """None (all dims) or a tuple of distinct non-negative dims, from an int or a sequence."""
    if dim is None:
        return None
    dims = tuple(normalize_dim(d, ndim, op) for d in (dim if isinstance(dim, (tuple, list)) else (dim,)))
    if len(set(dims)) != len(dims):
        raise ValueError(f"{op}: dim {dim} names the same dimension twice")
    return dims if ndim else ()


def check_float(x: np.ndarray, op: str) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor, got dtype {x.dtype}")


def result_dtype_fix(out: np.ndarray, *operands) -> np.ndarray:
    """Undo NumPy's float64 promotion where PyTorch would not promote.

    NumPy makes float64 from an int array and a Python float, or from a float32
    array and a NumPy float64 *scalar*; PyTorch keeps the default dtype /
    float32 there. Only array operands of float64 make a float64 result.
    """
    if out.dtype == np.float64 and not any(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in operands):
        floats = [a.dtype for a in operands if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
        return out.astype(floats[0] if floats else get_default_dtype())
    return out
