"""The per-element updates of Adam(W) and SGD, each as one loop over a parameter.

NumPy's Adam step is about ten passes over each parameter, each a call of a few microseconds: for
LeNet-5's ten small parameters they cost 0.33 ms a step (0.09 ms as loops), more than the arithmetic;
SGD with momentum makes six passes and two temporaries of the parameter's size (ResNet-18's 11
million values). One loop makes one pass. Written without `fastmath`, in the reference's order of
operations and in the parameter's dtype (the scalars are cast to it first, as NumPy does with Python
floats), so that each element rounds as the NumPy references (`cnnlab.optim.Adam.step`,
`cnnlab.optim.SGD.step`) and PyTorch round it.
"""
import numba
import numpy as np

_jit = dict(cache=True, nogil=True, error_model="numpy")


@numba.njit(**_jit)
def adam(p, g, m, v, v_max, lr, beta1, beta2, eps, weight_decay, decoupled, step_size, sqrt_bc2):
    """One Adam step of the flat parameter p with gradient g, moments m and v (and v_max: empty unless
    amsgrad), in place; step_size = lr / (1 − β1^t), sqrt_bc2 = √(1 − β2^t)."""
    T = p.dtype.type
    w1, b2, c2 = T(1 - beta1), T(beta2), T(1 - beta2)
    keep, wd = T(1 - lr * weight_decay), T(weight_decay)
    big = abs(1 - beta1) >= 0.5                 # torch.lerp's second form, exact at weight 1
    w1c = T(1.0 - (1 - beta1))
    amsgrad = v_max.shape[0] > 0
    neg_step, s2, e = T(-step_size), T(sqrt_bc2), T(eps)
    for i in range(p.shape[0]):
        gi = g[i]
        if weight_decay != 0:
            if decoupled:
                p[i] = p[i] * keep
            else:
                gi = gi + wd * p[i]
        if big:
            m[i] = gi - (gi - m[i]) * w1c
        else:
            m[i] = m[i] + w1 * (gi - m[i])
        v[i] = v[i] * b2
        v[i] = v[i] + c2 * gi * gi
        vi = v[i]
        if amsgrad:
            if vi > v_max[i] or vi != vi:
                v_max[i] = vi
            vi = v_max[i]
        p[i] = p[i] + (neg_step * m[i]) / (np.sqrt(vi) / s2 + e)


@numba.njit(parallel=True, **_jit)
def sgd(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    """One SGD step of the flat parameter p with gradient g, in place, with a momentum buffer (empty
    when momentum is 0; on the first step it becomes the gradient), split over numba's threads (a
    parameter of millions of values: the convs of ResNet-18)."""
    T = p.dtype.type
    wd, m, keep, step = T(weight_decay), T(momentum), T(1 - dampening), T(lr)
    with_momentum = buf.shape[0] > 0
    for i in numba.prange(p.shape[0]):
        gi = g[i]
        if weight_decay != 0:
            gi = gi + wd * p[i]
        if with_momentum:
            if first:
                b = gi
            else:
                b = buf[i] * m
                b = b + keep * gi
            buf[i] = b
            gi = gi + m * b if nesterov else b
        p[i] = p[i] - step * gi
