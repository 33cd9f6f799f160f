"""Matrix products: `matmul` (NumPy's @ rules, batched and broadcast) and `linear` (x·Wᵀ + b).

    C = A @ B        gA = g @ Bᵀ        gB = Aᵀ @ g     (then summed over broadcast batch dims)
    y = x·Wᵀ + b     gx = g·W           gW = gᵀ·x       gb = Σ g over the rows

`linear` is one op (as PyTorch's addmm), not a matmul, a transpose and an add: a training step of
LeNet-5 runs three of them, and each op of the graph costs its Python bookkeeping forward and back.
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab.autograd import Function, Tensor
from cnnlab.nn.functional._util import check_tensor, unbroadcast
from cnnlab import runtime
from cnnlab.runtime import blas_for


def _flops(a, b) -> int:
    """2·(batch)·n·k·m of a @ b, for `runtime.blas_for` (the same count for both gradients)."""
    n = a.shape[-2] if a.ndim > 1 else 1
    m = b.shape[-1] if b.ndim > 1 else 1
    batch = math.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    return 2 * batch * n * a.shape[-1] * m


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b, ctx.flops = a, b, _flops(a, b)
        with blas_for(ctx.flops):
            return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        # 1-d operands act as a row (a) or a column (b) vector; give g those dims back
        a2 = a[None, :] if a.ndim == 1 else a                      # (..., n, k)
        b2 = b[:, None] if b.ndim == 1 else b                      # (..., k, m)
        g2 = np.expand_dims(g, -1) if b.ndim == 1 else g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)                            # (..., n, m)
        ga = gb = None
        with blas_for(ctx.flops):
            if ctx.needs_input_grad[0]:
                ga = unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
            if ctx.needs_input_grad[1]:
                gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """x (*, in) · Wᵀ + b on the rows of x (its leading dims flattened), gradients as in the header."""
    fresh_grads = True      # every gradient below is a new array

    @staticmethod
    def forward(ctx, x, w, b=None):
        rows = x.reshape(-1, x.shape[-1])                          # (R, in)
        ctx.rows, ctx.w, ctx.shape = rows, w, x.shape
        y = runtime.matmul(rows, w.T)                              # (R, out)
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1])                            # (R, out)
        gx = gw = gb = None
        if need[0]:
            gx = runtime.matmul(g2, ctx.w).reshape(ctx.shape)
        if need[1]:
            gw = runtime.matmul(g2.T, ctx.rows)                    # (out, in)
        if len(need) > 2 and need[2]:
            gb = g2.sum(axis=0)
        return (gx, gw, gb)[:len(need)]


def _check_matmul(a, b):
    for name, x in (("input", a), ("other", b)):
        check_tensor("matmul", x, name, floating=False)
        if x.ndim == 0:
            raise ValueError(f"matmul: both arguments need at least 1 dimension, but {name} is 0-d")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: both arguments must have the same dtype, got {a.dtype} and {b.dtype}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"({k_a} != {k_b}: the last dim of input must equal the "
                         f"{'only' if b.ndim == 1 else 'second-to-last'} dim of other)")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dims of {a.shape} and {b.shape} cannot be broadcast") from None


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with NumPy/PyTorch rules (1-d vectors, batched and broadcast), as ``torch.matmul``."""
    _check_matmul(input, other)
    return MatMul.apply(input, other)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x·Wᵀ + b, as ``torch.nn.functional.linear``.

    Shape:
        input (*, in_features), weight (out_features, in_features), bias (out_features,)
        -> output (*, out_features)
    """
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None:
            check_tensor("linear", t, name, floating=False)
    if input.dtype != weight.dtype:
        raise TypeError(f"linear: input has dtype {input.dtype}, but weight has dtype {weight.dtype} "
                        "(convert one with .to(), e.g. model.double() or x.float())")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-d (out_features, in_features), got shape {weight.shape}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {input.shape[-1] if input.ndim else 0} features in its last dim "
                         f"(shape {input.shape}), but weight expects in_features={weight.shape[1]}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    return Linear.apply(input, weight) if bias is None else Linear.apply(input, weight, bias)
