"""Optimizer updates on compiled loops: the step of one parameter in one pass, Adam(W)'s and SGD's.

Applies to: a parameter whose data and state are contiguous arrays of one floating dtype, as its gradient's,
where compiled loops run (`cnnlab.kernels.jit`). `cnnlab.optim.Adam.step` and `SGD.step` ask
`loops_for` and run their NumPy reference where it answers None; both give the same numbers
(`kernels.loops.optim`).
"""
from __future__ import annotations

import numpy as np

from cnnlab.kernels import jit

_EMPTY = {np.dtype(np.float32): np.empty(0, np.float32), np.dtype(np.float64): np.empty(0, np.float64)}


def loops_for(param, grad, *state):
    """The compiled optimizer loops if they apply to these arrays, else None: param and state contiguous,
    all of one floating dtype (a strided grad is copied to contiguous memory first: one pass, where the
    reference makes several)."""
    dtype = param.dtype
    if (dtype not in _EMPTY or grad.dtype != dtype
            or any(a.dtype != dtype or not a.flags.c_contiguous for a in (param,) + state)):
        return None
    return jit.load("optim")


def adam(loops, p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, group, step):
    """One Adam(W) step of p in place, with the options of its param group, at step `step` (from 1)."""
    beta1, beta2 = (float(b) for b in group["betas"])
    v_max = _EMPTY[p.dtype] if not group["amsgrad"] else max_exp_avg_sq
    lr = float(group["lr"])
    loops.adam(p.reshape(-1), np.ascontiguousarray(grad).reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1), v_max.reshape(-1),
               lr, beta1, beta2, float(group["eps"]), float(group["weight_decay"]),
               bool(group["decoupled_weight_decay"]), lr / (1 - beta1 ** step), (1 - beta2 ** step) ** 0.5)


def sgd(loops, p, grad, buf, group, first):
    """One SGD step of p in place (buf: the momentum buffer, None without momentum; `first`: it is
    this step's gradient, as the reference's first step makes it)."""
    momentum = float(group["momentum"])
    loops.sgd(p.reshape(-1), np.ascontiguousarray(grad).reshape(-1), _EMPTY[p.dtype] if buf is None else buf.reshape(-1),
              float(group["lr"]), momentum, float(group["dampening"]), float(group["weight_decay"]),
              bool(group["nesterov"]), bool(first))
