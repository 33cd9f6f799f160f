"""Helpers shared by the ops: undoing broadcasting, checking dims, dtypes and inputs, adding a batch dim."""
from __future__ import annotations

import numpy as np

from cnnlab import arguments
from cnnlab.autograd import Tensor
from cnnlab.backend import get_default_dtype
from cnnlab.messages import counted


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting (the one place that does this)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


def normalize_dim(dim, ndim: int, op: str) -> int:
    """A dim in [-ndim, ndim) as a non-negative int (a 0-d tensor accepts dim 0 and -1, as in PyTorch)."""
    dim = arguments.integer(dim, op=op, arg="dim")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise ValueError(f"{op}: dim {dim} is out of range for a tensor of {counted(ndim, 'dimension')} "
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


def check_tensor(op: str, value, name: str = "input", floating: bool = True) -> None:
    """TypeError unless `value` is a Tensor (of a floating dtype, if `floating`)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")
    if floating:
        check_float(value.data, op)


def check_input(op: str, D: int, input) -> None:
    """The input of a D-d windowed op: a floating point Tensor, (C, *D sizes) or (N, C, *D sizes)."""
    check_tensor(op, input)
    if input.ndim not in (D + 1, D + 2):
        raise ValueError(f"{op}: expected a {D + 1}-d (unbatched) or {D + 2}-d (batched) input, "
                         f"got a {input.ndim}-d input of shape {input.shape}")


def batched(input: Tensor, D: int):
    """(input with a batch dim, whether one was added): an unbatched (C, *D sizes) input gets N = 1."""
    return (input.unsqueeze(0), True) if input.ndim == D + 1 else (input, False)


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
